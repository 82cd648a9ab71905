//! Parsers of the kernel's text files of numbers: `/proc/vmstat`, `/proc/stat`,
//! `/proc/net/snmp`, `/proc/net/dev`, `/proc/pressure/*` and files holding one number.
//!
//! Each takes the file's text and returns [`Item`]s, or a [`ParseError`] naming the line.
//! They never panic (property-tested and fuzzed).

use crate::model::Kind;

/// One number a parser found.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The metric's name.
    pub name: String,
    /// Labels (a device, a CPU), in a fixed order.
    pub labels: Vec<(String, String)>,
    /// Counter or gauge.
    pub kind: Kind,
    /// The unit (`bytes`, `seconds`), empty for a plain count.
    pub unit: &'static str,
    /// The value.
    pub value: f64,
}

impl Item {
    fn new(name: impl Into<String>, kind: Kind, value: f64) -> Self {
        Item {
            name: name.into(),
            labels: Vec::new(),
            kind,
            unit: "",
            value,
        }
    }

    fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.push((k.to_owned(), v.to_owned()));
        self
    }

    fn unit(mut self, u: &'static str) -> Self {
        self.unit = u;
        self
    }
}

/// What was wrong, and on which line (1-based).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {fault}")]
#[non_exhaustive]
pub struct ParseError {
    /// The line, 1-based.
    pub line: usize,
    /// What was wrong on it.
    pub fault: ParseFault,
}

/// What was wrong on a line of a procfs or sysfs file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseFault {
    /// A value that is not a finite number.
    #[error("{text:?} is not a number")]
    NotANumber {
        /// The value.
        text: String,
        /// Why it does not parse (none for `nan` and `inf`, which do but are refused).
        #[source]
        source: Option<std::num::ParseFloatError>,
    },
    /// A vmstat line that is not two words.
    #[error("expected `name value`")]
    NotNameValue,
    /// A `/proc/stat` `cpuN` line whose N is not a number.
    #[error("bad CPU name {key:?}")]
    BadCpu {
        /// The line's first word.
        key: String,
        /// Why N does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// A `/proc/stat` key without its value.
    #[error("{key} has no value")]
    NoValue {
        /// The key.
        key: String,
    },
    /// A snmp header line at the end of the file.
    #[error("a header line with no value line after it")]
    NoValueLine,
    /// A snmp header line without `Proto:`.
    #[error("expected `Proto: names`")]
    NotNames,
    /// A snmp value line without `Proto:`.
    #[error("expected `Proto: values`")]
    NotValues,
    /// A snmp value line of another protocol than its header line.
    #[error("values for {values:?} follow names for {names:?}")]
    OtherProto {
        /// The header line's protocol.
        names: String,
        /// The value line's protocol.
        values: String,
    },
    /// A snmp value line with another number of fields than its header line.
    #[error("{names} names but {values} values for {proto}")]
    FieldCount {
        /// The protocol.
        proto: String,
        /// The header's field count.
        names: usize,
        /// The value line's field count.
        values: usize,
    },
    /// A `/proc/net/dev` line without `device:`.
    #[error("expected `device: numbers`")]
    NotDevice,
    /// A `/proc/net/dev` line without its 16 numbers.
    #[error("{dev}: {fields} fields, expected 16")]
    DeviceFields {
        /// The device.
        dev: String,
        /// The numbers on the line.
        fields: usize,
    },
    /// A pressure line starting with something else than `some` or `full`.
    #[error("expected `some` or `full`, found {found:?}")]
    NotSomeOrFull {
        /// The first word.
        found: String,
    },
    /// A pressure field without `=`.
    #[error("expected key=value, found {found:?}")]
    NotKeyValue {
        /// The field.
        found: String,
    },
    /// A pressure key this parser does not know.
    #[error("unknown key {key:?}")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A one-number file that is empty (or only white space).
    #[error("the file is empty")]
    Empty,
    /// A one-number file with more than one word.
    #[error("expected one number, found {found:?}")]
    NotOneNumber {
        /// The file's text, trimmed.
        found: String,
    },
}

/// `fault` on the 0-based line `line`.
fn err(line: usize, fault: ParseFault) -> ParseError {
    ParseError {
        line: line + 1,
        fault,
    }
}

fn num(line: usize, s: &str) -> Result<f64, ParseError> {
    if let Ok(v) = s.parse::<u64>() {
        return Ok(v as f64);
    }
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v as f64);
    }
    let not = |source| {
        err(
            line,
            ParseFault::NotANumber {
                text: s.to_owned(),
                source,
            },
        )
    };
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(not(None)),
        Err(e) => Err(not(Some(e))),
    }
}

/// `/proc/vmstat`: `name value` per line. Names starting with `nr_` are gauges (current
/// amounts), the rest event counters.
pub fn vmstat(text: &str) -> Result<Vec<Item>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut it = line.split_ascii_whitespace();
        let (Some(name), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(err(i, ParseFault::NotNameValue));
        };
        let kind = if name.starts_with("nr_") {
            Kind::Gauge
        } else {
            Kind::Counter
        };
        out.push(Item::new(name, kind, num(i, v)?));
    }
    Ok(out)
}

const CPU_MODES: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];

/// `/proc/stat`: per-CPU time by mode (seconds, from USER_HZ ticks given as `hz`), context
/// switches, interrupts, forks, running and blocked tasks.
pub fn stat(text: &str, hz: f64) -> Result<Vec<Item>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let Some(key) = it.next() else { continue };
        if let Some(cpu) = key.strip_prefix("cpu") {
            let cpu = if cpu.is_empty() { "all" } else { cpu };
            if cpu != "all"
                && let Err(source) = cpu.parse::<u32>()
            {
                return Err(err(
                    i,
                    ParseFault::BadCpu {
                        key: key.to_owned(),
                        source,
                    },
                ));
            }
            for (mode, v) in CPU_MODES.iter().zip(it) {
                out.push(
                    Item::new("cpu", Kind::Counter, num(i, v)? / hz)
                        .label("cpu", cpu)
                        .label("mode", mode)
                        .unit("seconds"),
                );
            }
            continue;
        }
        let (name, kind) = match key {
            "ctxt" => ("context_switches", Kind::Counter),
            "intr" => ("interrupts", Kind::Counter),
            "softirq" => ("softirqs", Kind::Counter),
            "processes" => ("forks", Kind::Counter),
            "procs_running" => ("procs_running", Kind::Gauge),
            "procs_blocked" => ("procs_blocked", Kind::Gauge),
            "btime" => ("boot_time", Kind::Gauge),
            _ => continue,
        };
        let v = it.next().ok_or_else(|| {
            err(
                i,
                ParseFault::NoValue {
                    key: key.to_owned(),
                },
            )
        })?;
        let item = Item::new(name, kind, num(i, v)?);
        out.push(if key == "btime" {
            item.unit("seconds")
        } else {
            item
        });
    }
    Ok(out)
}

/// Fields of `/proc/net/snmp` that are levels or settings, not event counts.
const SNMP_GAUGES: [&str; 7] = [
    "Forwarding",
    "DefaultTTL",
    "RtoAlgorithm",
    "RtoMin",
    "RtoMax",
    "MaxConn",
    "CurrEstab",
];

/// `/proc/net/snmp` (and `/proc/net/netstat`): pairs of lines, `Proto: names...` then
/// `Proto: values...`. Names become `<Proto>_<Field>`.
pub fn snmp(text: &str) -> Result<Vec<Item>, ParseError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut i = 0;
    while i < lines.len() {
        let names = lines[i];
        let Some(values) = lines.get(i + 1) else {
            return Err(err(i, ParseFault::NoValueLine));
        };
        let (p1, n) = names
            .split_once(':')
            .ok_or_else(|| err(i, ParseFault::NotNames))?;
        let (p2, v) = values
            .split_once(':')
            .ok_or_else(|| err(i + 1, ParseFault::NotValues))?;
        if p1 != p2 {
            return Err(err(
                i + 1,
                ParseFault::OtherProto {
                    names: p1.to_owned(),
                    values: p2.to_owned(),
                },
            ));
        }
        let n: Vec<&str> = n.split_ascii_whitespace().collect();
        let v: Vec<&str> = v.split_ascii_whitespace().collect();
        if n.len() != v.len() {
            return Err(err(
                i + 1,
                ParseFault::FieldCount {
                    proto: p1.to_owned(),
                    names: n.len(),
                    values: v.len(),
                },
            ));
        }
        for (name, val) in n.iter().zip(v) {
            let kind = if SNMP_GAUGES.contains(name) {
                Kind::Gauge
            } else {
                Kind::Counter
            };
            out.push(Item::new(format!("{p1}_{name}"), kind, num(i + 1, val)?));
        }
        i += 2;
    }
    Ok(out)
}

const NETDEV_RX: [(&str, &str); 8] = [
    ("receive", "bytes"),
    ("receive_packets", ""),
    ("receive_errors", ""),
    ("receive_drops", ""),
    ("receive_fifo_errors", ""),
    ("receive_frame_errors", ""),
    ("receive_compressed", ""),
    ("receive_multicast", ""),
];
const NETDEV_TX: [(&str, &str); 8] = [
    ("transmit", "bytes"),
    ("transmit_packets", ""),
    ("transmit_errors", ""),
    ("transmit_drops", ""),
    ("transmit_fifo_errors", ""),
    ("transmit_collisions", ""),
    ("transmit_carrier_errors", ""),
    ("transmit_compressed", ""),
];

/// `/proc/net/dev`: two header lines, then `iface: 8 receive fields 8 transmit fields`.
pub fn netdev(text: &str) -> Result<Vec<Item>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let (dev, rest) = line
            .split_once(':')
            .ok_or_else(|| err(i, ParseFault::NotDevice))?;
        let dev = dev.trim();
        let v: Vec<&str> = rest.split_ascii_whitespace().collect();
        if v.len() != 16 {
            return Err(err(
                i,
                ParseFault::DeviceFields {
                    dev: dev.to_owned(),
                    fields: v.len(),
                },
            ));
        }
        for ((name, unit), val) in NETDEV_RX.iter().chain(&NETDEV_TX).zip(v) {
            out.push(
                Item::new(*name, Kind::Counter, num(i, val)?)
                    .label("device", dev)
                    .unit(unit),
            );
        }
    }
    Ok(out)
}

/// `/proc/pressure/<resource>`: `some|full avg10=.. avg60=.. avg300=.. total=µs`. Gives the
/// stall time counter (seconds) and the kernel's three averages (percent).
pub fn pressure(text: &str, resource: &str) -> Result<Vec<Item>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let Some(which) = it.next() else { continue };
        if which != "some" && which != "full" {
            return Err(err(
                i,
                ParseFault::NotSomeOrFull {
                    found: which.to_owned(),
                },
            ));
        }
        for kv in it {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                err(
                    i,
                    ParseFault::NotKeyValue {
                        found: kv.to_owned(),
                    },
                )
            })?;
            let v = num(i, v)?;
            let item = match k {
                "total" => Item::new("stall", Kind::Counter, v / 1e6).unit("seconds"),
                "avg10" | "avg60" | "avg300" => {
                    Item::new(format!("stall_{k}"), Kind::Gauge, v).unit("percent")
                }
                _ => return Err(err(i, ParseFault::UnknownKey { key: k.to_owned() })),
            };
            out.push(item.label("resource", resource).label("kind", which));
        }
    }
    Ok(out)
}

/// A file holding one number (sysfs attributes, `/proc/sys/...`): surrounding whitespace is
/// allowed, anything else is an error.
pub fn one_number(text: &str) -> Result<f64, ParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(err(0, ParseFault::Empty));
    }
    if t.contains(char::is_whitespace) {
        return Err(err(
            0,
            ParseFault::NotOneNumber {
                found: t.to_owned(),
            },
        ));
    }
    num(0, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vmstat_lines() {
        let v = vmstat("nr_free_pages 12\npgfault 345\n").unwrap();
        assert_eq!(v[0], Item::new("nr_free_pages", Kind::Gauge, 12.0));
        assert_eq!(v[1], Item::new("pgfault", Kind::Counter, 345.0));
        let e = vmstat("pgfault x\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            matches!(&e.fault, ParseFault::NotANumber { text, source: Some(_) } if text == "x")
        );
        assert_eq!(e.to_string(), "line 1: \"x\" is not a number");
        let e = vmstat("a 1\npgfault 1 2\n").unwrap_err();
        assert_eq!((e.line, e.fault), (2, ParseFault::NotNameValue));
    }

    #[test]
    fn stat_cpu_and_totals() {
        let t = "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 100 0 50 1000 0 0 0 0 0 0\n\
                 intr 99 1 2\nctxt 500\nbtime 1\nprocesses 7\nprocs_running 2\nprocs_blocked 0\n";
        let v = stat(t, 100.0).unwrap();
        assert_eq!(v.len(), 26);
        assert_eq!(v[0].value, 1.0);
        assert_eq!(v[0].labels[0].1, "all");
        assert_eq!(
            v[10].labels,
            [("cpu".into(), "0".into()), ("mode".into(), "user".into())]
        );
        assert!(
            v.iter()
                .any(|i| i.name == "context_switches" && i.value == 500.0)
        );
        assert!(v.iter().any(|i| i.name == "interrupts" && i.value == 99.0));
        let e = stat("cpuX 1\n", 100.0).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            matches!(&e.fault, ParseFault::BadCpu { key, .. } if key == "cpuX"),
            "{e:?}"
        );
        assert!(std::error::Error::source(&e.fault).is_some());
        let e = stat("ctxt\n", 100.0).unwrap_err();
        assert!(
            matches!(&e.fault, ParseFault::NoValue { key } if key == "ctxt"),
            "{e:?}"
        );
    }

    #[test]
    fn snmp_pairs() {
        let t = "Tcp: RtoMin ActiveOpens CurrEstab\nTcp: 200 5 3\nUdp: InDatagrams\nUdp: 9\n";
        let v = snmp(t).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].kind, Kind::Gauge);
        assert_eq!(v[1], Item::new("Tcp_ActiveOpens", Kind::Counter, 5.0));
        assert_eq!(v[3], Item::new("Udp_InDatagrams", Kind::Counter, 9.0));
        let e = snmp("Tcp: A B\nTcp: 1\n").unwrap_err();
        assert_eq!(
            e.fault,
            ParseFault::FieldCount {
                proto: "Tcp".into(),
                names: 2,
                values: 1
            }
        );
        assert_eq!(e.to_string(), "line 2: 2 names but 1 values for Tcp");
        assert!(matches!(
            snmp("Tcp: A\nUdp: 1\n").unwrap_err().fault,
            ParseFault::OtherProto { .. }
        ));
        assert_eq!(snmp("Tcp: A\n").unwrap_err().fault, ParseFault::NoValueLine);
        assert_eq!(
            snmp("Tcp A\nTcp: 1\n").unwrap_err().fault,
            ParseFault::NotNames
        );
        assert_eq!(
            snmp("Tcp: A\nTcp 1\n").unwrap_err().fault,
            ParseFault::NotValues
        );
    }

    #[test]
    fn netdev_lines() {
        let t = "Inter-|   Receive\n face |bytes\n    lo: 10 2 0 0 0 0 0 0 10 2 0 0 0 0 0 0\n";
        let v = netdev(t).unwrap();
        assert_eq!(v.len(), 16);
        assert_eq!(v[0].unit, "bytes");
        assert_eq!(v[8].name, "transmit");
        assert_eq!(v[0].labels[0].1, "lo");
        let e = netdev("a\nb\nlo: 1 2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(matches!(&e.fault, ParseFault::DeviceFields { dev, fields: 2 } if dev == "lo"));
        assert_eq!(
            netdev("a\nb\nlo 1\n").unwrap_err().fault,
            ParseFault::NotDevice
        );
    }

    #[test]
    fn pressure_lines() {
        let t = "some avg10=1.50 avg60=0.00 avg300=0.00 total=2000000\n\
                 full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        let v = pressure(t, "io").unwrap();
        assert_eq!(v.len(), 8);
        assert_eq!(v[0].value, 1.5);
        assert_eq!(v[3].name, "stall");
        assert_eq!(v[3].value, 2.0);
        assert!(matches!(
            pressure("half x=1\n", "io").unwrap_err().fault,
            ParseFault::NotSomeOrFull { .. }
        ));
        assert!(matches!(
            pressure("some x\n", "io").unwrap_err().fault,
            ParseFault::NotKeyValue { .. }
        ));
        assert!(matches!(
            pressure("some x=1\n", "io").unwrap_err().fault,
            ParseFault::UnknownKey { key } if key == "x"
        ));
    }

    #[test]
    fn one_numbers() {
        assert_eq!(one_number(" 42\n"), Ok(42.0));
        assert_eq!(one_number("-3"), Ok(-3.0));
        assert_eq!(one_number("0.5"), Ok(0.5));
        assert_eq!(one_number(" \n").unwrap_err().fault, ParseFault::Empty);
        assert!(matches!(
            one_number("1 2").unwrap_err().fault,
            ParseFault::NotOneNumber { found } if found == "1 2"
        ));
        assert!(matches!(
            one_number("nan").unwrap_err().fault,
            ParseFault::NotANumber { source: None, .. }
        ));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = vmstat(&s);
            let _ = stat(&s, 100.0);
            let _ = snmp(&s);
            let _ = netdev(&s);
            let _ = pressure(&s, "cpu");
            let _ = one_number(&s);
        }

        #[test]
        fn vmstat_round_trips(kv in proptest::collection::vec(("[a-z_]{1,12}", any::<u32>()), 0..20)) {
            let text: String = kv.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
            let got = vmstat(&text).unwrap();
            prop_assert_eq!(got.len(), kv.len());
            for (g, (k, v)) in got.iter().zip(&kv) {
                prop_assert_eq!(&g.name, k);
                prop_assert_eq!(g.value, f64::from(*v));
            }
        }
    }
}

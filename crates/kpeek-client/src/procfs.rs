//! `/proc/kpeek` (kmod/kpeek_procfs.c): every counter of every group, one line each,
//! `<group> <counter> <value>\n`, groups and counters in creation order.

use std::io;
use std::path::{Path, PathBuf};

use kpeek_abi::{NameKind, validate_name};

use crate::error::{Error, Result};
use crate::pseudofile;
use crate::{Channel, CounterSource, CounterValue, Snapshot, SysRoot};

/// Why one line of `/proc/kpeek` is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {fault}")]
#[non_exhaustive]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub fault: LineFault,
}

/// What is wrong with a line of `/proc/kpeek` (each variant quotes the line, as text with
/// invalid UTF-8 replaced).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineFault {
    /// The last line does not end in a newline.
    #[error("last line {text:?} has no newline (torn read?)")]
    Unterminated {
        /// The line.
        text: String,
    },
    /// The line is not UTF-8.
    #[error("not UTF-8: {text:?}")]
    NotUtf8 {
        /// The line.
        text: String,
        /// Where the decoding failed.
        #[source]
        source: std::str::Utf8Error,
    },
    /// Not three fields separated by single spaces.
    #[error("{text:?} has {fields} space-separated fields, expected 3: <group> <counter> <value>")]
    Fields {
        /// The line.
        text: String,
        /// The fields it has.
        fields: usize,
    },
    /// A group or counter name that breaks kpeek.ko's rules.
    #[error("{text:?}: {rule}")]
    Name {
        /// The line.
        text: String,
        /// The rule the name breaks.
        rule: kpeek_abi::NameError,
    },
    /// A value that is not a decimal `u64` as the kernel prints it.
    #[error("{text:?}: value {value:?} is not a decimal u64")]
    Value {
        /// The line.
        text: String,
        /// The value field.
        value: String,
    },
}

/// Parse the whole content of `/proc/kpeek`, strictly: every line must end in `\n` (a missing
/// one means a torn read), have exactly three fields separated by one space, valid group and
/// counter names and a decimal `u64`. Returns the counters in file (creation) order.
pub fn parse(text: &[u8]) -> Result<Vec<CounterValue>, ParseError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line = 0;
    while !rest.is_empty() {
        line += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(ParseError {
                line,
                fault: LineFault::Unterminated {
                    text: String::from_utf8_lossy(rest).into_owned(),
                },
            });
        };
        let cur = &rest[..end];
        rest = &rest[end + 1..];
        out.push(parse_line(cur).map_err(|fault| ParseError { line, fault })?);
    }
    Ok(out)
}

fn parse_line(raw: &[u8]) -> Result<CounterValue, LineFault> {
    let text = std::str::from_utf8(raw).map_err(|source| LineFault::NotUtf8 {
        text: String::from_utf8_lossy(raw).into_owned(),
        source,
    })?;
    let fields: Vec<&str> = text.split(' ').collect();
    let [group, counter, value] = fields[..] else {
        return Err(LineFault::Fields {
            text: text.to_owned(),
            fields: fields.len(),
        });
    };
    let name = |kind, name| {
        validate_name(kind, name).map_err(|rule| LineFault::Name {
            text: text.to_owned(),
            rule,
        })
    };
    name(NameKind::Group, group)?;
    name(NameKind::Counter, counter)?;
    let value = parse_u64(value).ok_or_else(|| LineFault::Value {
        text: text.to_owned(),
        value: value.to_owned(),
    })?;
    Ok(CounterValue::new(group, counter, value))
}

/// A decimal `u64` exactly as the kernel prints `%llu`: digits only, no sign, no spaces, no
/// leading zero (so a garbled number is not silently read as another).
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// The procfs channel.
#[derive(Debug, Clone)]
pub struct Procfs {
    path: PathBuf,
}

impl Procfs {
    /// `/proc/kpeek` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        Procfs {
            path: root.path(kpeek_abi::PROC_PATH),
        }
    }

    /// The file this channel reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's raw bytes, from one open to EOF.
    pub fn read_raw(&self) -> Result<Vec<u8>> {
        pseudofile::read_all(&self.path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotLoaded {
                path: self.path.clone(),
            },
            _ => pseudofile::read_error(
                &self.path,
                e,
                "/proc/kpeek should be readable by everyone (0444)",
            ),
        })
    }

    /// Every counter in creation order, as the file lists them.
    pub fn read_in_order(&self) -> Result<Vec<CounterValue>> {
        parse(&self.read_raw()?).map_err(|e| Error::Malformed {
            path: self.path.clone(),
            line: e.line,
            fault: e.fault.into(),
        })
    }
}

impl CounterSource for Procfs {
    fn channel(&self) -> Channel {
        Channel::Procfs
    }

    fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot::new(self.read_in_order()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_lines_in_order() {
        let got =
            parse(b"kpeek_example writes 7\nkpeek_example reads 5\na b 18446744073709551615\n")
                .unwrap();
        assert_eq!(
            got,
            [
                CounterValue::new("kpeek_example", "writes", 7),
                CounterValue::new("kpeek_example", "reads", 5),
                CounterValue::new("a", "b", u64::MAX),
            ]
        );
        assert_eq!(parse(b"").unwrap(), []);
    }

    #[test]
    fn rejects_every_malformed_line_with_its_number() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"g c 1\ng c", 2, "no newline (torn read?)"),
            (b"g c 1 2\n", 1, "4 space-separated fields"),
            (b"g  c 1\n", 1, "4 space-separated fields"),
            (b"g c\n", 1, "2 space-separated fields"),
            (b"g c -1\n", 1, "not a decimal u64"),
            (b"g c 18446744073709551616\n", 1, "not a decimal u64"),
            (b"g c 0x10\n", 1, "not a decimal u64"),
            (b"g c 007\n", 1, "not a decimal u64"),
            (b"g c \n", 1, "not a decimal u64"),
            (b"g-x c 1\n", 1, "may only contain [A-Za-z0-9_]"),
            (b"info c 1\n", 1, "reserved"),
            (b"g reset 1\n", 1, "reserved"),
            (b"g c 1\n\n", 2, "1 space-separated fields"),
            (b"g \xff 1\n", 1, "not UTF-8"),
            (b"g c 1\r\n", 1, "not a decimal u64"),
        ];
        for (input, line, msg) in cases {
            let e = parse(input).unwrap_err();
            assert_eq!(e.line, *line, "{input:?}: {e:?}");
            assert!(e.fault.to_string().contains(msg), "{input:?}: {e:?}");
        }
    }

    #[test]
    fn each_fault_is_its_own_variant() {
        let fault = |b: &[u8]| parse(b).unwrap_err().fault;
        assert!(matches!(fault(b"g c 1"), LineFault::Unterminated { text } if text == "g c 1"));
        assert!(matches!(
            fault(b"g c\n"),
            LineFault::Fields { fields: 2, .. }
        ));
        assert!(matches!(
            fault(b"info c 1\n"),
            LineFault::Name {
                rule: kpeek_abi::NameError::Reserved { .. },
                ..
            }
        ));
        assert!(matches!(fault(b"g c 0x1\n"), LineFault::Value { value, .. } if value == "0x1"));
        let e = fault(b"g \xff 1\n");
        assert!(matches!(e, LineFault::NotUtf8 { .. }), "{e:?}");
        // The decoding error is kept as the cause.
        assert!(std::error::Error::source(&e).is_some());
        let e = parse(b"a b 1\ng c\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(
            e.to_string(),
            "line 2: \"g c\" has 2 space-separated fields, expected 3: <group> <counter> <value>"
        );
        // Through the channel, the fault is a TextFault::Line of Error::Malformed.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(dir.path().join("proc/kpeek"), "g c -1\n").unwrap();
        let e = Procfs::new(&SysRoot::new(dir.path()))
            .read_in_order()
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Malformed {
                    line: 1,
                    fault: crate::TextFault::Line(LineFault::Value { .. }),
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn missing_file_means_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let p = Procfs::new(&SysRoot::new(dir.path()));
        let e = p.snapshot().unwrap_err();
        assert!(matches!(e, Error::NotLoaded { .. }));
        assert!(
            e.to_string().ends_with("/proc/kpeek): modprobe kpeek"),
            "{e}"
        );
    }

    #[test]
    fn snapshot_is_sorted_and_read_in_order_is_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(dir.path().join("proc/kpeek"), "z a 1\nb c 2\n").unwrap();
        let p = Procfs::new(&SysRoot::new(dir.path()));
        assert_eq!(p.read_in_order().unwrap()[0].group, "z");
        assert_eq!(p.snapshot().unwrap().counters()[0].group, "b");
        std::fs::write(dir.path().join("proc/kpeek"), "z a 1\nb c\n").unwrap();
        let e = p.snapshot().unwrap_err().to_string();
        assert!(
            e.contains("/proc/kpeek:2: \"b c\" has 2 space-separated fields"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn round_trips(rows in proptest::collection::vec(
            ("[A-Za-z0-9_]{1,31}", "[A-Za-z0-9_]{1,31}", any::<u64>()), 0..50))
        {
            let rows: Vec<_> = rows
                .into_iter()
                .filter(|(g, c, _)| g != "info" && c != "reset")
                .map(|(g, c, v)| CounterValue::new(&g, &c, v))
                .collect();
            let text: String = rows.iter().map(|r| format!("{} {} {}\n", r.group, r.counter, r.value)).collect();
            prop_assert_eq!(parse(text.as_bytes()).unwrap(), rows);
        }

        #[test]
        fn truncation_is_detected(rows in proptest::collection::vec(("[a-z]{1,8}", "[a-z]{1,8}", any::<u64>()), 1..10), cut in any::<prop::sample::Index>()) {
            let text: String = rows.iter().map(|(g, c, v)| format!("{g} {c} {v}\n")).collect();
            let at = cut.index(text.len());
            // Any cut that does not fall right after a newline must be reported.
            if at > 0 && text.as_bytes()[at - 1] != b'\n' {
                prop_assert!(parse(&text.as_bytes()[..at]).is_err());
            }
        }
    }
}

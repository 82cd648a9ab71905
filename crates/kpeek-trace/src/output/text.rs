//! `lttng view`-style text:
//!
//! ```text
//! [22:51:28.120319188] (+0.000028761) host net:netif_receive_skb: { cpu_id = 3 }, { skbaddr = 0xffff888004a1c000, len = 84, name = "lo" }
//! ```
//!
//! Local wall-clock time from the perf clock, the delta to the previous line, the host, the
//! event, the CPU, then the event's own fields. Lost records are a `kpeek:lost` line at the
//! point the kernel reported them; the end of the run adds one for drops it never reported.
//! With call stacks, each frame follows on its own indented line.

use std::io::{self, Write};

use crate::clock::WallClock;
use crate::model::{Event, Lost, SessionInfo, Sink, Summary};

use super::Symbolizer;

/// The start of every lttng-view line, `[HH:MM:SS.nnnnnnnnn] (+s.nnnnnnnnn) host `: local
/// wall-clock time of a `CLOCK_MONOTONIC` timestamp, the delta to the previous line
/// (`+?.?????????` for the first), the host name. Every text output of kpeek (`trace record`,
/// `mod events`) writes its lines through one of these, so they read alike.
#[derive(Debug)]
pub struct LttngStamp {
    clock: WallClock,
    host: String,
    prev: Option<u64>,
    /// (second since epoch, "HH:MM:SS") of the last formatted time.
    cached_sec: Option<(i64, String)>,
}

impl LttngStamp {
    /// Stamps for timestamps of `clock`'s monotonic clock, on `host`.
    pub fn new(clock: WallClock, host: impl Into<String>) -> LttngStamp {
        LttngStamp {
            clock,
            host: host.into(),
            prev: None,
            cached_sec: None,
        }
    }

    /// Writes the stamp of monotonic time `time` (ns), with the trailing space.
    pub fn write(&mut self, out: &mut impl Write, time: u64) -> io::Result<()> {
        let wall = self.clock.wall_ns(time);
        let sec = wall.div_euclid(1_000_000_000) as i64;
        let nsec = wall.rem_euclid(1_000_000_000) as u32;
        if self.cached_sec.as_ref().is_none_or(|(s, _)| *s != sec) {
            self.cached_sec = Some((sec, local_hms(sec)));
        }
        let hms = &self.cached_sec.as_ref().expect("just set").1;
        write!(out, "[{hms}.{nsec:09}] ")?;
        match self.prev {
            Some(p) => {
                let d = time.saturating_sub(p);
                write!(out, "(+{}.{:09})", d / 1_000_000_000, d % 1_000_000_000)?
            }
            None => out.write_all(b"(+?.?????????)")?,
        }
        self.prev = Some(time);
        write!(out, " {} ", self.host)
    }
}

/// Writes one line per event in LTTng's text view (`[time] (+delta) host system:name: { cpu_id = N }, { fields }`).
pub struct TextWriter<W: Write> {
    out: W,
    host: String,
    stamp: Option<LttngStamp>,
    labels: Vec<String>,
    symbolize: Option<Symbolizer>,
    sym: String,
}

impl<W: Write> TextWriter<W> {
    /// A writer to `out`, naming `host` on every line.
    pub fn new(out: W, host: impl Into<String>) -> Self {
        TextWriter {
            out,
            host: host.into(),
            stamp: None,
            labels: Vec::new(),
            symbolize: None,
            sym: String::new(),
        }
    }

    /// Symbolize call stack frames.
    pub fn with_symbolizer(mut self, s: Symbolizer) -> Self {
        self.symbolize = Some(s);
        self
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn stamp(&mut self, time: u64) -> io::Result<()> {
        let host = &self.host;
        let stamp = self
            .stamp
            .get_or_insert_with(|| LttngStamp::new(WallClock { offset_ns: 0 }, host.clone()));
        stamp.write(&mut self.out, time)
    }
}

/// `HH:MM:SS` in local time of a Unix second.
pub fn local_hms(sec: i64) -> String {
    let t: libc::time_t = sec as libc::time_t;
    // SAFETY: tm is plain data; localtime_r fills it from t.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        let s = sec.rem_euclid(86_400);
        return format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    }
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

impl<W: Write> Sink for TextWriter<W> {
    fn begin(&mut self, info: &SessionInfo<'_>) -> io::Result<()> {
        self.stamp = Some(LttngStamp::new(info.clock, self.host.clone()));
        self.labels = info.formats.iter().map(super::event_label).collect();
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        self.stamp(ev.time)?;
        let label = self.labels.get(ev.index).map_or("?", String::as_str);
        write!(self.out, "{label}: {{ cpu_id = {} }}", ev.cpu)?;
        match ev.format.decode(ev.raw) {
            // An event without fields has no payload braces, as in babeltrace.
            Ok(fields) if fields.is_empty() => {}
            Ok(fields) => {
                self.out.write_all(b", { ")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.write_all(b", ")?;
                    }
                    write!(self.out, "{name} = {value}")?;
                }
                self.out.write_all(b" }")?;
            }
            Err(e) => {
                self.out.write_all(b", { decode_error = ")?;
                write!(self.out, "{}", crate::value::Value::Str(e.to_string()))?;
                self.out.write_all(b" }")?;
            }
        }
        self.out.write_all(b"\n")?;
        for ip in ev.callchain_ips() {
            self.sym.clear();
            if let Some(s) = &self.symbolize {
                s(ip, &mut self.sym);
            }
            writeln!(self.out, "    {ip:#018x} {}", self.sym)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn lost(&mut self, lost: &Lost) -> io::Result<()> {
        self.stamp(lost.time)?;
        writeln!(
            self.out,
            "kpeek:lost: {{ cpu_id = {} }}, {{ count = {} }}",
            lost.cpu, lost.count
        )
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if summary.lost_unreported > 0 {
            writeln!(
                self.out,
                "[end] {} kpeek:lost: {{ count = {} }} (dropped while the ring was full, \
                 counted by the kernel's counters)",
                self.host, summary.lost_unreported
            )?;
        }
        self.out.flush()
    }
}

//! Chrome/Perfetto trace-event JSON (the "JSON Object Format"): opens in ui.perfetto.dev and
//! chrome://tracing.
//!
//! Every tracepoint hit is an instant event (`"ph":"i"`, thread scope) named after the event,
//! with `cat` = its system, `ts` in microseconds (three decimals: nanosecond precision) since
//! the start of the recording, the process and thread, and the decoded fields plus `cpu` as
//! `args`. Lost records are global instant events named `kpeek:lost`; `otherData` carries the
//! totals (events, lost reported and unreported) and the wall-clock start time.

use std::io::{self, Write};

use crate::model::{Event, Lost, SessionInfo, Sink, Summary};

use super::{Symbolizer, write_json_str, write_us};

/// Writes a Chrome trace (`chrome://tracing`, Perfetto): one JSON array of instant events, times in
/// microseconds since the start of recording.
pub struct ChromeWriter<W: Write> {
    out: W,
    start_ns: u64,
    start_wall_ns: i128,
    first: bool,
    /// Per event: `"name":"…","cat":"…",`.
    names: Vec<Vec<u8>>,
    symbolize: Option<Symbolizer>,
    sym: String,
}

impl<W: Write> ChromeWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        ChromeWriter {
            out,
            start_ns: 0,
            start_wall_ns: 0,
            first: true,
            names: Vec::new(),
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

    fn sep(&mut self) -> io::Result<()> {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.out.write_all(b",\n")
        }
    }
}

impl<W: Write> Sink for ChromeWriter<W> {
    fn begin(&mut self, info: &SessionInfo<'_>) -> io::Result<()> {
        self.start_ns = info.start_ns;
        self.start_wall_ns = info.clock.wall_ns(info.start_ns);
        for f in info.formats {
            let mut n = b"\"name\":".to_vec();
            write_json_str(&mut n, &f.name.to_string())?;
            n.extend_from_slice(b",\"cat\":");
            write_json_str(&mut n, &f.name.system)?;
            n.push(b',');
            self.names.push(n);
        }
        self.out.write_all(b"{\"traceEvents\":[\n")
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        self.sep()?;
        self.out.write_all(b"{")?;
        self.out.write_all(&self.names[ev.index])?;
        self.out.write_all(b"\"ph\":\"i\",\"s\":\"t\",\"ts\":")?;
        write_us(&mut self.out, ev.time.saturating_sub(self.start_ns))?;
        write!(
            self.out,
            ",\"pid\":{},\"tid\":{},\"args\":{{\"cpu\":{}",
            ev.pid, ev.tid, ev.cpu
        )?;
        match ev.format.decode(ev.raw) {
            Ok(fields) => {
                for (name, value) in &fields {
                    self.out.write_all(b",")?;
                    write_json_str(&mut self.out, name)?;
                    self.out.write_all(b":")?;
                    serde_json::to_writer(&mut self.out, value).map_err(io::Error::other)?;
                }
            }
            Err(e) => {
                self.out.write_all(b",\"decode_error\":")?;
                write_json_str(&mut self.out, &e.to_string())?;
            }
        }
        if !ev.callchain.is_empty() {
            self.out.write_all(b",\"callchain\":[")?;
            for (i, ip) in ev.callchain_ips().enumerate() {
                if i > 0 {
                    self.out.write_all(b",")?;
                }
                self.sym.clear();
                match &self.symbolize {
                    Some(s) => s(ip, &mut self.sym),
                    None => self.sym = format!("{ip:#x}"),
                }
                write_json_str(&mut self.out, &self.sym)?;
            }
            self.out.write_all(b"]")?;
        }
        self.out.write_all(b"}}")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn lost(&mut self, lost: &Lost) -> io::Result<()> {
        self.sep()?;
        self.out.write_all(
            b"{\"name\":\"kpeek:lost\",\"cat\":\"kpeek\",\"ph\":\"i\",\"s\":\"g\",\"ts\":",
        )?;
        write_us(&mut self.out, lost.time.saturating_sub(self.start_ns))?;
        write!(
            self.out,
            ",\"pid\":0,\"tid\":0,\"args\":{{\"count\":{},\"cpu\":{}}}}}",
            lost.count, lost.cpu
        )
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        write!(
            self.out,
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"tool\":\"kpeek trace record\",\
             \"start_wall_ns\":{},\"events\":{},\"samples\":{},\"lost\":{},\
             \"lost_reported\":{},\"lost_unreported\":{},\"throttled\":{}}}}}\n",
            self.start_wall_ns,
            s.events,
            s.samples,
            s.lost(),
            s.lost_reported,
            s.lost_unreported,
            s.throttled
        )?;
        self.out.flush()
    }
}

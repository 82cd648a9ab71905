//! JSON lines: one object per event,
//!
//! ```text
//! {"ts":1763765488120319188,"cpu":3,"pid":0,"tid":0,"event":"net:netif_receive_skb","fields":{"skbaddr":"0xffff888004a1c000","len":84,"name":"lo"}}
//! ```
//!
//! `ts` is wall-clock nanoseconds since the Unix epoch (from the perf clock). Fields are typed:
//! integers as numbers, pointers as `"0x..."` strings, strings, arrays. Lost records are
//! `{"lost":n,"ts":...,"cpu":n}` where the kernel reported them and `{"lost":n,"unreported":true}`
//! at the end for drops only the kernel's counters saw. A record that does not decode carries
//! `"decode_error"` instead of `"fields"`.

use std::io::{self, Write};

use crate::record::{Event, Lost, SessionInfo, Sink, Summary, WallClock};

use super::{Symbolizer, write_json_str};

pub struct JsonWriter<W: Write> {
    out: W,
    clock: Option<WallClock>,
    /// Per event: `,"event":"sys:name","fields":{` ...
    prefixes: Vec<Vec<u8>>,
    /// ... and each field's `"name":`.
    keys: Vec<Vec<Vec<u8>>>,
    symbolize: Option<Symbolizer>,
    sym: String,
    ibuf: itoa::Buffer,
}

impl<W: Write> JsonWriter<W> {
    pub fn new(out: W) -> Self {
        JsonWriter {
            out,
            clock: None,
            prefixes: Vec::new(),
            keys: Vec::new(),
            symbolize: None,
            sym: String::new(),
            ibuf: itoa::Buffer::new(),
        }
    }

    pub fn with_symbolizer(mut self, s: Symbolizer) -> Self {
        self.symbolize = Some(s);
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn int(&mut self, key: &[u8], v: impl itoa::Integer) -> io::Result<()> {
        self.out.write_all(key)?;
        self.out.write_all(self.ibuf.format(v).as_bytes())
    }
}

impl<W: Write> Sink for JsonWriter<W> {
    fn begin(&mut self, info: &SessionInfo<'_>) -> io::Result<()> {
        self.clock = Some(info.clock);
        for f in info.formats {
            let mut p = b",\"event\":".to_vec();
            write_json_str(&mut p, &f.name.to_string())?;
            p.extend_from_slice(b",\"fields\":{");
            self.prefixes.push(p);
            let mut keys = Vec::new();
            for field in &f.fields {
                let mut k = Vec::new();
                write_json_str(&mut k, &field.name)?;
                k.push(b':');
                keys.push(k);
            }
            self.keys.push(keys);
        }
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        let ts = self.clock.map_or(ev.time as i128, |c| c.wall_ns(ev.time)) as i64;
        self.int(b"{\"ts\":", ts)?;
        self.int(b",\"cpu\":", ev.cpu)?;
        self.int(b",\"pid\":", ev.pid)?;
        self.int(b",\"tid\":", ev.tid)?;
        match ev.format.decode(ev.raw) {
            Ok(fields) => {
                self.out.write_all(&self.prefixes[ev.index])?;
                let keys = &self.keys[ev.index];
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.write_all(b",")?;
                    }
                    match keys.get(i) {
                        Some(k) => self.out.write_all(k)?,
                        None => {
                            write_json_str(&mut self.out, name)?;
                            self.out.write_all(b":")?;
                        }
                    }
                    serde_json::to_writer(&mut self.out, value).map_err(io::Error::other)?;
                }
                self.out.write_all(b"}")?;
            }
            Err(e) => {
                // The prefix ends with `"fields":{`; name the event and the error instead.
                self.out.write_all(b",\"event\":")?;
                write_json_str(&mut self.out, &ev.format.name.to_string())?;
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
                write!(self.out, "{{\"ip\":\"{ip:#x}\"")?;
                if let Some(s) = &self.symbolize {
                    self.sym.clear();
                    s(ip, &mut self.sym);
                    self.out.write_all(b",\"sym\":")?;
                    write_json_str(&mut self.out, &self.sym)?;
                }
                self.out.write_all(b"}")?;
            }
            self.out.write_all(b"]")?;
        }
        self.out.write_all(b"}\n")
    }

    fn lost(&mut self, lost: &Lost) -> io::Result<()> {
        let ts = self
            .clock
            .map_or(lost.time as i128, |c| c.wall_ns(lost.time)) as i64;
        self.int(b"{\"lost\":", lost.count)?;
        self.int(b",\"ts\":", ts)?;
        self.int(b",\"cpu\":", lost.cpu)?;
        self.out.write_all(b"}\n")
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if summary.lost_unreported > 0 {
            self.int(b"{\"lost\":", summary.lost_unreported)?;
            self.out.write_all(b",\"unreported\":true}\n")?;
        }
        self.out.flush()
    }
}

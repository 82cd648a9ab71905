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

use crate::clock::WallClock;
use crate::format::{EventFormat, FieldKind};
use crate::model::{Event, Lost, SessionInfo, Sink, Summary};

use super::{Symbolizer, write_json_str};

/// Writes one JSON object per line per event (and per lost-records notice).
pub struct JsonWriter<W: Write> {
    out: W,
    clock: Option<WallClock>,
    /// Per event: `,"event":"sys:name","fields":{` ...
    prefixes: Vec<Vec<u8>>,
    /// ... and each field's `"name":`.
    keys: Vec<Vec<Vec<u8>>>,
    /// Per event: the fields as plain scalars, when every field is one (the allocation-free
    /// path); `None` sends the event through [`EventFormat::decode`].
    fast: Vec<Option<FastLayout>>,
    symbolize: Option<Symbolizer>,
    sym: String,
    ibuf: itoa::Buffer,
}

/// A scalar field read straight from the record, with exactly `decode`'s semantics.
#[derive(Clone, Copy, Debug)]
enum Scalar {
    Unsigned { off: usize, bytes: usize },
    Signed { off: usize, bytes: usize },
    Bool { off: usize, bytes: usize },
    Ptr { off: usize, bytes: usize },
}

#[derive(Clone, Debug)]
struct FastLayout {
    fields: Vec<Scalar>,
    /// Bytes the record needs for all of them.
    min_len: usize,
}

impl FastLayout {
    fn of(f: &EventFormat) -> Option<FastLayout> {
        let mut fields = Vec::new();
        let mut min_len = 0;
        for field in &f.fields {
            let (off, bytes) = (field.offset, field.size);
            if !matches!(bytes, 1 | 2 | 4 | 8) {
                return None;
            }
            let sc = match field.kind {
                FieldKind::Int { bytes: b, signed } | FieldKind::Enum { bytes: b, signed }
                    if usize::from(b) == bytes =>
                {
                    if signed {
                        Scalar::Signed { off, bytes }
                    } else {
                        Scalar::Unsigned { off, bytes }
                    }
                }
                FieldKind::Bool => Scalar::Bool { off, bytes },
                FieldKind::Pointer { bytes: b } if usize::from(b) == bytes => {
                    Scalar::Ptr { off, bytes }
                }
                _ => return None,
            };
            fields.push(sc);
            min_len = min_len.max(off + bytes);
        }
        Some(FastLayout { fields, min_len })
    }
}

/// Native-endian unsigned integer of `bytes` bytes at `off` (the caller checked the length).
#[inline]
fn uint_at(raw: &[u8], off: usize, bytes: usize) -> u64 {
    let mut b = [0u8; 8];
    if cfg!(target_endian = "little") {
        b[..bytes].copy_from_slice(&raw[off..off + bytes]);
        u64::from_le_bytes(b)
    } else {
        b[8 - bytes..].copy_from_slice(&raw[off..off + bytes]);
        u64::from_be_bytes(b)
    }
}

impl<W: Write> JsonWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        JsonWriter {
            out,
            clock: None,
            prefixes: Vec::new(),
            keys: Vec::new(),
            fast: Vec::new(),
            symbolize: None,
            sym: String::new(),
            ibuf: itoa::Buffer::new(),
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
            self.fast.push(FastLayout::of(f));
        }
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        let ts = self.clock.map_or(ev.time as i128, |c| c.wall_ns(ev.time)) as i64;
        self.int(b"{\"ts\":", ts)?;
        self.int(b",\"cpu\":", ev.cpu)?;
        self.int(b",\"pid\":", ev.pid)?;
        self.int(b",\"tid\":", ev.tid)?;
        if let Some(Some(fast)) = self.fast.get(ev.index)
            && ev.raw.len() >= fast.min_len
        {
            self.out.write_all(&self.prefixes[ev.index])?;
            for (i, sc) in fast.fields.iter().enumerate() {
                if i > 0 {
                    self.out.write_all(b",")?;
                }
                self.out.write_all(&self.keys[ev.index][i])?;
                let raw = ev.raw;
                match *sc {
                    Scalar::Unsigned { off, bytes } => {
                        let v = uint_at(raw, off, bytes);
                        self.out.write_all(self.ibuf.format(v).as_bytes())?;
                    }
                    Scalar::Signed { off, bytes } => {
                        let shift = 64 - 8 * bytes as u32;
                        let v = ((uint_at(raw, off, bytes) << shift) as i64) >> shift;
                        self.out.write_all(self.ibuf.format(v).as_bytes())?;
                    }
                    Scalar::Bool { off, bytes } => {
                        let b = raw[off..off + bytes].iter().any(|&x| x != 0);
                        self.out.write_all(if b { b"true" } else { b"false" })?;
                    }
                    Scalar::Ptr { off, bytes } => {
                        write!(self.out, "\"{:#x}\"", uint_at(raw, off, bytes))?;
                    }
                }
            }
            self.out.write_all(b"}")?;
        } else {
            self.decoded(ev)?;
        }
        self.callchain(ev)?;
        self.out.write_all(b"}\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
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

impl<W: Write> JsonWriter<W> {
    /// `"fields":{...}` through the general decoder (strings, arrays, dynamic fields).
    fn decoded(&mut self, ev: &Event<'_>) -> io::Result<()> {
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
        Ok(())
    }

    fn callchain(&mut self, ev: &Event<'_>) -> io::Result<()> {
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::WallClock;

    const FMT: &str = "name: t
ID: 1
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:u8 a;\toffset:8;\tsize:1;\tsigned:0;
\tfield:short b;\toffset:9;\tsize:2;\tsigned:1;
\tfield:int c;\toffset:11;\tsize:4;\tsigned:1;
\tfield:unsigned long d;\toffset:16;\tsize:8;\tsigned:0;
\tfield:bool e;\toffset:24;\tsize:1;\tsigned:0;
\tfield:void * f;\toffset:25;\tsize:8;\tsigned:0;
\tfield:s64 g;\toffset:33;\tsize:8;\tsigned:1;
\tfield:signed char h;\toffset:41;\tsize:1;\tsigned:1;

print fmt: \"\"
";

    fn line(f: &EventFormat, raw: &[u8]) -> serde_json::Value {
        let mut w = JsonWriter::new(Vec::new());
        let formats = [f.clone()];
        let info = SessionInfo {
            formats: &formats,
            cpus: &[0],
            clock: WallClock { offset_ns: 0 },
            start_ns: 0,
        };
        w.begin(&info).unwrap();
        let ev = Event {
            time: 5,
            cpu: 1,
            pid: 2,
            tid: 3,
            index: 0,
            format: f,
            raw,
            callchain: &[],
        };
        w.event(&ev).unwrap();
        serde_json::from_slice(&w.into_inner()).unwrap()
    }

    #[test]
    fn scalar_events_take_the_fast_path() {
        let f = EventFormat::parse(FMT).unwrap();
        assert!(FastLayout::of(&f).is_some());
    }

    proptest::proptest! {
        /// The allocation-free path writes exactly what the general decoder gives.
        #[test]
        fn fast_path_matches_decode(raw in proptest::collection::vec(0u8.., 0..60)) {
            let f = EventFormat::parse(FMT).unwrap();
            let v = line(&f, &raw);
            proptest::prop_assert_eq!(&v["ts"], 5);
            proptest::prop_assert_eq!(&v["tid"], 3);
            match f.decode(&raw) {
                Ok(fields) => {
                    let want: serde_json::Map<String, serde_json::Value> = fields
                        .iter()
                        .map(|(k, v)| (k.to_string(), serde_json::to_value(v).unwrap()))
                        .collect();
                    proptest::prop_assert_eq!(&v["fields"], &serde_json::Value::Object(want));
                }
                Err(_) => proptest::prop_assert!(v.get("decode_error").is_some()),
            }
        }
    }
}

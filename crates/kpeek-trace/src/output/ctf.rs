//! CTF 1.8 traces (the Common Trace Format of LTTng), readable by `babeltrace2` and Trace
//! Compass: a directory with a `metadata` text file (TSDL) and one binary stream file per CPU.
//!
//! Layout: one stream class; packets carry `timestamp_begin/end`, `events_discarded` (the
//! running count of records the kernel lost on that CPU, which babeltrace2 reports as
//! discarded events) and `cpu_id`; each event has a 32-bit id, a 64-bit timestamp mapped to a
//! `monotonic` clock whose offset is the wall-clock time at the Unix epoch, and `pid`/`tid` in
//! its context. Integers are byte-aligned in native byte order. Field names get a leading `_`,
//! which CTF readers strip, so kernel names such as `__syscall_nr` come out unchanged. Lost
//! records are also `kpeek:lost` events in-line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::format::FieldKind;
use crate::model::{Event, Lost, SessionInfo, Sink, Summary};
use crate::value::Value;

const MAGIC: u32 = 0xC1FC_1FC1;
/// Flush a packet when its events reach this size.
const PACKET_BYTES: usize = 1 << 18;

/// How one field is written (mirrors the TSDL declared for it).
#[derive(Clone, Debug)]
enum Layout {
    /// An integer of `bytes` bytes.
    Int { bytes: usize },
    /// A NUL-terminated string.
    Str,
    /// `len` integers of `bytes` bytes.
    IntArray { bytes: usize, len: usize },
    /// A u32 element count, then that many integers of `bytes` bytes.
    IntSeq { bytes: usize },
    /// The field's raw bytes (a fixed-size type without a better mapping).
    Raw { len: usize },
    /// A u32 byte count, then the bytes.
    RawSeq,
}

fn scalar_bytes(kind: &FieldKind) -> Option<(usize, bool, bool)> {
    // (bytes, signed, hex)
    match kind {
        FieldKind::Int { bytes, signed } | FieldKind::Enum { bytes, signed } => {
            Some((usize::from(*bytes), *signed, false))
        }
        FieldKind::Bool => Some((1, false, false)),
        FieldKind::Pointer { bytes } => Some((usize::from(*bytes), false, true)),
        _ => None,
    }
    .filter(|(b, _, _)| matches!(b, 1 | 2 | 4 | 8))
}

fn int_type(bytes: usize, signed: bool, hex: bool) -> String {
    format!(
        "integer {{ size = {}; align = 8; signed = {signed}; byte_order = native;{} }}",
        bytes * 8,
        if hex { " base = 16;" } else { "" }
    )
}

/// The TSDL declaration of a field and how its values are written.
fn declare(name: &str, kind: &FieldKind, size: usize, out: &mut String) -> Layout {
    let n = format!("_{name}");
    if let Some((bytes, signed, hex)) = scalar_bytes(kind) {
        let _ = writeln!(out, "\t\t{} {n};", int_type(bytes, signed, hex));
        return Layout::Int { bytes };
    }
    match kind {
        FieldKind::CharArray { .. }
        | FieldKind::DataLoc {
            is_string: true, ..
        }
        | FieldKind::RelLoc {
            is_string: true, ..
        }
        | FieldKind::FlexArray {
            is_string: true, ..
        } => {
            let _ = writeln!(out, "\t\tstring {n};");
            Layout::Str
        }
        FieldKind::Array { elem, len } if scalar_bytes(elem).is_some() => {
            let (bytes, signed, hex) = scalar_bytes(elem).expect("checked");
            let _ = writeln!(out, "\t\t{} {n}[{len}];", int_type(bytes, signed, hex));
            Layout::IntArray { bytes, len: *len }
        }
        FieldKind::DataLoc { elem, .. }
        | FieldKind::RelLoc { elem, .. }
        | FieldKind::FlexArray { elem, .. }
            if scalar_bytes(elem).is_some() =>
        {
            let (bytes, signed, hex) = scalar_bytes(elem).expect("checked");
            let _ = writeln!(
                out,
                "\t\tinteger {{ size = 32; align = 8; signed = false; byte_order = native; }} _{n}_length;"
            );
            let _ = writeln!(
                out,
                "\t\t{} {n}[_{n}_length];",
                int_type(bytes, signed, hex)
            );
            Layout::IntSeq { bytes }
        }
        FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } | FieldKind::FlexArray { .. } => {
            let _ = writeln!(
                out,
                "\t\tinteger {{ size = 32; align = 8; signed = false; byte_order = native; }} _{n}_length;"
            );
            let _ = writeln!(
                out,
                "\t\tinteger {{ size = 8; align = 8; signed = false; base = 16; }} {n}[_{n}_length];"
            );
            Layout::RawSeq
        }
        _ => {
            let _ = writeln!(
                out,
                "\t\tinteger {{ size = 8; align = 8; signed = false; base = 16; }} {n}[{size}];"
            );
            Layout::Raw { len: size }
        }
    }
}

fn put_int(buf: &mut Vec<u8>, v: u64, bytes: usize) {
    let b = v.to_ne_bytes();
    if cfg!(target_endian = "little") {
        buf.extend_from_slice(&b[..bytes]);
    } else {
        buf.extend_from_slice(&b[8 - bytes..]);
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend(s.bytes().filter(|&b| b != 0));
    buf.push(0);
}

/// Write one field from its decoded value (`None`: the record did not decode; write the
/// layout's empty value so the stream stays readable).
fn put_field(buf: &mut Vec<u8>, layout: &Layout, v: Option<&Value>, raw: &[u8], offset: usize) {
    match layout {
        Layout::Int { bytes } => put_int(buf, v.and_then(Value::as_u64).unwrap_or(0), *bytes),
        Layout::Str => put_str(buf, v.and_then(Value::as_str).unwrap_or("")),
        Layout::IntArray { bytes, len } => {
            let items = match v {
                Some(Value::Array(a)) => a.as_slice(),
                _ => &[],
            };
            for i in 0..*len {
                put_int(
                    buf,
                    items.get(i).and_then(Value::as_u64).unwrap_or(0),
                    *bytes,
                );
            }
        }
        Layout::IntSeq { bytes } => {
            let items = match v {
                Some(Value::Array(a)) => a.as_slice(),
                _ => &[],
            };
            put_int(buf, items.len() as u64, 4);
            for x in items {
                put_int(buf, x.as_u64().unwrap_or(0), *bytes);
            }
        }
        Layout::Raw { len } => {
            let src = raw.get(offset..offset + len);
            match src {
                Some(s) => buf.extend_from_slice(s),
                None => buf.extend(std::iter::repeat_n(0, *len)),
            }
        }
        Layout::RawSeq => {
            let bytes: Vec<u8> = match v {
                Some(Value::Bytes(b)) => b.clone(),
                Some(Value::Array(a)) => a.iter().map(|x| x.as_u64().unwrap_or(0) as u8).collect(),
                Some(Value::Str(s)) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            put_int(buf, bytes.len() as u64, 4);
            buf.extend_from_slice(&bytes);
        }
    }
}

/// One CPU's stream file and its packet being filled.
struct CpuStream {
    file: BufWriter<File>,
    events: Vec<u8>,
    begin: u64,
    end: u64,
    discarded: u64,
}

/// Writes a CTF 1.8 trace directory.
pub struct CtfWriter {
    dir: PathBuf,
    uuid: [u8; 16],
    host: String,
    layouts: Vec<Vec<(usize, Layout)>>,
    lost_id: u32,
    streams: BTreeMap<u32, CpuStream>,
}

fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = io::Read::read_exact(&mut f, &mut u);
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

fn uuid_text(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn tsdl_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl CtfWriter {
    /// A trace in `dir` (created; it must not hold another trace).
    pub fn create(dir: impl AsRef<Path>, host: impl Into<String>) -> io::Result<CtfWriter> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        if dir.join("metadata").exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} already holds a CTF trace (metadata exists)",
                    dir.display()
                ),
            ));
        }
        Ok(CtfWriter {
            dir,
            uuid: random_uuid(),
            host: host.into(),
            layouts: Vec::new(),
            lost_id: 0,
            streams: BTreeMap::new(),
        })
    }

    fn metadata(&mut self, info: &SessionInfo<'_>) -> String {
        let uuid = uuid_text(&self.uuid);
        let order = if cfg!(target_endian = "little") {
            "le"
        } else {
            "be"
        };
        let off = info.clock.offset_ns;
        let mut m = String::new();
        let _ = write!(
            m,
            "/* CTF 1.8 */\n\n\
             typealias integer {{ size = 8; align = 8; signed = false; }} := uint8_t;\n\
             typealias integer {{ size = 32; align = 8; signed = false; }} := uint32_t;\n\
             typealias integer {{ size = 64; align = 8; signed = false; }} := uint64_t;\n\n\
             trace {{\n\tmajor = 1;\n\tminor = 8;\n\tuuid = \"{uuid}\";\n\tbyte_order = {order};\n\
             \tpacket.header := struct {{\n\t\tuint32_t magic;\n\t\tuint8_t uuid[16];\n\
             \t\tuint32_t stream_id;\n\t}};\n}};\n\n\
             env {{\n\thostname = \"{}\";\n\tdomain = \"kernel\";\n\ttracer_name = \"kpeek\";\n}};\n\n\
             clock {{\n\tname = \"monotonic\";\n\tuuid = \"{uuid}\";\n\
             \tdescription = \"CLOCK_MONOTONIC (the perf clock)\";\n\tfreq = 1000000000;\n\
             \toffset_s = {};\n\toffset = {};\n}};\n\n\
             typealias integer {{ size = 64; align = 8; signed = false; map = clock.monotonic.value; }} := uint64_clock_t;\n\n\
             stream {{\n\tid = 0;\n\tpacket.context := struct {{\n\
             \t\tuint64_clock_t timestamp_begin;\n\t\tuint64_clock_t timestamp_end;\n\
             \t\tuint64_t content_size;\n\t\tuint64_t packet_size;\n\
             \t\tuint64_t events_discarded;\n\t\tuint32_t cpu_id;\n\t}};\n\
             \tevent.header := struct {{\n\t\tuint32_t id;\n\t\tuint64_clock_t timestamp;\n\t}};\n\
             \tevent.context := struct {{\n\t\tuint32_t _pid;\n\t\tuint32_t _tid;\n\t}};\n}};\n\n",
            tsdl_escape(&self.host),
            off.div_euclid(1_000_000_000),
            off.rem_euclid(1_000_000_000),
        );
        for (id, f) in info.formats.iter().enumerate() {
            let _ = write!(
                m,
                "event {{\n\tname = \"{}\";\n\tid = {id};\n\tstream_id = 0;\n\tfields := struct {{\n",
                tsdl_escape(&f.name.to_string())
            );
            let mut layouts = Vec::new();
            for (i, field) in f.fields.iter().enumerate() {
                let l = declare(&field.name, &field.kind, field.size, &mut m);
                layouts.push((i, l));
            }
            m.push_str("\t};\n};\n\n");
            self.layouts.push(layouts);
        }
        self.lost_id = info.formats.len() as u32;
        let _ = write!(
            m,
            "event {{\n\tname = \"kpeek:lost\";\n\tid = {};\n\tstream_id = 0;\n\
             \tfields := struct {{\n\t\tuint64_t _count;\n\t}};\n}};\n",
            self.lost_id
        );
        m
    }

    fn stream(&mut self, cpu: u32) -> io::Result<&mut CpuStream> {
        if !self.streams.contains_key(&cpu) {
            let file = File::create(self.dir.join(format!("stream_{cpu}")))?;
            self.streams.insert(
                cpu,
                CpuStream {
                    file: BufWriter::with_capacity(1 << 16, file),
                    events: Vec::with_capacity(PACKET_BYTES + 4096),
                    begin: 0,
                    end: 0,
                    discarded: 0,
                },
            );
        }
        Ok(self.streams.get_mut(&cpu).expect("inserted"))
    }

    fn header(s: &mut CpuStream, id: u32, time: u64, pid: u32, tid: u32) {
        if s.events.is_empty() {
            s.begin = time;
        }
        s.end = s.end.max(time);
        put_int(&mut s.events, u64::from(id), 4);
        put_int(&mut s.events, time, 8);
        put_int(&mut s.events, u64::from(pid), 4);
        put_int(&mut s.events, u64::from(tid), 4);
    }

    fn flush_packet(uuid: &[u8; 16], cpu: u32, s: &mut CpuStream) -> io::Result<()> {
        if s.events.is_empty() {
            return Ok(());
        }
        // header: magic 4 + uuid 16 + stream_id 4; context: 5 * 8 + 4.
        let total = (4 + 16 + 4 + 5 * 8 + 4 + s.events.len()) as u64;
        let mut h = Vec::with_capacity(68);
        put_int(&mut h, u64::from(MAGIC), 4);
        h.extend_from_slice(uuid);
        put_int(&mut h, 0, 4);
        put_int(&mut h, s.begin, 8);
        put_int(&mut h, s.end, 8);
        put_int(&mut h, total * 8, 8);
        put_int(&mut h, total * 8, 8);
        put_int(&mut h, s.discarded, 8);
        put_int(&mut h, u64::from(cpu), 4);
        s.file.write_all(&h)?;
        s.file.write_all(&s.events)?;
        s.events.clear();
        Ok(())
    }
}

impl Sink for CtfWriter {
    fn begin(&mut self, info: &SessionInfo<'_>) -> io::Result<()> {
        let m = self.metadata(info);
        std::fs::write(self.dir.join("metadata"), m)
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        let decoded = ev.format.decode(ev.raw).ok();
        let uuid = self.uuid;
        let layouts = std::mem::take(&mut self.layouts);
        let s = self.stream(ev.cpu)?;
        CtfWriter::header(s, ev.index as u32, ev.time, ev.pid, ev.tid);
        for (i, layout) in &layouts[ev.index] {
            let v = decoded.as_ref().and_then(|d| d.get(*i)).map(|(_, v)| v);
            put_field(
                &mut s.events,
                layout,
                v,
                ev.raw,
                ev.format.fields[*i].offset,
            );
        }
        let full = s.events.len() >= PACKET_BYTES;
        if full {
            CtfWriter::flush_packet(&uuid, ev.cpu, s)?;
        }
        self.layouts = layouts;
        Ok(())
    }

    fn lost(&mut self, lost: &Lost) -> io::Result<()> {
        let id = self.lost_id;
        let s = self.stream(lost.cpu)?;
        CtfWriter::header(s, id, lost.time, 0, 0);
        put_int(&mut s.events, lost.count, 8);
        s.discarded += lost.count;
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if summary.lost_unreported > 0 {
            // Drops only the counters saw: put them in-line at the end of the first stream.
            let cpu = self.streams.keys().next().copied().unwrap_or(0);
            let time = self.streams.values().map(|s| s.end).max().unwrap_or(0);
            self.lost(&Lost {
                time,
                cpu,
                count: summary.lost_unreported,
            })?;
        }
        let uuid = self.uuid;
        for (cpu, s) in &mut self.streams {
            CtfWriter::flush_packet(&uuid, *cpu, s)?;
            s.file.flush()?;
        }
        Ok(())
    }
}

//! From bytes to columns: the parse loop, run on one chunk of complete lines at a time.
//!
//! Chunks make two things possible: a large in-memory table is cut at line boundaries and parsed
//! on several threads, and `/proc/kallsyms` (which the kernel generates while it is read, much
//! slower than we parse) is parsed chunk by chunk while a reader thread keeps reading, so loading
//! the live table costs little more than reading it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;

use memchr::{memchr, memrchr};

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::parse::{is_end_marker, is_mapping_symbol, parse_fast, parse_line};
use crate::table::{MARKER, rank};

/// Longest name the length prefix can hold (the kernel's own limit is 512).
const MAX_NAME: usize = (1 << 14) - 1;
/// Each thread gets at least this much input. One thread parses a typical 5 MB kallsyms in a
/// few ms; threads pay off on the largest tables (KALLSYMS_ALL, many modules), and hurt on a
/// busy machine, so small tables stay on the calling thread.
const PARALLEL_MIN: usize = 8 << 20;
/// Read size: files generated on the fly (procfs), and each thread's buffer for regular files.
const STREAM_CHUNK: usize = 256 << 10;
/// Each thread reading a regular file gets at least this much of it.
const RANGE_MIN: usize = 2 << 20;

/// Symbols in file order, as parsed.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    /// Address and name offset of each symbol.
    pub entries: Vec<Entry>,
    /// Type letter, with `MARKER` on section end markers.
    pub kinds: Vec<u8>,
    /// `region << 1 | ineligible`: the sort bucket (region 0 is the core kernel).
    pub buckets: Vec<u32>,
    /// Each name after its length: one byte below 0x7f, or 0x7f and two 7-bit bytes (always
    /// ASCII, so the buffer stays valid UTF-8).
    pub names: Vec<u8>,
    /// Region `r >= 1` is `modules[r - 1]`.
    pub modules: Vec<Box<str>>,
    module_ids: HashMap<Box<[u8]>, u32>,
    last_module: (Vec<u8>, u32),
    /// Lines consumed so far (blank and skipped ones included).
    pub lines: usize,
    pub skipped: usize,
    pub first_skipped: Option<(usize, &'static str)>,
    pub digits: u8,
    pub any_nonzero: bool,
    /// The file order is already the index order but for the order of aliases (see
    /// `table::index`): no sort, no copy.
    pub in_order: bool,
    /// Some aliases are not in preference order (a local or an end marker listed first).
    pub aliases_unordered: bool,
    first_key: Option<Key>,
    last_key: Key,
    last_rank: u8,
    width: usize,
}

/// Index order: region, class (eligible first), address. Then the alias rank.
type Key = (u32, u64);

/// A malformed line found by [`Columns::feed`]: line number (1-based, counted by the columns
/// that fed it), reason and the start of the line.
pub(crate) struct BadLine(usize, &'static str, String);

impl BadLine {
    pub fn into_error(self, source_name: &str) -> Error {
        Error::Malformed {
            source_name: source_name.to_string(),
            line: self.0,
            reason: self.1,
            text: self.2,
        }
    }
}

/// Hex digits of the first line's address: the width the fast parser expects on every line.
fn address_width(bytes: &[u8]) -> usize {
    let first = &bytes[..bytes.len().min(64)];
    let n = first.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if first.get(n) == Some(&b' ') { n } else { 0 }
}

impl Columns {
    fn with_capacity(bytes: usize) -> Columns {
        let lines = bytes / 32 + 16;
        Columns {
            entries: Vec::with_capacity(lines),
            kinds: Vec::with_capacity(lines),
            buckets: Vec::with_capacity(lines),
            // Never more than the input (each line has 2+ bytes besides its name); pages never
            // written are never touched, and the final shrink returns the rest.
            names: Vec::with_capacity(bytes),
            in_order: true,
            ..Columns::default()
        }
    }

    fn region(&mut self, m: &[u8]) -> u32 {
        if m == self.last_module.0.as_slice() {
            return self.last_module.1;
        }
        let id = match self.module_ids.get(m) {
            Some(&id) => id,
            None => {
                self.modules.push(String::from_utf8_lossy(m).into());
                let id = self.modules.len() as u32;
                self.module_ids.insert(m.into(), id);
                id
            }
        };
        self.last_module = (m.to_vec(), id);
        id
    }

    /// Parses complete lines (the last one may lack its `\n` only at the end of the input).
    pub fn feed(&mut self, bytes: &[u8], lenient: bool) -> Result<(), BadLine> {
        if self.width == 0 {
            self.width = address_width(bytes);
        }
        let width = self.width;
        let mut pos = 0;
        while pos < bytes.len() {
            self.lines += 1;
            let fast = parse_fast(bytes, pos, width).filter(|(l, _)| l.name.len() <= MAX_NAME);
            let line = if let Some((line, next)) = fast {
                pos = next;
                line
            } else {
                let len = memchr(b'\n', &bytes[pos..]).unwrap_or(bytes.len() - pos);
                let text = &bytes[pos..pos + len];
                pos += len + 1;
                let parsed = parse_line(text).and_then(|l| match l {
                    Some(l) if l.name.len() > MAX_NAME => {
                        Err("symbol name longer than 16383 bytes")
                    }
                    l => Ok(l),
                });
                match parsed {
                    Ok(Some(line)) => line,
                    Ok(None) => continue,
                    Err(reason) if lenient => {
                        self.skipped += 1;
                        self.first_skipped.get_or_insert((self.lines, reason));
                        continue;
                    }
                    Err(reason) => {
                        let shown = String::from_utf8_lossy(&text[..text.len().min(80)]);
                        return Err(BadLine(self.lines, reason, shown.into_owned()));
                    }
                }
            };
            let region = match line.module {
                None => 0,
                Some(m) => self.region(m),
            };
            self.digits = self.digits.max(line.digits);
            self.any_nonzero |= line.addr != 0;
            let absolute = matches!(line.kind, b'A' | b'a');
            // Address zero is never a real location (and all-zero means hidden).
            let eligible = !absolute && line.addr != 0 && !is_mapping_symbol(line.name);
            let kind = line.kind | if is_end_marker(line.name) { MARKER } else { 0 };
            let bucket = region << 1 | u32::from(!eligible);
            let key = (bucket, line.addr);
            let r = rank(kind);
            self.in_order &= key >= self.last_key;
            self.aliases_unordered |= key == self.last_key && r < self.last_rank;
            self.first_key.get_or_insert(key);
            self.last_key = key;
            self.last_rank = r;
            self.entries
                .push(Entry::new(line.addr, self.names.len() as u32));
            self.kinds.push(kind);
            self.buckets.push(bucket);
            // One copy: the name with the byte(s) before it (at least "a T "), which become its
            // length.
            let n = line.name.len();
            let at = line.name.as_ptr() as usize - bytes.as_ptr() as usize;
            let len_at = self.names.len();
            if n < 0x7f {
                self.names.extend_from_slice(&bytes[at - 1..at + n]);
                self.names[len_at] = n as u8;
            } else {
                self.names.extend_from_slice(&bytes[at - 3..at + n]);
                self.names[len_at..len_at + 3].copy_from_slice(&[
                    0x7f,
                    (n >> 7) as u8,
                    (n & 0x7f) as u8,
                ]);
            }
        }
        Ok(())
    }

    /// Appends the columns of the text that followed.
    fn append(&mut self, mut other: Columns) {
        let remap: Vec<u32> = std::mem::take(&mut other.modules)
            .iter()
            .map(|m| self.region(m.as_bytes()))
            .collect();
        // The other chunk numbered its modules itself: compare keys in this chunk's numbers, and
        // its order holds here only if the renumbering keeps the modules' relative order.
        let to_here = |(bucket, addr): Key| {
            let r = bucket >> 1;
            let r = if r == 0 { 0 } else { remap[r as usize - 1] };
            (r << 1 | (bucket & 1), addr)
        };
        let first = other.first_key.map(to_here);
        let monotone = remap.windows(2).all(|w| w[0] < w[1]);
        self.in_order &= other.in_order && monotone && first.is_none_or(|k| k >= self.last_key);
        // A group of aliases cut by the chunk boundary: let the index check it.
        self.aliases_unordered |= other.aliases_unordered || first == Some(self.last_key);
        if let Some(k) = first {
            self.first_key.get_or_insert(k);
            self.last_key = to_here(other.last_key);
            self.last_rank = other.last_rank;
        }
        let base = self.names.len() as u32;
        self.entries.extend(
            other
                .entries
                .iter()
                .map(|e| Entry::new(e.addr(), e.name + base)),
        );
        self.kinds.append(&mut other.kinds);
        self.buckets.extend(other.buckets.iter().map(|&b| {
            let r = b >> 1;
            let r = if r == 0 { 0 } else { remap[r as usize - 1] };
            r << 1 | (b & 1)
        }));
        self.names.append(&mut other.names);
        if let Some((line, reason)) = other.first_skipped {
            self.first_skipped
                .get_or_insert((self.lines + line, reason));
        }
        self.lines += other.lines;
        self.skipped += other.skipped;
        self.digits = self.digits.max(other.digits);
        self.any_nonzero |= other.any_nonzero;
    }

    fn check_size(&self, source_name: &str) -> Result<()> {
        if self.names.len() > u32::MAX as usize || self.modules.len() >= 1 << 30 {
            return Err(Error::TooLarge {
                source_name: source_name.to_string(),
                what: "over 4 GiB of names or 2^30 modules",
            });
        }
        Ok(())
    }
}

/// Parses a whole buffer, on several threads when it is large.
pub(crate) fn parse_buffer(bytes: &[u8], source_name: &str, lenient: bool) -> Result<Columns> {
    parse_split(bytes, source_name, lenient, PARALLEL_MIN)
}

fn parse_split(
    bytes: &[u8],
    source_name: &str,
    lenient: bool,
    per_thread: usize,
) -> Result<Columns> {
    if bytes.len() > u32::MAX as usize / 2 {
        return Err(Error::TooLarge {
            source_name: source_name.to_string(),
            what: "input over 2 GiB",
        });
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let parts = threads.min(bytes.len() / per_thread).max(1);
    // Cut after the first newline at or past each even share.
    let mut cuts = vec![0];
    for k in 1..parts {
        let at = bytes.len() * k / parts;
        let at = memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i + 1);
        if at > *cuts.last().unwrap_or(&0) && at < bytes.len() {
            cuts.push(at);
        }
    }
    cuts.push(bytes.len());
    let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
    let parse = |chunk: &[u8]| {
        let mut c = Columns::with_capacity(chunk.len());
        let r = c.feed(chunk, lenient);
        (c, r)
    };
    let results: Vec<(Columns, Result<(), BadLine>)> = if chunks.len() == 1 {
        vec![parse(chunks[0])]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks[1..]
                .iter()
                .map(|&c| s.spawn(move || parse(c)))
                .collect();
            let mut v = vec![parse(chunks[0])];
            for h in handles {
                // A panic in the parser would be a bug: surface it, do not hide it.
                v.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            v
        })
    };
    let mut all: Option<Columns> = None;
    for (cols, result) in results {
        let before = all.as_ref().map_or(0, |a| a.lines);
        if let Err(BadLine(line, reason, text)) = result {
            return Err(BadLine(before + line, reason, text).into_error(source_name));
        }
        match &mut all {
            None => all = Some(cols),
            Some(a) => a.append(cols),
        }
    }
    let cols = all.unwrap_or_default();
    cols.check_size(source_name)?;
    Ok(cols)
}

/// Reads and parses a file. Regular files are read whole; files the kernel generates on the
/// fly (procfs: size 0) are parsed chunk by chunk while a second thread keeps reading.
pub(crate) fn load_file(path: &Path, source_name: &str, lenient: bool) -> Result<Columns> {
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let f = File::open(path).map_err(io)?;
    let size = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let result = if size > 0 {
        read_regular(&f, size, source_name, lenient, RANGE_MIN)
    } else {
        stream(f, source_name, lenient)
    };
    result.map_err(|e| match e {
        Streamed::Io(err) => io(err),
        Streamed::Parse(e) => e,
    })
}

/// A regular file: split at line boundaries into one range per thread (when it is large and
/// there are cores), each read through its own small buffer and parsed as it comes.
fn read_regular(
    f: &File,
    size: usize,
    source_name: &str,
    lenient: bool,
    range_min: usize,
) -> Result<Columns, Streamed> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let parts = threads.min(size / range_min).max(1);
    let mut cuts = vec![0u64];
    let mut window = vec![0u8; 64 << 10];
    for k in 1..parts {
        let at = (size * k / parts) as u64;
        let n = read_at_full(f, &mut window, at).map_err(Streamed::Io)?;
        if let Some(i) = memchr(b'\n', &window[..n]) {
            let cut = at + i as u64 + 1;
            if cut > *cuts.last().unwrap_or(&0) {
                cuts.push(cut);
            }
        }
    }
    let ranges: Vec<(u64, Option<u64>)> = (0..cuts.len())
        .map(|k| (cuts[k], cuts.get(k + 1).copied()))
        .collect();
    // The first range's columns receive the others: give them room for the whole file.
    let read =
        |(start, end): (u64, Option<u64>), cap: usize| read_range(f, start, end, cap, lenient);
    let results: Vec<(Columns, Result<(), Streamed>)> = if ranges.len() == 1 {
        vec![read(ranges[0], size)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = ranges[1..]
                .iter()
                .map(|&r| s.spawn(move || read(r, (r.1.unwrap_or(size as u64) - r.0) as usize)))
                .collect();
            let mut v = vec![read(ranges[0], size)];
            for h in handles {
                v.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            v
        })
    };
    let mut all: Option<Columns> = None;
    for (cols, result) in results {
        let before = all.as_ref().map_or(0, |a| a.lines);
        match result {
            Err(Streamed::Parse(Error::Malformed {
                source_name: _,
                line,
                reason,
                text,
            })) => {
                let bad = BadLine(before + line, reason, text);
                return Err(Streamed::Parse(bad.into_error(source_name)));
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        match &mut all {
            None => all = Some(cols),
            Some(a) => a.append(cols),
        }
    }
    let cols = all.unwrap_or_default();
    cols.check_size(source_name).map_err(Streamed::Parse)?;
    Ok(cols)
}

/// Fills `buf` from `at` as far as the file goes; returns the bytes read.
fn read_at_full(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads `start..end` (or to the end of the file) through one small buffer that stays in
/// cache, parsing each chunk of complete lines as it comes: no file-sized buffer to fault in
/// and read back from memory. Line numbers in errors count from `start`.
fn read_range(
    f: &File,
    start: u64,
    end: Option<u64>,
    capacity: usize,
    lenient: bool,
) -> (Columns, Result<(), Streamed>) {
    let mut cols = Columns::with_capacity(capacity);
    let mut buf = vec![0u8; STREAM_CHUNK];
    let mut have = 0; // start of a line carried over from the previous chunk
    let mut at = start;
    let bad = |b: BadLine| Streamed::Parse(b.into_error(""));
    loop {
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0); // one line longer than the buffer
        }
        let want = match end {
            Some(e) => (buf.len() - have).min((e - at) as usize),
            None => buf.len() - have,
        };
        let n = if want == 0 {
            0
        } else {
            match f.read_at(&mut buf[have..have + want], at) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return (cols, Err(Streamed::Io(e))),
            }
        };
        at += n as u64;
        let total = have + n;
        if n == 0 {
            let r = cols.feed(&buf[..total], lenient).map_err(bad);
            return (cols, r);
        }
        match memrchr(b'\n', &buf[have..total]) {
            None => have = total,
            Some(k) => {
                let cut = have + k + 1;
                if let Err(b) = cols.feed(&buf[..cut], lenient) {
                    return (cols, Err(bad(b)));
                }
                buf.copy_within(cut..total, 0);
                have = total - cut;
            }
        }
    }
}

enum Streamed {
    Io(io::Error),
    Parse(Error),
}

fn stream(mut f: File, source_name: &str, lenient: bool) -> Result<Columns, Streamed> {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(64);
        s.spawn(move || {
            loop {
                let mut buf = Vec::with_capacity(STREAM_CHUNK);
                let r = (&mut f).take(STREAM_CHUNK as u64).read_to_end(&mut buf);
                let done = matches!(r, Ok(0) | Err(_));
                let sent = match r {
                    Ok(0) => Ok(()),
                    Ok(_) => tx.send(Ok(buf)),
                    Err(e) => tx.send(Err(e)),
                };
                // Stop when the file ends, on an error, or when the parser gave up.
                if done || sent.is_err() {
                    return;
                }
            }
        });
        let mut cols = Columns::with_capacity(8 << 20);
        let mut carry: Vec<u8> = Vec::new();
        let feed = |cols: &mut Columns, bytes: &[u8]| {
            cols.feed(bytes, lenient)
                .map_err(|b| Streamed::Parse(b.into_error(source_name)))
        };
        for chunk in rx {
            let chunk = chunk.map_err(Streamed::Io)?;
            let Some(last_nl) = memrchr(b'\n', &chunk) else {
                carry.extend_from_slice(&chunk);
                continue;
            };
            let mut body = &chunk[..=last_nl];
            if !carry.is_empty() {
                // Complete the line cut by the previous chunk.
                let nl = memchr(b'\n', body).unwrap_or(last_nl);
                carry.extend_from_slice(&body[..=nl]);
                feed(&mut cols, &carry)?;
                carry.clear();
                body = &body[nl + 1..];
            }
            feed(&mut cols, body)?;
            carry.extend_from_slice(&chunk[last_nl + 1..]);
        }
        feed(&mut cols, &carry)?;
        cols.check_size(source_name).map_err(Streamed::Parse)?;
        Ok(cols)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            let m = match i % 7 {
                0 => "\t[m1]",
                1 => "\t[m2]",
                _ => "",
            };
            s.push_str(&format!(
                "{:016x} t sym_{i}{m}\n",
                0xffffffff81000000u64 + i as u64 * 16
            ));
        }
        s
    }

    #[test]
    fn split_parse_equals_single_parse() {
        let text = table(70_000); // ~2.5 MB, cut in 1 MB shares
        let split = |t: &str| parse_split(t.as_bytes(), "t", false, 1 << 20);
        let whole = {
            let mut c = Columns::with_capacity(text.len());
            assert!(c.feed(text.as_bytes(), false).is_ok());
            c
        };
        let split = split(&text).unwrap();
        assert_eq!(whole.entries, split.entries);
        assert_eq!(whole.kinds, split.kinds);
        assert_eq!(whole.buckets, split.buckets);
        assert_eq!(whole.names, split.names);
        assert_eq!(whole.modules, split.modules);
        assert_eq!(split.lines, 70_000);
    }

    #[test]
    fn chunks_numbering_modules_differently_still_index_right() {
        // Chunk 1 ends in mb (its module 1); chunk 2 meets ma first (its module 1, this table's
        // 2), then mb again at higher addresses. Each chunk alone is in order; together, in this
        // table's numbering, they are not.
        let line = |a: u64, m: &str, k: u64| format!("{a:016x} t {m}_{k}\t[{m}]\n");
        let base = 0xffffffffc0000000u64;
        let mut one = String::new();
        let mut two = String::new();
        for k in 0..100 {
            one.push_str(&line(base + k * 16, "mb", k));
            two.push_str(&line(base + 0x10000 + k * 16, "ma", k));
        }
        for k in 100..200 {
            two.push_str(&line(base + 0x20000 + k * 16, "mb", k));
        }
        let mut a = Columns::with_capacity(one.len() + two.len());
        assert!(a.feed(one.as_bytes(), false).is_ok());
        let mut b = Columns::with_capacity(two.len());
        assert!(b.feed(two.as_bytes(), false).is_ok());
        assert!(a.in_order && b.in_order);
        a.append(b);
        assert!(
            !a.in_order,
            "mb's second block sorts before ma in this table"
        );
        let ks = crate::table::finish(a, "t").unwrap();
        let whole = crate::Ksyms::parse(format!("{one}{two}").as_bytes()).unwrap();
        for q in [
            base + 0x24,
            base + 0x10024,
            base + 0x20000 + 150 * 16 + 4,
            base + 0x20000 + 199 * 16,
        ] {
            let got = ks
                .lookup(q)
                .map(|r| (r.symbol.name, r.offset, r.size, r.symbol.module));
            let want = whole
                .lookup(q)
                .map(|r| (r.symbol.name, r.offset, r.size, r.symbol.module));
            assert_eq!(got, want, "{q:#x}");
            assert!(got.is_some(), "{q:#x}");
        }
    }

    #[test]
    fn errors_in_later_chunks_have_file_line_numbers() {
        let mut text = table(70_000);
        // A bad line near the end, in the last chunk.
        let at = text[..text.len() - 100].rfind('\n').unwrap() + 1;
        let line = text[..at].matches('\n').count() + 1;
        text.insert_str(at, "!bad\n");
        match parse_split(text.as_bytes(), "t", false, 1 << 20) {
            Err(Error::Malformed { line: l, .. }) => assert_eq!(l, line),
            other => panic!("{other:?}"),
        }
        let c = parse_split(text.as_bytes(), "t", true, 1 << 20).unwrap();
        assert_eq!(c.first_skipped.map(|f| f.0), Some(line));
        assert_eq!((c.skipped, c.lines), (1, 70_001));
    }

    #[test]
    fn long_names_keep_their_length() {
        for n in [1, 126, 127, 128, 300, MAX_NAME] {
            let name = "x".repeat(n);
            for text in [
                format!("ffffffff81000000 T {name}\nffffffff81000010 t b\n"),
                format!("ffffffff81000000  T {name}\t[m]\nffffffff81000010 t b\t[m]\n"),
            ] {
                let ks = crate::Ksyms::parse(text.as_bytes()).unwrap();
                let r = ks.lookup(0xffffffff81000004).unwrap();
                assert_eq!(r.symbol.name.len(), n);
                assert_eq!(ks.find(&name).len(), 1);
                assert_eq!(ks.symbol(1).name, "b");
            }
        }
        let text = format!("ffffffff81000000 T {}\n", "x".repeat(MAX_NAME + 1));
        let err = crate::Ksyms::parse(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":1: symbol name longer than 16383 bytes"),
            "{err}"
        );
    }

    #[test]
    fn file_read_in_ranges_equals_buffer() {
        let mut text = table(40_000); // ~1.4 MB, in 256 KiB ranges (as many as there are cores)
        let path = std::env::temp_dir().join(format!("ksyms-ranges-{}", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let f = File::open(&path).unwrap();
        let ranged = read_regular(&f, text.len(), "f", false, 256 << 10)
            .ok()
            .unwrap();
        let whole = parse_buffer(text.as_bytes(), "t", false).unwrap();
        assert_eq!(whole.entries, ranged.entries);
        assert_eq!(whole.names, ranged.names);
        assert_eq!(whole.buckets, ranged.buckets);
        assert_eq!(whole.modules, ranged.modules);
        assert_eq!(ranged.lines, 40_000);
        // A bad line in the last range reports its line number in the whole file.
        let at = text[..text.len() - 100].rfind('\n').unwrap() + 1;
        let line = text[..at].matches('\n').count() + 1;
        text.insert_str(at, "!bad\n");
        std::fs::write(&path, &text).unwrap();
        let f = File::open(&path).unwrap();
        match read_regular(&f, text.len(), "f", false, 256 << 10) {
            Err(Streamed::Parse(Error::Malformed {
                source_name,
                line: l,
                ..
            })) => {
                assert_eq!((source_name.as_str(), l), ("f", line));
            }
            _ => panic!("no error"),
        }
        let lenient = read_regular(&f, text.len(), "f", true, 256 << 10)
            .ok()
            .unwrap();
        assert_eq!(lenient.first_skipped.map(|s| s.0), Some(line));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn chunked_file_equals_buffer() {
        let text = table(30_000); // ~1 MB: four chunks, lines cut at each boundary
        let path = std::env::temp_dir().join(format!("ksyms-chunked-{}", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let chunked = load_file(&path, "f", false).unwrap();
        std::fs::remove_file(&path).unwrap();
        let whole = parse_buffer(text.as_bytes(), "t", false).unwrap();
        assert_eq!(whole.entries, chunked.entries);
        assert_eq!(whole.names, chunked.names);
        assert_eq!(chunked.lines, 30_000);
    }

    #[test]
    fn streamed_file_equals_buffer() {
        // A pipe has size 0: it takes the streaming path, like procfs.
        let text = table(30_000);
        let dir = std::env::temp_dir().join(format!("ksyms-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let writer = {
            let fifo = fifo.clone();
            let text = text.clone();
            std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
        };
        let streamed = load_file(&fifo, "fifo", false).unwrap();
        writer.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let whole = parse_buffer(text.as_bytes(), "t", false).unwrap();
        assert_eq!(whole.entries, streamed.entries);
        assert_eq!(whole.names, streamed.names);
        assert_eq!(whole.buckets, streamed.buckets);
        assert_eq!(streamed.lines, 30_000);
    }
}

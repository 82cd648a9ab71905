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

use crate::entry::{Addrs, Entry};
use crate::error::{Error, Result};
use crate::parse::{hex_prefix, is_end_marker, is_mapping_symbol, name_len, parse_line};
use crate::table::{MARKER, rank};

/// Longest name an entry can hold (the kernel's own limit is 512).
const MAX_NAME: usize = (1 << 14) - 1;
/// Each thread gets at least this much input. One thread parses a typical 5 MB kallsyms in
/// under 2 ms; threads pay off on the largest tables (KALLSYMS_ALL, many modules), and hurt on
/// a busy machine (measured: 2 threads on a loaded 2-vCPU VM lose to one on a 5 MB table), so
/// tables under 16 MB stay on the calling thread.
const PARALLEL_MIN: usize = 8 << 20;
/// Each thread's read buffer for regular files: stays in the L2 cache while it is parsed.
const STREAM_CHUNK: usize = 256 << 10;
/// Read size for files generated on the fly (procfs): two 512 KiB buffers, one being filled
/// while the other is parsed, fault in as many pages as a plain reader's one 1 MiB buffer.
const PROC_CHUNK: usize = 512 << 10;
/// Buffers in flight between the reader thread and the parser.
const PROC_BUFFERS: usize = 2;
/// Each thread reading a regular file gets at least this much of it.
const RANGE_MIN: usize = 2 << 20;

/// Symbols in file order, as parsed.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    /// Address of each symbol.
    pub addrs: Addrs,
    /// Name (offset and length) and type letter (with `MARKER` on section end markers) of each
    /// symbol.
    pub entries: Vec<Entry>,
    /// `region << 1 | ineligible`: the sort bucket (region 0 is the core kernel).
    pub buckets: Runs,
    /// The names, one after the other (always valid UTF-8: ASCII from the fast path, checked by
    /// the general one).
    pub names: Vec<u8>,
    /// Region `r >= 1` is `modules[r - 1]`.
    pub modules: Vec<Box<str>>,
    module_ids: HashMap<Box<[u8]>, u32>,
    /// `\t[module]\n` of the last module line, and its region: the next line of the same module
    /// is recognised by one comparison.
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
    /// Symbols that follow an alias they should precede (a local or an end marker listed
    /// first): the groups of aliases the index must reorder.
    pub unordered_aliases: Vec<u32>,
    first_key: Option<Key>,
    last_key: Key,
    last_kind: u8,
    width: usize,
}

/// The sort bucket of each symbol (`region << 1 | ineligible`), as runs `(first index,
/// bucket)`: it changes a few times per region, and one `u32` per symbol would be written for
/// nothing on every line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Runs(pub Vec<(u32, u32)>);

impl Runs {
    #[inline(always)]
    fn push(&mut self, at: u32, bucket: u32) {
        if self.0.last().is_none_or(|r| r.1 != bucket) {
            self.0.push((at, bucket));
        }
    }

    /// The bucket of symbol `i`.
    pub fn at(&self, i: usize) -> u32 {
        self.0[self.0.partition_point(|r| r.0 as usize <= i) - 1].1
    }

    /// `(bucket, symbols)` of each run, for `n` symbols in all.
    pub fn lengths(&self, n: usize) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.0.iter().enumerate().map(move |(k, &(at, b))| {
            let end = self.0.get(k + 1).map_or(n, |r| r.0 as usize);
            (b, end - at as usize)
        })
    }

    /// One bucket per symbol.
    pub fn expand(&self, n: usize) -> Vec<u32> {
        let mut v = Vec::with_capacity(n);
        for (b, len) in self.lengths(n) {
            v.extend(std::iter::repeat_n(b, len));
        }
        v
    }
}

/// Index order: region, class (eligible first), address. Then the alias rank.
/// `bucket << 64 | address`: one comparison per line.
type Key = u128;

#[inline(always)]
fn key(bucket: u32, addr: u64) -> Key {
    (bucket as u128) << 64 | addr as u128
}

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

/// Lines the fast path gathers before appending them to the columns.
const BLOCK: usize = 64;
/// Bytes the fast path copies at once when it copies a name (more are copied, then cut off).
const NAME_COPY: usize = 32;

/// Asks for huge pages behind a large vector's buffer: a 5 MB table touches over a thousand
/// fresh 4 KiB pages, and their page faults would cost a third of the load. Only whole 2 MiB
/// pages inside the buffer qualify; the kernel may decline (the advice is only advice).
fn huge_pages<T>(v: &mut Vec<T>) {
    const HUGE: usize = 2 << 20;
    let start = v.as_mut_ptr() as usize;
    let end = start + v.capacity() * size_of::<T>();
    let (lo, hi) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if hi > lo {
        // SAFETY: `lo..hi` lies inside the vector's own allocation, and the advice changes how
        // its pages are backed, never their contents.
        let _ = unsafe {
            rustix::mm::madvise(lo as *mut _, hi - lo, rustix::mm::Advice::LinuxHugepage)
        };
    }
}

impl Columns {
    fn with_capacity(bytes: usize) -> Columns {
        let lines = bytes / 32 + 16;
        let mut c = Columns {
            addrs: Addrs::with_capacity(lines),
            entries: Vec::with_capacity(lines),
            buckets: Runs::default(),
            // Never more than the input (each line has 2+ bytes besides its name) plus the fast
            // copy's slack; pages never written are never touched, and the final shrink returns
            // the rest.
            names: Vec::with_capacity(bytes + NAME_COPY),
            in_order: true,
            ..Columns::default()
        };
        huge_pages(&mut c.entries);
        huge_pages(&mut c.addrs.lows);
        huge_pages(&mut c.names);
        c
    }

    fn region(&mut self, m: &[u8]) -> u32 {
        match self.module_ids.get(m) {
            Some(&id) => id,
            None => {
                self.modules.push(String::from_utf8_lossy(m).into());
                let id = self.modules.len() as u32;
                self.module_ids.insert(m.into(), id);
                id
            }
        }
    }

    /// Parses complete lines (the last one may lack its `\n` only at the end of the input).
    pub fn feed(&mut self, bytes: &[u8], lenient: bool) -> Result<(), BadLine> {
        if self.width == 0 {
            self.width = address_width(bytes);
        }
        let mut pos = 0;
        match self.width {
            16 => pos = self.feed_fast::<16>(bytes, pos),
            8 => pos = self.feed_fast::<8>(bytes, pos),
            _ => {}
        }
        while pos < bytes.len() {
            self.lines += 1;
            let len = memchr(b'\n', &bytes[pos..]).unwrap_or(bytes.len() - pos);
            let text = &bytes[pos..pos + len];
            pos += len + 1;
            let parsed = parse_line(text).and_then(|l| match l {
                Some(l) if l.name.len() > MAX_NAME => Err("symbol name longer than 16383 bytes"),
                l => Ok(l),
            });
            let line = match parsed {
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
            };
            let region = match line.module {
                None => 0,
                Some(m) => self.region(m),
            };
            self.digits = self.digits.max(line.digits);
            self.push(line.addr, line.kind, line.name, region);
            // Back on the fast path for the lines that follow.
            match self.width {
                16 => pos = self.feed_fast::<16>(bytes, pos),
                8 => pos = self.feed_fast::<8>(bytes, pos),
                _ => {}
            }
        }
        Ok(())
    }

    /// Parses canonical lines (`W` hex digits, a space, a letter, a space, an ASCII name, then
    /// `\n` or `\t[module]\n`) from `pos` while there are at least 64 bytes left, and returns
    /// where it stopped: at the end of that stretch, or at the first line of any other shape,
    /// which the general parser then takes (and reports if it is malformed).
    #[inline(never)]
    fn feed_fast<const W: usize>(&mut self, bytes: &[u8], mut pos: usize) -> usize {
        self.digits = self.digits.max(W as u8);
        // Room for the address, the letter and a 32-byte name read past the line's end.
        let limit = bytes.len().saturating_sub(W + 3 + 16 + NAME_COPY);
        // Low address halves and entries gather in small arrays (indexed stores, no capacity
        // check per line) and join the columns a block at a time.
        let mut lows = [0u32; BLOCK];
        let mut ents = [Entry::default(); BLOCK];
        let mut k = 0;
        while pos < limit {
            let line = &bytes[pos..];
            let Some(addr) = hex_prefix::<W>(line[..16].try_into().unwrap_or_default()) else {
                break;
            };
            let kind = line[W + 1];
            if line[W] != b' ' || line[W + 2] != b' ' || !kind.is_ascii_alphabetic() {
                break;
            }
            let name_at = W + 3;
            let Some(len) = name_len(&line[name_at..]) else {
                break;
            };
            let stop = name_at + len;
            if len == 0 || len > MAX_NAME || stop >= line.len() {
                break;
            }
            let (region, next) = match line[stop] {
                b'\n' => (0, stop + 1),
                b'\t' => {
                    let tail = &self.last_module.0;
                    if !tail.is_empty() && line[stop..].starts_with(tail) {
                        (self.last_module.1, stop + tail.len())
                    } else {
                        let Some(end) = memchr(b'\n', &line[stop..]) else {
                            break;
                        };
                        match &line[stop + 1..stop + end] {
                            [b'[', m @ .., b']']
                                if !m.is_empty()
                                    && m.iter().all(|&b| b.is_ascii_graphic() && b != b']') =>
                            {
                                let id = self.region(m);
                                self.last_module = (line[stop..=stop + end].to_vec(), id);
                                (id, stop + end + 1)
                            }
                            _ => break,
                        }
                    }
                }
                _ => break,
            };
            self.lines += 1;
            // The name, copied 32 bytes at a time (a fixed-size copy is a few moves, not a
            // call), then cut to its length.
            let at = pos + name_at;
            let name_off = self.names.len();
            if len <= NAME_COPY {
                let chunk: [u8; NAME_COPY] =
                    bytes[at..at + NAME_COPY].try_into().unwrap_or_default();
                self.names.extend_from_slice(&chunk);
                self.names.truncate(name_off + len);
            } else {
                self.names.extend_from_slice(&bytes[at..at + len]);
            }
            let index = (self.entries.len() + k) as u32;
            let kind = self.classify(addr, kind, &bytes[at..at + len], region, index);
            self.addrs.note_high(index, addr);
            lows[k] = addr as u32;
            ents[k] = Entry {
                name: name_off as u32,
                len: len as u16,
                kind,
            };
            k += 1;
            if k == BLOCK {
                self.addrs.lows.extend_from_slice(&lows);
                self.entries.extend_from_slice(&ents);
                k = 0;
            }
            pos += next;
        }
        self.addrs.lows.extend_from_slice(&lows[..k]);
        self.entries.extend_from_slice(&ents[..k]);
        pos
    }

    /// Appends one symbol whose name is not yet in `names`.
    fn push(&mut self, addr: u64, kind: u8, name: &[u8], region: u32) {
        let name_off = self.names.len();
        self.names.extend_from_slice(name);
        self.push_entry(addr, kind, name, region, name_off);
    }

    #[inline(always)]
    fn push_entry(&mut self, addr: u64, kind: u8, name: &[u8], region: u32, name_off: usize) {
        let at = self.entries.len() as u32;
        let kind = self.classify(addr, kind, name, region, at);
        self.addrs.push(addr);
        self.entries.push(Entry {
            name: name_off as u32,
            len: name.len() as u16,
            kind,
        });
    }

    /// Everything but storing the symbol `at` (its position in the table): eligibility, end
    /// marker (returned in the kind), sort bucket, order. Returns the kind to store.
    #[inline(always)]
    fn classify(&mut self, addr: u64, kind: u8, name: &[u8], region: u32, at: u32) -> u8 {
        self.any_nonzero |= addr != 0;
        let absolute = kind | 0x20 == b'a';
        // Address zero is never a real location (and all-zero means hidden).
        let eligible = !absolute && addr != 0 && !is_mapping_symbol(name);
        let kind = kind | if is_end_marker(name) { MARKER } else { 0 };
        let bucket = region << 1 | u32::from(!eligible);
        let key = key(bucket, addr);
        if key <= self.last_key {
            if key < self.last_key {
                self.in_order = false;
            } else if rank(kind) < rank(self.last_kind) {
                self.unordered_aliases.push(at);
            }
        }
        if self.first_key.is_none() {
            self.first_key = Some(key);
        }
        self.last_key = key;
        self.last_kind = kind;
        self.buckets.push(at, bucket);
        kind
    }

    /// Appends the columns of the text that followed.
    fn append(&mut self, mut other: Columns) {
        let remap: Vec<u32> = std::mem::take(&mut other.modules)
            .iter()
            .map(|m| self.region(m.as_bytes()))
            .collect();
        // The other chunk numbered its modules itself: compare keys in this chunk's numbers, and
        // its order holds here only if the renumbering keeps the modules' relative order.
        let to_here = |k: Key| {
            let bucket = (k >> 64) as u32;
            let r = bucket >> 1;
            let r = if r == 0 { 0 } else { remap[r as usize - 1] };
            key(r << 1 | (bucket & 1), k as u64)
        };
        let first = other.first_key.map(to_here);
        let monotone = remap.windows(2).all(|w| w[0] < w[1]);
        self.in_order &= other.in_order && monotone && first.is_none_or(|k| k >= self.last_key);
        let base_at = self.entries.len() as u32;
        // A group of aliases cut by the chunk boundary: let the index check it.
        if first == Some(self.last_key) {
            self.unordered_aliases.push(base_at);
        }
        self.unordered_aliases
            .extend(other.unordered_aliases.iter().map(|&i| i + base_at));
        if let Some(k) = first {
            self.first_key.get_or_insert(k);
            self.last_key = to_here(other.last_key);
            self.last_kind = other.last_kind;
        }
        let base = self.names.len() as u32;
        self.addrs.extend(&other.addrs);
        self.entries.extend(other.entries.iter().map(|e| Entry {
            name: e.name + base,
            ..*e
        }));
        for &(at, b) in &other.buckets.0 {
            let r = b >> 1;
            let r = if r == 0 { 0 } else { remap[r as usize - 1] };
            self.buckets.push(at + base_at, r << 1 | (b & 1));
        }

        self.names.append(&mut other.names);
        if let Some((line, reason)) = other.first_skipped {
            self.first_skipped
                .get_or_insert((self.lines + line, reason));
        }
        self.lines += other.lines;
        self.skipped += other.skipped;
        self.digits = self.digits.max(other.digits);
        self.any_nonzero |= other.any_nonzero;
        // The next line of a module continues from the other chunk's last one.
        self.last_module = match other.last_module {
            (tail, r) if r != 0 => (tail, remap[r as usize - 1]),
            _ => (Vec::new(), 0),
        };
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
pub(crate) fn parse_buffer(
    bytes: &[u8],
    source_name: &str,
    lenient: bool,
    threads: usize,
) -> Result<Columns> {
    parse_split(bytes, source_name, lenient, PARALLEL_MIN, threads)
}

/// Threads to use: `max` (0: one per core, at most four).
pub(crate) fn threads(max: usize) -> usize {
    match max {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4),
        n => n,
    }
}

fn parse_split(
    bytes: &[u8],
    source_name: &str,
    lenient: bool,
    per_thread: usize,
    threads: usize,
) -> Result<Columns> {
    if bytes.len() > u32::MAX as usize / 2 {
        return Err(Error::TooLarge {
            source_name: source_name.to_string(),
            what: "input over 2 GiB",
        });
    }
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

/// How [`load_file`] reads a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// `read` in ranges: sound whatever other processes do to the file.
    Read,
    /// Map the file and parse it in place. Only for callers that guarantee the file is neither
    /// truncated nor modified while it is loaded (see `Ksyms::from_path_mapped`).
    Map,
}

/// Reads and parses a file. Regular files are read in ranges (or, with [`Access::Map`], mapped
/// and parsed in place); files the kernel generates on the fly (procfs: size 0) are parsed
/// chunk by chunk while a second thread keeps reading.
pub(crate) fn load_file(
    path: &Path,
    source_name: &str,
    lenient: bool,
    threads: usize,
    access: Access,
) -> Result<Columns> {
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let f = File::open(path).map_err(io)?;
    let size = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    if access == Access::Map
        && size > 0
        && size <= u32::MAX as usize / 2
        // SAFETY: Access::Map is the caller's promise that the file does not change while
        // the mapping lives (it is dropped at the end of this block).
        && let Ok(map) = unsafe { Mapping::new(&f, size) }
    {
        return parse_split(map.bytes(), source_name, lenient, PARALLEL_MIN, threads);
    }
    let result = if size > 0 {
        read_regular(&f, size, source_name, lenient, RANGE_MIN, threads)
    } else {
        stream(f, source_name, lenient)
    };
    result.map_err(|e| match e {
        Streamed::Io(err) => io(err),
        Streamed::Parse(e) => e,
    })
}

/// A regular file mapped read-only and populated in one call: parsed where it lies in the page
/// cache, with no copy into a buffer (the copy costs as much as a fifth of a load).
///
/// The bytes are only stable while no other process truncates or writes the file: a shrink
/// raises SIGBUS, a write changes bytes behind a `&[u8]`. Creating one is therefore `unsafe`.
struct Mapping {
    ptr: *mut std::ffi::c_void,
    len: usize,
}

impl Mapping {
    /// # Safety
    ///
    /// The file must not be truncated or modified while the returned mapping lives.
    unsafe fn new(f: &File, len: usize) -> io::Result<Mapping> {
        use rustix::mm::{MapFlags, ProtFlags, mmap};
        // SAFETY: a new private read-only mapping at an address the kernel chooses: it aliases
        // no memory of this process; the caller keeps the file unchanged while it lives.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::PRIVATE | MapFlags::POPULATE,
                f,
                0,
            )
        }?;
        Ok(Mapping { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes at `ptr`, mapped until `self` is dropped.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no slice of it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}

/// A regular file: split at line boundaries into one range per thread (when it is large and
/// there are cores), each read through its own small buffer and parsed as it comes.
fn read_regular(
    f: &File,
    size: usize,
    source_name: &str,
    lenient: bool,
    range_min: usize,
    threads: usize,
) -> Result<Columns, Streamed> {
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
        // Two buffers go round: the reader fills one while the parser reads the other, and
        // the parser hands each back when done (no fresh pages to fault in per read).
        let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(PROC_BUFFERS);
        let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(PROC_BUFFERS);
        s.spawn(move || {
            let mut made = 0;
            loop {
                let mut buf = if made < PROC_BUFFERS {
                    made += 1;
                    Vec::with_capacity(PROC_CHUNK)
                } else {
                    match empty_rx.recv() {
                        Ok(b) => b,
                        Err(_) => return, // the parser gave up
                    }
                };
                buf.clear();
                let r = (&mut f).take(PROC_CHUNK as u64).read_to_end(&mut buf);
                let done = matches!(r, Ok(0) | Err(_));
                let sent = match r {
                    Ok(0) => Ok(()),
                    Ok(_) => full_tx.send(Ok(buf)),
                    Err(e) => full_tx.send(Err(e)),
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
        for chunk in full_rx {
            let chunk = chunk.map_err(Streamed::Io)?;
            match memrchr(b'\n', &chunk) {
                None => carry.extend_from_slice(&chunk),
                Some(last_nl) => {
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
            }
            // The reader may already have stopped: then the buffer is simply dropped.
            let _ = empty_tx.send(chunk);
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
        let split = |t: &str| parse_split(t.as_bytes(), "t", false, 1 << 20, 4);
        let whole = {
            let mut c = Columns::with_capacity(text.len());
            assert!(c.feed(text.as_bytes(), false).is_ok());
            c
        };
        let split = split(&text).unwrap();
        assert_eq!(whole.entries, split.entries);
        assert_eq!(whole.addrs, split.addrs);
        assert_eq!(whole.buckets, split.buckets);
        assert_eq!(whole.names, split.names);
        assert_eq!(whole.modules, split.modules);
        assert_eq!(split.lines, 70_000);
    }

    #[test]
    fn fast_path_equals_general_path() {
        // Every shape of line, many times over, so each one meets the fast path in every
        // position; the general path alone (an address width the fast path does not take) must
        // give the same columns.
        let shapes = [
            "ffffffff81000000 T _stext\n",
            "ffffffff81000010 t a_name_longer_than_thirty_two_bytes_for_the_copy\n",
            "ffffffff81000020 t exactly_thirty_two_bytes_long_xx\n",
            "ffffffffc0000000 t f\t[m]\n",
            "ffffffffc0000010 t g\t[m]\n",
            "ffffffffc0000020 t h\t[other_mod]\n",
            "ffffffffc0000030 t i\t[m]\r\n",
            "ffffffff81000030 t caf\u{e9}\n",
            "ffffffff81000040  T two_spaces\n",
            "\n",
            "ffffffff81000050 t $x\n",
            "0000000000001000 A cpu_number\n",
            "ffffffff81000060 T _etext\n",
            "ffffffff81000060 t local_first\n",
            "FFFFFFFF81000070 T upper_hex\n",
            "ffffffff81000080 T x\t[__builtin__ftrace]\n",
        ];
        let mut text = String::new();
        let mut x = 7u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(shapes[(x % shapes.len() as u64) as usize]);
        }
        let mut fast = Columns::with_capacity(text.len());
        assert!(fast.feed(text.as_bytes(), false).is_ok());
        let mut slow = Columns::with_capacity(text.len());
        slow.width = 1;
        assert!(slow.feed(text.as_bytes(), false).is_ok());
        assert_eq!(fast.entries, slow.entries);
        assert_eq!(fast.addrs, slow.addrs);
        assert_eq!(fast.names, slow.names);
        assert_eq!(fast.buckets, slow.buckets);
        assert_eq!(fast.modules, slow.modules);
        assert_eq!(fast.unordered_aliases, slow.unordered_aliases);
        assert_eq!((fast.lines, fast.in_order), (slow.lines, slow.in_order));
        assert_eq!(fast.lines, 2000);
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
        match parse_split(text.as_bytes(), "t", false, 1 << 20, 4) {
            Err(Error::Malformed { line: l, .. }) => assert_eq!(l, line),
            other => panic!("{other:?}"),
        }
        let c = parse_split(text.as_bytes(), "t", true, 1 << 20, 4).unwrap();
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
        let ranged = read_regular(&f, text.len(), "f", false, 256 << 10, 4)
            .ok()
            .unwrap();
        let whole = parse_buffer(text.as_bytes(), "t", false, 0).unwrap();
        assert_eq!(whole.entries, ranged.entries);
        assert_eq!(whole.addrs, ranged.addrs);
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
        match read_regular(&f, text.len(), "f", false, 256 << 10, 4) {
            Err(Streamed::Parse(Error::Malformed {
                source_name,
                line: l,
                ..
            })) => {
                assert_eq!((source_name.as_str(), l), ("f", line));
            }
            _ => panic!("no error"),
        }
        let lenient = read_regular(&f, text.len(), "f", true, 256 << 10, 4)
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
        let chunked = load_file(&path, "f", false, 0, Access::Read).unwrap();
        let mapped = load_file(&path, "f", false, 0, Access::Map).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(mapped.entries, chunked.entries);
        assert_eq!(mapped.names, chunked.names);
        let whole = parse_buffer(text.as_bytes(), "t", false, 0).unwrap();
        assert_eq!(whole.entries, chunked.entries);
        assert_eq!(whole.addrs, chunked.addrs);
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
        let streamed = load_file(&fifo, "fifo", false, 0, Access::Read).unwrap();
        writer.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let whole = parse_buffer(text.as_bytes(), "t", false, 0).unwrap();
        assert_eq!(whole.entries, streamed.entries);
        assert_eq!(whole.addrs, streamed.addrs);
        assert_eq!(whole.names, streamed.names);
        assert_eq!(whole.buckets, streamed.buckets);
        assert_eq!(streamed.lines, 30_000);
    }
}

//! From bytes to columns: the parse loop, run on one chunk of complete lines at a time (how
//! the bytes are read from a file is `source`'s business).
//!
//! Chunks make two things possible: a large in-memory table is cut at line boundaries and parsed
//! on several threads, and `/proc/kallsyms` (which the kernel generates while it is read, much
//! slower than we parse) is parsed chunk by chunk while a reader thread keeps reading, so loading
//! the live table costs little more than reading it.

use std::collections::HashMap;

use memchr::memchr;

use crate::entry::{Addrs, Entry, MARKER, rank};
use crate::error::{Error, Result};
use crate::parse::{hex_prefix, is_end_marker, is_mapping_symbol, is_type, name_len, parse_line};

/// Longest name an entry can hold (the kernel's own limit is 512).
const MAX_NAME: usize = (1 << 14) - 1;
/// Each thread gets at least this much input. One thread parses a typical 5 MB kallsyms in
/// under 2 ms; threads pay off on the largest tables (KALLSYMS_ALL, many modules), and hurt on
/// a busy machine (measured: 2 threads on a loaded 2-vCPU VM lose to one on a 5 MB table), so
/// tables under 16 MB stay on the calling thread.
pub(crate) const PARALLEL_MIN: usize = 8 << 20;

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
    pub(crate) fn at(&self, i: usize) -> u32 {
        self.0[self.0.partition_point(|r| r.0 as usize <= i) - 1].1
    }

    /// `(bucket, symbols)` of each run, for `n` symbols in all.
    pub(crate) fn lengths(&self, n: usize) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.0.iter().enumerate().map(move |(k, &(at, b))| {
            let end = self.0.get(k + 1).map_or(n, |r| r.0 as usize);
            (b, end - at as usize)
        })
    }

    /// One bucket per symbol.
    pub(crate) fn expand(&self, n: usize) -> Vec<u32> {
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
pub(crate) struct BadLine(pub(crate) usize, pub(crate) &'static str, pub(crate) String);

impl BadLine {
    pub(crate) fn into_error(self, source_name: &str) -> Error {
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
    pub(crate) fn with_capacity(bytes: usize) -> Columns {
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
    pub(crate) fn feed(&mut self, bytes: &[u8], lenient: bool) -> Result<(), BadLine> {
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
            if line[W] != b' ' || line[W + 2] != b' ' || !is_type(kind) {
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
    pub(crate) fn append(&mut self, mut other: Columns) {
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

    pub(crate) fn check_size(&self, source_name: &str) -> Result<()> {
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

pub(crate) fn parse_split(
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn table(n: usize) -> String {
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
}

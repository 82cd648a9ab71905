//! The symbol table: loading and the compact index behind every query.
//!
//! Layout (struct of arrays, one element per symbol, sorted by region, then lookup class, then
//! address, then preference):
//! - `addrs`: the low 32 bits of each address (`u32`, the array the search runs over: 4 bytes
//!   per symbol, so a 120k-symbol table's fits in an L2 cache) and runs of high 32 bits (a
//!   handful per table); each region's *eligible* symbols (those an address lookup may answer
//!   with) form one sorted run;
//! - `radix`: per region, for each slice of `2^shift` bytes of address space (aligned, so one
//!   slice never straddles a change of the high half), the first symbol at or after it, about
//!   one entry per `SYMS_PER_BUCKET` symbols: a lookup goes to its slice in one step and
//!   compares the few low halves there at once;
//! - `entries`: name offset and length and the type letter (with [`MARKER`] on section end
//!   markers), 8 bytes: the one other line a lookup reads;
//! - `names`: every name once, in file order.
//!
//! That is about 14 bytes per symbol plus the name bytes, less than the text line it came from
//! (16 hex digits and four separators on a 64-bit kernel), so the index needs less memory than
//! the file itself (see `heap_bytes`). Loading is one pass over the bytes (a SIMD fast path for
//! the canonical line shape, a general one for anything else) that also notes whether the
//! file is already in index order (kallsyms is, but for a few aliases): then there is no sort.

use std::path::Path;
use std::sync::OnceLock;

use crate::entry::{Addrs, Entry, MARKER, rank};
use crate::error::{Error, Hidden, Result};
use crate::load::{self, Columns, Runs};
use crate::names::NameIndex;

/// How to load a table.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip malformed lines (counted in [`Ksyms::skipped_lines`]) instead of failing on the first.
    pub lenient: bool,
    /// Most threads a large table is parsed on (0: one per core, at most four). Tables under a
    /// few MB are parsed on the calling thread whatever this says.
    pub threads: usize,
}

/// A region: the core kernel (module `None`) or one module (real or pseudo, like `[bpf]`).
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub module: Option<Box<str>>,
    /// Symbols `start..end` belong to it; `start..mid` are eligible for address lookups.
    pub start: u32,
    pub mid: u32,
    pub end: u32,
    /// Its radix table: `radix[radix_at + b]` is the first eligible symbol whose address is at
    /// least `base + (b << shift)`; the entry after the last bucket is `mid`. `base` is the first
    /// eligible address rounded down to a multiple of `1 << shift`, so with `shift <= 32` the
    /// addresses of one bucket share their high 32 bits and the search compares low halves only.
    pub radix_at: u32,
    pub shift: u32,
    pub base: u64,
}

/// Radix bucket of an offset into a region (`shift` may be 64 for a region spanning it all).
#[inline]
pub(crate) fn bucket_of(offset: u64, shift: u32) -> u64 {
    offset.checked_shr(shift).unwrap_or(0)
}

/// `lo` rounded down to a multiple of `1 << shift` (0 for a shift of 64).
#[inline]
fn align_down(lo: u64, shift: u32) -> u64 {
    lo & !1u64.checked_shl(shift).map_or(u64::MAX, |m| m - 1)
}

/// Average symbols per radix bucket: 2 bytes of index per symbol, a few neighbours to search.
const SYMS_PER_BUCKET: u64 = 2;

/// A loaded kernel symbol table. Cheap to query from many threads (`Sync`).
///
/// See the [crate documentation](crate) for an example.
#[derive(Debug)]
pub struct Ksyms {
    pub(crate) source: String,
    pub(crate) addrs: Addrs,
    pub(crate) entries: Vec<Entry>,
    pub(crate) names: String,
    /// Radix tables of all regions (see `Region::radix_at`).
    pub(crate) radix: Vec<u32>,
    pub(crate) regions: Vec<Region>,
    /// Regions with eligible symbols, by first eligible address: `(lo, hi, running max of hi, region)`.
    pub(crate) spans: Vec<Span>,
    pub(crate) addr_digits: u8,
    pub(crate) skipped: usize,
    pub(crate) first_skipped: Option<(usize, &'static str)>,
    pub(crate) name_index: OnceLock<NameIndex>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub lo: u64,
    pub hi: u64,
    pub max_hi: u64,
    pub region: u32,
}

/// One symbol of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its address.
    pub addr: u64,
    /// Its type letter as `nm` prints it (`T` global text, `t` local text, `D`, `r`, `A`…).
    pub kind: char,
    /// The module it belongs to (`None`: the core kernel). Pseudo-modules such as `bpf` too.
    pub module: Option<&'a str>,
    pub(crate) index: u32,
}

impl Symbol<'_> {
    /// Global (upper-case type letter) rather than local to its file.
    pub fn is_global(&self) -> bool {
        self.kind.is_ascii_uppercase()
    }

    /// Position of this symbol in the table (stable for the table's lifetime).
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

const MEMORY: &str = "<memory>";

impl Ksyms {
    /// Loads a file in kallsyms or `System.map` format. The file is read (not mapped), so
    /// whatever another process does to it meanwhile, the result is a table of what was read.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Ksyms> {
        Self::from_path_with(path, &LoadOptions::default())
    }

    /// Loads a file with options (e.g. lenient parsing); read, as [`Ksyms::from_path`].
    pub fn from_path_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Ksyms> {
        load_path(path.as_ref(), opts, crate::source::Access::Read)
    }

    /// Loads a regular file by mapping it and parsing it in place: no copy into a buffer,
    /// which saves up to a fifth of the load time of a large table. Files that cannot be
    /// mapped (procfs, pipes) are read as by [`Ksyms::from_path_with`].
    ///
    /// # Safety
    ///
    /// No process may truncate or modify the file while this function runs: a truncated
    /// mapping raises SIGBUS, and a modified one changes bytes the parser holds as `&[u8]`
    /// (undefined behaviour). Use it for files nobody writes, such as a saved table in a
    /// read-only or private directory. The returned table owns its data; the mapping does not
    /// outlive the call.
    pub unsafe fn from_path_mapped(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Ksyms> {
        load_path(path.as_ref(), opts, crate::source::Access::Map)
    }

    /// Parses kallsyms text held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Ksyms> {
        Self::parse_named(bytes, MEMORY, &LoadOptions::default())
    }

    /// Parses kallsyms text held in memory; `source_name` appears in error messages.
    pub fn parse_named(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<Ksyms> {
        // Fewer bytes than two threads' shares: one thread, without asking how many CPUs.
        let threads = if bytes.len() < 2 * load::PARALLEL_MIN {
            1
        } else {
            load::threads(opts.threads)
        };
        finish(
            load::parse_buffer(bytes, source_name, opts.lenient, threads)?,
            source_name,
        )
    }

    /// Where the table came from (file name, or `<memory>`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table has no symbol (never the case for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Malformed lines skipped by a lenient load.
    pub fn skipped_lines(&self) -> usize {
        self.skipped
    }

    /// The first skipped line: `(line number, reason)`.
    pub fn first_skipped(&self) -> Option<(usize, &'static str)> {
        self.first_skipped
    }

    /// Hex digits of the widest address in the file: 16 on 64-bit kernels, 8 on 32-bit ones.
    pub fn address_digits(&self) -> u8 {
        self.addr_digits
    }

    /// The symbol at `index` (`0..len()`).
    #[inline]
    pub fn symbol(&self, index: usize) -> Symbol<'_> {
        self.symbol_in(index, self.region_of(index))
    }

    /// The symbol at `index`, whose region is already known.
    #[inline]
    pub(crate) fn symbol_in(&self, index: usize, region: usize) -> Symbol<'_> {
        let e = self.entries[index];
        Symbol {
            name: self.name_of(e),
            addr: self.addrs.get(index),
            kind: (e.kind & !MARKER) as char,
            module: self.regions[region].module.as_deref(),
            index: index as u32,
        }
    }

    /// Every symbol, by region (core kernel first, then modules in file order), then address.
    pub fn symbols(&self) -> impl ExactSizeIterator<Item = Symbol<'_>> + '_ {
        (0..self.len()).map(|i| self.symbol(i))
    }

    /// Module names in file order (pseudo-modules included), without the core kernel.
    pub fn modules(&self) -> impl Iterator<Item = &str> + '_ {
        self.regions.iter().filter_map(|r| r.module.as_deref())
    }

    /// Address of the symbol at `index`.
    #[inline]
    pub(crate) fn addr(&self, index: usize) -> u64 {
        self.addrs.get(index)
    }

    #[inline]
    pub(crate) fn name_at(&self, index: usize) -> &str {
        self.name_of(self.entries[index])
    }

    #[inline]
    pub(crate) fn name_of(&self, e: Entry) -> &str {
        let at = e.name as usize;
        let bytes = &self.names.as_bytes()[at..at + e.len as usize];
        // SAFETY: `names` is valid UTF-8 made of whole names laid end to end, and every entry
        // spans exactly one of them, so `bytes` is valid UTF-8 too. Not re-checking spares an
        // address lookup from reading the name's bytes (a cache miss the caller may not need).
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// Type letter of the symbol at `index` (without the marker bit).
    #[inline]
    pub(crate) fn kind_at(&self, index: usize) -> char {
        (self.entries[index].kind & !MARKER) as char
    }

    #[inline]
    pub(crate) fn region_of(&self, index: usize) -> usize {
        self.regions.partition_point(|r| r.end as usize <= index)
    }

    /// Heap bytes held by the index (names, arrays; the lazily built name index included when
    /// it exists). Compare with the size of the file it was loaded from.
    pub fn heap_bytes(&self) -> usize {
        let regions: usize = self
            .regions
            .iter()
            .map(|r| size_of::<Region>() + r.module.as_ref().map_or(0, |m| m.len()))
            .sum();
        self.entries.capacity() * size_of::<Entry>()
            + self.addrs.heap_bytes()
            + self.radix.capacity() * 4
            + self.names.capacity()
            + regions
            + self.spans.capacity() * size_of::<Span>()
            + self.source.capacity()
            + self.name_index.get().map_or(0, NameIndex::heap_bytes)
    }
}

/// Refuses empty and hidden tables, then indexes.
fn load_path(path: &Path, opts: &LoadOptions, access: crate::source::Access) -> Result<Ksyms> {
    let name = path.display().to_string();
    let threads = load::threads(opts.threads);
    finish(
        crate::source::load_file(path, &name, opts.lenient, threads, access)?,
        &name,
    )
}

pub(crate) fn finish(p: Columns, source_name: &str) -> Result<Ksyms> {
    if p.entries.is_empty() {
        return Err(Error::Empty {
            source_name: source_name.to_string(),
        });
    }
    if !p.any_nonzero {
        return Err(Error::Hidden(Hidden {
            source_name: source_name.to_string(),
            symbols: p.entries.len(),
            kptr_restrict: None,
            perf_event_paranoid: None,
        }));
    }
    index(p, source_name)
}

fn index(p: Columns, source_name: &str) -> Result<Ksyms> {
    let modules: Vec<Option<Box<str>>> = std::iter::once(None)
        .chain(p.modules.iter().cloned().map(Some))
        .collect();
    let (digits, skipped, first_skipped) = (p.digits, p.skipped, p.first_skipped);
    // Stable counting sort into (region, class) buckets, then sort each bucket by address
    // (kallsyms lists the core kernel already sorted: the check makes that case linear).
    let n = p.entries.len();
    let nbuckets = modules.len() * 2;
    let mut starts = vec![0u32; nbuckets + 1];
    for (b, len) in p.buckets.lengths(n) {
        starts[b as usize + 1] += len as u32;
    }
    for i in 0..nbuckets {
        starts[i + 1] += starts[i];
    }
    if p.in_order {
        let mut entries = p.entries;
        order_aliases(&mut entries, &p.addrs, &p.buckets, &p.unordered_aliases);
        return assemble(
            p.addrs,
            entries,
            p.names,
            modules,
            &starts,
            source_name,
            digits,
            skipped,
            first_skipped,
        );
    }
    let mut order = vec![0u32; n];
    let mut fill = starts.clone();
    for (i, b) in p.buckets.expand(n).into_iter().enumerate() {
        order[fill[b as usize] as usize] = i as u32;
        fill[b as usize] += 1;
    }
    drop(fill);
    for b in 0..nbuckets {
        let run = &mut order[starts[b] as usize..starts[b + 1] as usize];
        let addr = |&i: &u32| p.addrs.get(i as usize);
        if !run.is_sorted_by_key(addr) {
            // Stable: aliases keep file order (the kernel's own preference order).
            run.sort_by_key(addr);
        }
        // Among aliases, global before local, end markers last: fix the (short) alias runs.
        let mut i = 0;
        while i < run.len() {
            let at = addr(&run[i]);
            let mut j = i + 1;
            while j < run.len() && addr(&run[j]) == at {
                j += 1;
            }
            let group = &mut run[i..j];
            let by_rank = |&k: &u32| rank(p.entries[k as usize].kind);
            if !group.is_sorted_by_key(by_rank) {
                group.sort_by_key(by_rank);
            }
            i = j;
        }
    }

    // Already in order (a kernel without modules, or modules listed sorted): keep the columns.
    let identity = order.iter().enumerate().all(|(i, &o)| o as usize == i);
    let (addrs, entries) = if identity {
        (p.addrs, p.entries)
    } else {
        (
            Addrs::from_iter(order.iter().map(|&i| p.addrs.get(i as usize))),
            order.iter().map(|&i| p.entries[i as usize]).collect(),
        )
    };
    drop(order);
    assemble(
        addrs,
        entries,
        p.names,
        modules,
        &starts,
        source_name,
        digits,
        skipped,
        first_skipped,
    )
}

/// Puts each group of aliases (same bucket and address, already adjacent) that holds one of
/// `unordered` (positions found out of preference order by the parser) in preference order.
fn order_aliases(entries: &mut [Entry], addrs: &Addrs, buckets: &Runs, unordered: &[u32]) {
    let same = |a: usize, b: usize| addrs.get(a) == addrs.get(b) && buckets.at(a) == buckets.at(b);
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &k in unordered {
        let k = k as usize;
        let (mut i, mut j) = (k, k + 1);
        while i > 0 && same(i - 1, k) {
            i -= 1;
        }
        while j < entries.len() && same(j, k) {
            j += 1;
        }
        if groups.last() != Some(&(i, j)) {
            groups.push((i, j));
        }
    }
    for (i, j) in groups {
        // Stable: file order among equals (the kernel's own preference order).
        entries[i..j].sort_by_key(|e| rank(e.kind));
    }
}

/// Builds the final table from columns in index order and the bucket boundaries.
#[allow(clippy::too_many_arguments)]
fn assemble(
    mut addrs: Addrs,
    mut entries: Vec<Entry>,
    names: Vec<u8>,
    modules: Vec<Option<Box<str>>>,
    starts: &[u32],
    source_name: &str,
    digits: u8,
    skipped: usize,
    first_skipped: Option<(usize, &'static str)>,
) -> Result<Ksyms> {
    let n = entries.len();
    entries.shrink_to_fit();
    addrs.pad();
    addrs.shrink_to_fit();
    let mut names = names;
    names.shrink_to_fit();
    debug_assert!(std::str::from_utf8(&names).is_ok());
    // SAFETY: every name was checked when parsed: the fast path takes ASCII names only, the
    // general one validates UTF-8 (`parse::clean`), and names are stored whole, one after the
    // other, so every offset and length in `entries` falls on character boundaries.
    let names = unsafe { String::from_utf8_unchecked(names) };

    let mut regions = Vec::with_capacity(modules.len());
    let mut spans = Vec::new();
    let mut radix: Vec<u32> = Vec::with_capacity(n / SYMS_PER_BUCKET as usize + 2 * modules.len());
    for (id, module) in modules.into_iter().enumerate() {
        let (start, mid, end) = (starts[2 * id], starts[2 * id + 1], starts[2 * id + 2]);
        if start == end {
            continue;
        }
        let radix_at = radix.len() as u32;
        let (mut shift, mut base) = (0, 0);
        if mid > start {
            let (start_, mid_) = (start as usize, mid as usize);
            let (lo, hi) = (addrs.get(start_), addrs.get(mid_ - 1));
            spans.push(Span {
                lo,
                hi,
                max_hi: 0,
                region: regions.len() as u32,
            });
            // Smallest bucket size (a power of two) giving at most n / SYMS_PER_BUCKET buckets.
            let want = (mid_ - start_) as u64 / SYMS_PER_BUCKET;
            base = align_down(lo, shift);
            while bucket_of(hi - base, shift) + 1 > want.max(1) {
                shift += 1;
                base = align_down(lo, shift);
            }
            // radix[b] = the first symbol in bucket b or later; the last bucket holds `hi`.
            let mut b = 0;
            for i in start_..mid_ {
                let eb = bucket_of(addrs.get(i) - base, shift);
                while b <= eb {
                    radix.push(i as u32);
                    b += 1;
                }
            }
            radix.push(mid);
        }
        regions.push(Region {
            module,
            start,
            mid,
            end,
            radix_at,
            shift,
            base,
        });
    }
    spans.sort_by_key(|s| s.lo);
    let mut max_hi = 0;
    for s in &mut spans {
        max_hi = max_hi.max(s.hi);
        s.max_hi = max_hi;
    }

    Ok(Ksyms {
        source: source_name.to_string(),
        addrs,
        entries,
        names,
        radix,
        regions,
        spans,
        addr_digits: digits,
        skipped,
        first_skipped,
        name_index: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Ksyms>();
        let ks = Ksyms::parse(b"ffffffff81000000 T a\nffffffff81000010 T b\n").unwrap();
        std::thread::scope(|s| {
            let h = s.spawn(|| ks.find("b").len());
            assert_eq!(ks.lookup(0xffffffff81000004).unwrap().symbol.name, "a");
            assert_eq!(h.join().unwrap(), 1);
        });
    }
}

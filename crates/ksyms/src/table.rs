//! The symbol table: loading and the compact index behind every query.
//!
//! Layout (struct of arrays, one entry per symbol, sorted by region, then lookup class, then
//! address, then preference):
//! - `addrs`: `u64` per symbol; each region's *eligible* symbols (those an address lookup may
//!   answer with) form one sorted run searched by binary search;
//! - `name_ends`: `u32` end offset of each name in `names` (names are stored in the same order,
//!   back to back, so symbol `i` is `names[name_ends[i-1]..name_ends[i]]`);
//! - `kinds`: the type letter.
//!
//! That is 13 bytes per symbol plus the name bytes, less than the text line it came from, so the
//! index never needs more memory than the file itself (see `heap_bytes`).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Hidden, Result};
use crate::names::NameIndex;
use crate::parse::{Lines, is_end_marker, is_mapping_symbol, parse_line};

/// How to load a table.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip malformed lines (counted in [`Ksyms::skipped_lines`]) instead of failing on the first.
    pub lenient: bool,
}

/// A region: the core kernel (module `None`) or one module (real or pseudo, like `[bpf]`).
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub module: Option<Box<str>>,
    /// Symbols `start..end` belong to it; `start..mid` are eligible for address lookups.
    pub start: u32,
    pub mid: u32,
    pub end: u32,
}

/// A loaded kernel symbol table. Cheap to query from many threads (`Sync`).
///
/// See the [crate documentation](crate) for an example.
#[derive(Debug)]
pub struct Ksyms {
    pub(crate) source: String,
    pub(crate) addrs: Vec<u64>,
    pub(crate) name_ends: Vec<u32>,
    pub(crate) kinds: Vec<u8>,
    pub(crate) names: String,
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

/// A line as kept between parsing and indexing.
struct Raw {
    addr: u64,
    name_start: u32,
    name_len: u32,
    region: u32,
    kind: u8,
    /// Sort rank among aliases: 0 global, 1 local, +2 when an end marker.
    rank: u8,
    eligible: bool,
}

const MEMORY: &str = "<memory>";

impl Ksyms {
    /// Loads the running kernel's `/proc/kallsyms`.
    ///
    /// Fails with [`Error::Hidden`] naming the current `kptr_restrict` (and
    /// `perf_event_paranoid`) when the kernel hides the addresses from this process.
    pub fn load_live() -> Result<Ksyms> {
        crate::live::load_live(&LoadOptions::default())
    }

    /// Loads a file in kallsyms or `System.map` format.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Ksyms> {
        Self::from_path_with(path, &LoadOptions::default())
    }

    /// Loads a file with options (e.g. lenient parsing).
    pub fn from_path_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Ksyms> {
        let path = path.as_ref();
        let buf = read_file(path)?;
        Self::parse_named(&buf, &path.display().to_string(), opts)
    }

    /// Parses kallsyms text held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Ksyms> {
        Self::parse_named(bytes, MEMORY, &LoadOptions::default())
    }

    /// Parses kallsyms text held in memory; `source_name` appears in error messages.
    pub fn parse_named(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<Ksyms> {
        build(bytes, source_name, opts)
    }

    /// Where the table came from (file name, or `<memory>`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// True when the table has no symbol (never the case for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
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
    pub fn symbol(&self, index: usize) -> Symbol<'_> {
        let start = if index == 0 {
            0
        } else {
            self.name_ends[index - 1] as usize
        };
        let end = self.name_ends[index] as usize;
        Symbol {
            name: &self.names[start..end],
            addr: self.addrs[index],
            kind: self.kinds[index] as char,
            module: self.regions[self.region_of(index)].module.as_deref(),
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

    pub(crate) fn name_at(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.name_ends[index - 1] as usize
        };
        &self.names[start..self.name_ends[index] as usize]
    }

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
        self.addrs.capacity() * 8
            + self.name_ends.capacity() * 4
            + self.kinds.capacity()
            + self.names.capacity()
            + regions
            + self.spans.capacity() * size_of::<Span>()
            + self.source.capacity()
            + self.name_index.get().map_or(0, NameIndex::heap_bytes)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let mut f = File::open(path).map_err(io)?;
    // procfs files report size 0: start with a buffer large enough for a typical kallsyms
    // (a few MiB) so the read loop rarely reallocates.
    let hint = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut buf = Vec::with_capacity(if hint > 0 { hint + 1 } else { 8 << 20 });
    f.read_to_end(&mut buf).map_err(io)?;
    Ok(buf)
}

fn build(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<Ksyms> {
    let too_large = |what| Error::TooLarge {
        source_name: source_name.to_string(),
        what,
    };
    if bytes.len() > u32::MAX as usize {
        return Err(too_large("input over 4 GiB"));
    }
    // Module column -> region id. Lines of one module come in a block: remember the last one.
    let mut modules: Vec<Option<Box<str>>> = vec![None];
    let mut module_ids: HashMap<&[u8], u32> = HashMap::new();
    let mut last_module: (&[u8], u32) = (b"", 0);

    let mut raws: Vec<Raw> = Vec::with_capacity(bytes.len() / 32 + 1);
    let mut skipped = 0;
    let mut first_skipped = None;
    let mut digits = 0u8;
    let mut all_zero = true;
    for (no, text) in Lines::new(bytes) {
        let line = match parse_line(text) {
            Ok(Some(line)) => line,
            Ok(None) => continue,
            Err(reason) if opts.lenient => {
                skipped += 1;
                first_skipped.get_or_insert((no, reason));
                continue;
            }
            Err(reason) => {
                let shown = &text[..text.len().min(80)];
                return Err(Error::Malformed {
                    source_name: source_name.to_string(),
                    line: no,
                    reason,
                    text: String::from_utf8_lossy(shown).into_owned(),
                });
            }
        };
        let region = match line.module {
            None => 0,
            Some(m) if m == last_module.0 => last_module.1,
            Some(m) => {
                let next = modules.len() as u32;
                let id = *module_ids.entry(m).or_insert(next);
                if id == next {
                    // parse_line checked UTF-8.
                    modules.push(Some(String::from_utf8_lossy(m).into()));
                }
                last_module = (m, id);
                id
            }
        };
        digits = digits.max(line.digits);
        all_zero &= line.addr == 0;
        let name_start = line.name.as_ptr() as usize - bytes.as_ptr() as usize;
        let absolute = matches!(line.kind, b'A' | b'a');
        let marker = is_end_marker(line.name);
        raws.push(Raw {
            addr: line.addr,
            name_start: name_start as u32,
            name_len: line.name.len() as u32,
            region,
            kind: line.kind,
            rank: u8::from(line.kind.is_ascii_lowercase()) + 2 * u8::from(marker),
            // Address zero is never a real location (and all-zero means hidden).
            eligible: !absolute && line.addr != 0 && !is_mapping_symbol(line.name),
        });
    }
    if raws.is_empty() {
        return Err(Error::Empty {
            source_name: source_name.to_string(),
        });
    }
    if all_zero {
        return Err(Error::Hidden(Hidden {
            source_name: source_name.to_string(),
            symbols: raws.len(),
            kptr_restrict: None,
            perf_event_paranoid: None,
        }));
    }
    if raws.len() > u32::MAX as usize - 1 {
        return Err(too_large("over 2^32 symbols"));
    }

    // Stable counting sort into (region, class) buckets, then sort each bucket by address
    // (kallsyms lists the core kernel already sorted: the check makes that case linear).
    let nbuckets = modules.len() * 2;
    let bucket = |r: &Raw| r.region as usize * 2 + usize::from(!r.eligible);
    let mut starts = vec![0u32; nbuckets + 1];
    for r in &raws {
        starts[bucket(r) + 1] += 1;
    }
    for i in 0..nbuckets {
        starts[i + 1] += starts[i];
    }
    let mut order = vec![0u32; raws.len()];
    let mut fill = starts.clone();
    for (i, r) in raws.iter().enumerate() {
        let b = bucket(r);
        order[fill[b] as usize] = i as u32;
        fill[b] += 1;
    }
    for b in 0..nbuckets {
        let run = &mut order[starts[b] as usize..starts[b + 1] as usize];
        let key = |&i: &u32| {
            let r = &raws[i as usize];
            (r.addr, r.rank)
        };
        if !run.is_sorted_by_key(key) {
            // Stable: aliases of one rank keep file order (the kernel's own preference order).
            run.sort_by_key(key);
        }
    }

    let n = raws.len();
    let mut addrs = Vec::with_capacity(n);
    let mut name_ends = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let names_len: usize = raws.iter().map(|r| r.name_len as usize).sum();
    if names_len > u32::MAX as usize {
        return Err(too_large("over 4 GiB of names"));
    }
    let mut names = Vec::with_capacity(names_len);
    for &i in &order {
        let r = &raws[i as usize];
        addrs.push(r.addr);
        kinds.push(r.kind);
        let s = r.name_start as usize;
        names.extend_from_slice(&bytes[s..s + r.name_len as usize]);
        name_ends.push(names.len() as u32);
    }
    // Every name was checked to be UTF-8 and they are concatenated whole.
    let names = String::from_utf8(names).expect("names are UTF-8");

    let mut regions = Vec::with_capacity(modules.len());
    let mut spans = Vec::new();
    for (id, module) in modules.into_iter().enumerate() {
        let (start, mid, end) = (starts[2 * id], starts[2 * id + 1], starts[2 * id + 2]);
        if start == end {
            continue;
        }
        if mid > start {
            spans.push(Span {
                lo: addrs[start as usize],
                hi: addrs[mid as usize - 1],
                max_hi: 0,
                region: regions.len() as u32,
            });
        }
        regions.push(Region {
            module,
            start,
            mid,
            end,
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
        name_ends,
        kinds,
        names,
        regions,
        spans,
        addr_digits: digits,
        skipped,
        first_skipped,
        name_index: OnceLock::new(),
    })
}

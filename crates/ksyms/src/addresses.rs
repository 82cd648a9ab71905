//! Answering a few address lookups from a table file without indexing all of it.
//!
//! One pass over the file keeps, per region and per queried address, the lines that can take
//! part in the answer (every eligible alias at the nearest address at or below, one line at the
//! next eligible address above, and the `__ksymtab_` entries of the candidates), then indexes
//! only those: the answers are the full table's (a property test checks it), for a fraction of
//! the work and memory. Any line the fast path is not sure about sends the caller back to the
//! full loader, which reports it with its line number.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use memchr::{memchr, memrchr};

use crate::parse::{Line, hex_prefix, is_mapping_symbol, is_type, name_len, parse_hex, parse_line};
use crate::table::{Ksyms, LoadOptions};

const KSYMTAB: &[u8] = b"__ksymtab_";
const CHUNK: usize = 64 << 10;
/// Files at least this large are scanned in two halves on two threads (each reads its own).
const SPLIT_MIN: u64 = 2 << 20;
/// The full loader's limits: beyond them it reports an error, so the fast path steps aside.
const MAX_NAME: usize = (1 << 14) - 1;
const MAX_FILE: u64 = u32::MAX as u64 / 2;

/// What is kept for one (region, queried address).
#[derive(Default)]
struct Candidates {
    /// Nearest eligible address at or below the query, and its lines (line number, bytes).
    below: Option<u64>,
    /// Its lines, concatenated (reused as the nearest address moves up: no allocation).
    below_text: Vec<u8>,
    /// (line number, range in `below_text`).
    below_lines: Vec<(usize, usize, usize)>,
    /// Lines of `below` still in the read buffer, copied out (by [`Scan::flush`]) only before
    /// the buffer is reused: while the addresses of a table climb towards the query, nearly
    /// every line is the nearest so far, and copying each one cost more than the scan.
    /// (line number, range in the read buffer).
    below_pending: Vec<(usize, usize, usize)>,
    /// Nearest eligible address above the query, and one of its lines.
    above: Option<(u64, usize, Vec<u8>)>,
}

impl Candidates {
    /// Joins the candidates of later lines (their line numbers `shift` behind): the nearer
    /// address wins; at the same address below, every alias is kept, earlier lines first; at
    /// the same address above, the earlier line.
    fn followed_by(&mut self, later: Candidates, shift: usize) {
        if let Some(b) = later.below
            && self.below.is_none_or(|a| a <= b)
        {
            if self.below != Some(b) {
                self.below = Some(b);
                self.below_text.clear();
                self.below_lines.clear();
            }
            let at = self.below_text.len();
            self.below_text.extend_from_slice(&later.below_text);
            self.below_lines.extend(
                later
                    .below_lines
                    .into_iter()
                    .map(|(n, from, to)| (n + shift, from + at, to + at)),
            );
        }
        if let Some((a, n, line)) = later.above
            && self.above.as_ref().is_none_or(|(mine, ..)| a < *mine)
        {
            self.above = Some((a, n + shift, line));
        }
    }
}

/// What [`Scan::run_simple`] checks a common line against while nothing but such lines come:
/// a copy, in locals, of the scan's state for one query in the previous line's region.
struct Hot {
    /// The query.
    q: u64,
    /// The query's window in the region: [`Scan::window`].
    lo: u64,
    hi: u64,
    /// The region ([`Scan::last_region`]).
    region: usize,
    /// Whether the region is the core kernel's (lines without a module column).
    module_none: bool,
}

/// A `__ksymtab_<name>` line kept by the scan: `<name>` is exported (when it is a candidate).
struct Export {
    line_no: usize,
    /// The line, in [`Scan::ksymtab_text`].
    line: Range<usize>,
    /// `<name>`, in [`Scan::ksymtab_text`].
    target: Range<usize>,
    region: usize,
}

struct Region {
    module: Option<Vec<u8>>,
    per_query: Vec<Candidates>,
}

/// The scan over a table's lines.
struct Scan<'q> {
    queries: &'q [u64],
    regions: Vec<Region>,
    /// Region of the previous line (tables group lines by module).
    last_region: usize,
    /// `__ksymtab_` lines, concatenated (one buffer: a table has thousands of them).
    ksymtab_text: Vec<u8>,
    /// The `__ksymtab_` lines in `ksymtab_text`.
    ksymtab: Vec<Export>,
    /// The first line with an address: a table needs one that is not hidden, and any line of the table leaves the answers alone
    /// (they depend only on the kept nearest lines, which no other line beats).
    first: Option<(usize, Vec<u8>)>,
    digits: Option<u8>,
    /// A line the fast path took turned out to need the full loader.
    declined: bool,
    any_nonzero: bool,
    line_no: usize,
    /// Per query, the addresses `lo..=hi` a line of region `last_region` must have to change
    /// that query's candidates (kept by [`Scan::parsed`]): any other line only needs checking.
    window: Vec<(u64, u64)>,
    /// The region [`Scan::window`] was computed for.
    window_of: usize,
}

impl<'q> Scan<'q> {
    fn new(queries: &'q [u64]) -> Scan<'q> {
        Scan {
            queries,
            regions: Vec::new(),
            last_region: 0,
            ksymtab_text: Vec::new(),
            ksymtab: Vec::new(),
            first: None,
            digits: None,
            declined: false,
            any_nonzero: false,
            line_no: 0,
            window: Vec::new(),
            window_of: usize::MAX,
        }
    }

    /// Feeds one line; `with_newline` is the line and its `\n` (absent on an unterminated
    /// last line). `false`: leave it to the full loader.
    fn line(&mut self, with_newline: &[u8], at: usize) -> bool {
        let bytes = with_newline.strip_suffix(b"\n").unwrap_or(with_newline);
        let parsed = match self.simple_line(with_newline) {
            Some(l) => Some(l),
            None => match parse_line(bytes) {
                Ok(l) => l,
                Err(_) => return false,
            },
        };
        self.parsed(parsed, bytes, at)
    }

    /// Takes the line at the start of `text` (which runs on past it) when it has the common
    /// shape: the bytes consumed, newline included. `None`: use [`Scan::line`].
    #[inline]
    fn next_simple(&mut self, text: &[u8], at: usize) -> Option<usize> {
        let w = usize::from(self.digits?);
        let rest = text.get(w + 3..)?;
        let n = name_len(rest)?;
        let mut len = w + 3 + n + 1;
        if rest.get(n) == Some(&b'\t') {
            len += name_len(rest.get(n + 1..)?)? + 1;
        }
        let l = self.simple_line(text.get(..len)?)?;
        let bytes = &text[..len - 1];
        if !self.parsed(Some(l), bytes, at) {
            self.declined = true;
        }
        Some(len)
    }

    /// Feeds one parsed line (`bytes` without its newline, found at `at` in the read buffer).
    /// `false`: leave it to the full loader.
    #[inline]
    fn parsed(&mut self, parsed: Option<Line<'_>>, bytes: &[u8], at: usize) -> bool {
        self.line_no += 1;
        let Some(l) = parsed else {
            return true;
        };
        if l.name.len() > MAX_NAME {
            return false;
        }
        if *self.digits.get_or_insert(l.digits) != l.digits {
            return false;
        }
        self.any_nonzero |= l.addr != 0;
        if self.first.is_none() && l.addr != 0 {
            self.first = Some((self.line_no, bytes.to_vec()));
        }
        if l.name.starts_with(KSYMTAB) {
            // Where the exported name lies in the line (`l.name` is a part of `bytes`).
            let name_at = (l.name.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
            if bytes.get(name_at..name_at + l.name.len()) != Some(l.name) {
                return false;
            }
            let region = self.region(l.module);
            let at = self.ksymtab_text.len();
            self.ksymtab_text.extend_from_slice(bytes);
            self.ksymtab.push(Export {
                line_no: self.line_no,
                line: at..self.ksymtab_text.len(),
                target: at + name_at + KSYMTAB.len()..at + name_at + l.name.len(),
                region,
            });
        }
        let eligible = l.kind | 0x20 != b'a' && l.addr != 0 && !is_mapping_symbol(l.name);
        if !eligible {
            return true;
        }
        let r = self.region(l.module);
        if r != self.window_of {
            self.refresh_window();
        }
        let per_query = self.regions[r].per_query.iter_mut();
        for ((q, c), win) in self.queries.iter().zip(per_query).zip(&mut self.window) {
            if l.addr <= *q {
                if c.below.is_none_or(|b| b < l.addr) {
                    c.below = Some(l.addr);
                    c.below_lines.clear();
                    c.below_text.clear();
                    c.below_pending.clear();
                    win.0 = l.addr;
                }
                if c.below == Some(l.addr) {
                    c.below_pending.push((self.line_no, at, at + bytes.len()));
                }
            } else if c.above.as_ref().is_none_or(|(a, ..)| l.addr < *a) {
                c.above = Some((l.addr, self.line_no, bytes.to_vec()));
                win.1 = l.addr - 1;
            }
        }
        true
    }

    /// Recomputes [`Scan::window`] for region `last_region`: below a query, a line at or above
    /// the nearest address so far joins or replaces it; above, a line below the nearest so far
    /// replaces it.
    fn refresh_window(&mut self) {
        self.window.clear();
        self.window_of = self.last_region;
        if let Some(r) = self.regions.get(self.last_region) {
            for (q, c) in self.queries.iter().zip(&r.per_query) {
                let lo = c.below.unwrap_or(0);
                // `above` is only ever set above the query, so `a - 1` does not wrap.
                let hi = c.above.as_ref().map_or(u64::MAX, |(a, ..)| a - 1);
                debug_assert!(lo <= *q && *q <= hi);
                self.window.push((lo, hi));
            }
        }
    }

    /// The state [`Scan::run_simple`] checks common lines against, when there is one query, a
    /// first line is kept and the previous line's region has candidates: see [`Hot`].
    fn hot(&mut self) -> Option<Hot> {
        let &[q] = self.queries else {
            return None;
        };
        self.first.as_ref()?;
        let module_none = self.regions.get(self.last_region)?.module.is_none();
        if self.window_of != self.last_region {
            self.refresh_window();
        }
        let &[(lo, hi)] = self.window.as_slice() else {
            return None;
        };
        Some(Hot {
            q,
            lo,
            hi,
            region: self.last_region,
            module_none,
        })
    }

    /// A line of [`Scan::run_simple`] in the state `h`: `true` when it is one of the two
    /// kinds most lines are, and taken: a line that leaves the state as it is (a nonzero
    /// address outside the window of its region, which is the previous line's, no
    /// `__ksymtab_` name), or an eligible line at or above the nearest address so far at or
    /// below the query (while a table climbs towards the query, nearly every line is).
    /// `false`: nothing done, [`Scan::parsed`] takes it.
    #[inline(always)]
    fn hot_line(&mut self, h: &mut Hot, l: &Line<'_>, tabs: bool, at: usize, len: usize) -> bool {
        let module_ok = if tabs {
            self.regions
                .get(h.region)
                .is_some_and(|r| r.module.as_deref() == l.module)
        } else {
            h.module_none
        };
        if !(l.addr != 0 && module_ok && l.name.len() <= MAX_NAME && !l.name.starts_with(KSYMTAB)) {
            return false;
        }
        if l.addr < h.lo || l.addr > h.hi {
            self.line_no += 1;
            return true;
        }
        if l.addr > h.q || l.kind | 0x20 == b'a' || is_mapping_symbol(l.name) {
            return false;
        }
        let Some(c) = self
            .regions
            .get_mut(h.region)
            .and_then(|r| r.per_query.first_mut())
        else {
            return false;
        };
        self.line_no += 1;
        if c.below != Some(l.addr) {
            c.below = Some(l.addr);
            c.below_lines.clear();
            c.below_text.clear();
            c.below_pending.clear();
            h.lo = l.addr;
            if let Some(w) = self.window.first_mut() {
                w.0 = l.addr;
            }
        }
        c.below_pending.push((self.line_no, at, at + len));
        true
    }

    /// Whether a line vetted by [`clean_line`] leaves the scan's state as it is (but for the
    /// line count): a nonzero address outside the window of its region, which is the
    /// previous line's, no `__ksymtab_` name, a first line already kept. Most lines of a table
    /// are; [`Scan::parsed`] takes the others.
    #[inline]
    fn unchanged_by(&self, l: &Line<'_>) -> bool {
        l.addr != 0
            && self.window_of == self.last_region
            && self.first.is_some()
            && l.name.len() <= MAX_NAME
            && !l.name.starts_with(KSYMTAB)
            && self
                .regions
                .get(self.last_region)
                .is_some_and(|r| r.module.as_deref() == l.module)
            && self
                .window
                .iter()
                .all(|&(lo, hi)| l.addr < lo || l.addr > hi)
    }

    /// Copies the nearest lines still in the read buffer `buf` out of it (before it is
    /// reused).
    fn flush(&mut self, buf: &[u8]) {
        for r in &mut self.regions {
            for c in &mut r.per_query {
                for (n, from, to) in c.below_pending.drain(..) {
                    let at = c.below_text.len();
                    c.below_text.extend_from_slice(&buf[from..to]);
                    c.below_lines.push((n, at, c.below_text.len()));
                }
            }
        }
    }

    /// Feeds every whole line of `text` (found at `base` in the read buffer), which
    /// [`survey`] found clean with exactly two spaces per line and whose newlines it marked in
    /// `newlines` (bit `i` of word `k`: byte `64 * k + i`): a line with its spaces where the
    /// common shape has them therefore has no other, and its name runs to the tab or the
    /// line's end. The bytes consumed; `declined` is set when a line has another shape (the
    /// count no longer vouches for the lines already taken: the full loader decides).
    fn run_simple(&mut self, text: &[u8], base: usize, tabs: bool, newlines: &[u64]) -> usize {
        // The two widths of real tables get a copy each with the offsets in the line known.
        match self.digits {
            None => 0,
            Some(16) => self.run_simple_width(text, base, tabs, newlines, 16),
            Some(8) => self.run_simple_width(text, base, tabs, newlines, 8),
            Some(w) => self.run_simple_width(text, base, tabs, newlines, usize::from(w)),
        }
    }

    #[inline(always)]
    fn run_simple_width(
        &mut self,
        text: &[u8],
        base: usize,
        tabs: bool,
        newlines: &[u64],
        w: usize,
    ) -> usize {
        let mut start = 0;
        let mut hot = self.hot();
        for (k, &word) in newlines.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let nl = 64 * k + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let Some(line) = text.get(start..nl) else {
                    self.declined = true;
                    return start;
                };
                let Some(l) = clean_line(line, w, tabs) else {
                    self.declined = true;
                    return start;
                };
                let at = base + start;
                start = nl + 1;
                if let Some(h) = &mut hot {
                    if self.hot_line(h, &l, tabs, at, line.len()) {
                        continue;
                    }
                } else if self.unchanged_by(&l) {
                    self.line_no += 1;
                    continue;
                }
                if !self.parsed(Some(l), line, at) {
                    self.declined = true;
                    return at - base;
                }
                hot = self.hot();
            }
        }
        start
    }

    /// The common shape, `<W hex digits> <letter> <printable ASCII name>\n` with the width of
    /// the first line, read without the general parser; anything else is `None` (the general
    /// parser then decides). What this accepts, `parse_line` accepts with the same result.
    #[inline]
    fn simple_line<'a>(&self, line: &'a [u8]) -> Option<Line<'a>> {
        let w = usize::from(self.digits?);
        let (kind, rest) = head(line, w)?;
        let n = name_len(rest)?;
        if n == 0 {
            return None;
        }
        // `\n` right after the name, or `\t[module]\n`.
        let module = match rest[n] {
            b'\n' if n + 1 == rest.len() => None,
            b'\t' => {
                let col = &rest[n + 1..];
                let k = name_len(col)?;
                if k < 3 || col[0] != b'[' || col[k - 1] != b']' || col[k] != b'\n' {
                    return None;
                }
                if k + 1 != col.len() {
                    return None;
                }
                Some(&col[1..k - 1])
            }
            _ => return None,
        };
        let addr = address(line, w)?;
        Some(Line {
            addr,
            digits: w as u8,
            kind,
            name: &rest[..n],
            module,
        })
    }

    fn region(&mut self, module: Option<&[u8]>) -> usize {
        if let Some(r) = self.regions.get(self.last_region)
            && r.module.as_deref() == module
        {
            return self.last_region;
        }
        let i = match self
            .regions
            .iter()
            .position(|r| r.module.as_deref() == module)
        {
            Some(i) => i,
            None => {
                self.regions.push(Region {
                    module: module.map(<[u8]>::to_vec),
                    per_query: (0..self.queries.len())
                        .map(|_| Candidates::default())
                        .collect(),
                });
                self.regions.len() - 1
            }
        };
        self.last_region = i;
        i
    }

    /// The kept lines, in file order, as a table text.
    /// The kept lines as a table text; `None` when there is nothing to answer from (no
    /// line, or every address hidden).
    fn into_table_text(self) -> Option<Vec<u8>> {
        (self.any_nonzero && self.line_no > 0).then(|| self.into_text())
    }

    /// Joins the scan of the lines that come right after this scan's in the table; `None`
    /// where the two disagree (address widths).
    fn followed_by(mut self, later: Scan<'_>) -> Option<Self> {
        if self.declined || later.declined {
            return None;
        }
        let shift = self.line_no;
        match (self.digits, later.digits) {
            (Some(a), Some(b)) if a != b => return None,
            (None, b) => self.digits = b,
            _ => {}
        }
        self.any_nonzero |= later.any_nonzero;
        if self.first.is_none() {
            self.first = later.first.map(|(n, line)| (n + shift, line));
        }
        let mut region_of = Vec::with_capacity(later.regions.len());
        for r in later.regions {
            let i = self.region(r.module.as_deref());
            region_of.push(i);
            for (mine, theirs) in self.regions[i].per_query.iter_mut().zip(r.per_query) {
                mine.followed_by(theirs, shift);
            }
        }
        let at = self.ksymtab_text.len();
        self.ksymtab_text.extend_from_slice(&later.ksymtab_text);
        self.ksymtab
            .extend(later.ksymtab.into_iter().map(|e| Export {
                line_no: e.line_no + shift,
                line: e.line.start + at..e.line.end + at,
                target: e.target.start + at..e.target.end + at,
                region: region_of[e.region],
            }));
        self.line_no += later.line_no;
        Some(self)
    }

    fn into_text(self) -> Vec<u8> {
        let mut kept: Vec<(usize, Vec<u8>)> = self.first.into_iter().collect();
        let mut names: Vec<(Option<Vec<u8>>, Vec<u8>)> = Vec::new();
        for r in &self.regions {
            for c in &r.per_query {
                for &(n, from, to) in &c.below_lines {
                    let line = c.below_text[from..to].to_vec();
                    if let Ok(Some(l)) = parse_line(&line) {
                        names.push((r.module.clone(), l.name.to_vec()));
                    }
                    kept.push((n, line));
                }
                if let Some((_, n, line)) = &c.above {
                    kept.push((*n, line.clone()));
                }
            }
        }
        for e in &self.ksymtab {
            let module = &self.regions[e.region].module;
            let target = &self.ksymtab_text[e.target.clone()];
            if names.iter().any(|(m, name)| m == module && name == target) {
                kept.push((e.line_no, self.ksymtab_text[e.line.clone()].to_vec()));
            }
        }
        kept.sort_by_key(|(n, _)| *n);
        kept.dedup_by_key(|(n, _)| *n);
        let mut text = Vec::new();
        for (_, line) in kept {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        text
    }
}

/// One pass over the whole lines of a read buffer: `Some(has_tabs)` when every byte is
/// printable ASCII, a tab or a newline (the bytes of a well-formed table) and there are
/// exactly two spaces per line (those of `<address> <type> <name>`). `newlines` receives one
/// word per 64 bytes of `text`, bit `i` set where byte `i` of that block is a newline.
fn survey(text: &[u8], newlines: &mut Vec<u64>) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the CPU has AVX2 and POPCNT (checked just above; the answer is cached).
        return unsafe { survey_avx2(text, newlines) };
    }
    survey_blocks(text, newlines)
}

/// [`survey`] one 64-byte block at a time (SSE2 on x86-64, the baseline).
fn survey_blocks(text: &[u8], newlines: &mut Vec<u64>) -> Option<bool> {
    newlines.clear();
    let (mut lines, mut spaces, mut tabs) = (0usize, 0usize, 0u64);
    let mut blocks = text.chunks_exact(64);
    let mut take = |m: Masks| {
        if m.bad != 0 {
            return false;
        }
        lines += m.newline.count_ones() as usize;
        spaces += m.space.count_ones() as usize;
        tabs |= m.tab;
        newlines.push(m.newline);
        true
    };
    for block in &mut blocks {
        if !take(masks(block.try_into().unwrap_or([0; 64]))) {
            return None;
        }
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding that is neither a newline nor a space nor a tab nor bad.
        let mut last = [b'x'; 64];
        last[..rest.len()].copy_from_slice(rest);
        if !take(masks(last)) {
            return None;
        }
    }
    (spaces == 2 * lines).then_some(tabs != 0)
}

/// [`survey`] with AVX2: 32 bytes per comparison, and only what the answer needs per block
/// (the newline mask; the bad bytes and tabs accumulated in vectors, the spaces counted).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn survey_avx2(text: &[u8], newlines: &mut Vec<u64>) -> Option<bool> {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
        _mm256_setzero_si256,
    };
    newlines.clear();
    let (mut lines, mut spaces) = (0u64, 0u64);
    let mut ok_all = _mm256_set1_epi8(-1);
    let mut tabs = _mm256_setzero_si256();
    let mut half = |lane: &[u8; 32]| {
        // SAFETY: the load reads the 32 bytes of `lane`.
        let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
        let eq = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
        let (nl, sp, tab) = (eq(b'\n'), eq(b' '), eq(b'\t'));
        // Signed: bytes 0x20..=0x7f are above 0x1f, bytes 0x80 and up are negative.
        let printable = _mm256_andnot_si256(eq(0x7f), _mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x1f)));
        ok_all = _mm256_and_si256(ok_all, _mm256_or_si256(printable, _mm256_or_si256(nl, tab)));
        tabs = _mm256_or_si256(tabs, tab);
        let (nl, sp) = (
            _mm256_movemask_epi8(nl) as u32,
            _mm256_movemask_epi8(sp) as u32,
        );
        spaces += u64::from(sp.count_ones());
        nl
    };
    let mut block64 = |block: &[u8; 64]| {
        let (a, b) = block.split_at(32);
        let lo = half(a.try_into().unwrap_or(&[0; 32]));
        let hi = half(b.try_into().unwrap_or(&[0; 32]));
        let m = u64::from(lo) | u64::from(hi) << 32;
        lines += u64::from(m.count_ones());
        newlines.push(m);
    };
    let mut blocks = text.chunks_exact(64);
    for block in &mut blocks {
        block64(block.try_into().unwrap_or(&[0; 64]));
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding that is neither a newline nor a space nor a tab nor bad.
        let mut last = [b'x'; 64];
        last[..rest.len()].copy_from_slice(rest);
        block64(&last);
    }
    if _mm256_movemask_epi8(ok_all) != -1 {
        return None;
    }
    (spaces == 2 * lines).then_some(_mm256_movemask_epi8(tabs) != 0)
}

/// The bytes of one 64-byte block that matter to [`survey`], one bit per byte.
struct Masks {
    /// Neither printable ASCII nor a tab nor a newline.
    bad: u64,
    newline: u64,
    space: u64,
    tab: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn masks(block: [u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut m = Masks {
        bad: 0,
        newline: 0,
        space: 0,
        tab: 0,
    };
    for (i, lane) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86-64 baseline; the load reads the 16 bytes of `lane`
        // (`chunks_exact(16)`).
        let (bad, nl, sp, tab) = unsafe {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let (nl, sp, tab) = (eq(b'\n'), eq(b' '), eq(b'\t'));
            // Signed: bytes 0x20..=0x7f are above 0x1f, bytes 0x80 and up are negative.
            let printable = _mm_andnot_si128(eq(0x7f), _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)));
            let ok = _mm_or_si128(printable, _mm_or_si128(nl, tab));
            (
                !_mm_movemask_epi8(ok) as u32 & 0xffff,
                _mm_movemask_epi8(nl) as u32,
                _mm_movemask_epi8(sp) as u32,
                _mm_movemask_epi8(tab) as u32,
            )
        };
        let at = 16 * i;
        m.bad |= u64::from(bad) << at;
        m.newline |= u64::from(nl) << at;
        m.space |= u64::from(sp) << at;
        m.tab |= u64::from(tab) << at;
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks(block: [u8; 64]) -> Masks {
    let mut m = Masks {
        bad: 0,
        newline: 0,
        space: 0,
        tab: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        let printable = (0x20..0x7f).contains(&b);
        m.bad |= u64::from(!printable && b != b'\n' && b != b'\t') << i;
        m.newline |= u64::from(b == b'\n') << i;
        m.space |= u64::from(b == b' ') << i;
        m.tab |= u64::from(b == b'\t') << i;
    }
    m
}

/// The type letter and the rest of a line `<w hex digits> <letter> <rest>`: the two spaces where
/// the common shape has them and an ASCII letter between.
#[inline]
fn head(line: &[u8], w: usize) -> Option<(u8, &[u8])> {
    if line.len() < w + 4 || line[w] != b' ' || line[w + 2] != b' ' {
        return None;
    }
    let kind = line[w + 1];
    is_type(kind).then(|| (kind, &line[w + 3..]))
}

/// The address in a line's first `w` bytes (hex digits, checked).
#[inline]
fn address(line: &[u8], w: usize) -> Option<u64> {
    if w == 16
        && let Some(head) = line.first_chunk::<16>()
    {
        return hex_prefix::<16>(*head);
    }
    let mut chunk = [b'0'; 16];
    let k = line.len().min(16);
    chunk[..k].copy_from_slice(&line[..k]);
    match w {
        16 => hex_prefix::<16>(chunk),
        8 => hex_prefix::<8>(chunk),
        _ => parse_hex(line.get(..w)?),
    }
}

/// A line (without its newline) of text [`survey`] vouched for, in the common shape as
/// [`Scan::simple_line`] reads it: `<w hex digits> <letter> <name>`, then `\t[module]` when
/// `tabs` says the buffer has any. `None`: any other shape.
#[inline]
fn clean_line(line: &[u8], w: usize, tabs: bool) -> Option<Line<'_>> {
    let (kind, rest) = head(line, w)?;
    // In vetted text the only byte `name_len` stops at is a tab.
    let (name, module) = match tabs.then(|| name_len(rest)).flatten() {
        None => (rest, None),
        Some(i) => {
            let col = &rest[i + 1..];
            let k = col.len();
            if k < 3 || col[0] != b'[' || col[k - 1] != b']' || memchr(b'\t', col).is_some() {
                return None;
            }
            (&rest[..i], Some(&col[1..k - 1]))
        }
    };
    if name.is_empty() {
        return None;
    }
    let addr = address(line, w)?;
    Some(Line {
        addr,
        digits: w as u8,
        kind,
        name,
        module,
    })
}

impl Ksyms {
    /// A table that answers [`Ksyms::lookup`] for each of `addrs` exactly as the whole table
    /// at `path` would (with [`Ksyms::is_exported`] for the answers), built from only the
    /// lines that matter: one pass, no index of the rest. `None` when the whole table is
    /// needed to answer right or to report a problem (unreadable or not a regular file, a
    /// malformed or unusual line, hidden addresses): load it with [`Ksyms::from_path_with`]
    /// then. Other queries (names, statistics, searches) on the result are not meaningful.
    pub fn for_addresses(path: impl AsRef<Path>, addrs: &[u64]) -> Option<Ksyms> {
        for_addresses_split(path.as_ref(), addrs, SPLIT_MIN)
    }

    /// [`Ksyms::for_addresses`] over a table held in memory.
    pub fn parse_for_addresses(bytes: &[u8], addrs: &[u64]) -> Option<Ksyms> {
        if bytes.len() as u64 > MAX_FILE {
            return None;
        }
        let text = scan(&mut &bytes[..], addrs)?.into_table_text()?;
        Ksyms::parse_named(&text, "<memory>", &LoadOptions::default()).ok()
    }
}

/// [`Ksyms::for_addresses`], on two threads for files of at least `split_min` bytes.
fn for_addresses_split(path: &Path, addrs: &[u64], split_min: u64) -> Option<Ksyms> {
    let mut f = File::open(path).ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let size = meta.len();
    // Asked only for large files.
    let split = if size >= split_min && more_than_one_cpu() {
        line_start_after(&f, size / 2, size)
    } else {
        None
    };
    let s = match split {
        Some(mid) => {
            let (first, second) = std::thread::scope(|sc| {
                let later = sc.spawn(|| scan(&mut At::new(&f, mid, size), addrs));
                let first = scan(&mut At::new(&f, 0, mid), addrs);
                (first, later.join().ok().flatten())
            });
            first?.followed_by(second?)?
        }
        None => scan(&mut f, addrs)?,
    };
    let text = s.into_table_text()?;
    Ksyms::parse_named(&text, &path.display().to_string(), &LoadOptions::default()).ok()
}

/// Whether this thread may run on more than one CPU: one `sched_getaffinity` call (what
/// `available_parallelism` does first, before it reads cgroup files for a CPU quota; a quota
/// does not make a second thread wrong, only not faster).
fn more_than_one_cpu() -> bool {
    rustix::thread::sched_getaffinity(None).is_ok_and(|set| set.count() > 1)
}

/// Reads `input` in chunks, feeding whole lines to a [`Scan`].
fn scan<'q>(input: &mut impl Read, addrs: &'q [u64]) -> Option<Scan<'q>> {
    let mut s = Scan::new(addrs);
    let mut buf = vec![0u8; CHUNK];
    let mut newlines = Vec::with_capacity(CHUNK / 64 + 1);
    let mut have = 0;
    loop {
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the buffer
        }
        let n = match input.read(&mut buf[have..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        let end = have + n;
        let mut start = 0;
        let whole = memrchr(b'\n', &buf[..end]).map_or(0, |i| i + 1);
        // The first line sets the address width the fast path needs.
        while s.digits.is_none() && start < whole {
            let i = start + memchr(b'\n', &buf[start..whole]).map_or(0, |i| i + 1);
            if !s.line(&buf[start..i], start) {
                return None;
            }
            start = i;
        }
        if let Some(tabs) = survey(&buf[start..whole], &mut newlines) {
            start += s.run_simple(&buf[start..whole], start, tabs, &newlines);
            if s.declined {
                return None;
            }
        }
        while start < end {
            if let Some(len) = s.next_simple(&buf[start..end], start) {
                if s.declined {
                    return None;
                }
                start += len;
                continue;
            }
            let Some(i) = memchr(b'\n', &buf[start..end]) else {
                break;
            };
            if !s.line(&buf[start..start + i + 1], start) {
                return None;
            }
            start += i + 1;
        }
        if n == 0 {
            if start < end && !s.line(&buf[start..end], start) {
                return None;
            }
            s.flush(&buf[..end]);
            break;
        }
        s.flush(&buf[..end]);
        buf.copy_within(start..end, 0);
        have = end - start;
    }
    Some(s)
}

/// The offset just past the first newline at or after `at - 1` (the start of the first line
/// that starts at or after `at`), when it lies within 64 KiB and before `size`.
fn line_start_after(f: &File, at: u64, size: u64) -> Option<u64> {
    let mut window = vec![0u8; 64 << 10];
    let from = at.checked_sub(1)?;
    let n = f.read_at(&mut window, from).ok()?;
    let i = memchr(b'\n', &window[..n])?;
    let start = from + i as u64 + 1;
    (start < size).then_some(start)
}

/// A range of a file, read with `pread` (two threads read one file).
struct At<'f> {
    f: &'f File,
    pos: u64,
    end: u64,
}

impl<'f> At<'f> {
    fn new(f: &'f File, pos: u64, end: u64) -> At<'f> {
        At { f, pos, end }
    }
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.end - self.pos).unwrap_or(usize::MAX));
        let n = self.f.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(queries: &[u64]) -> Scan<'_> {
        Scan::new(queries)
    }

    /// Two halves on two threads answer like the whole table, wherever the halves meet
    /// (real tables: 8- and 16-digit addresses, modules, aliases, `__ksymtab_` entries).
    #[test]
    fn halves_on_two_threads_answer_like_the_whole_table() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        for path in [
            dir.join("../../../shared/fixtures/kallsyms/arm32-distro-with-modules.kallsyms"),
            dir.join("tests/fixtures/x86_64-6.12-modules.kallsyms"),
            dir.join("tests/fixtures/modules-x86_64.kallsyms"),
        ] {
            assert!(path.exists(), "fixture missing: {}", path.display());
            let whole = Ksyms::from_path(&path).unwrap();
            let addrs: Vec<u64> = whole
                .symbols()
                .step_by((whole.len() / 100).max(1))
                .flat_map(|s| [s.addr, s.addr + 1, s.addr.saturating_sub(1)])
                .collect();
            for batch in addrs.chunks(5) {
                let halves = for_addresses_split(&path, batch, 0)
                    .unwrap_or_else(|| panic!("{} declined", path.display()));
                for &q in batch {
                    let want = whole
                        .lookup(q)
                        .map(|r| (r.to_string(), whole.is_exported(&r.symbol)));
                    let got = halves
                        .lookup(q)
                        .map(|r| (r.to_string(), halves.is_exported(&r.symbol)));
                    assert_eq!(got, want, "{} at {q:#x}", path.display());
                }
            }
        }
    }

    /// The AVX2 survey answers as the baseline one, newline marks included: clean text,
    /// every kind of byte it must refuse, tabs, text of every length around the block size.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_survey_answers_as_the_baseline_one() {
        if !(std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt"))
        {
            eprintln!("NOT RUN: this CPU has no AVX2/POPCNT, the AVX2 survey cannot run");
            return;
        }
        let table = crate::load::tests::table(40);
        let clean = table.as_bytes();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for len in (0..200).chain([clean.len() - 1, clean.len()]) {
            cases.push(clean[..len.min(clean.len())].to_vec());
        }
        for (at, b) in [
            (5, 0u8),
            (70, 0x7f),
            (100, 0x80),
            (130, 0xff),
            (64, b'\r'),
            (200, 0x1f),
        ] {
            let mut t = clean.to_vec();
            t[at] = b;
            cases.push(t);
        }
        let mut tabbed = clean.to_vec();
        tabbed.splice(90..90, *b"\t[m]");
        cases.push(tabbed);
        let mut spaced = clean.to_vec();
        spaced[300] = b' ';
        cases.push(spaced);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for t in &cases {
            // SAFETY: AVX2 and POPCNT are present (checked above).
            let fast = unsafe { survey_avx2(t, &mut a) };
            let base = survey_blocks(t, &mut b);
            assert_eq!(fast, base, "{:?}", String::from_utf8_lossy(t));
            if base.is_some() {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn the_common_shape_skips_the_general_parser_with_the_same_result() {
        let mut s = scan_of(&[]);
        assert!(
            s.simple_line(b"ffffffff81000000 T _stext\n").is_none(),
            "width unknown"
        );
        s.digits = Some(16);
        for line in [
            &b"ffffffff81000000 T _stext\n"[..],
            b"ffffffff8110a0d0 t a_name_longer_than_sixteen_bytes\n",
        ] {
            let fast = s.simple_line(line).expect("the common shape");
            let slow = parse_line(&line[..line.len() - 1]).unwrap().unwrap();
            assert_eq!(
                (fast.addr, fast.kind, fast.name, fast.module, fast.digits),
                (slow.addr, slow.kind, slow.name, slow.module, slow.digits)
            );
        }
        let fast = s
            .simple_line(b"ffffffffc0002000 t ext4_probe\t[ext4]\n")
            .unwrap();
        assert_eq!(
            (fast.name, fast.module),
            (&b"ext4_probe"[..], Some(&b"ext4"[..]))
        );
        for other in [
            &b"ffffffff81000000 T _stext\t[]\n"[..],
            b"ffffffff81000000 T _stext\t[m] x\n",
            b"ffffffff81000000 T _stext\t[m\n",
            b"ffffffff81000000 T _stext\t\t[m]\n",
            b"ffffffff81000000 T _stext\r\n",
            b"ffffffff81000000 T _st\xc3\xa9xt\n",
            b"ffffffff8100000 T short\n",
            b"ffffffff81000000 T _stext",
            b"ffffffff81000000 T \n",
        ] {
            assert!(
                s.simple_line(other).is_none(),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }
}

//! The scan over a table's lines: what it keeps per region and query, and how each line
//! changes it.

use super::exports::{Export, name_hash};
use super::vet::{address, clean_line, head};
use super::{KSYMTAB, MAX_NAME};
use crate::parse::{Line, is_mapping_symbol, name_len, parse_line};

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

struct Region {
    module: Option<Vec<u8>>,
    per_query: Vec<Candidates>,
}

/// The scan over a table's lines.
pub(super) struct Scan<'q> {
    queries: &'q [u64],
    regions: Vec<Region>,
    /// Region of the previous line (tables group lines by module).
    last_region: usize,
    /// Where the `__ksymtab_` lines are.
    ksymtab: Vec<Export>,
    /// Offset in the input of the read buffer's first byte (set by the reading loop).
    pub(super) origin: u64,
    /// The first line with an address: a table needs one that is not hidden, and any line of
    /// the table leaves the answers alone (they depend only on the kept nearest lines, which
    /// no other line beats).
    first: Option<(usize, Vec<u8>)>,
    pub(super) digits: Option<u8>,
    /// A line the fast path took turned out to need the full loader.
    pub(super) declined: bool,
    any_nonzero: bool,
    line_no: usize,
    /// Per query, the addresses `lo..=hi` a line of region `last_region` must have to change
    /// that query's candidates (kept by [`Scan::parsed`]): any other line only needs checking.
    window: Vec<(u64, u64)>,
    /// The region [`Scan::window`] was computed for.
    window_of: usize,
}

impl<'q> Scan<'q> {
    pub(super) fn new(queries: &'q [u64]) -> Scan<'q> {
        Scan {
            queries,
            regions: Vec::new(),
            last_region: 0,
            ksymtab: Vec::new(),
            origin: 0,
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
    pub(super) fn line(&mut self, with_newline: &[u8], at: usize) -> bool {
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
    pub(super) fn next_simple(&mut self, text: &[u8], at: usize) -> Option<usize> {
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
        if let Some(target) = l.name.strip_prefix(KSYMTAB) {
            let region = self.region(l.module);
            if !self.export(target, bytes, at, self.line_no, region) {
                return false;
            }
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

    /// Notes the `__ksymtab_` line number `line_no` of `len` bytes found at `at` in the read
    /// buffer, which exports `target` in `region`. `false`: beyond the records' limits.
    #[inline]
    fn export(
        &mut self,
        target: &[u8],
        line: &[u8],
        at: usize,
        line_no: usize,
        region: usize,
    ) -> bool {
        let (Ok(at), Ok(len), Ok(line_no), Ok(region)) = (
            u32::try_from(self.origin + at as u64),
            u16::try_from(line.len()),
            u32::try_from(line_no),
            u16::try_from(region),
        ) else {
            return false;
        };
        self.ksymtab.push(Export {
            hash: name_hash(target),
            line_hash: name_hash(line),
            at,
            len,
            line_no,
            region,
        });
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
    /// kinds most lines are, and taken: a line that leaves the candidates as they are (a
    /// nonzero address outside the window of its region, which is the previous line's; a
    /// `__ksymtab_` line is noted), or an eligible line at or above the nearest address so far
    /// at or below the query (while a table climbs towards the query, nearly every line is).
    /// `false`: nothing done, [`Scan::parsed`] takes it.
    #[inline(always)]
    fn hot_line(&mut self, h: &mut Hot, l: &Line<'_>, line: &[u8], tabs: bool, at: usize) -> bool {
        let len = line.len();
        let module_ok = if tabs {
            self.regions
                .get(h.region)
                .is_some_and(|r| r.module.as_deref() == l.module)
        } else {
            h.module_none
        };
        if !(l.addr != 0 && module_ok && l.name.len() <= MAX_NAME) {
            return false;
        }
        let target = l.name.strip_prefix(KSYMTAB);
        if l.addr < h.lo || l.addr > h.hi {
            if let Some(t) = target
                && !self.export(t, line, at, self.line_no + 1, h.region)
            {
                return false;
            }
            self.line_no += 1;
            return true;
        }
        if target.is_some() || l.addr > h.q || l.kind | 0x20 == b'a' || is_mapping_symbol(l.name) {
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
    pub(super) fn flush(&mut self, buf: &[u8]) {
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
    /// [`survey`](super::vet::survey) found clean with exactly two spaces per line and whose
    /// newlines it marked in `newlines` (bit `i` of word `k`: byte `64 * k + i`): a line with
    /// its spaces where the common shape has them therefore has no other, and its name runs to
    /// the tab or the line's end. The bytes consumed; `declined` is set when a line has
    /// another shape (the count no longer vouches for the lines already taken: the full loader
    /// decides).
    pub(super) fn run_simple(
        &mut self,
        text: &[u8],
        base: usize,
        tabs: bool,
        newlines: &[u64],
    ) -> usize {
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
                    if self.hot_line(h, &l, line, tabs, at) {
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

    /// The kept lines, in file order, as a table text; `None` when there is nothing to answer
    /// from (no line, or every address hidden), or when `read(at, len)`, which gives the
    /// `len` bytes at offset `at` of the input, fails.
    pub(super) fn into_table_text(
        self,
        read: impl FnMut(u64, usize) -> Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        if !(self.any_nonzero && self.line_no > 0) {
            return None;
        }
        self.into_text(read)
    }

    /// Joins the scan of the lines that come right after this scan's in the table; `None`
    /// where the two disagree (address widths).
    pub(super) fn followed_by(mut self, later: Scan<'_>) -> Option<Self> {
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
        let mut later_ksymtab = later.ksymtab;
        let shift32 = u32::try_from(shift).ok()?;
        for e in &mut later_ksymtab {
            e.line_no = e.line_no.checked_add(shift32)?;
            e.region = u16::try_from(region_of[usize::from(e.region)]).ok()?;
        }
        if self.ksymtab.is_empty() {
            self.ksymtab = later_ksymtab;
        } else {
            self.ksymtab.append(&mut later_ksymtab);
        }
        self.line_no += later.line_no;
        Some(self)
    }

    fn into_text(self, mut read: impl FnMut(u64, usize) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
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
        let hashes: Vec<u32> = names.iter().map(|(_, name)| name_hash(name)).collect();
        for e in &self.ksymtab {
            let module = &self.regions[usize::from(e.region)].module;
            let maybe = names
                .iter()
                .zip(&hashes)
                .any(|((m, _), &h)| h == e.hash && m == module);
            if !maybe {
                continue;
            }
            // Read again and checked: the line scanned (as far as its hash tells), and the same
            // name, not only the same hash.
            let line = read(u64::from(e.at), usize::from(e.len))?;
            if name_hash(&line) != e.line_hash {
                return None;
            }
            let Ok(Some(l)) = parse_line(&line) else {
                return None;
            };
            let target = l.name.strip_prefix(KSYMTAB)?;
            if l.module != module.as_deref() {
                return None;
            }
            if names.iter().any(|(m, name)| m == module && name == target) {
                kept.push((e.line_no as usize, line));
            }
        }
        kept.sort_by_key(|(n, _)| *n);
        kept.dedup_by_key(|(n, _)| *n);
        let mut text = Vec::new();
        for (_, line) in kept {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(queries: &[u64]) -> Scan<'_> {
        Scan::new(queries)
    }

    /// A `__ksymtab_` line whose name's hash matches a candidate is read again and kept; a
    /// line read back other than the one scanned (a file changed in place) or a read that
    /// fails declines. Records stay 20 bytes.
    #[test]
    fn ksymtab_lines_are_read_again_and_checked_by_name() {
        let text =
            b"ffffffff81000000 T foo\nffffffff81000100 T bar\nffffffff82000000 r __ksymtab_foo\n";
        let q = [0xffff_ffff_8100_0010];
        let scan = || {
            let mut s = scan_of(&q);
            let mut at = 0;
            for line in text.split_inclusive(|&b| b == b'\n') {
                assert!(s.line(line, at));
                at += line.len();
            }
            s.flush(text);
            s
        };
        let same = |at: u64, len: usize| Some(text[at as usize..][..len].to_vec());
        let kept = scan().into_table_text(same).unwrap();
        assert_eq!(kept, text.to_vec(), "foo, the line above, foo's export");
        let other = |_: u64, _: usize| Some(b"ffffffff82000000 r __ksymtab_bar".to_vec());
        assert!(scan().into_table_text(other).is_none());
        assert!(scan().into_table_text(|_, _| None).is_none());
        assert_eq!(size_of::<Export>(), 20);
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

//! Answering a few address lookups from a table file without indexing all of it.
//!
//! One pass over the file keeps, per region and per queried address, the lines that can take
//! part in the answer (every eligible alias at the nearest address at or below, one line at the
//! next eligible address above, and where the `__ksymtab_` lines are), then indexes only
//! those, with the few `__ksymtab_` lines of the candidates read again: the answers are the
//! full table's (a property test checks it), for a fraction of the work and memory. Any line
//! the fast path is not sure about, or a `__ksymtab_` line that is not the same when read
//! again, sends the caller back to the full loader, which reports it with its line number.

mod exports;
mod scan;
mod vet;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use memchr::{memchr, memrchr};

use crate::table::{Ksyms, LoadOptions};

use scan::Scan;
use vet::survey;

const KSYMTAB: &[u8] = b"__ksymtab_";
const CHUNK: usize = 64 << 10;
/// Files at least this large are scanned in two halves on two threads (each reads its own).
const SPLIT_MIN: u64 = 2 << 20;
/// The full loader's limits: beyond them it reports an error, so the fast path steps aside.
const MAX_NAME: usize = (1 << 14) - 1;
const MAX_FILE: u64 = u32::MAX as u64 / 2;

impl Ksyms {
    /// A table that answers [`Ksyms::lookup`] for each of `addrs` exactly as the whole table
    /// at `path` would (with [`Ksyms::is_exported`] for the answers), built from only the
    /// lines that matter: one pass (and a read of the few `__ksymtab_` lines of the answers'
    /// names), no index of the rest. `None` when the whole table is needed to answer right or
    /// to report a problem (unreadable or not a regular file, a malformed or unusual line,
    /// hidden addresses, a `__ksymtab_` line read again that changed): load it with
    /// [`Ksyms::from_path_with`] then. Other queries (names, statistics, searches) on the
    /// result are not meaningful.
    pub fn for_addresses(path: impl AsRef<Path>, addrs: &[u64]) -> Option<Ksyms> {
        for_addresses_split(path.as_ref(), addrs, SPLIT_MIN)
    }

    /// [`Ksyms::for_addresses`] over a table held in memory.
    pub fn parse_for_addresses(bytes: &[u8], addrs: &[u64]) -> Option<Ksyms> {
        if bytes.len() as u64 > MAX_FILE {
            return None;
        }
        let text = scan(&mut &bytes[..], 0, addrs)?.into_table_text(|at, len| {
            bytes
                .get(usize::try_from(at).ok()?..)?
                .get(..len)
                .map(<[u8]>::to_vec)
        })?;
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
                let later = sc.spawn(|| scan(&mut At::new(&f, mid, size), mid, addrs));
                let first = scan(&mut At::new(&f, 0, mid), 0, addrs);
                (first, later.join().ok().flatten())
            });
            first?.followed_by(second?)?
        }
        None => scan(&mut f, 0, addrs)?,
    };
    let text = s.into_table_text(|at, len| {
        let mut line = vec![0; len];
        f.read_exact_at(&mut line, at).ok()?;
        Some(line)
    })?;
    Ksyms::parse_named(&text, &path.display().to_string(), &LoadOptions::default()).ok()
}

/// Whether this thread may run on more than one CPU: one `sched_getaffinity` call (what
/// `available_parallelism` does first, before it reads cgroup files for a CPU quota; a quota
/// does not make a second thread wrong, only not faster).
fn more_than_one_cpu() -> bool {
    rustix::thread::sched_getaffinity(None).is_ok_and(|set| set.count() > 1)
}

/// Reads `input`, which starts at offset `origin` of the table, in chunks, feeding whole
/// lines to a [`Scan`].
fn scan<'q>(input: &mut impl Read, origin: u64, addrs: &'q [u64]) -> Option<Scan<'q>> {
    let mut s = Scan::new(addrs);
    s.origin = origin;
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
        s.origin += start as u64;
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
}

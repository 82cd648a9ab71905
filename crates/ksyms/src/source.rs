//! Where a table's bytes come from: a regular file read in ranges (one per thread), mapped
//! (only when the caller vouches the file will not change), or a file generated on the fly
//! (procfs) streamed by a reader thread while the parser works.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;

use memchr::{memchr, memrchr};

use crate::error::{Error, Result};
use crate::load::{BadLine, Columns, PARALLEL_MIN, parse_split};

/// Each thread's read buffer for regular files: stays in the L2 cache while it is parsed.
const STREAM_CHUNK: usize = 256 << 10;
/// Read size for files generated on the fly (procfs): two 512 KiB buffers, one being filled
/// while the other is parsed, fault in as many pages as a plain reader's one 1 MiB buffer.
const PROC_CHUNK: usize = 512 << 10;
/// Buffers in flight between the reader thread and the parser.
const PROC_BUFFERS: usize = 2;
/// Each thread reading a regular file gets at least this much of it.
const RANGE_MIN: usize = 2 << 20;

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
    use crate::load::parse_buffer;
    use crate::load::tests::table;

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

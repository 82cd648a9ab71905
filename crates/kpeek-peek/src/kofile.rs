//! A module's `.ko` file as distributions install it: plain, or compressed whole with xz
//! (`.ko.xz`, Debian's and Fedora's choice), zstd (`.ko.zst`) or gzip (`.ko.gz`). The kind is
//! told by the file's magic bytes, not its name; decompression is in memory, by pure-Rust
//! decoders (`lzma-rs`, `ruzstd`, `flate2` over `miniz_oxide`).

use std::io::Read;
use std::path::Path;

use crate::error::{Error, FormatFault};

/// The compressions a `.ko` may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// xz (`FD 37 7A 58 5A 00`).
    Xz,
    /// zstd (`28 B5 2F FD`).
    Zstd,
    /// gzip (`1F 8B`).
    Gzip,
}

/// Largest decompressed module accepted (a module with full DWARF is tens of MiB at most).
pub const MAX_KO: u64 = 1 << 30;

/// Largest ratio of decompressed to compressed size accepted (modules with DWARF compress a few
/// times over; far more is a corrupt or hostile file, a "decompression bomb").
pub const MAX_RATIO: u64 = 64;

/// The most bytes `compressed` bytes may decompress to: [`MAX_RATIO`] times as many, at most
/// [`MAX_KO`].
pub fn decompressed_cap(compressed: usize) -> u64 {
    (compressed as u64).saturating_mul(MAX_RATIO).min(MAX_KO)
}

/// A writer that refuses to grow past `cap` bytes (for decoders that push their output).
struct Capped {
    out: Vec<u8>,
    cap: u64,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() as u64 + buf.len() as u64 > self.cap {
            self.over = true;
            return Err(std::io::Error::other("decompressed size cap reached"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The file name endings a module may have in `modules.dep`.
pub const KO_SUFFIXES: [&str; 4] = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// Which compression `bytes` start with.
pub fn compression(bytes: &[u8]) -> Compression {
    if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else {
        Compression::None
    }
}

/// The decompressed contents of `bytes` (`None` when they are not compressed), refused past
/// [`decompressed_cap`] of their size.
pub fn decompress(bytes: &[u8], path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let bad = |method: &'static str, e: Box<dyn std::error::Error + Send + Sync>| Error::Format {
        path: path.to_path_buf(),
        fault: FormatFault::Decompress { method, source: e },
    };
    let cap = decompressed_cap(bytes.len());
    let too_big = || Error::Format {
        path: path.to_path_buf(),
        fault: FormatFault::TooBig {
            cap,
            ratio: MAX_RATIO,
            len: bytes.len(),
            max: MAX_KO,
        },
    };
    let mut out = Vec::new();
    match compression(bytes) {
        Compression::None => return Ok(None),
        Compression::Xz => {
            let mut input = std::io::BufReader::new(bytes);
            let mut w = Capped {
                out: Vec::new(),
                cap,
                over: false,
            };
            match lzma_rs::xz_decompress(&mut input, &mut w) {
                Ok(()) => out = w.out,
                Err(_) if w.over => return Err(too_big()),
                Err(e) => return Err(bad("xz", e.into())),
            }
        }
        Compression::Zstd => {
            let dec = ruzstd::decoding::StreamingDecoder::new(bytes)
                .map_err(|e| bad("zstd", e.into()))?;
            dec.take(cap + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad("zstd", e.into()))?;
        }
        Compression::Gzip => {
            flate2::read::GzDecoder::new(bytes)
                .take(cap + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad("gzip", e.into()))?;
        }
    }
    if out.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_tell_the_kind() {
        assert_eq!(compression(b"\x7fELF\x02"), Compression::None);
        assert_eq!(
            compression(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Compression::Xz
        );
        assert_eq!(compression(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(compression(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(compression(&[]), Compression::None);
    }

    /// xz as distributions compress modules (the `xz` tool of xz-utils, which scripts/setup
    /// installs: lzma-rs's own encoder does not compress).
    fn xz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut c = std::process::Command::new("xz")
            .args(["-c", "--check=crc32"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("xz (xz-utils, installed by scripts/setup) is needed for this test");
        let mut stdin = c.stdin.take().unwrap();
        let data = data.to_vec();
        let feed = std::thread::spawn(move || stdin.write_all(&data).unwrap());
        let out = c.wait_with_output().unwrap();
        feed.join().unwrap();
        assert!(out.status.success(), "xz failed");
        out.stdout
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zst(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn the_cap_is_64_times_the_compressed_size_at_most_1_gib() {
        assert_eq!(decompressed_cap(1000), 64_000);
        assert_eq!(decompressed_cap(1 << 30), MAX_KO);
        assert_eq!(decompressed_cap(usize::MAX), MAX_KO);
    }

    #[test]
    fn ordinary_data_decompresses_and_a_bomb_is_refused_naming_the_file() {
        // Text-like data compresses a few times over: within the cap.
        let ordinary: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("sym_{} ", i.wrapping_mul(2_654_435_761) % 9973).into_bytes())
            .collect();
        // 4 MiB of zeros compresses by far more than 64 times.
        let bomb = vec![0u8; 4 << 20];
        for (kind, pack) in [
            ("xz", xz as fn(&[u8]) -> Vec<u8>),
            ("gzip", gz),
            ("zstd", zst),
        ] {
            let c = pack(&ordinary);
            assert!(
                (c.len() as u64) * MAX_RATIO > ordinary.len() as u64,
                "{kind}: test data"
            );
            let got = decompress(&c, Path::new("m.ko.x")).unwrap().unwrap();
            assert!(got == ordinary, "{kind}: round trip");
            let c = pack(&bomb);
            let e = match decompress(&c, Path::new("bomb.ko.x")) {
                Err(e) => e.to_string(),
                Ok(got) => panic!(
                    "{kind}: a 4 MiB bomb of {} bytes decompressed ({:?} bytes)",
                    c.len(),
                    got.map(|v| v.len())
                ),
            };
            assert!(
                e.contains("bomb.ko.x") && e.contains("decompresses to more than"),
                "{kind}: {e}"
            );
        }
    }

    #[test]
    fn damaged_streams_are_errors_naming_the_file() {
        for bytes in [
            &[0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2][..],
            &[0x28, 0xb5, 0x2f, 0xfd, 9, 9, 9][..],
            &[0x1f, 0x8b, 8, 0, 0][..],
        ] {
            let e = decompress(bytes, Path::new("m.ko.x"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("m.ko.x") && e.contains("cannot decompress"),
                "{e}"
            );
        }
    }
}

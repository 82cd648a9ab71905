//! A module's `.ko` file as distributions install it: plain, or compressed whole with xz
//! (`.ko.xz`, Debian's and Fedora's choice), zstd (`.ko.zst`) or gzip (`.ko.gz`). The kind is
//! told by the file's magic bytes, not its name; decompression is in memory, by pure-Rust
//! decoders (`lzma-rs`, `ruzstd`, `flate2` over `miniz_oxide`).

use std::io::Read;
use std::path::Path;

use crate::error::Error;

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

/// The decompressed contents of `bytes` (`None` when they are not compressed).
pub fn decompress(bytes: &[u8], path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::Format {
        path: path.to_path_buf(),
        msg: format!("cannot decompress ({what}): {e}"),
    };
    let mut out = Vec::new();
    let too_big = |n: usize| n as u64 > MAX_KO;
    match compression(bytes) {
        Compression::None => return Ok(None),
        Compression::Xz => {
            let mut input = std::io::BufReader::new(bytes);
            lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| bad("xz", &e))?;
        }
        Compression::Zstd => {
            let dec =
                ruzstd::decoding::StreamingDecoder::new(bytes).map_err(|e| bad("zstd", &e))?;
            dec.take(MAX_KO + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad("zstd", &e))?;
        }
        Compression::Gzip => {
            flate2::read::GzDecoder::new(bytes)
                .take(MAX_KO + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad("gzip", &e))?;
        }
    }
    if too_big(out.len()) {
        return Err(bad("size", &format!("more than {MAX_KO} bytes")));
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

//! Small file helpers shared by the channels: reading pseudo-files whole, listing directories,
//! writing attributes in one `write()`, and turning OS errors into [`Error`]s.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::error::Error;

/// Read a pseudo-file to its end (seq_file hands out a page or more per `read()`).
pub(crate) fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    fs::File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// One directory entry: its name and whether it is a directory.
pub(crate) struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// The entries of `dir`, sorted by name. Names that are not UTF-8 are kept lossily (they cannot
/// be kpeek names and show up as such in checks).
pub(crate) fn list(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        let is_dir = match ent.file_type() {
            Ok(t) => t.is_dir(),
            // Gone between readdir and stat: the caller treats it like any vanished object.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.push(Entry {
            name: ent.file_name().to_string_lossy().into_owned(),
            is_dir,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    // A directory read while siblings are removed may return an entry twice (kernfs resumes a
    // getdents() from a hash position); one name is one object.
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// True when `err` says the object went away: ENOENT at open, or ENODEV from an attribute whose
/// kernel object was removed while the file was open.
pub(crate) fn vanished(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(19)
}

/// Write `data` to an existing attribute file in a single `write()`, as sysfs and configfs
/// expect (a store sees the whole value at once).
pub(crate) fn write_attr(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    let n = f.write(data)?;
    if n != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {n} of {} bytes accepted", data.len()),
        ));
    }
    Ok(())
}

/// True when `dir` is a directory with nothing in it (an unmounted mount point), false when it
/// has entries, `None` when it is missing or unreadable.
pub(crate) fn is_empty_dir(dir: &Path) -> Option<bool> {
    fs::read_dir(dir).ok().map(|mut d| d.next().is_none())
}

/// True when running as root (permission messages differ).
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Turn a read failure into an [`Error`], explaining permission errors.
pub(crate) fn read_error(path: &Path, err: io::Error, why_root: &'static str) -> Error {
    if matches!(err.raw_os_error(), Some(1 | 13)) {
        return Error::PermissionDenied {
            op: "reading",
            path: path.to_path_buf(),
            why: why_root,
        };
    }
    Error::Io {
        op: "reading",
        path: path.to_path_buf(),
        error: err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vanished_means_enoent_or_enodev() {
        assert!(vanished(&io::Error::from_raw_os_error(2)));
        assert!(vanished(&io::Error::from_raw_os_error(19)));
        assert!(!vanished(&io::Error::from_raw_os_error(13)));
        assert!(!vanished(&io::Error::from_raw_os_error(22)));
    }
}

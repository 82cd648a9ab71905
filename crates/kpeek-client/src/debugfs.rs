//! `/sys/kernel/debug/kpeek` (kmod/kpeek_debugfs.c): internals for debugging only — `stats`
//! holds `key value` lines (live groups and counters, how many came from the API and from
//! configfs, bytes allocated, ...), `counters` every counter as `<group> <counter> <value>` lines
//! like /proc/kpeek (the debugfs counter channel). Nothing user-facing depends on it; debugfs is
//! root-only.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::procfs::parse_u64;
use crate::pseudofile;
use crate::{Channel, CounterSource, CounterValue, Snapshot, SysRoot};

/// One `key value` line of `stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The key (one word).
    pub key: String,
    /// The value as written; most are decimal numbers.
    pub value: String,
}

impl Stat {
    /// The value as a number, when it is one.
    pub fn as_u64(&self) -> Option<u64> {
        parse_u64(&self.value)
    }
}

/// Why [`parse_stats`] refuses a `stats` file; [`StatsError::line`] says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// The bytes are not UTF-8.
    #[error("not UTF-8: {0}")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// The last line has no newline.
    #[error("last line has no newline (torn read?)")]
    Unterminated {
        /// Its number (from 1).
        line: usize,
    },
    /// A line without a space.
    #[error("{text:?} is not `key value`")]
    NotKeyValue {
        /// Its number (from 1).
        line: usize,
        /// The line.
        text: String,
    },
    /// An empty key or one with other than printable ASCII.
    #[error("{text:?}: key {key:?} is not one printable word")]
    BadKey {
        /// Its number (from 1).
        line: usize,
        /// The line.
        text: String,
        /// The key.
        key: String,
    },
    /// Nothing after the space.
    #[error("{text:?}: key {key:?} has no value")]
    NoValue {
        /// Its number (from 1).
        line: usize,
        /// The line.
        text: String,
        /// The key.
        key: String,
    },
    /// A value with other than printable ASCII and spaces.
    #[error("{text:?}: value of {key:?} is not printable text")]
    BadValue {
        /// Its number (from 1).
        line: usize,
        /// The line.
        text: String,
        /// The key.
        key: String,
    },
    /// A key seen on an earlier line.
    #[error("key {key:?} appears twice")]
    Duplicate {
        /// Its number (from 1).
        line: usize,
        /// The key.
        key: String,
    },
}

impl StatsError {
    /// The line the problem is on (from 1; 0 for the whole file).
    pub fn line(&self) -> usize {
        match self {
            StatsError::NotUtf8(_) => 0,
            StatsError::Unterminated { line }
            | StatsError::NotKeyValue { line, .. }
            | StatsError::BadKey { line, .. }
            | StatsError::NoValue { line, .. }
            | StatsError::BadValue { line, .. }
            | StatsError::Duplicate { line, .. } => *line,
        }
    }
}

/// Parse `stats`: lines of `key value` (one word, one space, the rest of the line as the value),
/// each ending in a newline; keys appear once. Order is kept.
pub fn parse_stats(text: &[u8]) -> Result<Vec<Stat>, StatsError> {
    let text = std::str::from_utf8(text).map_err(StatsError::NotUtf8)?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(StatsError::Unterminated {
            line: text.lines().count(),
        });
    }
    let mut out: Vec<Stat> = Vec::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    for (i, line) in body.split('\n').enumerate().filter(|_| !text.is_empty()) {
        let n = i + 1;
        let owned = || line.to_owned();
        let Some((key, value)) = line.split_once(' ') else {
            return Err(StatsError::NotKeyValue {
                line: n,
                text: owned(),
            });
        };
        let k = || key.to_owned();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StatsError::BadKey {
                line: n,
                text: owned(),
                key: k(),
            });
        }
        if value.is_empty() {
            return Err(StatsError::NoValue {
                line: n,
                text: owned(),
                key: k(),
            });
        }
        if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(StatsError::BadValue {
                line: n,
                text: owned(),
                key: k(),
            });
        }
        if out.iter().any(|s| s.key == key) {
            return Err(StatsError::Duplicate { line: n, key: k() });
        }
        out.push(Stat {
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(out)
}

/// The debugfs channel.
#[derive(Debug, Clone)]
pub struct Debugfs {
    mountpoint: PathBuf,
    dir: PathBuf,
    procfs: PathBuf,
}

impl Debugfs {
    /// `/sys/kernel/debug/kpeek` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        let dir = root.path(kpeek_abi::DEBUGFS_DIR);
        Debugfs {
            mountpoint: dir.parent().map(Path::to_path_buf).unwrap_or_default(),
            dir,
            procfs: root.path(kpeek_abi::PROC_PATH),
        }
    }

    /// The module's debugfs directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn unavailable(&self, err: io::Error) -> Error {
        if matches!(err.raw_os_error(), Some(1 | 13)) {
            return Error::PermissionDenied {
                op: "reading",
                path: self.dir.clone(),
                why: "debugfs is readable by root only",
            };
        }
        if err.kind() != io::ErrorKind::NotFound {
            return pseudofile::read_error(&self.dir, err, "debugfs is readable by root only");
        }
        match pseudofile::is_empty_dir(&self.mountpoint) {
            None if !pseudofile::is_root() && self.mountpoint.exists() => Error::PermissionDenied {
                op: "reading",
                path: self.mountpoint.clone(),
                why: "debugfs is readable by root only",
            },
            None | Some(true) => Error::NotMounted {
                fs: "debugfs",
                mountpoint: self.mountpoint.clone(),
                hint: "mount -t debugfs none /sys/kernel/debug",
            },
            Some(false) if !self.procfs.exists() => Error::NotLoaded {
                path: self.dir.clone(),
            },
            Some(false) => Error::NoChannelDir {
                path: self.dir.clone(),
                why: "was the kernel built without CONFIG_DEBUG_FS?",
            },
        }
    }

    /// The `stats` file, parsed.
    pub fn stats(&self) -> Result<Vec<Stat>> {
        let path = self.dir.join("stats");
        let bytes = pseudofile::read_all(&path).map_err(|e| self.unavailable(e))?;
        parse_stats(&bytes).map_err(|e| Error::Malformed {
            path,
            line: e.line(),
            fault: e.into(),
        })
    }

    /// The `counters` file: every counter in creation order, parsed as strictly as /proc/kpeek.
    pub fn counters(&self) -> Result<Vec<CounterValue>> {
        let path = self.dir.join("counters");
        let bytes = pseudofile::read_all(&path).map_err(|e| self.unavailable(e))?;
        crate::procfs::parse(&bytes).map_err(|e| Error::Malformed {
            path,
            line: e.line,
            fault: e.fault.into(),
        })
    }

    /// Every other file in the directory (name and raw text), sorted by name, for `kpeek mod
    /// debug --all`.
    pub fn files(&self) -> Result<Vec<(String, String)>> {
        let entries = pseudofile::list(&self.dir).map_err(|e| self.unavailable(e))?;
        let mut out = Vec::new();
        for e in entries.into_iter().filter(|e| !e.is_dir) {
            let path = self.dir.join(&e.name);
            match pseudofile::read_all(&path) {
                Ok(b) => out.push((e.name, String::from_utf8_lossy(&b).into_owned())),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(pseudofile::read_error(
                        &path,
                        err,
                        "debugfs is readable by root only",
                    ));
                }
            }
        }
        Ok(out)
    }
}

impl CounterSource for Debugfs {
    fn channel(&self) -> Channel {
        Channel::Debugfs
    }

    fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot::new(self.counters()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs;

    #[test]
    fn parses_stats_in_order() {
        let s = parse_stats(b"groups 3\ncounters 12\nbytes 4096\nstate some text\n").unwrap();
        assert_eq!(
            s.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
            ["groups", "counters", "bytes", "state"]
        );
        assert_eq!(s[1].as_u64(), Some(12));
        assert_eq!(s[3].value, "some text");
        assert_eq!(s[3].as_u64(), None);
    }

    #[test]
    fn rejects_malformed_stats() {
        for (input, line, msg) in [
            (&b"groups 3\ncounters"[..], 2, "no newline"),
            (b"groups\n", 1, "not `key value`"),
            (b"groups \n", 1, "has no value"),
            (b" 3\n", 1, "not one printable word"),
            (b"a 1\na 2\n", 2, "appears twice"),
            (b"a 1\r\n", 1, "not printable"),
            (b"a 1\n\nb 2\n", 2, "not `key value`"),
        ] {
            let e = parse_stats(input).unwrap_err();
            let (l, m) = (e.line(), e.to_string());
            assert_eq!(l, line, "{input:?}");
            assert!(m.contains(msg), "{input:?}: {m}");
        }
    }

    #[test]
    fn availability() {
        let d = tempfile::tempdir().unwrap();
        let dbg = Debugfs::new(&SysRoot::new(d.path()));
        let e = dbg.stats().unwrap_err().to_string();
        assert!(
            e.contains("debugfs is not mounted") && e.contains("mount -t debugfs"),
            "{e}"
        );
        fs::create_dir_all(d.path().join("sys/kernel/debug/tracing")).unwrap();
        assert!(matches!(dbg.stats(), Err(Error::NotLoaded { .. })));
        fs::create_dir_all(d.path().join("sys/kernel/debug/kpeek")).unwrap();
        fs::write(d.path().join("sys/kernel/debug/kpeek/stats"), "groups 1\n").unwrap();
        assert_eq!(dbg.stats().unwrap()[0].as_u64(), Some(1));
        assert_eq!(
            dbg.files().unwrap(),
            [("stats".to_owned(), "groups 1\n".to_owned())]
        );
        fs::write(
            d.path().join("sys/kernel/debug/kpeek/counters"),
            "z a 1\ng c 2\n",
        )
        .unwrap();
        assert_eq!(dbg.counters().unwrap()[0], CounterValue::new("z", "a", 1));
        assert_eq!(
            dbg.snapshot().unwrap().counters()[0],
            CounterValue::new("g", "c", 2)
        );
        fs::write(d.path().join("sys/kernel/debug/kpeek/counters"), "g c\n").unwrap();
        let e = dbg.snapshot().unwrap_err().to_string();
        assert!(e.contains("kpeek/counters:1: \"g c\" has 2"), "{e}");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_stats(&bytes);
        }
    }
}

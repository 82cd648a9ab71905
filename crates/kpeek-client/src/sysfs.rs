//! `/sys/kernel/kpeek` (kmod/kpeek_sysfs.c): `info` holds the ABI version; one directory per
//! group with one read-only file per counter (`<value>\n`) and a root-only `reset` (write `1`).
//!
//! Listings are checked against `remove-seq`. On kernels before 6.15, kernfs readdir drops its
//! lock while copying out each entry; if that entry is removed meanwhile, it resumes from the
//! entry's hash and steps past the next live sibling, so one `readdir` pass can miss a group or
//! counter that existed throughout. kpeek.ko keeps `remove-seq` odd while it removes an entry
//! and bumps it again once done: a listing taken between two equal even values is complete, and
//! any other listing is taken again (a bounded number of times, then an error, never a silently
//! incomplete snapshot).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kpeek_abi::{NameKind, validate_name};

use crate::error::{Action, Error, Result};
use crate::fault::TextFault;
use crate::procfs::parse_u64;
use crate::pseudofile;
use crate::{Channel, CounterSource, CounterValue, Snapshot, SysRoot};

/// `/sys/kernel/kpeek/remove-seq`: a seqcount, odd while kpeek.ko removes a sysfs entry (a dash
/// so that no group name can take it).
pub const REMOVE_SEQ: &str = "remove-seq";

/// Listings tried before giving up on one that no removal overlapped.
const LIST_TRIES: u32 = 200;

/// Why [`parse_value`] refused a value file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadValue {
    /// The bytes do not end in a newline.
    #[error("{text:?} does not end in a newline")]
    NoNewline {
        /// The bytes, as text (invalid UTF-8 replaced).
        text: String,
    },
    /// Something other than a decimal `u64` before the newline.
    #[error("{text:?} is not a decimal u64 and a newline")]
    NotDecimal {
        /// The bytes, as text (invalid UTF-8 replaced).
        text: String,
    },
}

/// Why a listing could not be taken.
#[derive(Debug)]
enum ListFailure {
    /// Reading the directory or `remove-seq` failed.
    Io(io::Error),
    /// `remove-seq` does not hold a number.
    RemoveSeq(BadValue),
    /// Every try overlapped a removal.
    Unsettled,
}

/// Parse one value file: a decimal `u64` and one newline, nothing else.
///
/// # Errors
///
/// [`BadValue`] for anything else.
///
/// ```
/// use kpeek_client::sysfs::{parse_value, BadValue};
///
/// assert_eq!(parse_value(b"42\n"), Ok(42));
/// assert!(matches!(parse_value(b"42"), Err(BadValue::NoNewline { .. })));
/// ```
pub fn parse_value(bytes: &[u8]) -> Result<u64, BadValue> {
    let text = || String::from_utf8_lossy(bytes).into_owned();
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return Err(BadValue::NoNewline { text: text() });
    };
    std::str::from_utf8(body)
        .ok()
        .and_then(parse_u64)
        .ok_or_else(|| BadValue::NotDecimal { text: text() })
}

/// The sysfs channel.
#[derive(Debug, Clone)]
pub struct Sysfs {
    dir: PathBuf,
}

impl Sysfs {
    /// `/sys/kernel/kpeek` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        Sysfs {
            dir: root.path(kpeek_abi::SYSFS_DIR),
        }
    }

    /// The channel's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_value_file(&self, path: &Path) -> Result<Option<u64>> {
        match pseudofile::read_all(path) {
            Ok(bytes) => parse_value(&bytes).map(Some).map_err(|e| Error::Malformed {
                path: path.to_path_buf(),
                line: 1,
                fault: e.into(),
            }),
            // Destroyed between listing and reading (ENOENT at open, ENODEV once the kernel
            // object is gone under an open file): not part of this snapshot.
            Err(e) if pseudofile::vanished(&e) => Ok(None),
            Err(e) => Err(pseudofile::read_error(
                path,
                e,
                "sysfs counter files should be readable by everyone (0444)",
            )),
        }
    }

    /// The removal seqcount, `None` when the module has no `remove-seq` (older module).
    fn remove_seq(&self) -> Result<Option<u64>, ListFailure> {
        let path = self.dir.join(REMOVE_SEQ);
        match pseudofile::read_all(&path) {
            Ok(bytes) => parse_value(&bytes)
                .map(Some)
                .map_err(ListFailure::RemoveSeq),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ListFailure::Io(e)),
        }
    }

    /// The error for a listing of `dir` that failed; `io` maps an I/O error.
    fn list_error(&self, dir: &Path, f: ListFailure, io: impl FnOnce(io::Error) -> Error) -> Error {
        match f {
            ListFailure::Io(e) => io(e),
            ListFailure::RemoveSeq(e) => Error::Malformed {
                path: self.dir.join(REMOVE_SEQ),
                line: 1,
                fault: e.into(),
            },
            ListFailure::Unsettled => Error::Unsettled {
                path: dir.to_path_buf(),
                tries: LIST_TRIES,
            },
        }
    }

    /// The entries of `dir` (the channel's directory or a group's), complete: taken while no
    /// removal ran (`remove-seq` even and unchanged across the listing). Without `remove-seq`,
    /// two consecutive listings must agree. See the module documentation for why.
    fn list_complete(&self, dir: &Path) -> Result<Vec<pseudofile::Entry>, ListFailure> {
        let mut prev: Option<Vec<String>> = None;
        for attempt in 0..LIST_TRIES {
            let before = self.remove_seq()?;
            let entries = pseudofile::list(dir).map_err(ListFailure::Io)?;
            match before {
                Some(b) => {
                    if b % 2 == 0 && self.remove_seq()? == Some(b) {
                        return Ok(entries);
                    }
                }
                None => {
                    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
                    if prev.as_ref() == Some(&names) {
                        return Ok(entries);
                    }
                    prev = Some(names);
                }
            }
            // A removal overlapped: let it finish.
            if attempt < 8 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50 * u64::from(attempt.min(20))));
            }
        }
        Err(ListFailure::Unsettled)
    }

    fn not_loaded(&self) -> Error {
        Error::NotLoaded {
            path: self.dir.clone(),
        }
    }

    /// The ABI version the module publishes in `info`.
    pub fn abi_version(&self) -> Result<u32> {
        let path = self.dir.join("info");
        match self.read_value_file(&path)? {
            Some(v) => u32::try_from(v).map_err(|_| Error::Malformed {
                path,
                line: 1,
                fault: TextFault::AbiOutOfRange { value: v },
            }),
            None => Err(self.not_loaded()),
        }
    }

    /// Fail unless the module speaks this crate's ABI version.
    pub fn check_abi(&self) -> Result<u32> {
        let found = self.abi_version()?;
        if found != kpeek_abi::ABI_VERSION {
            return Err(Error::AbiMismatch {
                path: self.dir.join("info"),
                found,
                expected: kpeek_abi::ABI_VERSION,
            });
        }
        Ok(found)
    }

    /// Every group directory, including groups with no counter yet, sorted by name.
    pub fn groups(&self) -> Result<Vec<String>> {
        let entries = self.list_complete(&self.dir).map_err(|f| {
            self.list_error(&self.dir, f, |e| match e.kind() {
                io::ErrorKind::NotFound => self.not_loaded(),
                _ => pseudofile::read_error(
                    &self.dir,
                    e,
                    "/sys/kernel/kpeek should be readable by everyone",
                ),
            })
        })?;
        Ok(entries
            .into_iter()
            .filter(|e| e.is_dir)
            .map(|e| e.name)
            .collect())
    }

    /// The counters of `group` and their values, sorted by name. A group that vanished while
    /// being read is `NoSuchGroup`.
    pub fn group(&self, group: &str) -> Result<Vec<CounterValue>> {
        validate_name(NameKind::Group, group)?;
        let gdir = self.dir.join(group);
        let entries = match self.list_complete(&gdir) {
            Ok(e) => e,
            Err(ListFailure::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                if !self.dir.exists() {
                    return Err(self.not_loaded());
                }
                return Err(Error::NoSuchGroup {
                    group: group.to_owned(),
                    place: self.dir.clone(),
                    hint: "",
                });
            }
            Err(f) => {
                return Err(self.list_error(&gdir, f, |e| {
                    pseudofile::read_error(&gdir, e, "sysfs groups should be readable by everyone")
                }));
            }
        };
        let mut out = Vec::new();
        for ent in entries {
            if ent.is_dir || ent.name == kpeek_abi::RESERVED_COUNTER {
                continue;
            }
            if let Some(v) = self.read_value_file(&gdir.join(&ent.name))? {
                out.push(CounterValue::new(group, &ent.name, v));
            }
        }
        Ok(out)
    }

    /// Reset every counter of `group` to zero (root only).
    pub fn reset(&self, group: &str) -> Result<()> {
        validate_name(NameKind::Group, group)?;
        let path = self.dir.join(group).join(kpeek_abi::RESERVED_COUNTER);
        pseudofile::write_attr(&path, b"1").map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                if !self.dir.exists() {
                    return self.not_loaded();
                }
                return Error::NoSuchGroup {
                    group: group.to_owned(),
                    place: self.dir.clone(),
                    hint: "",
                };
            }
            Error::refused(
                Action::ResetGroup {
                    group: group.to_owned(),
                },
                path.clone(),
                &e,
            )
        })
    }
}

impl CounterSource for Sysfs {
    fn channel(&self) -> Channel {
        Channel::Sysfs
    }

    fn snapshot(&self) -> Result<Snapshot> {
        let mut all = Vec::new();
        for g in self.groups()? {
            match self.group(&g) {
                Ok(mut counters) => all.append(&mut counters),
                Err(Error::NoSuchGroup { .. }) => {} // destroyed while we walked
                Err(Error::Name(e)) => {
                    return Err(Error::Malformed {
                        path: self.dir.join(&g),
                        line: 1,
                        fault: TextFault::ForbiddenGroupName { rule: e },
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Snapshot::new(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, Sysfs) {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("sys/kernel/kpeek");
        fs::create_dir_all(s.join("kpeek_example")).unwrap();
        fs::create_dir_all(s.join("empty")).unwrap();
        fs::write(s.join("info"), format!("{}\n", kpeek_abi::ABI_VERSION)).unwrap();
        fs::write(s.join("kpeek_example/writes"), "7\n").unwrap();
        fs::write(s.join("kpeek_example/reads"), "5\n").unwrap();
        fs::write(s.join("kpeek_example/reset"), "").unwrap();
        let sysfs = Sysfs::new(&SysRoot::new(dir.path()));
        (dir, sysfs)
    }

    #[test]
    fn reads_groups_counters_and_info() {
        let (_d, s) = tree();
        assert_eq!(s.check_abi().unwrap(), kpeek_abi::ABI_VERSION);
        assert_eq!(s.groups().unwrap(), ["empty", "kpeek_example"]);
        let snap = s.snapshot().unwrap();
        assert_eq!(
            snap.counters(),
            [
                CounterValue::new("kpeek_example", "reads", 5),
                CounterValue::new("kpeek_example", "writes", 7)
            ]
        );
        assert!(matches!(s.group("nope"), Err(Error::NoSuchGroup { .. })));
        assert!(matches!(s.group("a-b"), Err(Error::Name(_))));
    }

    #[test]
    fn reset_writes_one() {
        let (d, s) = tree();
        s.reset("kpeek_example").unwrap();
        assert_eq!(
            fs::read(d.path().join("sys/kernel/kpeek/kpeek_example/reset")).unwrap(),
            b"1"
        );
        assert!(matches!(s.reset("empty"), Err(Error::NoSuchGroup { .. })));
    }

    #[test]
    fn abi_mismatch_and_garbage_are_reported() {
        let (d, s) = tree();
        fs::write(d.path().join("sys/kernel/kpeek/info"), "99\n").unwrap();
        let e = s.check_abi().unwrap_err().to_string();
        let speaks = format!("this kpeek speaks {}", kpeek_abi::ABI_VERSION);
        assert!(e.contains("ABI version 99") && e.contains(&speaks), "{e}");
        fs::write(
            d.path().join("sys/kernel/kpeek/kpeek_example/reads"),
            "five\n",
        )
        .unwrap();
        let e = s.snapshot().unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Malformed {
                    line: 1,
                    fault: TextFault::Value(BadValue::NotDecimal { text }),
                    ..
                } if text == "five\n"
            ),
            "{e:?}"
        );
        let e = e.to_string();
        assert!(
            e.contains("kpeek_example/reads:1: \"five\\n\" is not a decimal u64"),
            "{e}"
        );
        fs::write(d.path().join("sys/kernel/kpeek/info"), "4294967296\n").unwrap();
        let e = s.check_abi().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Malformed {
                    fault: TextFault::AbiOutOfRange { value: 4294967296 },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .ends_with("info:1: ABI version 4294967296 out of range"),
            "{e}"
        );
    }

    #[test]
    fn a_group_directory_kpeek_could_not_have_made_is_malformed() {
        let (d, s) = tree();
        fs::create_dir_all(d.path().join("sys/kernel/kpeek/bad-name")).unwrap();
        let e = s.snapshot().unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Malformed {
                    fault: TextFault::ForbiddenGroupName {
                        rule: kpeek_abi::NameError::BadChar { ch: '-', .. }
                    },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("bad-name:1: a group directory with a name kpeek.ko forbids: group name"),
            "{e}"
        );
    }

    #[test]
    fn listings_wait_for_an_even_steady_remove_seq() {
        let (d, s) = tree();
        let seq = d.path().join("sys/kernel/kpeek").join(REMOVE_SEQ);
        fs::write(&seq, "4\n").unwrap();
        assert_eq!(s.groups().unwrap(), ["empty", "kpeek_example"]);
        assert_eq!(s.group("kpeek_example").unwrap().len(), 2);
        // Odd: a removal is running (forever here), so no listing can be trusted.
        fs::write(&seq, "5\n").unwrap();
        for e in [
            s.groups().unwrap_err(),
            s.group("kpeek_example").unwrap_err(),
            s.snapshot().unwrap_err(),
        ] {
            assert!(matches!(e, Error::Unsettled { tries: 200, .. }), "{e:?}");
            let m = e.to_string();
            assert!(
                m.contains("no complete listing in 200 tries") && m.contains(REMOVE_SEQ),
                "{m}"
            );
        }
        fs::write(&seq, "x\n").unwrap();
        let e = s.groups().unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Malformed {
                    line: 1,
                    fault: TextFault::Value(BadValue::NotDecimal { .. }),
                    path,
                } if path.ends_with(REMOVE_SEQ)
            ),
            "{e:?}"
        );
        let m = e.to_string();
        assert!(
            m.contains("remove-seq:1: \"x\\n\" is not a decimal u64"),
            "{m}"
        );
    }

    #[test]
    fn missing_dir_means_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sysfs::new(&SysRoot::new(dir.path()));
        for e in [
            s.snapshot().unwrap_err(),
            s.abi_version().unwrap_err(),
            s.reset("g").unwrap_err(),
        ] {
            assert!(matches!(e, Error::NotLoaded { .. }), "{e}");
        }
    }

    proptest! {
        #[test]
        fn value_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_value(&bytes);
        }

        #[test]
        fn value_parser_round_trips(v in any::<u64>()) {
            prop_assert_eq!(parse_value(format!("{v}\n").as_bytes()), Ok(v));
            let bare = v.to_string();
            prop_assert!(parse_value(bare.as_bytes()).is_err());
            let spaced = format!(" {v}\n");
            prop_assert!(parse_value(spaced.as_bytes()).is_err());
        }
    }
}

//! `/sys/module/kpeek/parameters` (kmod/kpeek_params.c): the caps
//! `max_groups` and `max_counters` (read-only once loaded) and debugging knobs such as
//! `fail_init_step`.

use std::io;
use std::path::{Path, PathBuf};

use crate::SysRoot;
use crate::error::{Error, Result};
use crate::procfs::parse_u64;
use crate::pseudofile;

/// One module parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name (the file name).
    pub name: String,
    /// Its value without the trailing newline; `None` when this user may not read it.
    pub value: Option<String>,
}

/// The module-parameters channel.
#[derive(Debug, Clone)]
pub struct Params {
    dir: PathBuf,
}

impl Params {
    /// `/sys/module/kpeek/parameters` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        Params {
            dir: root.path(kpeek_abi::PARAMS_DIR),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every parameter, sorted by name.
    pub fn all(&self) -> Result<Vec<Param>> {
        let entries = pseudofile::list(&self.dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotLoaded {
                path: self.dir.clone(),
            },
            _ => pseudofile::read_error(&self.dir, e, "module parameters should be readable"),
        })?;
        let mut out = Vec::new();
        for e in entries.into_iter().filter(|e| !e.is_dir) {
            let path = self.dir.join(&e.name);
            let value = match pseudofile::read_all(&path) {
                Ok(b) => {
                    let t = String::from_utf8_lossy(&b);
                    Some(t.strip_suffix('\n').unwrap_or(&t).to_owned())
                }
                Err(err) if matches!(err.raw_os_error(), Some(1 | 13)) => None,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(pseudofile::read_error(&path, err, "")),
            };
            out.push(Param {
                name: e.name,
                value,
            });
        }
        Ok(out)
    }

    /// One numeric parameter.
    pub fn u64(&self, name: &str) -> Result<u64> {
        let path = self.dir.join(name);
        let bytes = pseudofile::read_all(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound if !self.dir.exists() => Error::NotLoaded {
                path: self.dir.clone(),
            },
            _ => pseudofile::read_error(&path, e, "this parameter is readable by root only"),
        })?;
        crate::sysfs::parse_value(&bytes)
            .or_else(|m| {
                // Signed parameters (int) print the same way; accept a plain number too.
                std::str::from_utf8(&bytes)
                    .ok()
                    .map(str::trim_end)
                    .and_then(parse_u64)
                    .ok_or(m)
            })
            .map_err(|e| Error::Malformed {
                path,
                line: 1,
                fault: e.into(),
            })
    }

    /// The group cap in force.
    pub fn max_groups(&self) -> Result<u64> {
        self.u64("max_groups")
    }

    /// The counter cap in force.
    pub fn max_counters(&self) -> Result<u64> {
        self.u64("max_counters")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_parameters() {
        let d = tempfile::tempdir().unwrap();
        let p = Params::new(&SysRoot::new(d.path()));
        assert!(matches!(p.all(), Err(Error::NotLoaded { .. })));
        assert!(matches!(p.max_groups(), Err(Error::NotLoaded { .. })));
        let dir = d.path().join("sys/module/kpeek/parameters");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("max_groups"), "1024\n").unwrap();
        fs::write(dir.join("max_counters"), "65536\n").unwrap();
        fs::write(dir.join("fail_init_step"), "0\n").unwrap();
        assert_eq!(p.max_groups().unwrap(), 1024);
        assert_eq!(p.max_counters().unwrap(), 65536);
        let names: Vec<_> = p
            .all()
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.value.unwrap()))
            .collect();
        assert_eq!(names[0], ("fail_init_step".to_owned(), "0".to_owned()));
        assert_eq!(names.len(), 3);
        fs::write(dir.join("max_groups"), "lots\n").unwrap();
        assert!(matches!(p.max_groups(), Err(Error::Malformed { .. })));
    }
}

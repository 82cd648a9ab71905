//! A module's variable located without kallsyms, the way a debugger does it: the module's `.ko`
//! (a relocatable object) says in which section a symbol lies and at which offset
//! (`st_shndx`, `st_value`) and how big it is (`st_size`); `/sys/module/<mod>/sections/<name>`
//! says where the loaded module put that section. Kernels built without `CONFIG_KALLSYMS_ALL`
//! (Debian's 686-pae) list no module data symbols in `/proc/kallsyms`, but still publish the
//! section addresses (to root, as `/proc/kallsyms` publishes symbol addresses).
//!
//! The `.ko` is trusted only once it is shown to be the loaded module's own build: its GNU
//! build-id note against `/sys/module/<mod>/notes/.note.gnu.build-id`, else its `.modinfo`
//! `srcversion=` against `/sys/module/<mod>/srcversion`.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::buildid;
use crate::error::{Error, FormatFault, LocateFault, ModuleMismatch, close_names};

/// The section a module's per-CPU variables are linked in (not loaded as a section: the
/// module loader copies it into a per-CPU area, `struct module`'s `percpu`).
pub const PERCPU_SECTION: &str = ".data..percpu";
/// The section holding the module's `struct module` (`__this_module`).
pub const THIS_MODULE_SECTION: &str = ".gnu.linkonce.this_module";

/// Where a symbol lies in a relocatable `.ko`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KoSymbol {
    /// The name of its section (`.bss`, `.data`, `.rodata`, `.data..percpu`, ...).
    pub section: String,
    /// Its offset in that section (`st_value` of a relocatable object).
    pub offset: u64,
    /// Its size in bytes (`st_size`; 0 when unknown).
    pub size: u64,
}

/// What tells one build of a module from another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildIdent {
    /// The GNU build-id.
    pub build_id: Option<Vec<u8>>,
    /// `srcversion` (a digest of the module's sources, from modpost).
    pub srcversion: Option<String>,
}

fn parse<'a>(data: &'a [u8], path: &Path) -> Result<object::File<'a>, Error> {
    object::File::parse(data).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        fault: FormatFault::NotElf(e),
    })
}

/// The symbol `name` defined in a `.ko` (its ELF bytes `data`, read from `path`): section,
/// offset and size. An unknown name is [`Error::UnknownSymbol`] with close names from the
/// file; a name defined more than once (static variables of several source files) is
/// [`Error::Ambiguous`].
pub fn ko_symbol(data: &[u8], path: &Path, module: &str, name: &str) -> Result<KoSymbol, Error> {
    let obj = parse(data, path)?;
    let defined = || {
        obj.symbols().filter(|s| {
            s.section_index().is_some()
                && !matches!(s.kind(), SymbolKind::Section | SymbolKind::File)
        })
    };
    let mut found = Vec::new();
    for s in defined().filter(|s| s.name() == Ok(name)) {
        let idx = s.section_index().expect("filtered");
        let sec = obj.section_by_index(idx).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            fault: FormatFault::SymbolSection {
                name: name.to_string(),
                index: idx.0,
                source: e,
            },
        })?;
        let section = sec.name().unwrap_or_default().to_string();
        found.push(KoSymbol {
            section,
            offset: s.address(),
            size: s.size(),
        });
    }
    found.dedup();
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(Error::UnknownSymbol {
            name: name.to_string(),
            module: Some(module.to_string()),
            close: close_names(
                name,
                defined()
                    .filter_map(|s| s.name().ok())
                    .filter(|n| n.len().abs_diff(name.len()) <= 4),
                5,
            ),
            hint: Some(format!("{} does not define it", path.display())),
        }),
        _ => Err(Error::Ambiguous {
            name: name.to_string(),
            places: found
                .iter()
                .map(|k| format!("{}+{:#x} in {}", k.section, k.offset, path.display()))
                .collect(),
        }),
    }
}

/// The build-id note and `srcversion` of a `.ko`.
pub fn ko_ident(data: &[u8], path: &Path) -> Result<BuildIdent, Error> {
    let obj = parse(data, path)?;
    let build_id = obj.build_id().ok().flatten().map(<[u8]>::to_vec);
    let srcversion = obj
        .section_by_name(".modinfo")
        .and_then(|s| s.data().ok())
        .and_then(|d| {
            d.split(|b| *b == 0)
                .find_map(|kv| kv.strip_prefix(b"srcversion="))
                .map(|v| String::from_utf8_lossy(v).into_owned())
        });
    Ok(BuildIdent {
        build_id,
        srcversion,
    })
}

/// `/sys/module` of a system: the running one, or a tree laid out like `/` (tests).
#[derive(Debug, Clone)]
pub struct ModuleSysfs {
    root: PathBuf,
}

impl ModuleSysfs {
    /// The running system.
    pub fn real() -> ModuleSysfs {
        ModuleSysfs::new("/")
    }

    /// A tree laid out like `/` (it holds `sys/module/<mod>/...` and
    /// `proc/sys/kernel/kptr_restrict`).
    pub fn new(root: impl Into<PathBuf>) -> ModuleSysfs {
        ModuleSysfs { root: root.into() }
    }

    /// `/sys/module/<module>` (under the root).
    pub fn dir(&self, module: &str) -> PathBuf {
        self.root.join("sys/module").join(module)
    }

    /// What the loaded module says of its build.
    pub fn loaded_ident(&self, module: &str) -> BuildIdent {
        let d = self.dir(module);
        let build_id = std::fs::read(d.join("notes/.note.gnu.build-id"))
            .ok()
            .and_then(|n| buildid::parse_notes(&n).map(<[u8]>::to_vec));
        let srcversion = std::fs::read_to_string(d.join("srcversion"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        BuildIdent {
            build_id,
            srcversion,
        }
    }

    /// Shows that the `.ko` at `path` (whose build is `ko`) is the loaded `module`'s own:
    /// build-ids where both have one, else `srcversion`. Returns how it was told.
    pub fn check_build(
        &self,
        module: &str,
        path: &Path,
        ko: &BuildIdent,
    ) -> Result<&'static str, Error> {
        let loaded = self.loaded_ident(module);
        let wrong = |what: &'static str, file: String, running: String, from: &str| {
            Error::WrongModule(Box::new(ModuleMismatch {
                path: path.to_path_buf(),
                what,
                file,
                module: module.to_string(),
                running,
                from: self.dir(module).join(from),
            }))
        };
        if let (Some(f), Some(l)) = (&ko.build_id, &loaded.build_id) {
            return if f == l {
                Ok("build-id")
            } else {
                Err(wrong(
                    "build-id",
                    buildid::hex(f),
                    buildid::hex(l),
                    "notes/.note.gnu.build-id",
                ))
            };
        }
        if let (Some(f), Some(l)) = (&ko.srcversion, &loaded.srcversion) {
            return if f == l {
                Ok("srcversion")
            } else {
                Err(wrong("srcversion", f.clone(), l.clone(), "srcversion"))
            };
        }
        Err(Error::Located {
            module: module.to_string(),
            fault: LocateFault::Unverifiable {
                path: path.to_path_buf(),
                ko: Box::new(ko.clone()),
                dir: self.dir(module),
                loaded: Box::new(loaded),
            },
        })
    }

    /// Where the loaded `module` put its section `section`.
    pub fn section_base(&self, module: &str, section: &str) -> Result<u64, Error> {
        let dir = self.dir(module);
        let located = |fault: LocateFault| Error::Located {
            module: module.to_string(),
            fault,
        };
        if !dir.is_dir() {
            return Err(located(LocateFault::NotLoaded {
                module: module.to_string(),
                dir,
            }));
        }
        let secs = dir.join("sections");
        let file = secs.join(section);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut names: Vec<String> = std::fs::read_dir(&secs)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                            .filter(|n| !n.starts_with(".note") && !n.starts_with("__"))
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort();
                return Err(located(LocateFault::NoSection {
                    file,
                    section: section.to_string(),
                    listed: names,
                }));
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => {
                return Err(located(LocateFault::SectionDenied { file }));
            }
            Err(source) => return Err(Error::Io { path: file, source }),
        };
        let t = text.trim();
        let addr =
            u64::from_str_radix(t.trim_start_matches("0x"), 16).map_err(|_| Error::Format {
                path: file.clone(),
                fault: FormatFault::NotHex(t.to_string()),
            })?;
        if addr == 0 {
            return Err(located(LocateFault::Hidden {
                file,
                kptr_restrict: self.kptr_restrict(),
            }));
        }
        Ok(addr)
    }

    /// `kernel.kptr_restrict`, which decides who sees module addresses.
    fn kptr_restrict(&self) -> Option<String> {
        std::fs::read_to_string(self.root.join("proc/sys/kernel/kptr_restrict"))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// A symbol located through the `.ko` and the loaded module's sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHit {
    /// Where the symbol lies in the `.ko`.
    pub sym: KoSymbol,
    /// The section's address in the loaded module (`None` for the per-CPU section, which is
    /// not loaded as a section: its symbols are offsets in the module's per-CPU area).
    pub base: Option<u64>,
    /// How the `.ko` was shown to be the loaded one (`build-id`, `srcversion`).
    pub checked: &'static str,
}

impl SectionHit {
    /// The symbol's address (for a per-CPU symbol: its offset in the module's per-CPU area).
    pub fn addr(&self) -> u64 {
        self.base.unwrap_or(0).wrapping_add(self.sym.offset)
    }
}

/// Locates `module`'s symbol `name` through its `.ko` (bytes `data` read from `path`) and the
/// loaded module's sections: the build is checked first, then the symbol's section looked up.
pub fn locate(
    sysfs: &ModuleSysfs,
    module: &str,
    path: &Path,
    data: &[u8],
    name: &str,
) -> Result<SectionHit, Error> {
    let dir = sysfs.dir(module);
    if !dir.is_dir() {
        return Err(Error::Located {
            module: module.to_string(),
            fault: LocateFault::NotLoaded {
                module: module.to_string(),
                dir,
            },
        });
    }
    let checked = sysfs.check_build(module, path, &ko_ident(data, path)?)?;
    let sym = ko_symbol(data, path, module, name)?;
    let base = if sym.section == PERCPU_SECTION {
        None
    } else {
        Some(sysfs.section_base(module, &sym.section)?)
    };
    Ok(SectionHit { sym, base, checked })
}

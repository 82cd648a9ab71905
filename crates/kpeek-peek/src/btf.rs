//! Types from BTF: the running kernel's `/sys/kernel/btf/vmlinux` and a module's split BTF
//! (`/sys/kernel/btf/<module>`), read with the `btf-rs` crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use btf_rs::{Backend, Btf, BtfType, Type};

use crate::error::Error;
use crate::types::{Member, RecordKind, Ty, TypeSource};

/// Where the running kernel publishes its BTF.
pub const SYS_BTF: &str = "/sys/kernel/btf";

/// The per-CPU section's name in BTF.
pub const PERCPU_SEC: &str = ".data..percpu";

/// One BTF blob (vmlinux, or a module's split BTF over vmlinux's).
pub struct BtfTypes {
    btf: Btf,
    what: String,
}

/// A per-CPU variable from BTF's `.data..percpu` DATASEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerCpuVar {
    /// Offset inside the per-CPU area.
    pub offset: u64,
    /// Its type's BTF id.
    pub type_id: u32,
}

fn fmt_err(path: &Path, e: btf_rs::Error) -> Error {
    match e {
        btf_rs::Error::IO(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        other => Error::Format {
            path: path.to_path_buf(),
            msg: format!("bad BTF: {other}"),
        },
    }
}

impl BtfTypes {
    /// The running kernel's vmlinux BTF.
    pub fn vmlinux() -> Result<BtfTypes, Error> {
        BtfTypes::from_file(&Path::new(SYS_BTF).join("vmlinux"))
    }

    /// A stand-alone BTF file, mapped (types are parsed when asked for, names searched in place:
    /// loading costs a scan of the type table, not a parse of every type).
    pub fn from_file(path: &Path) -> Result<BtfTypes, Error> {
        let btf = match Btf::from_file_with_backend(path, Backend::Mmap) {
            Ok(b) => b,
            // Kernels before 6.16 cannot map /sys/kernel/btf/*: map a copy in memory instead.
            Err(btf_rs::Error::IO(_)) => {
                let bytes = std::fs::read(path).map_err(|source| Error::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                let fd = rustix::fs::memfd_create("kpeek-btf", rustix::fs::MemfdFlags::CLOEXEC)
                    .map_err(|e| Error::Io {
                        path: path.to_path_buf(),
                        source: e.into(),
                    })?;
                let mut f = std::fs::File::from(fd);
                std::io::Write::write_all(&mut f, &bytes).map_err(|source| Error::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                let copy = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
                let b = Btf::from_file_with_backend(&copy, Backend::Mmap)
                    .map_err(|e| fmt_err(path, e))?;
                drop(f);
                b
            }
            Err(e) => return Err(fmt_err(path, e)),
        };
        Ok(BtfTypes {
            btf,
            what: format!("BTF of {}", path.display()),
        })
    }

    /// Stand-alone BTF bytes (tests, fuzzing).
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<BtfTypes, Error> {
        let btf = Btf::from_bytes(bytes).map_err(|e| fmt_err(Path::new(what), e))?;
        Ok(BtfTypes {
            btf,
            what: what.to_string(),
        })
    }

    /// A module's split BTF over `base` (vmlinux's); `None` when the module has none.
    pub fn module(base: &BtfTypes, module: &str) -> Result<Option<BtfTypes>, Error> {
        let path: PathBuf = Path::new(SYS_BTF).join(module);
        if !path.exists() {
            return Ok(None);
        }
        let btf = Btf::from_split_file(&path, &base.btf).map_err(|e| fmt_err(&path, e))?;
        Ok(Some(BtfTypes {
            btf,
            what: format!("BTF of module {module}"),
        }))
    }

    fn name_of(&self, t: &dyn BtfType) -> Option<String> {
        match self.btf.resolve_name(t) {
            Ok(n) if !n.is_empty() => Some(n),
            _ => None,
        }
    }

    /// The per-CPU variables: name → offset and type.
    pub fn percpu_vars(&self) -> HashMap<String, PerCpuVar> {
        let mut out = HashMap::new();
        let Ok(secs) = self.btf.resolve_types_by_name(PERCPU_SEC) else {
            return out;
        };
        for sec in secs {
            let Type::Datasec(ds) = sec else { continue };
            for v in &ds.variables {
                let Some(var_id) = v.get_type_id() else {
                    continue;
                };
                let Ok(Type::Var(var)) = self.btf.resolve_type_by_id(var_id) else {
                    continue;
                };
                let (Some(name), Some(type_id)) = (self.name_of(&var), var.get_type_id()) else {
                    continue;
                };
                out.insert(
                    name,
                    PerCpuVar {
                        offset: u64::from(v.offset()),
                        type_id,
                    },
                );
            }
        }
        out
    }

    fn record(&self, kind: RecordKind, s: &btf_rs::Struct) -> Ty {
        let members = s
            .members
            .iter()
            .map(|m| Member {
                name: self.name_of(m),
                ty: self.r(m.get_type_id().unwrap_or(0)),
                bit_offset: u64::from(m.bit_offset()),
                bit_size: m.bitfield_size().filter(|b| *b != 0),
            })
            .collect();
        Ty::Record {
            kind,
            name: self.name_of(s),
            size: s.size() as u64,
            members,
        }
    }

    fn r(&self, id: u32) -> crate::types::TypeRef {
        // The source index is filled in by `Types` callers through `rebase`; see `get`.
        crate::types::TypeRef {
            src: 0,
            id: u64::from(id),
        }
    }
}

impl TypeSource for BtfTypes {
    fn get(&self, id: u64) -> Result<Ty, Error> {
        let id32 =
            u32::try_from(id).map_err(|_| Error::Type(format!("BTF id {id} out of range")))?;
        let t = self
            .btf
            .resolve_type_by_id(id32)
            .map_err(|e| Error::Type(format!("{}: type {id}: {e}", self.what)))?;
        let target = |t: &dyn BtfType| self.r(t.get_type_id().unwrap_or(0));
        Ok(match &t {
            Type::Void => Ty::Void,
            Type::Int(i) => Ty::Int {
                name: self.name_of(i).unwrap_or_else(|| "int".into()),
                size: i.size() as u32,
                signed: i.is_signed(),
                is_char: i.is_char() || self.name_of(i).is_some_and(|n| n.ends_with("char")),
                is_bool: i.is_bool(),
            },
            Type::Float(f) => Ty::Float {
                name: self.name_of(f).unwrap_or_else(|| "float".into()),
                size: f.size() as u32,
            },
            Type::Ptr(p) => Ty::Ptr(target(p)),
            Type::Array(a) => Ty::Array {
                elem: target(a),
                len: a.len() as u64,
            },
            Type::Struct(s) => self.record(RecordKind::Struct, s),
            Type::Union(s) => self.record(RecordKind::Union, s),
            Type::Enum(e) => {
                let signed = e.is_signed();
                Ty::Enum {
                    name: self.name_of(e),
                    size: e.size() as u32,
                    signed,
                    values: e
                        .members
                        .iter()
                        .map(|m| {
                            let v = if signed {
                                i64::from(m.val() as i32)
                            } else {
                                i64::from(m.val())
                            };
                            (self.name_of(m).unwrap_or_default(), v)
                        })
                        .collect(),
                }
            }
            Type::Enum64(e) => Ty::Enum {
                name: self.name_of(e),
                size: e.size() as u32,
                signed: e.is_signed(),
                values: e
                    .members
                    .iter()
                    .map(|m| (self.name_of(m).unwrap_or_default(), m.val() as i64))
                    .collect(),
            },
            Type::Fwd(f) => Ty::Fwd {
                kind: if f.is_union() {
                    RecordKind::Union
                } else {
                    RecordKind::Struct
                },
                name: self.name_of(f).unwrap_or_default(),
            },
            Type::Typedef(td) => Ty::Typedef {
                name: self.name_of(td).unwrap_or_default(),
                target: target(td),
            },
            Type::Volatile(q) => Ty::Qualified {
                qual: "volatile",
                target: target(q),
            },
            Type::Const(q) => Ty::Qualified {
                qual: "const",
                target: target(q),
            },
            Type::Restrict(q) => Ty::Qualified {
                qual: "",
                target: target(q),
            },
            Type::TypeTag(q) => Ty::Qualified {
                qual: "",
                target: target(q),
            },
            Type::Func(_) | Type::FuncProto(_) => Ty::Func,
            Type::Var(v) => Ty::Qualified {
                qual: "",
                target: target(v),
            },
            other => {
                return Err(Error::Type(format!(
                    "{}: type {id} is a {}, not a data type",
                    self.what,
                    other.name()
                )));
            }
        })
    }

    fn find(&self, kind: &str, name: &str) -> Option<u64> {
        let ids = self.btf.resolve_ids_by_name(name).ok()?;
        ids.into_iter()
            .find(|&id| {
                matches!(
                    (kind, self.btf.resolve_type_by_id(id)),
                    ("struct", Ok(Type::Struct(_)))
                        | ("union", Ok(Type::Union(_)))
                        | ("enum", Ok(Type::Enum(_) | Type::Enum64(_)))
                        | ("", Ok(Type::Typedef(_) | Type::Int(_) | Type::Float(_)))
                )
            })
            .map(u64::from)
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}

//! Types from BTF: the running kernel's `/sys/kernel/btf/vmlinux` and a module's split BTF
//! (`/sys/kernel/btf/<module>`), read by a small parser of the BTF format (see the kernel's
//! `Documentation/bpf/btf.rst`).
//!
//! Loading maps the file (or reads it, where sysfs cannot be mapped) and scans the type table
//! once to index where each type starts; types are decoded when asked for and names are
//! searched in place. Every offset and count is checked: malformed BTF is an error, never a
//! panic or an out-of-bounds read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{BtfFault, Error, FormatFault, ModelFault};
use crate::types::{Member, RecordKind, Ty, TypeRef, TypeSource};

/// Where the running kernel publishes its BTF.
pub const SYS_BTF: &str = "/sys/kernel/btf";

/// The per-CPU section's name in BTF.
pub const PERCPU_SEC: &str = ".data..percpu";

/// BTF's magic number.
pub const MAGIC: u16 = 0xeb9f;

/// BTF kinds (`BTF_KIND_*`).
mod kind {
    pub(super) const INT: u32 = 1;
    pub(super) const PTR: u32 = 2;
    pub(super) const ARRAY: u32 = 3;
    pub(super) const STRUCT: u32 = 4;
    pub(super) const UNION: u32 = 5;
    pub(super) const ENUM: u32 = 6;
    pub(super) const FWD: u32 = 7;
    pub(super) const TYPEDEF: u32 = 8;
    pub(super) const VOLATILE: u32 = 9;
    pub(super) const CONST: u32 = 10;
    pub(super) const RESTRICT: u32 = 11;
    pub(super) const FUNC: u32 = 12;
    pub(super) const FUNC_PROTO: u32 = 13;
    pub(super) const VAR: u32 = 14;
    pub(super) const DATASEC: u32 = 15;
    pub(super) const FLOAT: u32 = 16;
    pub(super) const DECL_TAG: u32 = 17;
    pub(super) const TYPE_TAG: u32 = 18;
    pub(super) const ENUM64: u32 = 19;
}

/// The bytes of a BTF file: mapped, or read into memory.
enum Bytes {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// One parsed BTF blob: its bytes, where its sections are, and where each type starts.
struct Blob {
    bytes: Bytes,
    /// Byte range of the type section.
    types: std::ops::Range<usize>,
    /// Byte range of the string section.
    strs: std::ops::Range<usize>,
    /// Offset of each type's record inside `types` (index 0 is the first type of this blob).
    starts: Vec<u32>,
    /// Id of this blob's first type (1 for a base, base's end for split BTF).
    first_id: u32,
    /// String offset at which this blob's strings start (0, or base's string size).
    first_str: u32,
}

/// One decoded type record header.
#[derive(Debug, Clone, Copy)]
struct Head {
    name_off: u32,
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    size_or_type: u32,
    /// Offset of the bytes after the 12-byte header, inside `types`.
    rest: usize,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// Bytes that follow a type's 12-byte header.
fn extra_len(kind: u32, vlen: u32) -> Option<usize> {
    let vlen = vlen as usize;
    Some(match kind {
        kind::INT | kind::VAR | kind::DECL_TAG => 4,
        kind::ARRAY => 12,
        kind::STRUCT | kind::UNION | kind::DATASEC | kind::ENUM64 => vlen.checked_mul(12)?,
        kind::ENUM | kind::FUNC_PROTO => vlen.checked_mul(8)?,
        kind::PTR
        | kind::FWD
        | kind::TYPEDEF
        | kind::VOLATILE
        | kind::CONST
        | kind::RESTRICT
        | kind::FUNC
        | kind::FLOAT
        | kind::TYPE_TAG => 0,
        _ => return None,
    })
}

impl Blob {
    fn parse(bytes: Bytes, base: Option<&Blob>, what: &Path) -> Result<Blob, Error> {
        let bad = |f: BtfFault| Error::Format {
            path: what.to_path_buf(),
            fault: FormatFault::Btf(f),
        };
        let b: &[u8] = &bytes;
        if b.len() < 24 {
            return Err(bad(BtfFault::Short(b.len())));
        }
        let magic = u16::from_le_bytes([b[0], b[1]]);
        if magic != MAGIC {
            return Err(bad(BtfFault::Magic(magic)));
        }
        if b[2] != 1 {
            return Err(bad(BtfFault::Version(b[2])));
        }
        let field = |i: usize| u32_at(b, 4 + 4 * i).expect("header checked") as usize;
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (field(0), field(1), field(2), field(3), field(4));
        if hdr_len < 24 {
            return Err(bad(BtfFault::HeaderLen(hdr_len)));
        }
        let section = |off: usize, len: usize, name: &'static str| {
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= b.len() => Ok(s..e),
                _ => Err(bad(BtfFault::SectionPast {
                    name,
                    len,
                    off,
                    total: b.len(),
                })),
            }
        };
        let types = section(type_off, type_len, "type")?;
        let strs = section(str_off, str_len, "string")?;
        let (first_id, first_str) = match base {
            None => (1, 0),
            Some(base) => (
                base.first_id
                    .checked_add(base.count())
                    .ok_or_else(|| bad(BtfFault::TooManyTypes))?,
                base.first_str
                    .checked_add(base.strs.len() as u32)
                    .ok_or_else(|| bad(BtfFault::TooManyStrings))?,
            ),
        };
        let tb = &b[types.clone()];
        let mut starts = Vec::with_capacity(type_len / 16);
        let mut off = 0usize;
        while off < tb.len() {
            let info = u32_at(tb, off + 4).ok_or_else(|| bad(BtfFault::TypeCut(starts.len())))?;
            let (k, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            let extra = extra_len(k, vlen).ok_or_else(|| {
                bad(BtfFault::UnknownKind {
                    id: first_id as usize + starts.len(),
                    kind: k,
                })
            })?;
            let next = off
                .checked_add(12 + extra)
                .filter(|n| *n <= tb.len())
                .ok_or_else(|| bad(BtfFault::TypeCut(starts.len())))?;
            starts.push(u32::try_from(off).map_err(|_| bad(BtfFault::TypeSectionTooLarge))?);
            off = next;
        }
        if u32::try_from(starts.len())
            .ok()
            .and_then(|n| n.checked_add(first_id))
            .is_none()
        {
            return Err(bad(BtfFault::TooManyTypes));
        }
        Ok(Blob {
            bytes,
            types,
            strs,
            starts,
            first_id,
            first_str,
        })
    }

    fn count(&self) -> u32 {
        self.starts.len() as u32
    }

    fn tb(&self) -> &[u8] {
        &self.bytes[self.types.clone()]
    }

    fn head(&self, id: u32) -> Option<Head> {
        let i = id.checked_sub(self.first_id)? as usize;
        let off = *self.starts.get(i)? as usize;
        let tb = self.tb();
        let info = u32_at(tb, off + 4)?;
        Some(Head {
            name_off: u32_at(tb, off)?,
            kind: (info >> 24) & 0x1f,
            vlen: info & 0xffff,
            kind_flag: info >> 31 == 1,
            size_or_type: u32_at(tb, off + 8)?,
            rest: off + 12,
        })
    }

    /// The string at `off` of this blob's own string section.
    fn own_str(&self, off: u32) -> Option<&[u8]> {
        let s = &self.bytes[self.strs.clone()];
        let rel = off.checked_sub(self.first_str)? as usize;
        let tail = s.get(rel..)?;
        let end = tail.iter().position(|c| *c == 0)?;
        Some(&tail[..end])
    }
}

/// One BTF blob (vmlinux, or a module's split BTF over vmlinux's).
pub struct BtfTypes {
    own: Rc<Blob>,
    base: Option<Rc<Blob>>,
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

fn read_file(path: &Path) -> Result<Bytes, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    // A private read-only mapping: sysfs BTF refuses shared ones (VM_MAYSHARE).
    // SAFETY: the mapping is read-only and private; BTF files (sysfs BTF, built files) are not
    // truncated or rewritten while kpeek runs, and every read of the map is bounds-checked.
    match unsafe { memmap2::MmapOptions::new().map_copy_read_only(&f) } {
        Ok(m) if !m.is_empty() => Ok(Bytes::Map(m)),
        // Kernels before 6.16 cannot map /sys/kernel/btf/* (and sysfs reports no size): read it.
        _ => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut &f, &mut v).map_err(io)?;
            Ok(Bytes::Owned(v))
        }
    }
}

impl BtfTypes {
    /// The running kernel's vmlinux BTF.
    pub fn vmlinux() -> Result<BtfTypes, Error> {
        BtfTypes::from_file(&Path::new(SYS_BTF).join("vmlinux"))
    }

    /// A stand-alone BTF file.
    pub fn from_file(path: &Path) -> Result<BtfTypes, Error> {
        let blob = Blob::parse(read_file(path)?, None, path)?;
        Ok(BtfTypes {
            own: Rc::new(blob),
            base: None,
            what: format!("BTF of {}", path.display()),
        })
    }

    /// Stand-alone BTF bytes (tests, fuzzing).
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<BtfTypes, Error> {
        let blob = Blob::parse(Bytes::Owned(bytes.to_vec()), None, Path::new(what))?;
        Ok(BtfTypes {
            own: Rc::new(blob),
            base: None,
            what: what.to_string(),
        })
    }

    /// Split BTF bytes over `base` (tests, fuzzing).
    pub fn split_from_bytes(base: &BtfTypes, bytes: &[u8], what: &str) -> Result<BtfTypes, Error> {
        let blob = Blob::parse(
            Bytes::Owned(bytes.to_vec()),
            Some(&base.own),
            Path::new(what),
        )?;
        Ok(BtfTypes {
            own: Rc::new(blob),
            base: Some(base.own.clone()),
            what: what.to_string(),
        })
    }

    /// A module's split BTF over `base` (vmlinux's); `None` when the module has none.
    pub fn module(base: &BtfTypes, module: &str) -> Result<Option<BtfTypes>, Error> {
        let path: PathBuf = Path::new(SYS_BTF).join(module);
        if !path.exists() {
            return Ok(None);
        }
        let blob = Blob::parse(read_file(&path)?, Some(&base.own), &path)?;
        Ok(Some(BtfTypes {
            own: Rc::new(blob),
            base: Some(base.own.clone()),
            what: format!("BTF of module {module}"),
        }))
    }

    /// Number of types, `void` (id 0) and a base's types included: ids run from 0 to this - 1.
    pub fn type_count(&self) -> u32 {
        self.own.first_id + self.own.count()
    }

    fn blob_of(&self, id: u32) -> Option<&Blob> {
        if id >= self.own.first_id {
            Some(&self.own)
        } else {
            self.base.as_deref()
        }
    }

    fn head(&self, id: u32) -> Option<(&Blob, Head)> {
        let blob = self.blob_of(id)?;
        Some((blob, blob.head(id)?))
    }

    fn str_bytes(&self, off: u32) -> Option<&[u8]> {
        if off >= self.own.first_str {
            self.own.own_str(off)
        } else {
            self.base.as_deref()?.own_str(off)
        }
    }

    fn name(&self, off: u32) -> Option<String> {
        match self.str_bytes(off) {
            Some(n) if !n.is_empty() => Some(String::from_utf8_lossy(n).into_owned()),
            _ => None,
        }
    }

    /// Ids (in this blob and its base) of the kinds `want` accepts whose name is `name` (the
    /// kind is checked first: it is cheaper than the name).
    fn ids_named<'a>(
        &'a self,
        name: &'a str,
        want: impl Fn(u32) -> bool + Copy + 'a,
    ) -> impl Iterator<Item = (u32, Head)> + 'a {
        let blobs = self.base.iter().map(|b| &**b).chain([&*self.own]);
        blobs.flat_map(move |blob| {
            (0..blob.count()).filter_map(move |i| {
                let id = blob.first_id + i;
                let h = blob.head(id)?;
                (want(h.kind) && h.name_off != 0 && self.str_bytes(h.name_off)? == name.as_bytes())
                    .then_some((id, h))
            })
        })
    }

    /// The per-CPU variables: name → offset and type (this blob's own `.data..percpu` section:
    /// vmlinux's, or a module's).
    pub fn percpu_vars(&self) -> HashMap<String, PerCpuVar> {
        let mut out = HashMap::new();
        let own_first = self.own.first_id;
        for (id, h) in self.ids_named(PERCPU_SEC, |k| k == kind::DATASEC) {
            if id < own_first {
                continue;
            }
            let tb = self.own.tb();
            for i in 0..h.vlen as usize {
                let at = h.rest + 12 * i;
                let (Some(var_id), Some(offset)) = (u32_at(tb, at), u32_at(tb, at + 4)) else {
                    continue;
                };
                let Some((_, v)) = self.head(var_id) else {
                    continue;
                };
                if v.kind != kind::VAR {
                    continue;
                }
                let Some(name) = self.name(v.name_off) else {
                    continue;
                };
                out.insert(
                    name,
                    PerCpuVar {
                        offset: u64::from(offset),
                        type_id: v.size_or_type,
                    },
                );
            }
        }
        out
    }

    fn r(id: u32) -> TypeRef {
        // Source index 0: `Types` rebases references to the source's own index.
        TypeRef {
            src: 0,
            id: u64::from(id),
        }
    }

    fn record(&self, blob: &Blob, h: &Head, kind: RecordKind) -> Result<Ty, Error> {
        let tb = blob.tb();
        let mut members = Vec::with_capacity(h.vlen as usize);
        for i in 0..h.vlen as usize {
            let at = h.rest + 12 * i;
            let (Some(name_off), Some(ty), Some(off)) =
                (u32_at(tb, at), u32_at(tb, at + 4), u32_at(tb, at + 8))
            else {
                return Err(Error::Type(ModelFault::MemberCut {
                    what: self.what.to_string(),
                    index: i,
                }));
            };
            let (bit_offset, bit_size) = if h.kind_flag {
                (off & 0xff_ffff, Some(off >> 24).filter(|b| *b != 0))
            } else {
                (off, None)
            };
            members.push(Member {
                name: self.name(name_off),
                ty: Self::r(ty),
                bit_offset: u64::from(bit_offset),
                bit_size,
            });
        }
        Ok(Ty::Record {
            kind,
            name: self.name(h.name_off),
            size: u64::from(h.size_or_type),
            members,
        })
    }

    fn enumerators(&self, blob: &Blob, h: &Head, wide: bool) -> Vec<(String, i64)> {
        let tb = blob.tb();
        let step = if wide { 12 } else { 8 };
        (0..h.vlen as usize)
            .filter_map(|i| {
                let at = h.rest + step * i;
                let name = self.name(u32_at(tb, at)?).unwrap_or_default();
                let lo = u32_at(tb, at + 4)?;
                let v = if wide {
                    (u64::from(u32_at(tb, at + 8)?) << 32 | u64::from(lo)) as i64
                } else if h.kind_flag {
                    i64::from(lo as i32)
                } else {
                    i64::from(lo)
                };
                Some((name, v))
            })
            .collect()
    }
}

impl TypeSource for BtfTypes {
    fn get(&self, id: u64) -> Result<Ty, Error> {
        let id32 = u32::try_from(id).map_err(|_| Error::Type(ModelFault::BtfIdRange(id)))?;
        if id32 == 0 {
            return Ok(Ty::Void);
        }
        let (blob, h) = self.head(id32).ok_or_else(|| {
            Error::Type(ModelFault::NoBtfType {
                what: self.what.to_string(),
                id,
                count: self.type_count() as usize,
            })
        })?;
        let target = Self::r(h.size_or_type);
        let qualified = |qual: &'static str| Ty::Qualified { qual, target };
        Ok(match h.kind {
            kind::INT => {
                let enc = u32_at(blob.tb(), h.rest).unwrap_or(0) >> 24;
                let name = self.name(h.name_off);
                Ty::Int {
                    is_char: enc & 2 != 0 || name.as_deref().is_some_and(|n| n.ends_with("char")),
                    name: name.unwrap_or_else(|| "int".into()),
                    size: h.size_or_type,
                    signed: enc & 1 != 0,
                    is_bool: enc & 4 != 0,
                }
            }
            kind::FLOAT => Ty::Float {
                name: self.name(h.name_off).unwrap_or_else(|| "float".into()),
                size: h.size_or_type,
            },
            kind::PTR => Ty::Ptr(target),
            kind::ARRAY => {
                let tb = blob.tb();
                let (Some(elem), Some(len)) = (u32_at(tb, h.rest), u32_at(tb, h.rest + 8)) else {
                    return Err(Error::Type(ModelFault::ArrayCut {
                        what: self.what.to_string(),
                        id,
                    }));
                };
                Ty::Array {
                    elem: Self::r(elem),
                    len: u64::from(len),
                }
            }
            kind::STRUCT => self.record(blob, &h, RecordKind::Struct)?,
            kind::UNION => self.record(blob, &h, RecordKind::Union)?,
            kind::ENUM | kind::ENUM64 => Ty::Enum {
                name: self.name(h.name_off),
                size: h.size_or_type,
                signed: h.kind_flag,
                values: self.enumerators(blob, &h, h.kind == kind::ENUM64),
            },
            kind::FWD => Ty::Fwd {
                kind: if h.kind_flag {
                    RecordKind::Union
                } else {
                    RecordKind::Struct
                },
                name: self.name(h.name_off).unwrap_or_default(),
            },
            kind::TYPEDEF => Ty::Typedef {
                name: self.name(h.name_off).unwrap_or_default(),
                target,
            },
            kind::VOLATILE => qualified("volatile"),
            kind::CONST => qualified("const"),
            kind::RESTRICT | kind::TYPE_TAG | kind::VAR => qualified(""),
            kind::FUNC | kind::FUNC_PROTO => Ty::Func,
            other => {
                let what = match other {
                    kind::DATASEC => "DATASEC",
                    kind::DECL_TAG => "DECL_TAG",
                    _ => "BTF kind unknown",
                };
                return Err(Error::Type(ModelFault::NotData {
                    what: self.what.to_string(),
                    id,
                    kind: what,
                }));
            }
        })
    }

    fn find(&self, kind: &str, name: &str) -> Option<u64> {
        let want: fn(u32) -> bool = match kind {
            "struct" => |k| k == kind::STRUCT,
            "union" => |k| k == kind::UNION,
            "enum" => |k| k == kind::ENUM || k == kind::ENUM64,
            "" => |k| matches!(k, kind::TYPEDEF | kind::INT | kind::FLOAT),
            _ => return None,
        };
        self.ids_named(name, want)
            .next()
            .map(|(id, _)| u64::from(id))
    }

    fn describe(&self) -> String {
        self.what.clone()
    }

    /// BTF has no pointer size of its own: as libbpf does, the size of `long` says it (4 in a
    /// 32-bit kernel's BTF).
    fn ptr_size(&self) -> Option<u64> {
        ["long unsigned int", "long int"].iter().find_map(|n| {
            let id = self.find("", n)?;
            match self.get(id).ok()? {
                Ty::Int {
                    size: s @ (4 | 8), ..
                } => Some(u64::from(s)),
                _ => None,
            }
        })
    }
}

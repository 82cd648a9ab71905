//! Types from DWARF: a module's `.ko` (relocatable: its debug sections' relocations are applied)
//! or a vmlinux with debug info, read with `gimli` and `object`.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use gimli::{
    AttributeValue, DwTag, EndianSlice, LittleEndian, RelocateReader, UnitOffset, constants as dw,
};
use object::{Object, ObjectSection};

use crate::buildid::RunningError;
use crate::error::{BuildFault, Error, FormatFault, ModelFault};
use crate::types::{Member, RecordKind, Ty, TypeRef, TypeSource};

#[derive(Debug, Clone, Copy)]
struct Relocs(&'static object::read::RelocationMap);

impl gimli::Relocate<usize> for Relocs {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(self.0.relocate(offset as u64, value))
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        usize::try_from(self.0.relocate(offset as u64, value as u64))
            .map_err(|_| gimli::Error::OffsetOutOfBounds(value as u64))
    }
}

type R = RelocateReader<EndianSlice<'static, LittleEndian>, Relocs>;

/// The id of `void` (DWARF has no DIE for it).
const VOID: u64 = u64::MAX;
/// Bits of an id holding the DIE's offset; the bits above say which dimension of a
/// multi-dimensional array the id stands for.
const OFF_BITS: u32 = 48;

/// DWARF type information of one ELF file.
pub struct DwarfTypes {
    dwarf: gimli::Dwarf<R>,
    /// Units by start offset in .debug_info.
    units: Vec<(u64, gimli::Unit<R>)>,
    vars: HashMap<String, u64>,
    /// Variables defined (with a location) more than once: static ones of several files.
    dup_vars: std::collections::HashSet<String>,
    /// Static variables of functions (`static u64 count;` inside a function, which the symbol
    /// table names `count.0`): name → their DIEs.
    locals: HashMap<String, Vec<u64>>,
    /// Symbols of the per-CPU section (`DEFINE_PER_CPU` in a module).
    percpu: std::collections::HashSet<String>,
    named: HashMap<(u8, String), u64>,
    what: String,
    /// The file's GNU build-id note, if it has one.
    build_id: Option<Vec<u8>>,
    /// Bytes of a pointer in the code this file describes: 4 for a 32-bit ELF, else 8.
    ptr_size: u64,
}

fn fmt_err(path: &Path, fault: FormatFault) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        fault,
    }
}

/// The bytes of an ELF file (a `.ko`, compressed ones decompressed in memory, or a vmlinux),
/// kept for the whole process.
pub fn load_elf(path: &Path) -> Result<&'static [u8], Error> {
    let f = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: the mapping is read-only and private, and it is leaked below, so no slice of it
    // outlives it. Memory safety then rests on the file not changing underneath: it is a
    // module or vmlinux image that nothing rewrites while kpeek runs (were it truncated, reads
    // past the new end would raise SIGBUS, the risk every tool that maps object files takes).
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // A compressed .ko: decompressed in memory (the mapping is dropped).
    if let Some(v) = crate::kofile::decompress(&map, path)? {
        return Ok(Box::leak(v.into_boxed_slice()));
    }
    // The session lives as long as the process: keep the mapping.
    Ok(Box::leak(Box::new(map)))
}

/// The module name of a `.ko` path (`-` becomes `_`, as the kernel names modules).
pub fn module_name(path: &Path) -> String {
    let f = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let stem = f.split(".ko").next().unwrap_or(f);
    stem.replace('-', "_")
}

/// The `.ko` of a loaded module, from `modules.dep` of the running kernel (compressed ones too:
/// `.ko.xz`, `.ko.zst`, `.ko.gz`).
pub fn find_module_file(module: &str) -> Option<PathBuf> {
    let release = rustix::system::uname().release().to_str().ok()?.to_string();
    let dir = Path::new("/lib/modules").join(&release);
    let dep = std::fs::read_to_string(dir.join("modules.dep")).ok()?;
    dep.lines()
        .filter_map(|l| l.split(':').next())
        .find(|p| {
            module_name(Path::new(p)) == module
                && crate::kofile::KO_SUFFIXES.iter().any(|s| p.ends_with(s))
        })
        .map(|p| dir.join(p))
}

/// Names of the symbols defined in the per-CPU section.
fn percpu_symbols(obj: &object::File<'_>) -> std::collections::HashSet<String> {
    use object::ObjectSymbol;
    let Some(sec) = obj.section_by_name(crate::btf::PERCPU_SEC) else {
        return Default::default();
    };
    obj.symbols()
        .filter(|s| s.section_index() == Some(sec.index()) && s.is_definition())
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect()
}

fn kind_key(kind: &str) -> u8 {
    match kind {
        "struct" => 1,
        "union" => 2,
        "enum" => 3,
        _ => 0,
    }
}

impl DwarfTypes {
    /// Opens an ELF file with DWARF (`.ko` or vmlinux) and indexes its variables and types.
    pub fn open(path: &Path) -> Result<DwarfTypes, Error> {
        let data = load_elf(path)?;
        DwarfTypes::parse(data, &path.display().to_string())
    }

    /// Parses ELF bytes that live for the whole process.
    pub fn parse(data: &'static [u8], what: &str) -> Result<DwarfTypes, Error> {
        let p = Path::new(what);
        let obj = object::File::parse(data).map_err(|e| fmt_err(p, FormatFault::NotElf(e)))?;
        if obj.section_by_name(".debug_info").is_none() {
            return Err(fmt_err(p, FormatFault::NoDwarf));
        }
        let load = |id: gimli::SectionId| -> Result<R, Error> {
            let (bytes, relocs): (&'static [u8], &'static object::read::RelocationMap) =
                match obj.section_by_name(id.name()) {
                    Some(sec) => {
                        let bytes = match sec.uncompressed_data().map_err(|e| {
                            fmt_err(
                                p,
                                FormatFault::Section {
                                    section: id.name(),
                                    source: e,
                                },
                            )
                        })? {
                            std::borrow::Cow::Borrowed(b) => b,
                            std::borrow::Cow::Owned(v) => Box::leak(v.into_boxed_slice()),
                        };
                        let map = sec.relocation_map().map_err(|e| {
                            fmt_err(
                                p,
                                FormatFault::Relocations {
                                    section: id.name(),
                                    source: e,
                                },
                            )
                        })?;
                        (bytes, Box::leak(Box::new(map)))
                    }
                    None => (&[], Box::leak(Box::default())),
                };
            Ok(RelocateReader::new(
                EndianSlice::new(bytes, LittleEndian),
                Relocs(relocs),
            ))
        };
        let dwarf = gimli::Dwarf::load(load)?;
        let mut units = Vec::new();
        let mut iter = dwarf.units();
        while let Some(h) = iter
            .next()
            .map_err(|e| fmt_err(p, FormatFault::DebugInfo(e)))?
        {
            let start = h.debug_info_offset().map_or(0, |o| o.0 as u64);
            let unit = dwarf.unit(h).map_err(|e| {
                fmt_err(
                    p,
                    FormatFault::Unit {
                        offset: start,
                        source: e,
                    },
                )
            })?;
            units.push((start, unit));
        }
        let mut me = DwarfTypes {
            dwarf,
            units,
            vars: HashMap::new(),
            dup_vars: Default::default(),
            locals: HashMap::new(),
            percpu: percpu_symbols(&obj),
            named: HashMap::new(),
            what: format!("DWARF of {what}"),
            build_id: obj.build_id().ok().flatten().map(<[u8]>::to_vec),
            ptr_size: if obj.is_64() { 8 } else { 4 },
        };
        me.index().map_err(|e| fmt_err(p, FormatFault::Index(e)))?;
        Ok(me)
    }

    fn index(&mut self) -> gimli::Result<()> {
        for (start, unit) in &self.units {
            let mut cur = unit.entries();
            while let Some(e) = cur.next_dfs()? {
                let depth = e.depth();
                let tag = e.tag();
                let global = start + e.offset().0 as u64;
                let key = match tag {
                    dw::DW_TAG_variable if depth == 1 => None,
                    dw::DW_TAG_variable => {
                        // Static storage: a location that is one DW_OP_addr.
                        if let Some(AttributeValue::Exprloc(loc)) = e.attr_value(dw::DW_AT_location)
                            && gimli::Reader::to_slice(&loc.0)
                                .ok()
                                .and_then(|b| b.first().copied())
                                == Some(dw::DW_OP_addr.0)
                            && let Some(name) = self.name_at(unit, e)
                        {
                            self.locals.entry(name).or_default().push(global);
                        }
                        continue;
                    }
                    dw::DW_TAG_structure_type => Some(1),
                    dw::DW_TAG_union_type => Some(2),
                    dw::DW_TAG_enumeration_type => Some(3),
                    dw::DW_TAG_typedef | dw::DW_TAG_base_type => Some(0),
                    _ => continue,
                };
                if e.attr_value(dw::DW_AT_declaration).is_some() && key.is_some() {
                    continue;
                }
                let Some(name) = self.name_at(unit, e) else {
                    continue;
                };
                match key {
                    Some(k) => {
                        self.named.entry((k, name)).or_insert(global);
                    }
                    None => {
                        // A definition (with a location) beats a declaration.
                        let has_loc = e.attr_value(dw::DW_AT_location).is_some();
                        let prev_defined = self.vars.get(&name).is_some_and(|prev| {
                            self.unit_of(*prev).is_ok_and(|(_, pu, po)| {
                                pu.entry(po)
                                    .is_ok_and(|p| p.attr_value(dw::DW_AT_location).is_some())
                            })
                        });
                        if has_loc && prev_defined {
                            self.dup_vars.insert(name.clone());
                        }
                        if has_loc || !self.vars.contains_key(&name) {
                            self.vars.insert(name, global);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn name_at(
        &self,
        unit: &gimli::Unit<R>,
        e: &gimli::DebuggingInformationEntry<R>,
    ) -> Option<String> {
        let v = e.attr_value(dw::DW_AT_name)?;
        let s = self.dwarf.attr_string(unit, v).ok()?;
        Some(String::from_utf8_lossy(s.inner().slice()).into_owned())
    }

    /// The file's GNU build-id (`None`: it has no build-id note).
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// Opens a vmlinux with debug info after checking that it is the running kernel's build:
    /// its build-id must be the one `/sys/kernel/notes` gives (`running`; the DWARF of another
    /// build describes other layouts).
    pub fn open_vmlinux(
        path: &Path,
        running: Result<Vec<u8>, RunningError>,
    ) -> Result<DwarfTypes, Error> {
        let wrong = |fault: BuildFault| Error::WrongBuild {
            path: path.to_path_buf(),
            fault,
        };
        let running = running.map_err(|why| wrong(BuildFault::Unknown(why)))?;
        let data = load_elf(path)?;
        // Checked before the (slow) indexing of the DWARF.
        let obj = object::File::parse(data).map_err(|e| fmt_err(path, FormatFault::NotElf(e)))?;
        match obj.build_id().ok().flatten() {
            Some(id) if id == running.as_slice() => {}
            other => {
                return Err(wrong(BuildFault::Differs {
                    file: other.map(<[u8]>::to_vec),
                    running,
                }));
            }
        }
        DwarfTypes::parse(data, &path.display().to_string())
    }

    /// Whether symbol `name` lies in the per-CPU section (`.data..percpu`).
    pub fn is_percpu(&self, name: &str) -> bool {
        self.percpu.contains(name)
    }

    /// Names of all variables defined at file scope, with the ids of their types.
    pub fn variables(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.vars
            .iter()
            .filter_map(|(n, off)| self.var_type_at(*off).map(|t| (n.as_str(), t)))
    }

    fn unit_of(&self, off: u64) -> Result<(u64, &gimli::Unit<R>, UnitOffset<usize>), Error> {
        let i = self.units.partition_point(|(s, _)| *s <= off);
        let (start, unit) = self.units.get(i.wrapping_sub(1)).ok_or_else(|| {
            Error::Type(ModelFault::NoUnit {
                what: self.what.to_string(),
                offset: off,
            })
        })?;
        Ok((*start, unit, UnitOffset((off - start) as usize)))
    }

    fn global(start: u64, v: AttributeValue<R>) -> Option<u64> {
        match v {
            AttributeValue::UnitRef(o) => Some(start + o.0 as u64),
            AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
            _ => None,
        }
    }

    fn type_attr(start: u64, e: &gimli::DebuggingInformationEntry<R>) -> u64 {
        e.attr_value(dw::DW_AT_type)
            .and_then(|v| Self::global(start, v))
            .unwrap_or(VOID)
    }

    fn var_type_at(&self, off: u64) -> Option<u64> {
        let (start, unit, uo) = self.unit_of(off).ok()?;
        let e = unit.entry(uo).ok()?;
        if e.attr_value(dw::DW_AT_type).is_some() {
            return Some(Self::type_attr(start, &e));
        }
        // A definition that refers to its declaration for the type.
        let spec = e
            .attr_value(dw::DW_AT_specification)
            .and_then(|v| Self::global(start, v))?;
        let (start, unit, uo) = self.unit_of(spec).ok()?;
        let e = unit.entry(uo).ok()?;
        Some(Self::type_attr(start, &e))
    }

    fn record(
        &self,
        start: u64,
        unit: &gimli::Unit<R>,
        uo: UnitOffset<usize>,
        kind: RecordKind,
        name: Option<String>,
        size: u64,
    ) -> gimli::Result<Ty> {
        let mut tree = unit.entries_tree(Some(uo))?;
        let root = tree.root()?;
        let mut children = root.children();
        let mut members = Vec::new();
        while let Some(child) = children.next()? {
            let m = child.entry();
            if m.tag() != dw::DW_TAG_member {
                continue;
            }
            let byte_off = match m.attr_value(dw::DW_AT_data_member_location) {
                Some(v) => v.udata_value().unwrap_or(0),
                None => 0,
            };
            let bit_size = m
                .attr_value(dw::DW_AT_bit_size)
                .and_then(|v| v.udata_value())
                .map(|b| b as u32);
            let bit_offset = match (
                m.attr_value(dw::DW_AT_data_bit_offset)
                    .and_then(|v| v.udata_value()),
                bit_size,
            ) {
                (Some(b), _) => b,
                (None, Some(bs)) => match m
                    .attr_value(dw::DW_AT_bit_offset)
                    .and_then(|v| v.udata_value())
                {
                    // DWARF 2/3: counted from the most significant bit of a storage unit.
                    Some(msb) => {
                        let unit_bytes = m
                            .attr_value(dw::DW_AT_byte_size)
                            .and_then(|v| v.udata_value())
                            .unwrap_or(0);
                        byte_off * 8 + (unit_bytes * 8).saturating_sub(msb + u64::from(bs))
                    }
                    None => byte_off * 8,
                },
                (None, None) => byte_off * 8,
            };
            members.push(Member {
                name: self.name_at(unit, m),
                ty: TypeRef {
                    src: 0,
                    id: Self::type_attr(start, m),
                },
                bit_offset,
                bit_size,
            });
        }
        Ok(Ty::Record {
            kind,
            name,
            size,
            members,
        })
    }

    fn subranges(&self, unit: &gimli::Unit<R>, uo: UnitOffset<usize>) -> gimli::Result<Vec<u64>> {
        let mut tree = unit.entries_tree(Some(uo))?;
        let root = tree.root()?;
        let mut children = root.children();
        let mut dims = Vec::new();
        while let Some(child) = children.next()? {
            let s = child.entry();
            if s.tag() != dw::DW_TAG_subrange_type {
                continue;
            }
            let n = match (
                s.attr_value(dw::DW_AT_count),
                s.attr_value(dw::DW_AT_upper_bound),
            ) {
                (Some(c), _) => c.udata_value().unwrap_or(0),
                (None, Some(u)) => u.udata_value().map_or(0, |u| u + 1),
                _ => 0,
            };
            dims.push(n);
        }
        Ok(dims)
    }

    fn convert(&self, id: u64) -> Result<Ty, Error> {
        if id == VOID {
            return Ok(Ty::Void);
        }
        let off = id & ((1 << OFF_BITS) - 1);
        let dim = (id >> OFF_BITS) as usize;
        let (start, unit, uo) = self.unit_of(off)?;
        let bad = |source: gimli::Error| {
            Error::Type(ModelFault::Die {
                what: self.what.to_string(),
                offset: off,
                source,
            })
        };
        let e = unit.entry(uo).map_err(bad)?;
        let name = self.name_at(unit, &e);
        let size = e
            .attr_value(dw::DW_AT_byte_size)
            .and_then(|v| v.udata_value())
            .unwrap_or(0);
        let target = TypeRef {
            src: 0,
            id: Self::type_attr(start, &e),
        };
        let declared = e.attr_value(dw::DW_AT_declaration).is_some();
        let tag: DwTag = e.tag();
        Ok(match tag {
            dw::DW_TAG_base_type => {
                let enc = match e.attr_value(dw::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(x)) => x,
                    _ => dw::DW_ATE_unsigned,
                };
                let name = name.unwrap_or_else(|| "int".into());
                match enc {
                    dw::DW_ATE_float => Ty::Float {
                        name,
                        size: size as u32,
                    },
                    _ => Ty::Int {
                        signed: matches!(enc, dw::DW_ATE_signed | dw::DW_ATE_signed_char),
                        is_char: matches!(enc, dw::DW_ATE_signed_char | dw::DW_ATE_unsigned_char),
                        is_bool: enc == dw::DW_ATE_boolean,
                        name,
                        size: size as u32,
                    },
                }
            }
            dw::DW_TAG_pointer_type => Ty::Ptr(target),
            dw::DW_TAG_const_type => Ty::Qualified {
                qual: "const",
                target,
            },
            dw::DW_TAG_volatile_type => Ty::Qualified {
                qual: "volatile",
                target,
            },
            dw::DW_TAG_restrict_type | dw::DW_TAG_atomic_type => Ty::Qualified { qual: "", target },
            dw::DW_TAG_typedef => Ty::Typedef {
                name: name.unwrap_or_default(),
                target,
            },
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type => {
                let kind = if tag == dw::DW_TAG_union_type {
                    RecordKind::Union
                } else {
                    RecordKind::Struct
                };
                if declared {
                    Ty::Fwd {
                        kind,
                        name: name.unwrap_or_default(),
                    }
                } else {
                    self.record(start, unit, uo, kind, name, size)
                        .map_err(bad)?
                }
            }
            dw::DW_TAG_array_type => {
                let dims = self.subranges(unit, uo).map_err(bad)?;
                let len = dims.get(dim).copied().unwrap_or(0);
                let elem = if dim + 1 < dims.len() {
                    TypeRef {
                        src: 0,
                        id: off | (((dim + 1) as u64) << OFF_BITS),
                    }
                } else {
                    target
                };
                Ty::Array { elem, len }
            }
            dw::DW_TAG_enumeration_type => {
                let mut values = Vec::new();
                let mut tree = unit.entries_tree(Some(uo)).map_err(bad)?;
                let root = tree.root().map_err(bad)?;
                let mut children = root.children();
                while let Some(child) = children.next().map_err(bad)? {
                    let en = child.entry();
                    if en.tag() != dw::DW_TAG_enumerator {
                        continue;
                    }
                    let v = match en.attr_value(dw::DW_AT_const_value) {
                        Some(AttributeValue::Sdata(s)) => s,
                        Some(AttributeValue::Udata(u)) => u as i64,
                        Some(other) => other.sdata_value().unwrap_or(0),
                        None => 0,
                    };
                    values.push((self.name_at(unit, en).unwrap_or_default(), v));
                }
                let signed = values.iter().any(|(_, v)| *v < 0);
                Ty::Enum {
                    name,
                    size: size as u32,
                    signed,
                    values,
                }
            }
            dw::DW_TAG_subroutine_type => Ty::Func,
            dw::DW_TAG_variable => Ty::Qualified { qual: "", target },
            other => {
                return Err(Error::Type(ModelFault::NotType {
                    what: self.what.to_string(),
                    offset: off,
                    tag: other.to_string(),
                }));
            }
        })
    }
}

impl From<gimli::Error> for Error {
    fn from(e: gimli::Error) -> Error {
        Error::Type(ModelFault::Dwarf(e))
    }
}

impl TypeSource for DwarfTypes {
    fn get(&self, id: u64) -> Result<Ty, Error> {
        self.convert(id)
    }

    fn find(&self, kind: &str, name: &str) -> Option<u64> {
        self.named.get(&(kind_key(kind), name.to_string())).copied()
    }

    fn describe(&self) -> String {
        self.what.clone()
    }

    fn as_dwarf(&self) -> Option<&DwarfTypes> {
        Some(self)
    }

    fn ptr_size(&self) -> Option<u64> {
        Some(self.ptr_size)
    }
}

/// The type id of variable `name` in a DWARF source (`None` for other sources or no such
/// variable).
///
/// A name with a compiler's suffix (`count.0`, `foo.isra.0`, `__key.1`: the symbol table's name
/// of a function's static variable, or of a renamed file-scope one) is the variable named by the
/// part before the first `.`: a function's static variable of that name when exactly one
/// function has one, else the file-scope variable.
pub fn var_type(src: &dyn TypeSource, name: &str) -> Option<u64> {
    let d = src.as_dwarf()?;
    if let Some(off) = d.vars.get(name) {
        return d.var_type_at(*off);
    }
    let (stem, _) = name.split_once('.')?;
    match d.locals.get(stem).map(Vec::as_slice) {
        Some([one]) => d.var_type_at(*one),
        Some([_, _, ..]) => None,
        _ => d.var_type_at(*d.vars.get(stem)?),
    }
}

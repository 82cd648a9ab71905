//! The type model shared by every type source (BTF, DWARF, the synthetic types of `--as`).
//!
//! A source hands out [`Ty`] values one at a time by id ([`TypeSource::get`]); members, pointer
//! targets and array elements refer to other types of the same source by id. [`Types`] joins
//! several sources and adds types made up on the fly (`u64 *`, `char[16]`).

use std::cell::RefCell;

use crate::error::{Error, ModelFault, TypeNameFault};

/// A type: which source it comes from and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeRef {
    /// Index of the source in [`Types`]; [`SYNTH`] for made-up types.
    pub src: u16,
    /// The id inside that source.
    pub id: u64,
}

/// The `src` of made-up types.
pub const SYNTH: u16 = u16::MAX;

/// Struct or union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `struct`
    Struct,
    /// `union`
    Union,
}

impl RecordKind {
    /// The C keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            RecordKind::Struct => "struct",
            RecordKind::Union => "union",
        }
    }
}

/// A member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name; `None` for an anonymous struct or union member.
    pub name: Option<String>,
    /// Its type.
    pub ty: TypeRef,
    /// Offset from the start of the record, in bits.
    pub bit_offset: u64,
    /// Width in bits of a bitfield.
    pub bit_size: Option<u32>,
}

/// One type, as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `void`
    Void,
    /// An integer (also `char` and `_Bool`).
    Int {
        /// C name, e.g. `unsigned int`.
        name: String,
        /// Bytes.
        size: u32,
        /// Signed.
        signed: bool,
        /// A character type (`char` arrays print as strings).
        is_char: bool,
        /// `_Bool`.
        is_bool: bool,
    },
    /// A floating-point type.
    Float {
        /// C name.
        name: String,
        /// Bytes.
        size: u32,
    },
    /// A pointer (8 bytes).
    Ptr(TypeRef),
    /// An array; `len` 0 for a flexible array member.
    Array {
        /// Element type.
        elem: TypeRef,
        /// Number of elements.
        len: u64,
    },
    /// A struct or union.
    Record {
        /// Which.
        kind: RecordKind,
        /// Tag name; `None` when anonymous.
        name: Option<String>,
        /// Bytes.
        size: u64,
        /// Members in declaration order.
        members: Vec<Member>,
    },
    /// An enum.
    Enum {
        /// Tag name.
        name: Option<String>,
        /// Bytes.
        size: u32,
        /// Signed values.
        signed: bool,
        /// Enumerators.
        values: Vec<(String, i64)>,
    },
    /// A typedef.
    Typedef {
        /// Its name.
        name: String,
        /// What it names.
        target: TypeRef,
    },
    /// `const`, `volatile`, `restrict` or a type tag: looked through.
    Qualified {
        /// The qualifier as C spells it (empty for type tags).
        qual: &'static str,
        /// The qualified type.
        target: TypeRef,
    },
    /// A struct or union declared but not defined here.
    Fwd {
        /// Which.
        kind: RecordKind,
        /// Tag name.
        name: String,
    },
    /// A function (only pointers to it are read).
    Func,
}

/// Where types come from.
pub trait TypeSource {
    /// The type with this id.
    fn get(&self, id: u64) -> Result<Ty, Error>;
    /// The id of a named type: `kind` is `struct`, `union`, `enum` or empty (typedefs, base types).
    fn find(&self, kind: &str, name: &str) -> Option<u64>;
    /// A short description for messages, e.g. `BTF of vmlinux`.
    fn describe(&self) -> String;
    /// This source as DWARF, to look variables up.
    fn as_dwarf(&self) -> Option<&crate::dwarf::DwarfTypes> {
        None
    }
    /// Bytes of a pointer in the kernel or module this source describes, where it says
    /// (DWARF: the ELF class of its file; BTF: the size of `long`); `None`: it does not say.
    fn ptr_size(&self) -> Option<u64> {
        None
    }
}

impl<T: TypeSource + ?Sized> TypeSource for std::rc::Rc<T> {
    fn get(&self, id: u64) -> Result<Ty, Error> {
        (**self).get(id)
    }
    fn find(&self, kind: &str, name: &str) -> Option<u64> {
        (**self).find(kind, name)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn as_dwarf(&self) -> Option<&crate::dwarf::DwarfTypes> {
        (**self).as_dwarf()
    }
    fn ptr_size(&self) -> Option<u64> {
        (**self).ptr_size()
    }
}

/// Several sources searched in order, plus made-up types.
pub struct Types {
    sources: Vec<Box<dyn TypeSource>>,
    /// The word size the last source that says one gave (see [`Types::word`]).
    source_word: Option<u64>,
    /// The word size the running kernel gave (see [`Types::set_kernel_word`]).
    kernel_word: std::cell::Cell<Option<u64>>,
    synth: RefCell<Vec<Ty>>,
    found: RefCell<std::collections::HashMap<(String, String), Option<TypeRef>>>,
}

impl Default for Types {
    fn default() -> Self {
        Types::new()
    }
}

/// Size of a pointer on a 64-bit kernel, until a type source says otherwise.
pub const PTR_SIZE: u64 = 8;

impl Types {
    /// No sources yet.
    pub fn new() -> Types {
        Types {
            sources: Vec::new(),
            source_word: None,
            kernel_word: std::cell::Cell::new(None),
            synth: RefCell::new(Vec::new()),
            found: RefCell::new(std::collections::HashMap::new()),
        }
    }

    /// Adds a source; returns its index.
    pub fn add(&mut self, src: Box<dyn TypeSource>) -> u16 {
        // A 32-bit kernel's module DWARF has 4-byte pointers; the running kernel's sources all
        // agree on it, so the last one that says decides.
        if let Some(n) = src.ptr_size() {
            self.source_word = Some(n);
        }
        self.sources.push(src);
        // A new source may know names the others did not.
        self.found.borrow_mut().clear();
        u16::try_from(self.sources.len() - 1).expect("fewer than 65535 type sources")
    }

    /// The kernel's word (`unsigned long`, pointer) size in bytes, where known: the one place
    /// it is decided. The running kernel's own word ([`Types::set_kernel_word`]: the address
    /// width of its kallsyms) comes first; else the last type source that says one (the ELF
    /// class of a DWARF file, the size of `long` in BTF); else `None`.
    pub fn word(&self) -> Option<u64> {
        self.kernel_word.get().or(self.source_word)
    }

    /// Records the running kernel's word size (4 or 8), which [`Types::word`] then prefers
    /// over what type sources say.
    pub fn set_kernel_word(&self, bytes: u64) {
        self.kernel_word.set(Some(bytes));
    }

    /// Bytes of a pointer in the kernel these types describe: [`Types::word`], or 8 (a 64-bit
    /// kernel) where nothing said.
    pub fn ptr_size(&self) -> u64 {
        self.word().unwrap_or(PTR_SIZE)
    }

    /// The source `i`.
    pub fn source(&self, i: u16) -> Option<&dyn TypeSource> {
        self.sources.get(usize::from(i)).map(|b| b.as_ref())
    }

    /// A made-up type.
    pub fn synth(&self, ty: Ty) -> TypeRef {
        let mut v = self.synth.borrow_mut();
        v.push(ty);
        TypeRef {
            src: SYNTH,
            id: (v.len() - 1) as u64,
        }
    }

    /// The type `r`.
    pub fn get(&self, r: TypeRef) -> Result<Ty, Error> {
        if r.src == SYNTH {
            return self
                .synth
                .borrow()
                .get(r.id as usize)
                .cloned()
                .ok_or(Error::Type(ModelFault::NoSynth(r.id)));
        }
        let src = self
            .sources
            .get(usize::from(r.src))
            .ok_or(Error::Type(ModelFault::NoSource(r.src)))?;
        Ok(rebase(src.get(r.id)?, r.src))
    }

    /// The first source's type of this name (answers are remembered: a BTF name search scans
    /// the whole type table).
    pub fn find(&self, kind: &str, name: &str) -> Option<TypeRef> {
        let key = (kind.to_string(), name.to_string());
        if let Some(hit) = self.found.borrow().get(&key) {
            return *hit;
        }
        let r = self
            .sources
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.find(kind, name).map(|id| TypeRef { src: i as u16, id }));
        self.found.borrow_mut().insert(key, r);
        r
    }

    /// Looks through typedefs and qualifiers.
    pub fn resolve(&self, mut r: TypeRef) -> Result<(TypeRef, Ty), Error> {
        for _ in 0..64 {
            match self.get(r)? {
                Ty::Typedef { target, .. } | Ty::Qualified { target, .. } => r = target,
                Ty::Fwd { kind, name } => {
                    // A declaration: take the definition from any source that has one.
                    match self.find(kind.keyword(), &name) {
                        Some(def) if def != r => match self.get(def)? {
                            Ty::Fwd { .. } => return Ok((r, Ty::Fwd { kind, name })),
                            t => return Ok((def, t)),
                        },
                        _ => return Ok((r, Ty::Fwd { kind, name })),
                    }
                }
                t => return Ok((r, t)),
            }
        }
        Err(Error::Type(ModelFault::TypedefChain))
    }

    /// Bytes of a value of type `r`.
    pub fn size_of(&self, r: TypeRef) -> Result<u64, Error> {
        let (_, t) = self.resolve(r)?;
        Ok(match t {
            Ty::Void | Ty::Func => 0,
            Ty::Int { size, .. } | Ty::Float { size, .. } | Ty::Enum { size, .. } => {
                u64::from(size)
            }
            Ty::Ptr(_) => self.ptr_size(),
            Ty::Array { elem, len } => self
                .size_of(elem)?
                .checked_mul(len)
                .ok_or(Error::Type(ModelFault::ArraySize))?,
            Ty::Record { size, .. } => size,
            Ty::Fwd { kind, name } => {
                return Err(Error::Type(ModelFault::Declared {
                    kind: kind.keyword(),
                    name,
                }));
            }
            Ty::Typedef { .. } | Ty::Qualified { .. } => unreachable!("resolved"),
        })
    }

    /// The C name of a type: `struct task_struct`, `char[16]`, `struct rq *`, `u64`.
    pub fn name(&self, r: TypeRef) -> String {
        let (base, suffix) = self.name_parts(r, 0);
        format!("{base}{suffix}")
    }

    fn name_parts(&self, r: TypeRef, depth: u32) -> (String, String) {
        if depth > 32 {
            return ("...".into(), String::new());
        }
        match self.get(r) {
            Err(_) => (format!("<bad type {}:{}>", r.src, r.id), String::new()),
            Ok(t) => match t {
                Ty::Void => ("void".into(), String::new()),
                Ty::Func => ("function".into(), String::new()),
                Ty::Int { name, .. } | Ty::Float { name, .. } | Ty::Typedef { name, .. } => {
                    (name, String::new())
                }
                Ty::Record { kind, name, .. } => (
                    format!(
                        "{} {}",
                        kind.keyword(),
                        name.as_deref().unwrap_or("<anonymous>")
                    ),
                    String::new(),
                ),
                Ty::Fwd { kind, name } => (format!("{} {name}", kind.keyword()), String::new()),
                Ty::Enum { name, .. } => (
                    format!("enum {}", name.as_deref().unwrap_or("<anonymous>")),
                    String::new(),
                ),
                Ty::Qualified { qual, target } => {
                    let (b, s) = self.name_parts(target, depth + 1);
                    if qual.is_empty() {
                        (b, s)
                    } else {
                        (format!("{qual} {b}"), s)
                    }
                }
                Ty::Ptr(target) => {
                    let (b, s) = self.name_parts(target, depth + 1);
                    if s.is_empty() {
                        (format!("{b} *"), String::new())
                    } else {
                        (format!("{b} (*"), format!("){s}"))
                    }
                }
                Ty::Array { elem, len } => {
                    let (b, s) = self.name_parts(elem, depth + 1);
                    (b, format!("[{len}]{s}"))
                }
            },
        }
    }

    /// Finds member `name` in record type `r` (searching anonymous members too): the member's
    /// type and its bit offset from the start of `r`, and its bitfield width.
    pub fn member(
        &self,
        r: TypeRef,
        name: &str,
    ) -> Result<Option<(TypeRef, u64, Option<u32>)>, Error> {
        self.member_in(r, name, 0)
    }

    fn member_in(
        &self,
        r: TypeRef,
        name: &str,
        depth: u32,
    ) -> Result<Option<(TypeRef, u64, Option<u32>)>, Error> {
        if depth > 16 {
            return Ok(None);
        }
        let (_, t) = self.resolve(r)?;
        let Ty::Record { members, .. } = t else {
            return Ok(None);
        };
        for m in &members {
            match &m.name {
                Some(n) if n == name => return Ok(Some((m.ty, m.bit_offset, m.bit_size))),
                None => {
                    if let Some((t, off, bs)) = self.member_in(m.ty, name, depth + 1)? {
                        return Ok(Some((t, m.bit_offset + off, bs)));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Names of the members of record `r` (anonymous members' members included), for "did you
    /// mean" messages.
    pub fn member_names(&self, r: TypeRef) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_names(r, &mut out, 0);
        out
    }

    fn collect_names(&self, r: TypeRef, out: &mut Vec<String>, depth: u32) {
        if depth > 16 {
            return;
        }
        if let Ok((_, Ty::Record { members, .. })) = self.resolve(r) {
            for m in members {
                match m.name {
                    Some(n) => out.push(n),
                    None => self.collect_names(m.ty, out, depth + 1),
                }
            }
        }
    }

    /// Parses a C type name as `--as` takes it: `u64`, `unsigned long`, `struct task_struct`,
    /// `char[16]`, `struct rq *`, `int *[4]`.
    pub fn parse_type(&self, text: &str) -> Result<TypeRef, Error> {
        let bad = |fault: TypeNameFault| Error::UnknownType {
            name: text.to_string(),
            fault,
        };
        let mut s = text.trim();
        // Trailing array bounds, outermost last: `char[2][3]` is an array of 2 arrays of 3.
        let mut dims = Vec::new();
        while let Some(stripped) = s.strip_suffix(']') {
            let open = stripped
                .rfind('[')
                .ok_or_else(|| bad(TypeNameFault::Unbalanced))?;
            let n = stripped[open + 1..].trim();
            let len = parse_num(n).ok_or_else(|| bad(TypeNameFault::BadLength(n.to_string())))?;
            dims.push(len);
            s = stripped[..open].trim_end();
        }
        let mut stars = 0;
        while let Some(stripped) = s.strip_suffix('*') {
            stars += 1;
            s = stripped.trim_end();
        }
        let words: Vec<&str> = s
            .split_whitespace()
            .filter(|w| *w != "const" && *w != "volatile")
            .collect();
        if words.is_empty() {
            return Err(bad(TypeNameFault::NoName));
        }
        let mut r = match words[0] {
            "struct" | "union" | "enum" if words.len() == 2 => {
                self.find(words[0], words[1]).ok_or_else(|| {
                    bad(TypeNameFault::NoTagged {
                        kind: words[0].to_string(),
                        name: words[1].to_string(),
                    })
                })?
            }
            "void" if words.len() == 1 => self.synth(Ty::Void),
            _ => {
                let name = words.join(" ");
                match self.find("", &name) {
                    Some(r) => r,
                    None => builtin(&name)
                        .map(|t| self.synth(t))
                        .ok_or_else(|| bad(TypeNameFault::NoSuchType))?,
                }
            }
        };
        for _ in 0..stars {
            r = self.synth(Ty::Ptr(r));
        }
        for len in dims.into_iter().rev() {
            r = self.synth(Ty::Array { elem: r, len });
        }
        Ok(r)
    }
}

/// Points the type references of `t` (made by a source that numbers itself 0) at source `src`.
fn rebase(t: Ty, src: u16) -> Ty {
    let fix = |r: TypeRef| TypeRef { src, id: r.id };
    match t {
        Ty::Ptr(r) => Ty::Ptr(fix(r)),
        Ty::Array { elem, len } => Ty::Array {
            elem: fix(elem),
            len,
        },
        Ty::Typedef { name, target } => Ty::Typedef {
            name,
            target: fix(target),
        },
        Ty::Qualified { qual, target } => Ty::Qualified {
            qual,
            target: fix(target),
        },
        Ty::Record {
            kind,
            name,
            size,
            members,
        } => Ty::Record {
            kind,
            name,
            size,
            members: members
                .into_iter()
                .map(|m| Member { ty: fix(m.ty), ..m })
                .collect(),
        },
        other => other,
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The kernel's fixed-width names, for sources that lack them (module DWARF often does).
fn builtin(name: &str) -> Option<Ty> {
    let (size, signed) = match name {
        "u8" | "__u8" | "uint8_t" | "unsigned char" => (1, false),
        "s8" | "__s8" | "int8_t" | "signed char" => (1, true),
        "u16" | "__u16" | "uint16_t" | "unsigned short" => (2, false),
        "s16" | "__s16" | "int16_t" | "short" => (2, true),
        "u32" | "__u32" | "uint32_t" | "unsigned int" | "unsigned" => (4, false),
        "s32" | "__s32" | "int32_t" | "int" => (4, true),
        "u64" | "__u64" | "uint64_t" | "unsigned long" | "unsigned long long" | "size_t" => {
            (8, false)
        }
        "s64" | "__s64" | "int64_t" | "long" | "long long" | "ssize_t" => (8, true),
        "char" => {
            return Some(Ty::Int {
                name: "char".into(),
                size: 1,
                signed: true,
                is_char: true,
                is_bool: false,
            });
        }
        "bool" | "_Bool" => {
            return Some(Ty::Int {
                name: name.into(),
                size: 1,
                signed: false,
                is_char: false,
                is_bool: true,
            });
        }
        _ => return None,
    };
    Some(Ty::Int {
        name: name.into(),
        size,
        signed,
        is_char: false,
        is_bool: false,
    })
}

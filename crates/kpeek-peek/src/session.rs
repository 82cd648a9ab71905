//! Evaluating expressions: symbols to addresses, addresses to typed places, places to values.

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use ksyms::Ksyms;

use crate::btf::{BtfTypes, PerCpuVar};
use crate::error::{
    BackendFault, Error, LocateFault, PerCpuFault, StepFault, TypeNameFault, close_names,
};
use crate::expr::{Base, Expr};
pub use crate::locate::Locate;
pub(crate) use crate::locate::Resolved;
pub use crate::options::{Options, PerCpuMethod};
use crate::percpu_eval::PerCpuAt;
use crate::types::{TypeRef, Types};
use crate::value::{Bits, Value, decode};
use crate::via::Backend;
use crate::walk::{Place, read_named, walk};
use crate::{dwarf, globals};

/// Largest value one expression reads (a whole `struct task_struct` is ~10 KiB).
pub const MAX_READ: u64 = 1 << 20;
/// Where Debian's `linux-image-*-dbg` package puts the kernel with debug info (+ release).
pub const DEBIAN_DBG: &str = "/usr/lib/debug/boot/vmlinux-";
/// Bytes shown of a symbol with no type information when its size is unknown.
pub const RAW_DEFAULT: u64 = 64;
/// Most bytes shown of a symbol with no type information.
pub const RAW_MAX: u64 = 4096;

/// One expression's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The expression as given.
    pub expr: String,
    /// Its C type name.
    pub ty: String,
    /// Its value.
    pub value: Value,
    /// The backend that read it.
    pub via: &'static str,
    /// The address read (for a single place).
    pub addr: Option<u64>,
    /// Where the type came from (`BTF`, `DWARF of M.ko`, `--as`, `table`, or why there is none).
    pub type_from: String,
    /// How the address was found: `kallsyms`, `kernel` (kpeek.ko's look-up), `sections` (the
    /// module's `.ko` and `/sys/module/<mod>/sections`), `btf` (a per-CPU variable's offset),
    /// `address` (given).
    pub located: &'static str,
    /// The same, said in full (for `-v`).
    pub located_how: String,
}

/// A symbol's type and where it came from.
pub(crate) type Typed = (TypeRef, String);

pub(crate) struct ModTypes {
    /// The module's DWARF source (variables are typed only from DWARF: BTF lists none).
    pub(crate) dwarf: Option<u16>,
    /// Why there is none.
    pub(crate) why: Option<String>,
    /// The module's `.ko` and its bytes (its symbol table locates variables by section).
    pub(crate) ko: Option<(PathBuf, &'static [u8])>,
    /// Why there is none.
    pub(crate) no_ko: Option<String>,
}

/// Loaded type sources and symbols; evaluates expressions through a [`Backend`].
pub struct Session {
    pub(crate) types: Types,
    pub(crate) vmlinux_btf: Option<u16>,
    pub(crate) vmlinux_base: Option<Rc<BtfTypes>>,
    pub(crate) vmlinux_dwarf: Option<u16>,
    pub(crate) percpu: HashMap<String, PerCpuVar>,
    /// The symbol table, read on first use (reading /proc/kallsyms costs ~100 ms).
    pub(crate) ksyms: std::cell::OnceCell<Result<Ksyms, std::sync::Arc<ksyms::Error>>>,
    pub(crate) load_ksyms: Box<dyn Fn() -> Result<Ksyms, ksyms::Error>>,
    pub(crate) modules: HashMap<String, ModTypes>,
    pub(crate) cpus: Vec<u32>,
    pub(crate) bases: HashMap<u32, u64>,
    /// Types of symbols already looked up (for --watch).
    pub(crate) typed: HashMap<(Option<String>, String), Option<Typed>>,
    pub(crate) opts: Options,
}

fn vmlinux_name(m: Option<&str>) -> bool {
    m.is_none_or(|m| m == "vmlinux")
}

impl Session {
    /// Loads vmlinux BTF and `--debuginfo`; `load_ksyms` reads the symbol table when first needed.
    pub fn new(
        opts: Options,
        load_ksyms: Box<dyn Fn() -> Result<Ksyms, ksyms::Error>>,
    ) -> Result<Session, Error> {
        Session::with_vmlinux_btf(opts, BtfTypes::vmlinux().ok(), load_ksyms)
    }

    /// As [`Session::new`], with `vmlinux` standing for the running kernel's BTF (BTF of
    /// another kernel, or made up for tests).
    pub fn with_vmlinux_btf(
        opts: Options,
        vmlinux: Option<BtfTypes>,
        load_ksyms: Box<dyn Fn() -> Result<Ksyms, ksyms::Error>>,
    ) -> Result<Session, Error> {
        let mut types = Types::new();
        let mut vmlinux_dwarf = None;
        if let Some(p) = &opts.debuginfo {
            vmlinux_dwarf = Some(types.add(Box::new(dwarf::DwarfTypes::open_vmlinux(
                p,
                crate::buildid::running(),
            )?)));
        }
        let (vmlinux_btf, vmlinux_base, percpu) = match vmlinux {
            Some(b) => {
                let pc = b.percpu_vars();
                let b = Rc::new(b);
                (Some(types.add(Box::new(b.clone()))), Some(b), pc)
            }
            None => (None, None, HashMap::new()),
        };
        let mut s = Session {
            types,
            vmlinux_btf,
            vmlinux_base,
            vmlinux_dwarf,
            percpu,
            ksyms: std::cell::OnceCell::new(),
            load_ksyms,
            modules: HashMap::new(),
            cpus: Vec::new(),
            bases: HashMap::new(),
            typed: HashMap::new(),
            opts,
        };
        for f in s.opts.module_files.clone() {
            let data = dwarf::load_elf(&f)?;
            let d = dwarf::DwarfTypes::parse(data, &f.display().to_string())?;
            let name = dwarf::module_name(&f);
            let i = s.types.add(Box::new(d));
            s.modules.insert(
                name,
                ModTypes {
                    dwarf: Some(i),
                    why: None,
                    ko: Some((f, data)),
                    no_ko: None,
                },
            );
        }
        Ok(s)
    }

    /// The symbol table, when readable.
    pub fn ksyms(&self) -> Option<&Ksyms> {
        self.ksyms_result().as_ref().ok()
    }

    pub(crate) fn ksyms_result(&self) -> &Result<Ksyms, std::sync::Arc<ksyms::Error>> {
        self.ksyms.get_or_init(|| {
            let ks = (self.load_ksyms)().map_err(std::sync::Arc::new)?;
            // The address width of kallsyms is the running kernel's word: 8 digits on a 32-bit
            // kernel (the one statement of it that comes from the kernel itself).
            match ks.address_digits() {
                8 => self.types.set_kernel_word(4),
                16 => self.types.set_kernel_word(8),
                _ => {}
            }
            Ok(ks)
        })
    }

    /// Names a kernel address for printing pointers.
    pub fn symbolize(&self, addr: u64) -> Option<String> {
        let r = self.ksyms()?.lookup(addr)?;
        Some(if r.offset == 0 {
            r.symbol.name.to_string()
        } else {
            format!("{}+{:#x}", r.symbol.name, r.offset)
        })
    }

    pub(crate) fn module_types(&mut self, module: &str) -> Result<&ModTypes, Error> {
        if !self.modules.contains_key(module) {
            // A .ko without DWARF (distributions strip theirs) leaves the module untyped: its
            // symbols read as raw bytes, and the answer says why. Its symbol table still
            // locates them by section.
            let (dwarf, why, ko, no_ko) = match dwarf::find_module_file(module) {
                Some(path) => match dwarf::load_elf(&path) {
                    Ok(data) => match dwarf::DwarfTypes::parse(data, &path.display().to_string()) {
                        Ok(d) => (
                            Some(self.types.add(Box::new(d))),
                            None,
                            Some((path, data)),
                            None,
                        ),
                        Err(e) => (None, Some(e.to_string()), Some((path, data)), None),
                    },
                    Err(e) => (None, Some(e.to_string()), None, Some(e.to_string())),
                },
                None => {
                    let why = format!("modules.dep of the running kernel lists no {module}.ko");
                    (None, Some(why.clone()), None, Some(why))
                }
            };
            // The module's BTF adds its types for --as (e.g. `struct my_dev`).
            if let Some(Ok(Some(m))) = self
                .vmlinux_base
                .as_ref()
                .map(|base| BtfTypes::module(base, module))
            {
                self.types.add(Box::new(m));
            }
            self.modules.insert(
                module.to_string(),
                ModTypes {
                    dwarf,
                    why,
                    ko,
                    no_ko,
                },
            );
        }
        Ok(&self.modules[module])
    }

    /// Whether symbol `name` (of `module`) is a per-CPU variable of the kernel or of a module.
    pub(crate) fn is_percpu_name(&mut self, module: Option<&str>, name: &str) -> bool {
        match module {
            m if vmlinux_name(m) => self.kernel_percpu_offset(name).is_some(),
            Some(m) => self.module_percpu(m, name).unwrap_or(false),
            None => false,
        }
    }

    /// Whether `module`'s symbol `name` is one of its per-CPU variables (from its `.ko`).
    fn module_percpu(&mut self, module: &str, name: &str) -> Result<bool, Error> {
        let mt = self.module_types(module)?;
        let Some(src) = mt.dwarf else {
            // No DWARF: the .ko's symbol table still tells the per-CPU section.
            return Ok(mt.ko.as_ref().is_some_and(|(p, data)| {
                crate::modsect::ko_symbol(data, p, module, name)
                    .is_ok_and(|k| k.section == crate::modsect::PERCPU_SECTION)
            }));
        };
        Ok(self
            .types
            .source(src)
            .and_then(|s| s.as_dwarf())
            .is_some_and(|d| d.is_percpu(name)))
    }

    /// Evaluates one expression through `backend`.
    pub fn eval(&mut self, text: &str, backend: &dyn Backend) -> Result<Answer, Error> {
        let expr = Expr::parse(text)?;
        if let Base::Symbol { module, name } = &expr.base
            && vmlinux_name(module.as_deref())
            && let Some((offset, typed)) = self.kernel_percpu(name)?
        {
            let typed = typed.ok_or_else(|| Error::UnknownType {
                name: name.clone(),
                fault: TypeNameFault::UntypedPerCpu,
            })?;
            let located = if self.percpu.contains_key(name) {
                ("btf", "its offset in the per-CPU area from BTF".to_string())
            } else {
                (
                    "kallsyms",
                    "its offset in the per-CPU area from kallsyms".to_string(),
                )
            };
            return self.eval_percpu(
                text,
                &expr,
                name,
                typed,
                (PerCpuAt::Offset(offset), located.0, located.1),
                backend,
            );
        }
        match &expr.base {
            Base::Symbol {
                module: Some(m),
                name,
            } if !vmlinux_name(Some(m)) && self.module_percpu(m, name)? => {
                let r = self.resolve(Some(m), name, backend)?;
                let typed = self
                    .type_of(Some(m), name)?
                    .ok_or_else(|| Error::UnknownType {
                        name: format!("{m}:{name}"),
                        fault: TypeNameFault::UntypedModulePerCpu,
                    })?;
                self.eval_percpu(
                    text,
                    &expr,
                    name,
                    typed,
                    (PerCpuAt::Pointer(r.addr), r.located, r.how),
                    backend,
                )
            }
            _ if expr.cpu.is_some() => Err(Error::PerCpu(PerCpuFault::NotPerCpu {
                name: expr
                    .prefix(0)
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            })),
            Base::Address(addr) => {
                let Some(t) = &self.opts.as_type else {
                    return Err(Error::UnknownType {
                        name: format!("{addr:#x}"),
                        fault: TypeNameFault::Address,
                    });
                };
                let ty = self.types.parse_type(t)?;
                let place = Place {
                    addr: *addr,
                    ty,
                    bits: None,
                };
                let located = ("address", "given".to_string());
                self.finish(text, &expr, place, "--as".into(), located, backend)
            }
            Base::Symbol { module, name } => {
                let r = self.resolve(module.as_deref(), name, backend)?;
                let located = (r.located, r.how.clone());
                match self.type_of(r.owner.as_deref(), name)? {
                    Some((ty, from)) => {
                        let place = Place {
                            addr: r.addr,
                            ty,
                            bits: None,
                        };
                        self.finish(text, &expr, place, from, located, backend)
                    }
                    None => self.raw(text, &expr, &r, backend),
                }
            }
        }
    }

    fn finish(
        &self,
        text: &str,
        expr: &Expr,
        place: Place,
        type_from: String,
        (located, located_how): (&'static str, String),
        backend: &dyn Backend,
    ) -> Result<Answer, Error> {
        let place = walk(&self.types, backend, expr, 0, place)?;
        let value = self.read_value(&place, text, backend)?;
        Ok(Answer {
            expr: text.to_string(),
            ty: self.types.name(place.ty),
            value,
            via: backend.name(),
            addr: Some(place.addr),
            type_from,
            located,
            located_how,
        })
    }

    pub(crate) fn read_value(
        &self,
        place: &Place,
        what: &str,
        backend: &dyn Backend,
    ) -> Result<Value, Error> {
        let size = match place.bits {
            Some(Bits { offset, size }) => u64::from((offset + size).div_ceil(8)),
            None => self.types.size_of(place.ty)?,
        };
        if size == 0 {
            return Err(Error::BadStep {
                expr: what.to_string(),
                fault: StepFault::Unsized {
                    ty: self.types.name(place.ty),
                },
            });
        }
        if size > MAX_READ {
            return Err(Error::BadStep {
                expr: what.to_string(),
                fault: StepFault::TooLarge {
                    ty: self.types.name(place.ty),
                    size,
                    max: MAX_READ,
                },
            });
        }
        let bytes = read_named(backend, place.addr, size as usize, what)?;
        decode(&self.types, place.ty, &bytes, place.bits, self.opts.depth)
    }

    fn raw(
        &self,
        text: &str,
        expr: &Expr,
        r: &Resolved,
        backend: &dyn Backend,
    ) -> Result<Answer, Error> {
        let (addr, size) = (r.addr, r.size);
        let why = match r.owner.as_deref() {
            Some(m) => format!(
                "no type information for {m}'s symbols ({}; no --module-file): raw bytes",
                self.modules
                    .get(m)
                    .and_then(|t| t.why.as_deref())
                    .unwrap_or("no DWARF in its .ko")
            ),
            None => {
                "no type information (not in the global variable table, no --debuginfo): raw bytes"
                    .to_string()
            }
        };
        if !expr.steps.is_empty() {
            return Err(Error::UnknownType {
                name: expr.prefix(0),
                fault: TypeNameFault::Untyped {
                    why,
                    rest: text[expr.prefix(0).len()..].to_string(),
                },
            });
        }
        let (len, sized) = match size {
            Some(s) if s > 0 => (s.min(RAW_MAX), format!("{s} bytes up to the next symbol")),
            _ => (RAW_DEFAULT, "size unknown".to_string()),
        };
        let bytes = read_named(backend, addr, len as usize, text)?;
        Ok(Answer {
            expr: text.to_string(),
            ty: format!("raw[{len}]"),
            value: Value::Raw(bytes),
            via: backend.name(),
            addr: Some(addr),
            type_from: format!("{why} ({sized})"),
            located: r.located,
            located_how: r.how.clone(),
        })
    }

    /// Address, size and module of a symbol, and how they were found: kallsyms, else the
    /// kernel (kpeek.ko), else, for a module's variable, its `.ko` and the loaded module's
    /// sections ([`Locate`] picks one way).
    pub(crate) fn resolve(
        &mut self,
        module: Option<&str>,
        name: &str,
        backend: &dyn Backend,
    ) -> Result<Resolved, Error> {
        let want_mod = module.filter(|m| *m != "vmlinux");
        if self.opts.locate == Locate::Sections {
            let Some(m) = want_mod else {
                return Err(Error::Located {
                    module: "vmlinux".into(),
                    fault: LocateFault::Kernel {
                        name: name.to_string(),
                    },
                });
            };
            return self.locate_in_sections(m, name, backend);
        }
        if let Some(ks) = self.ksyms() {
            let found: Vec<_> = ks
                .find(name)
                .into_iter()
                .filter(|s| module.is_none() || s.module == want_mod)
                .collect();
            let mut places: Vec<String> = found
                .iter()
                .map(|s| s.module.unwrap_or("vmlinux").to_string())
                .collect();
            places.sort();
            places.dedup();
            if places.len() > 1 {
                return Err(Error::Ambiguous {
                    name: name.to_string(),
                    places,
                });
            }
            if let Some(first) = found.first() {
                let addrs: Vec<u64> = found.iter().map(|s| s.addr).collect();
                if addrs.iter().any(|a| *a != first.addr) {
                    return Err(Error::Ambiguous {
                        name: name.to_string(),
                        places: addrs
                            .iter()
                            .map(|a| format!("{a:#x} in {}", places[0]))
                            .collect(),
                    });
                }
                let size = ks.lookup(first.addr).and_then(|r| r.size);
                return Ok(Resolved {
                    addr: first.addr,
                    size,
                    owner: first.module.map(str::to_string),
                    located: "kallsyms",
                    how: format!("{} lists it", ks.source()),
                });
            }
        }
        // Not in (or no access to) kallsyms: a backend that resolves names in the kernel.
        match backend.resolve(want_mod, name) {
            Some(Ok((addr, size))) => {
                return Ok(Resolved {
                    addr,
                    size: (size > 0).then_some(size),
                    owner: want_mod.map(str::to_string),
                    located: "kernel",
                    how: format!("the kernel's symbol look-up (via {})", backend.name()),
                });
            }
            // Unknown there too: the error below names close names from kallsyms.
            Some(Err(Error::UnknownSymbol { .. })) | None => {}
            Some(Err(e)) => return Err(e),
        }
        // A module's variable that kallsyms does not list (a kernel built without
        // CONFIG_KALLSYMS_ALL lists no module data symbols): its .ko and the loaded sections.
        let mut no_ko = None;
        if let (Some(m), Locate::Auto) = (want_mod, self.opts.locate)
            && self.ksyms_result().is_ok()
        {
            let mt = self.module_types(m)?;
            if mt.ko.is_some() {
                return self.locate_in_sections(m, name, backend);
            }
            no_ko = mt.no_ko.clone();
        }
        match self.ksyms_result() {
            Err(e) => Err(Error::Backend {
                backend: backend.name(),
                fault: BackendFault::Unresolved {
                    name: name.to_string(),
                    source: e.clone(),
                },
            }),
            Ok(ks) => {
                let close = close_names(
                    name,
                    ks.symbols()
                        .filter(|s| module.is_none() || s.module == want_mod)
                        .filter(|s| s.name.len().abs_diff(name.len()) <= 4)
                        .map(|s| s.name),
                    5,
                );
                let mut close = close;
                for n in self.percpu.keys() {
                    if close.len() < 5
                        && close_names(name, std::iter::once(n.as_str()), 1).len() == 1
                    {
                        close.push(n.clone());
                    }
                }
                // Without CONFIG_KALLSYMS_ALL only a few dozen section markers are data symbols.
                let data = ks
                    .symbols()
                    .filter(|s| s.module.is_none() && matches!(s.kind, 'D' | 'd' | 'B' | 'b'))
                    .take(1000)
                    .count();
                let hint = (data < 1000).then(|| match want_mod {
                    None => format!(
                        "{} lists no kernel data symbols (kernel built without CONFIG_KALLSYMS_ALL): \
                         only per-CPU variables (e.g. runqueues@cpu0.nr_running) can be located",
                        ks.source()
                    ),
                    Some(m) => format!(
                        "{} lists no data symbols (kernel built without CONFIG_KALLSYMS_ALL), nor \
                         those of modules, {}: a variable of `{m}` cannot be located by name \
                         here; give its .ko (--module-file) or its address",
                        ks.source(),
                        match &no_ko {
                            Some(why) => format!("and its .ko cannot locate it ({why})"),
                            None => "and --locate kallsyms was asked for".to_string(),
                        }
                    ),
                });
                Err(Error::UnknownSymbol {
                    name: name.to_string(),
                    module: module.map(str::to_string),
                    close,
                    hint,
                })
            }
        }
    }

    /// The type of symbol `name` of `module` (None: vmlinux), best source first.
    pub(crate) fn type_of(
        &mut self,
        module: Option<&str>,
        name: &str,
    ) -> Result<Option<(TypeRef, String)>, Error> {
        let key = (module.map(str::to_string), name.to_string());
        if let Some(hit) = self.typed.get(&key) {
            return Ok(hit.clone());
        }
        let r = self.type_of_uncached(module, name)?;
        self.typed.insert(key, r.clone());
        Ok(r)
    }

    fn type_of_uncached(
        &mut self,
        module: Option<&str>,
        name: &str,
    ) -> Result<Option<(TypeRef, String)>, Error> {
        if let Some(t) = self.opts.as_type.clone() {
            return Ok(Some((self.types.parse_type(&t)?, "--as".into())));
        }
        match module {
            Some(m) => {
                let mt = self.module_types(m)?;
                let dwarf_src = mt.dwarf;
                if let Some(src) = dwarf_src {
                    let d = self.types.source(src).expect("module DWARF");
                    if let Some(id) = dwarf::var_type(d, name) {
                        return Ok(Some((TypeRef { src, id }, format!("DWARF of {m}.ko"))));
                    }
                }
                Ok(None)
            }
            None => {
                if let Some(src) = self.vmlinux_dwarf {
                    let d = self.types.source(src).expect("vmlinux DWARF");
                    if let Some(id) = dwarf::var_type(d, name) {
                        return Ok(Some((TypeRef { src, id }, "DWARF of --debuginfo".into())));
                    }
                }
                if let Some(tn) = globals::type_of(name)
                    && let Ok(r) = self.types.parse_type(tn)
                {
                    return Ok(Some((
                        r,
                        format!("global variable table ({tn}), layout from BTF"),
                    )));
                }
                // Not in the table: Debian's -dbg package, when installed, knows every variable
                // (its DWARF takes seconds to index, so only now).
                if self.opts.debuginfo.is_none() && self.vmlinux_dwarf.is_none() {
                    let release = rustix::system::uname()
                        .release()
                        .to_string_lossy()
                        .into_owned();
                    let dbg = PathBuf::from(format!("{DEBIAN_DBG}{release}"));
                    if dbg.exists() {
                        self.vmlinux_dwarf = Some(self.types.add(Box::new(
                            dwarf::DwarfTypes::open_vmlinux(&dbg, crate::buildid::running())?,
                        )));
                        let d = self
                            .types
                            .source(self.vmlinux_dwarf.expect("just set"))
                            .expect("added");
                        if let Some(id) = dwarf::var_type(d, name) {
                            let src = self.vmlinux_dwarf.expect("just set");
                            return Ok(Some((
                                TypeRef { src, id },
                                format!("DWARF of {}", dbg.display()),
                            )));
                        }
                    }
                }
                Ok(None)
            }
        }
    }
}

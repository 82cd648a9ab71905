//! Locating a module's variable through its `.ko` and the loaded module's sections
//! ([`crate::modsect`]), where kallsyms does not list it.

use crate::dwarf;
use crate::error::{Error, LocateFault};
use crate::modsect::{self, ModuleSysfs};
use crate::session::Session;
use crate::types::TypeRef;
use crate::via::Backend;
use crate::walk::read_named;

/// How the address of a module's variable is found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Locate {
    /// kallsyms, then the kernel (kpeek.ko), then the module's `.ko` and its loaded sections.
    #[default]
    Auto,
    /// kallsyms and the kernel only.
    Kallsyms,
    /// Only the module's `.ko` and `/sys/module/<mod>/sections` (a module's variables).
    Sections,
}

/// A symbol's address, size, module and how they were found.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) addr: u64,
    pub(crate) size: Option<u64>,
    pub(crate) owner: Option<String>,
    pub(crate) located: &'static str,
    pub(crate) how: String,
}

impl Session {
    fn module_sysfs(&self) -> ModuleSysfs {
        match &self.opts.sysfs_root {
            Some(r) => ModuleSysfs::new(r),
            None => ModuleSysfs::real(),
        }
    }

    /// `module`'s symbol `name` through its `.ko` (section and offset) and
    /// `/sys/module/<module>/sections` (the section's address). A per-CPU symbol gets its
    /// per-CPU pointer: the module's per-CPU area (`__this_module.percpu`) plus its offset.
    pub(crate) fn locate_in_sections(
        &mut self,
        module: &str,
        name: &str,
        backend: &dyn Backend,
    ) -> Result<Resolved, Error> {
        let mt = self.module_types(module)?;
        let Some((path, data)) = mt.ko.clone() else {
            return Err(Error::Located {
                module: module.to_string(),
                fault: LocateFault::NeedKo {
                    why: mt.no_ko.as_deref().unwrap_or("not found").to_string(),
                },
            });
        };
        let sysfs = self.module_sysfs();
        let hit = modsect::locate(&sysfs, module, &path, data, name)?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (addr, how) = match hit.base {
            Some(base) => (
                hit.addr(),
                format!(
                    "{file} ({} checked): {}+{:#x}; {} = {base:#x}",
                    hit.checked,
                    hit.sym.section,
                    hit.sym.offset,
                    sysfs
                        .dir(module)
                        .join("sections")
                        .join(&hit.sym.section)
                        .display()
                ),
            ),
            None => {
                let area = self.module_percpu_area(module, backend)?;
                (
                    area.wrapping_add(hit.sym.offset),
                    format!(
                        "{file} ({} checked): {}+{:#x} in the module's per-CPU area \
                         ({module}:__this_module.percpu = {area:#x})",
                        hit.checked, hit.sym.section, hit.sym.offset
                    ),
                )
            }
        };
        Ok(Resolved {
            addr,
            size: (hit.sym.size > 0).then_some(hit.sym.size),
            owner: Some(module.to_string()),
            located: "sections",
            how,
        })
    }

    /// The module's per-CPU area: `__this_module.percpu` (its `struct module`, in the
    /// `.gnu.linkonce.this_module` section, typed by the DWARF of its `.ko`). The module loader
    /// copies the `.ko`'s per-CPU section there; it is not a section of `/sys/module`.
    fn module_percpu_area(&mut self, module: &str, backend: &dyn Backend) -> Result<u64, Error> {
        let err = |fault: LocateFault| Error::Located {
            module: module.to_string(),
            fault,
        };
        let this = self.locate_in_sections(module, "__this_module", backend)?;
        let src = self.module_types(module)?.dwarf.ok_or_else(|| {
            err(LocateFault::NoDwarf {
                module: module.to_string(),
            })
        })?;
        let d = self.types.source(src).expect("module DWARF");
        let id = dwarf::var_type(d, "__this_module").ok_or_else(|| {
            err(LocateFault::ThisModuleUntyped {
                module: module.to_string(),
            })
        })?;
        let ty = TypeRef { src, id };
        let (pty, bit_off, _) = self.types.member(ty, "percpu")?.ok_or_else(|| {
            err(LocateFault::NoPercpuMember {
                ty: self.types.name(ty),
            })
        })?;
        let size = self.types.size_of(pty)?;
        if !matches!(size, 4 | 8) {
            return Err(err(LocateFault::PercpuSize { size }));
        }
        let what = format!("{module}:__this_module.percpu");
        let b = read_named(backend, this.addr + bit_off / 8, size as usize, &what)?;
        let mut le = [0u8; 8];
        le[..b.len()].copy_from_slice(&b);
        match u64::from_le_bytes(le) {
            0 => Err(Error::Null(what)),
            p => Ok(p),
        }
    }
}

#[cfg(test)]
#[path = "locate_tests.rs"]
mod tests;

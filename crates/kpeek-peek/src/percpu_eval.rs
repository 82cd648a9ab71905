//! Evaluating per-CPU variables: one CPU's copy, every CPU's (`@all`) or their sum (`@sum`),
//! for the kernel's per-CPU variables (BTF gives their offsets in the per-CPU area) and for a
//! module's (`DEFINE_PER_CPU` in a module: kallsyms gives a per-CPU pointer).

use crate::error::{Error, PerCpuFault};
use crate::expr::{CpuSel, Expr};
use crate::percpu;
use crate::session::{Answer, PerCpuMethod, Session, Typed};
use crate::types::TypeRef;
use crate::value::Value;
use crate::via::Backend;
use crate::walk::{Place, read_named, walk};

/// Where a per-CPU variable is, before the CPU's area is added.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PerCpuAt {
    /// A kernel variable's offset in the per-CPU section: CPU n's copy is at `base(n) + offset`.
    Offset(u64),
    /// A module variable's per-CPU pointer (its kallsyms address): CPU n's copy is at that
    /// pointer plus `__per_cpu_offset[n]`, i.e. `base(n)` less the kernel's `__per_cpu_start`
    /// (0 where per-CPU symbols are zero-based).
    Pointer(u64),
}

/// Where the type of a kernel per-CPU variable found through kallsyms comes from.
const PERCPU_BTF: &str = "BTF (per-CPU variable)";

impl Session {
    /// Whether `name` is one of the kernel's per-CPU variables, and if so its offset in the
    /// per-CPU area and its type (`None`: a per-CPU variable nothing types).
    ///
    /// BTF's `.data..percpu` DATASEC says so where the kernel's BTF has one (pahole 1.18+ emits
    /// it; Debian 11's 5.10 has none: no VAR or DATASEC at all). Otherwise kallsyms does: a
    /// kernel symbol inside `__per_cpu_start..__per_cpu_end` is a per-CPU variable (small
    /// addresses where per-CPU symbols are zero-based), typed like any global (`--debuginfo`,
    /// the global variable table, `--as`).
    pub(crate) fn kernel_percpu(
        &mut self,
        name: &str,
    ) -> Result<Option<(u64, Option<Typed>)>, Error> {
        if let Some(var) = self.percpu.get(name).copied() {
            let src = self
                .vmlinux_btf
                .expect("per-CPU variables come from vmlinux BTF");
            let ty = TypeRef {
                src,
                id: u64::from(var.type_id),
            };
            return Ok(Some((var.offset, Some((ty, PERCPU_BTF.to_string())))));
        }
        match self.kernel_percpu_offset(name) {
            Some(offset) => Ok(Some((offset, self.type_of(None, name)?))),
            None => Ok(None),
        }
    }

    /// The offset in the per-CPU area of kernel per-CPU variable `name` (see
    /// [`Session::kernel_percpu`]), without typing it.
    pub(crate) fn kernel_percpu_offset(&self, name: &str) -> Option<u64> {
        if let Some(var) = self.percpu.get(name) {
            return Some(var.offset);
        }
        let ks = self.ksyms()?;
        let kernel = |n: &str| {
            ks.find(n)
                .into_iter()
                .find(|s| s.module.is_none())
                .map(|s| s.addr)
        };
        let (start, end, addr) = (
            kernel("__per_cpu_start")?,
            kernel("__per_cpu_end")?,
            kernel(name)?,
        );
        (start..end).contains(&addr).then(|| addr - start)
    }

    /// The link address of the kernel's per-CPU section (`__per_cpu_start`; 0 where per-CPU
    /// symbols are zero-based, as on x86_64 before 6.15, and where kallsyms does not say).
    fn percpu_start(&self) -> u64 {
        self.ksyms()
            .and_then(|ks| {
                ks.find("__per_cpu_start")
                    .into_iter()
                    .find(|s| s.module.is_none())
                    .map(|s| s.addr)
            })
            .unwrap_or(0)
    }

    pub(crate) fn possible_cpus(&mut self) -> Result<Vec<u32>, Error> {
        if self.cpus.is_empty() {
            self.cpus = percpu::possible_cpus()?;
        }
        Ok(self.cpus.clone())
    }

    /// `__per_cpu_offset[cpu]`: from CPU `cpu`'s run queue where the backend can name the task
    /// running there (BPF: no symbol table needed), else read from the kernel's
    /// `__per_cpu_offset` array found through kallsyms; [`PerCpuMethod`] forces one way.
    pub(crate) fn percpu_base(&mut self, cpu: u32, backend: &dyn Backend) -> Result<u64, Error> {
        if let Some(b) = self.bases.get(&cpu) {
            return Ok(*b);
        }
        let task = match self.opts.percpu_method {
            PerCpuMethod::Offsets => None,
            PerCpuMethod::Auto => backend.current_task().transpose()?,
            PerCpuMethod::Runqueues => Some(backend.current_task().ok_or_else(|| {
                Error::PerCpu(PerCpuFault::NoCurrentTask {
                    backend: backend.name(),
                })
            })??),
        };
        let base = match task {
            // Kernels whose task_group.cfs_rq is a per-CPU pointer (7.x) lead nowhere from the
            // calling task: with `auto`, __per_cpu_offset (kallsyms) is the other way.
            Some(task) => match self.base_from_runqueue(cpu, task, backend) {
                Err(e) if self.opts.percpu_method == PerCpuMethod::Auto => {
                    self.base_from_offsets(cpu, backend).map_err(|e2| {
                        Error::PerCpu(PerCpuFault::BothWays {
                            runqueue: Box::new(e),
                            offsets: Box::new(e2),
                        })
                    })?
                }
                other => other?,
            },
            None => self.base_from_offsets(cpu, backend)?,
        };
        self.bases.insert(cpu, base);
        Ok(base)
    }

    /// CPU `cpu`'s per-CPU area from the kernel's `__per_cpu_offset` array: found through
    /// kallsyms (`CONFIG_KALLSYMS_ALL`), else through a backend that resolves names in the
    /// kernel (kpeek.ko links to the exported array, so it knows it without kallsyms). Its
    /// elements are `unsigned long`s: 4 bytes on a 32-bit kernel ([`Session::kernel_word`]).
    fn base_from_offsets(&self, cpu: u32, backend: &dyn Backend) -> Result<u64, Error> {
        const NAME: &str = "__per_cpu_offset";
        let listed = self.ksyms().and_then(|ks| {
            ks.find(NAME)
                .into_iter()
                .find(|s| s.module.is_none())
                .map(|s| (s.addr, None))
        });
        let (t, size) = match listed {
            Some(found) => found,
            None => match backend.resolve(None, NAME) {
                Some(Ok((addr, size))) => (addr, (size > 0).then_some(size)),
                other => {
                    return Err(Error::PerCpu(PerCpuFault::NoOffsets {
                        backend: backend.name(),
                        ksyms: self.ksyms_result().as_ref().err().cloned(),
                        resolve: match other {
                            Some(Err(e)) => Some(Box::new(e)),
                            _ => None,
                        },
                    }));
                }
            },
        };
        let word = self.kernel_word(t);
        let at = word * u64::from(cpu);
        if let Some(size) = size
            && at + word > size
        {
            return Err(Error::PerCpu(PerCpuFault::NoEntry { size, cpu }));
        }
        let b = read_named(backend, t.wrapping_add(at), word as usize, NAME)?;
        let mut le = [0u8; 8];
        le[..b.len()].copy_from_slice(&b);
        // CPU n's copy of a variable is at its link address plus __per_cpu_offset[n];
        // the area starts at __per_cpu_start plus that (0 where zero-based).
        let off = u64::from_le_bytes(le);
        let base = off.wrapping_add(self.percpu_start());
        Ok(if word == 4 { base & 0xffff_ffff } else { base })
    }

    /// The kernel's `unsigned long` (and pointer) size in bytes: [`Types::word`] once kallsyms
    /// is loaded (its address width, else what the type sources say); where neither says, 8
    /// if `addr` (a kernel address) lies above 4 GiB, else 4.
    ///
    /// [`Types::word`]: crate::types::Types::word
    pub(crate) fn kernel_word(&self, addr: u64) -> u64 {
        let _ = self.ksyms_result();
        self.types
            .word()
            .unwrap_or(if addr > u64::from(u32::MAX) { 8 } else { 4 })
    }

    /// `base + offset`, the address of a per-CPU copy, computed as the kernel does: modulo
    /// 2^32 on a 32-bit kernel, where `__per_cpu_offset[n]` and the offset may wrap.
    pub(crate) fn percpu_addr(&self, base: u64, offset: u64) -> u64 {
        let addr = base.wrapping_add(offset);
        match self.kernel_word(base) {
            4 => addr & 0xffff_ffff,
            _ => addr,
        }
    }

    fn base_from_runqueue(&self, cpu: u32, task: u64, backend: &dyn Backend) -> Result<u64, Error> {
        let rq_off = self
            .kernel_percpu_offset("runqueues")
            .ok_or(Error::PerCpu(PerCpuFault::NoRunqueues))?;
        let vb = self
            .vmlinux_btf
            .ok_or(Error::PerCpu(PerCpuFault::NoVmlinuxBtf))?;
        let task_ty = self
            .types
            .find("struct", "task_struct")
            .filter(|r| r.src == vb)
            .ok_or(Error::PerCpu(PerCpuFault::NoTaskStruct))?;
        // 7.x made task_group.cfs_rq a per-CPU pointer (`struct cfs_rq __percpu *`): reaching
        // CPU n's copy needs the very per-CPU offsets this method is to find.
        if let Some(tg) = self
            .types
            .find("struct", "task_group")
            .filter(|r| r.src == vb)
            && let Some((t, _, _)) = self.types.member(tg, "cfs_rq")?
            && self.types.name(t) == "struct cfs_rq *"
        {
            return Err(Error::PerCpu(PerCpuFault::PerCpuCfsRq { cpu }));
        }
        let path = format!("current.sched_task_group->cfs_rq[{cpu}]->rq");
        let e = Expr::parse(&path)?;
        let place = walk(
            &self.types,
            backend,
            &e,
            0,
            Place {
                addr: task,
                ty: task_ty,
                bits: None,
            },
        )
        .map_err(|err| {
            Error::PerCpu(PerCpuFault::Runqueue {
                cpu,
                path: path.clone(),
                source: Box::new(err),
            })
        })?;
        let b = read_named(backend, place.addr, 8, &path)?;
        let rq = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        if rq == 0 {
            return Err(Error::Null(path));
        }
        // The run queue says which CPU it belongs to: check that it is the one asked for.
        let rq_ty = self.types.find("struct", "rq").filter(|r| r.src == vb);
        if let Some((cpu_ty, bit_off, None)) = rq_ty
            .map(|t| self.types.member(t, "cpu"))
            .transpose()?
            .flatten()
            && self.types.size_of(cpu_ty)? == 4
        {
            {
                let b = read_named(backend, rq + bit_off / 8, 4, "rq->cpu")?;
                let got = u32::from_le_bytes(b.try_into().expect("4 bytes"));
                if got != cpu {
                    return Err(Error::PerCpu(PerCpuFault::WrongRunqueue {
                        path: path.clone(),
                        got,
                        cpu,
                    }));
                }
            }
        }
        Ok(rq.wrapping_sub(rq_off))
    }

    pub(crate) fn eval_percpu(
        &mut self,
        text: &str,
        expr: &Expr,
        name: &str,
        (ty, type_from): (TypeRef, String),
        (at, located, located_how): (PerCpuAt, &'static str, String),
        backend: &dyn Backend,
    ) -> Result<Answer, Error> {
        let Some(sel) = expr.cpu else {
            return Err(Error::PerCpu(PerCpuFault::NoSelector {
                name: name.to_string(),
            }));
        };
        let ty = match &self.opts.as_type {
            Some(t) => self.types.parse_type(t)?,
            None => ty,
        };
        let start = match at {
            PerCpuAt::Offset(off) => off,
            PerCpuAt::Pointer(p) => p.wrapping_sub(self.percpu_start()),
        };
        let possible = self.possible_cpus()?;
        let cpus = match sel {
            CpuSel::Cpu(n) if possible.contains(&n) => vec![n],
            CpuSel::Cpu(n) => {
                return Err(Error::PerCpu(PerCpuFault::NoCpu {
                    name: name.to_string(),
                    cpu: n,
                    possible,
                }));
            }
            CpuSel::All | CpuSel::Sum => possible,
        };
        let mut per = Vec::with_capacity(cpus.len());
        let mut leaf_ty = String::new();
        let mut addr = None;
        for cpu in &cpus {
            let base = self.percpu_base(*cpu, backend)?;
            let start = Place {
                addr: self.percpu_addr(base, start),
                ty,
                bits: None,
            };
            let place = walk(&self.types, backend, expr, 0, start)?;
            leaf_ty = self.types.name(place.ty);
            addr = Some(place.addr);
            per.push((*cpu, self.read_value(&place, text, backend)?));
        }
        let value = match sel {
            CpuSel::Cpu(_) => per.pop().map(|(_, v)| v).expect("one CPU"),
            CpuSel::All => {
                addr = None;
                Value::PerCpu(per)
            }
            CpuSel::Sum => {
                addr = None;
                let mut total: i128 = 0;
                let mut signed = false;
                for (cpu, v) in &per {
                    signed |= matches!(v, Value::Signed(_));
                    total += v.as_number().ok_or_else(|| {
                        Error::PerCpu(PerCpuFault::SumNotNumber {
                            expr: text.to_string(),
                            cpu: *cpu,
                            ty: leaf_ty.clone(),
                        })
                    })?;
                }
                if signed {
                    Value::Signed(total as i64)
                } else {
                    Value::Unsigned(total as u64)
                }
            }
        };
        Ok(Answer {
            expr: text.to_string(),
            ty: leaf_ty,
            value,
            via: backend.name(),
            addr,
            type_from,
            located,
            located_how,
        })
    }
}

#[cfg(test)]
#[path = "percpu_eval_tests.rs"]
mod tests;

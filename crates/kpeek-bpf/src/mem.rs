//! [`KernelMem`]: read kernel memory through BPF programs run with `BPF_PROG_TEST_RUN`.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};

use crate::asm::{Asm, R0, R1, R2, R3, R6, R7, R8, R10, helper, op};
use crate::error::{Error, Result};
use crate::features::Probe;
use crate::map::MmapArray;
use crate::prog::{ProgType, Program};

/// Largest read one program run makes; [`KernelMem::read`] splits longer reads.
pub const CHUNK: usize = 64 * 1024;

/// Errors the programs return besides the probe read's own (negative errno).
const E_NOENT: i32 = -libc::ENOENT;
const E_NXIO: i32 = -libc::ENXIO;
const E_2BIG: i32 = -libc::E2BIG;

/// Kernel memory access through small raw-tracepoint programs run on demand
/// (`BPF_PROG_TEST_RUN`, Linux 5.10+): no module, no `/proc/kcore`.
///
/// Each read runs a program that calls `bpf_probe_read_kernel` into a memory-mapped array,
/// so a read costs one system call. A faulting address is [`Error::Fault`]. Every program and
/// map belongs to this value's file descriptors: dropping it (or the process dying) frees them.
///
/// ```no_run
/// let mut mem = kpeek_bpf::KernelMem::open()?;
/// let task = mem.current_task()?;
/// let mut head = [0u8; 64];
/// mem.read(task, &mut head)?;
/// # Ok::<(), kpeek_bpf::Error>(())
/// ```
pub struct KernelMem {
    buf: MmapArray,
    read: Program,
    current: Program,
    /// Programs addressing one kernel variable, by name and per-CPU-ness.
    vars: HashMap<(String, bool), Program>,
    vmlinux: Option<libbpf_rs::btf::Btf<'static>>,
}

impl std::fmt::Debug for KernelMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelMem")
            .field("buf", &self.buf)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `r7 = &buf[0]` or return -ENOENT. Clobbers r1..r5, r0.
fn lookup_buf(a: &mut Asm, buf_fd: i32) {
    let ok = a.label();
    a.st_imm(op::W, R10, -4, 0)
        .ld_map_fd(R1, buf_fd)
        .mov(R2, R10)
        .alu_imm(op::ADD, R2, -4)
        .call(helper::MAP_LOOKUP_ELEM)
        .jmp_imm(op::JNE, R0, 0, ok)
        .mov_imm(R0, E_NOENT)
        .exit()
        .bind(ok)
        .mov(R7, R0);
}

impl KernelMem {
    /// Create the buffer map and load the read and current-task programs.
    pub fn open() -> Result<KernelMem> {
        let buf = MmapArray::new("kpeek_mem", CHUNK as u32)?;
        let fd = buf.as_fd().as_raw_fd();

        // read: ctx = {u64 addr, u64 len}; probe-read len bytes at addr into buf.
        let mut a = Asm::new();
        let len_ok = a.label();
        a.mov(R6, R1);
        lookup_buf(&mut a, fd);
        a.ldx(op::DW, R8, R6, 8)
            .jmp_imm(op::JLE, R8, CHUNK as i32, len_ok)
            .mov_imm(R0, E_2BIG)
            .exit()
            .bind(len_ok)
            .mov(R1, R7)
            .mov(R2, R8)
            .ldx(op::DW, R3, R6, 0)
            .call(helper::PROBE_READ_KERNEL)
            .exit();
        let read = load("kpeek_mem_read", a)?;

        // current: buf[0] = bpf_get_current_task().
        let mut a = Asm::new();
        lookup_buf(&mut a, fd);
        a.call(helper::GET_CURRENT_TASK)
            .stx(op::DW, R7, 0, R0)
            .mov_imm(R0, 0)
            .exit();
        let current = load("kpeek_mem_task", a)?;
        Ok(KernelMem {
            buf,
            read,
            current,
            vars: HashMap::new(),
            vmlinux: None,
        })
    }

    fn run(prog: &Program, ctx: &[u64]) -> Result<i32> {
        let bytes: Vec<u8> = ctx.iter().flat_map(|v| v.to_ne_bytes()).collect();
        Ok(prog.test_run(&bytes, None)? as i32)
    }

    /// Fill `out` with kernel memory starting at `addr`. A fault anywhere is [`Error::Fault`]
    /// (with the address of the chunk that faulted).
    pub fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        for (i, chunk) in out.chunks_mut(CHUNK).enumerate() {
            let at = addr.wrapping_add((i * CHUNK) as u64);
            let ret = Self::run(&self.read, &[at, chunk.len() as u64])?;
            if ret != 0 {
                return Err(Error::Fault {
                    addr: at,
                    len: chunk.len(),
                    ret,
                });
            }
            self.buf.copy_to(chunk);
        }
        Ok(())
    }

    /// `len` bytes at `addr`.
    pub fn read_vec(&mut self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// The u64 at `addr` (native endian).
    pub fn read_u64(&mut self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    /// The address of the calling thread's `task_struct` (`bpf_get_current_task`).
    pub fn current_task(&mut self) -> Result<u64> {
        let ret = Self::run(&self.current, &[0])?;
        if ret != 0 {
            return Err(Error::Fault {
                addr: 0,
                len: 8,
                ret,
            });
        }
        Ok(self.buf.read_u64())
    }

    /// The address of a global kernel variable, resolved by the verifier from vmlinux BTF
    /// (`ld_imm64 BPF_PSEUDO_BTF_ID`). Needs the variable in kallsyms (CONFIG_KALLSYMS_ALL);
    /// without it the error says so.
    pub fn var_addr(&mut self, name: &str) -> Result<u64> {
        self.var(name, false, 0)
    }

    /// The address of `cpu`'s instance of a per-CPU kernel variable (`bpf_per_cpu_ptr`,
    /// Linux 5.10+); needs the variable in kallsyms like [`KernelMem::var_addr`].
    pub fn percpu_var_addr(&mut self, name: &str, cpu: u32) -> Result<u64> {
        self.var(name, true, cpu)
    }

    fn var(&mut self, name: &str, percpu: bool, cpu: u32) -> Result<u64> {
        let key = (name.to_owned(), percpu);
        if !self.vars.contains_key(&key) {
            let id = self.var_btf_id(name)?;
            let prog = self.var_program(name, id, percpu)?;
            self.vars.insert(key.clone(), prog);
        }
        let prog = &self.vars[&key];
        match Self::run(prog, &[cpu as u64])? {
            0 => Ok(self.buf.read_u64()),
            E_NXIO => Err(Error::Var {
                name: name.to_owned(),
                reason: format!("bpf_per_cpu_ptr gave no address for CPU {cpu} (no such CPU)"),
            }),
            ret => Err(Error::Fault {
                addr: 0,
                len: 8,
                ret,
            }),
        }
    }

    fn var_btf_id(&mut self, name: &str) -> Result<u32> {
        if self.vmlinux.is_none() {
            let btf = libbpf_rs::btf::Btf::from_vmlinux().map_err(|_| Error::Unsupported {
                feature: "kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)",
                needs: "5.4",
            })?;
            self.vmlinux = Some(btf);
        }
        let btf = self.vmlinux.as_ref().ok_or(Error::Unsupported {
            feature: "kernel BTF",
            needs: "5.4",
        })?;
        let var: Option<libbpf_rs::btf::types::Var<'_>> = btf.type_by_name(name);
        var.map(|v| u32::from(v.type_id()))
            .ok_or_else(|| Error::Var {
                name: name.to_owned(),
                reason: "no such variable in the kernel's BTF".into(),
            })
    }

    fn var_program(&self, name: &str, btf_id: u32, percpu: bool) -> Result<Program> {
        let mut a = Asm::new();
        a.mov(R6, R1);
        lookup_buf(&mut a, self.buf.as_fd().as_raw_fd());
        a.ld_btf_var(R1, btf_id);
        if percpu {
            let ok = a.label();
            a.ldx(op::DW, R2, R6, 0)
                .call(helper::PER_CPU_PTR)
                .jmp_imm(op::JNE, R0, 0, ok)
                .mov_imm(R0, E_NXIO)
                .exit()
                .bind(ok)
                .mov(R1, R0);
        }
        a.stx(op::DW, R7, 0, R1).mov_imm(R0, 0).exit();
        load("kpeek_mem_var", a).map_err(|e| match e {
            Error::Verifier { log_tail, .. } if log_tail.contains("failed to find the address") => {
                Error::Var {
                    name: name.to_owned(),
                    reason: format!(
                        "not in this kernel's kallsyms (built without CONFIG_KALLSYMS_ALL), so BPF cannot address it; the verifier said: {}",
                        log_tail
                            .lines()
                            .find(|l| l.contains("failed to find the address"))
                            .unwrap_or_default()
                    ),
                }
            }
            e => e,
        })
    }
}

fn load(name: &str, a: Asm) -> Result<Program> {
    let insns = a.finish()?;
    Program::load(ProgType::RawTracepoint, name, &insns).map_err(|e| {
        let release = uname_release();
        let probe = || crate::features::KernelProbe.has(crate::features::Feature::ProbeReadKernel);
        explain_einval(e, release.as_deref(), BTF_VMLINUX_PATH, probe)
    })
}

/// Where the running kernel publishes its BTF.
const BTF_VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";

/// The running kernel's release (`uname -r`).
fn uname_release() -> Option<String> {
    // SAFETY: utsname is plain old data; uname() fills it and returns 0, or fails leaving it
    // untouched (zeroed here).
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates release within the array (zeroed before the call).
    let r = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) };
    Some(r.to_string_lossy().into_owned())
}

/// `(major, minor)` of a kernel release such as `6.1.0-40-686-pae`.
fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// What an `EINVAL` load means. Kernels before 5.5 lack `bpf_probe_read_kernel`: that is said
/// only when the running kernel is older (its release, or the helper probe saying it is
/// missing). Otherwise the verifier's own log is the reason, with a note when the kernel has no
/// BTF (as Debian's 32-bit 686-pae kernels).
fn explain_einval(
    e: Error,
    release: Option<&str>,
    btf: &str,
    probe_read_kernel: impl FnOnce() -> Option<bool>,
) -> Error {
    let Error::Verifier {
        name,
        log_tail,
        errno,
    } = e
    else {
        return e;
    };
    if errno != libc::EINVAL {
        return Error::Verifier {
            name,
            log_tail,
            errno,
        };
    }
    let old = release
        .and_then(release_version)
        .is_some_and(|v| v < (5, 5));
    if old || probe_read_kernel() == Some(false) {
        return Error::Unsupported {
            feature: "the BPF helper bpf_probe_read_kernel",
            needs: "5.5",
        };
    }
    if !std::path::Path::new(btf).exists() {
        return Error::VerifierNoBtf {
            name,
            release: release.unwrap_or("unknown").to_string(),
            log_tail,
            errno,
        };
    }
    Error::Verifier {
        name,
        log_tail,
        errno,
    }
}

#[cfg(test)]
mod einval_tests {
    use super::*;

    fn rejected() -> Error {
        Error::Verifier {
            name: "kpeek_mem_read".into(),
            log_tail: "R1 invalid mem access 'scalar'".into(),
            errno: libc::EINVAL,
        }
    }

    #[test]
    fn needs_5_5_only_on_an_older_kernel() {
        let e = explain_einval(rejected(), Some("5.4.0-1-amd64"), "/nonexistent", || None);
        assert!(e.to_string().contains("needs Linux 5.5"), "{e}");
        // A newer kernel whose probe says the helper is missing (a custom build).
        let e = explain_einval(rejected(), Some("6.1.0-40-686-pae"), "/", || Some(false));
        assert!(e.to_string().contains("needs Linux 5.5"), "{e}");
    }

    #[test]
    fn a_newer_kernel_without_btf_gets_the_verifier_log_and_the_missing_btf() {
        let e = explain_einval(
            rejected(),
            Some("6.1.0-40-686-pae"),
            "/nonexistent/btf/vmlinux",
            || Some(true),
        );
        let m = e.to_string();
        assert!(!m.contains("5.5"), "{m}");
        assert!(
            m.contains("has no BTF") && m.contains("6.1.0-40-686-pae"),
            "{m}"
        );
        assert!(m.contains("R1 invalid mem access 'scalar'"), "{m}");
        // With BTF: the verifier's error as it is.
        let e = explain_einval(rejected(), Some("6.1.0-40-amd64"), "/", || Some(true));
        assert!(matches!(e, Error::Verifier { .. }), "{e}");
        // Not EINVAL: untouched.
        let e = Error::Verifier {
            name: "p".into(),
            log_tail: String::new(),
            errno: libc::EACCES,
        };
        let e = explain_einval(e, Some("4.19.0"), "/nonexistent", || Some(false));
        assert!(
            matches!(
                e,
                Error::Verifier {
                    errno: libc::EACCES,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn release_versions() {
        assert_eq!(release_version("6.1.0-40-686-pae"), Some((6, 1)));
        assert_eq!(release_version("5.10.237-1"), Some((5, 10)));
        assert_eq!(release_version("x"), None);
        assert!(uname_release().is_some_and(|r| release_version(&r).is_some()));
    }
}

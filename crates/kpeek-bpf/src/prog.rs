//! Loading programs (with the verifier's log on failure) and running them with `BPF_PROG_TEST_RUN`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::asm::Insn;
use crate::error::{Error, Result, from_ret, sys};

/// Program types kpeek loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgType {
    /// `BPF_PROG_TYPE_TRACEPOINT`: ctx is the raw trace record (format-file offsets).
    Tracepoint,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`: ctx is an array of u64 arguments; test-runnable (5.10).
    RawTracepoint,
}

impl ProgType {
    fn raw(self) -> libbpf_sys::bpf_prog_type {
        match self {
            ProgType::Tracepoint => libbpf_sys::BPF_PROG_TYPE_TRACEPOINT,
            ProgType::RawTracepoint => libbpf_sys::BPF_PROG_TYPE_RAW_TRACEPOINT,
        }
    }
}

/// A loaded program, owned by its file descriptor: closing it unloads the program (unless
/// something attached keeps it).
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
    name: String,
}

/// Size of the verifier log buffer (the kernel keeps the log's end when it overflows, 6.4+).
const LOG_SIZE: usize = 1 << 20;
/// Lines of the verifier's log an error shows.
const LOG_TAIL_LINES: usize = 12;

/// Once per process: silence libbpf's own stderr messages (kpeek reports errors itself) and
/// lift RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF maps and programs against (later
/// kernels use the memory cgroup and ignore it). Lifting it needs privilege, as BPF does; if
/// it fails, BPF calls fail with EPERM and say so.
pub(crate) fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: libbpf_set_print only swaps a global function pointer; None silences it.
        unsafe { libbpf_sys::libbpf_set_print(None) };
        let unlimited = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads one valid rlimit struct.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    });
}

/// The last `n` non-empty lines of a verifier log.
pub fn log_tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Program {
    /// Load `insns` as a GPL program named `name` (up to 15 bytes show in `bpftool prog`).
    /// A verifier rejection is [`Error::Verifier`] with the log's last lines.
    pub fn load(ty: ProgType, name: &str, insns: &[Insn]) -> Result<Program> {
        init();
        let cname = CString::new(&name[..name.len().min(15)]).unwrap_or_default();
        let mut log = vec![0u8; LOG_SIZE];
        let mut opts = libbpf_sys::bpf_prog_load_opts {
            sz: size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
            log_buf: log.as_mut_ptr().cast(),
            log_size: LOG_SIZE as u32,
            // 0: libbpf loads once without a log and reloads with level 1 only on failure.
            log_level: 0,
            ..Default::default()
        };
        // SAFETY: Insn has the layout of struct bpf_insn (repr(C), 8 bytes); the pointers
        // (name, license, insns, opts, log) are valid for the duration of the call and the
        // kernel writes at most log_size bytes into log.
        let fd = unsafe {
            libbpf_sys::bpf_prog_load(
                ty.raw(),
                cname.as_ptr(),
                c"GPL".as_ptr(),
                insns.as_ptr().cast(),
                insns.len() as _,
                &mut opts,
            )
        };
        if fd < 0 {
            let source = io::Error::from_raw_os_error(-fd);
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            if matches!(-fd, libc::EPERM | libc::EACCES) && text.trim().is_empty() {
                return Err(sys("loading a BPF program", source));
            }
            // "unknown func NAME#ID" (older kernels), "program of this type cannot use
            // helper NAME#ID" (newer ones).
            let prefixes = ["unknown func ", "program of this type cannot use helper "];
            let found = text.lines().find_map(|l| {
                prefixes
                    .iter()
                    .find_map(|p| l.strip_prefix(p))
                    .map(|rest| (l, rest))
            });
            if let Some((line, rest)) = found {
                return Err(Error::MissingHelper {
                    helper: rest.split('#').next().unwrap_or_default().to_owned(),
                    program: name.to_owned(),
                    line: line.to_owned(),
                });
            }
            return Err(Error::Verifier {
                name: name.to_owned(),
                log_tail: log_tail(&text, LOG_TAIL_LINES),
                errno: -fd,
            });
        }
        // SAFETY: bpf_prog_load returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Program {
            fd,
            name: name.to_owned(),
        })
    }

    /// The program's name, as loaded.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run the program once with `ctx` as its context (`BPF_PROG_TEST_RUN`) and return r0.
    /// `on_cpu` runs it on that CPU (`BPF_F_TEST_RUN_ON_CPU`, raw tracepoints); `None` runs it
    /// on the calling CPU, in the calling task's context.
    pub fn test_run(&self, ctx: &[u8], on_cpu: Option<u32>) -> Result<u32> {
        let mut opts = libbpf_sys::bpf_test_run_opts {
            sz: size_of::<libbpf_sys::bpf_test_run_opts>() as _,
            ctx_in: ctx.as_ptr().cast(),
            ctx_size_in: ctx.len() as u32,
            ..Default::default()
        };
        if let Some(cpu) = on_cpu {
            opts.flags = libbpf_sys::BPF_F_TEST_RUN_ON_CPU;
            opts.cpu = cpu;
        }
        // SAFETY: opts is a valid bpf_test_run_opts whose ctx_in points to ctx.len() readable
        // bytes; no output buffers are given, so the kernel writes only opts.retval/duration.
        let ret = unsafe { libbpf_sys::bpf_prog_test_run_opts(self.fd.as_raw_fd(), &mut opts) };
        if ret < 0 {
            return Err(from_ret("BPF_PROG_TEST_RUN", ret));
        }
        Ok(opts.retval)
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

//! The crate's error type.

use std::io;

/// What went wrong in the BPF layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused a BPF operation for lack of privilege.
    #[error(
        "{op}: permission denied: BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, e.g. root){hint}"
    )]
    Permission {
        /// The operation refused.
        op: &'static str,
        /// Extra explanation, e.g. about `kernel.unprivileged_bpf_disabled`.
        hint: String,
        /// The kernel's error (EPERM or EACCES).
        #[source]
        source: io::Error,
    },
    /// The verifier rejected a program; `log_tail` holds the last lines of its log.
    #[error(
        "the kernel's verifier rejected BPF program {name} ({}); its log ends:\n{log_tail}",
        io::Error::from_raw_os_error(*.errno)
    )]
    Verifier {
        /// The program's name.
        name: String,
        /// The last lines of the verifier's log.
        log_tail: String,
        /// The errno of the load (EACCES or EINVAL, usually).
        errno: i32,
    },
    /// The verifier rejected a program on a kernel with no BTF (`/sys/kernel/btf/vmlinux`).
    #[error(
        "the kernel's verifier rejected BPF program {name} ({}) on this kernel ({release}), which has no BTF (no /sys/kernel/btf/vmlinux: built without CONFIG_DEBUG_INFO_BTF); its log ends:\n{}",
        io::Error::from_raw_os_error(*.errno),
        if .log_tail.trim().is_empty() { "(the verifier wrote no log)" } else { .log_tail.as_str() }
    )]
    VerifierNoBtf {
        /// The program's name.
        name: String,
        /// The running kernel's release.
        release: String,
        /// The last lines of the verifier's log.
        log_tail: String,
        /// The errno of the load.
        errno: i32,
    },
    /// A system call failed for another reason.
    #[error("{op}")]
    Sys {
        /// The operation.
        op: &'static str,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// `bpf_probe_read_kernel` failed: the address is not mapped (or not kernel memory).
    #[error("reading {len} bytes of kernel memory at {addr:#x} failed: the kernel's probe read returned {ret} ({})", io::Error::from_raw_os_error(-ret))]
    Fault {
        /// The address read.
        addr: u64,
        /// Bytes asked for.
        len: usize,
        /// What the probe read returned (a negative errno).
        ret: i32,
    },
    /// The running kernel lacks something kpeek needs.
    #[error("this kernel lacks {feature} (needs Linux {needs} or later)")]
    Unsupported {
        /// What is missing.
        feature: &'static str,
        /// The first Linux version that has it.
        needs: &'static str,
    },
    /// The verifier does not know a helper kpeek's program calls (an older kernel).
    #[error(
        "this kernel does not offer the BPF helper {helper} to {program} ({}); the verifier said: {line}",
        helper_since(.helper)
    )]
    MissingHelper {
        /// The helper's name.
        helper: String,
        /// The program that calls it.
        program: String,
        /// The verifier's line naming it.
        line: String,
    },
    /// A kernel variable kpeek cannot address.
    #[error("kernel variable {name}: {reason}")]
    Var {
        /// The variable.
        name: String,
        /// Why it cannot be addressed.
        reason: String,
    },
    /// A name that is not a field of the event.
    #[error("{event} has no field {field}{}; its fields: {fields}", if close.is_empty() { String::new() } else { format!(" (did you mean {}?)", close.join(", ")) })]
    UnknownField {
        /// The event, `system:name`.
        event: String,
        /// The name asked for.
        field: String,
        /// The event's fields whose names are close to it.
        close: Vec<String>,
        /// Every field of the event, listed.
        fields: String,
    },
    /// Something the generated BPF program cannot compute.
    #[error("cannot express in a BPF program: {what}")]
    CannotExpress {
        /// What was asked for.
        what: String,
    },
    /// Tracefs: unknown event, unreadable format file, not mounted.
    #[error(transparent)]
    Tracefs(#[from] kpeek_trace::tracefs::TracefsError),
    /// No map matches a name, id or path.
    #[error("no BPF map {spec}: {candidates}")]
    NoSuchMap {
        /// The map as given: id, name or pinned path.
        spec: String,
        /// What maps there are, or why none can be listed.
        candidates: String,
    },
    /// A program kpeek assembled is malformed (a bug in the generator).
    #[error("assembling a BPF program")]
    Asm(#[from] crate::asm::AsmError),
}

/// A `Result` whose error is the BPF layer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The value of `kernel.unprivileged_bpf_disabled`, explained, for a permission error.
pub(crate) fn unprivileged_hint() -> String {
    let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled") else {
        return String::new();
    };
    match v.trim() {
        "0" => String::new(),
        "1" => "; kernel.unprivileged_bpf_disabled=1: only privileged users may use bpf() until reboot".into(),
        "2" => "; kernel.unprivileged_bpf_disabled=2: only privileged users may use bpf() (root can set it to 0)".into(),
        other => format!("; kernel.unprivileged_bpf_disabled={other}"),
    }
}

/// Turn a failed syscall into [`Error::Permission`] (EPERM, EACCES) or [`Error::Sys`].
pub(crate) fn sys(op: &'static str, source: io::Error) -> Error {
    match source.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => Error::Permission {
            op,
            hint: unprivileged_hint(),
            source,
        },
        _ => Error::Sys { op, source },
    }
}

/// The error of a libbpf call returning a negative errno (libbpf 1.0 convention).
pub(crate) fn from_ret(op: &'static str, ret: i32) -> Error {
    sys(op, io::Error::from_raw_os_error(-ret))
}

/// A libbpf-rs error as [`Error::Permission`] or [`Error::Sys`].
pub(crate) fn libbpf(op: &'static str, e: libbpf_rs::Error) -> Error {
    if e.kind() == libbpf_rs::ErrorKind::PermissionDenied {
        return sys(op, io::Error::from_raw_os_error(libc::EPERM));
    }
    Error::Sys {
        op,
        source: io::Error::other(e.to_string()),
    }
}

/// The kernel version that added a helper kpeek uses.
pub fn helper_since(name: &str) -> String {
    let v = match name {
        "bpf_probe_read_kernel" | "bpf_probe_read_kernel_str" => "5.5",
        "bpf_per_cpu_ptr" => "5.10",
        "bpf_get_current_task" => "4.8",
        "bpf_get_stackid" => "4.6",
        "bpf_get_current_comm" | "bpf_get_current_pid_tgid" | "bpf_get_smp_processor_id" => "4.2",
        _ => return "not a helper kpeek uses on its own".into(),
    };
    format!("it appeared in Linux {v}")
}

//! From facts to a diagnosis: one check per kernel feature with what to do when it is missing,
//! which `kpeek peek` backends can work, and what each command can do here. Pure: the tests
//! feed it facts directly.

use serde::Serialize;

use super::facts::{Access, Facts, KallsymsState, Probe, TracefsState};

/// Capability numbers (`linux/capability.h`).
pub mod cap {
    pub const NET_ADMIN: u32 = 12;
    pub const SYS_MODULE: u32 = 16;
    pub const SYS_RAWIO: u32 = 17;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYSLOG: u32 = 34;
    pub const PERFMON: u32 = 38;
    pub const BPF: u32 = 39;

    /// The capabilities kpeek's commands use, with their names.
    pub const USED: [(u32, &str); 7] = [
        (SYS_ADMIN, "CAP_SYS_ADMIN"),
        (PERFMON, "CAP_PERFMON"),
        (BPF, "CAP_BPF"),
        (SYSLOG, "CAP_SYSLOG"),
        (SYS_RAWIO, "CAP_SYS_RAWIO"),
        (NET_ADMIN, "CAP_NET_ADMIN"),
        (SYS_MODULE, "CAP_SYS_MODULE"),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Missing,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "missing",
        }
    }
}

/// One kernel feature or permission.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do about it (absent when nothing needs doing).
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    Yes,
    Limited,
    No,
}

impl Readiness {
    pub fn label(self) -> &'static str {
        match self {
            Readiness::Yes => "yes",
            Readiness::Limited => "limited",
            Readiness::No => "no",
        }
    }
}

/// A `kpeek peek` backend or a command, and whether it works here.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub name: &'static str,
    pub works: Readiness,
    /// What it needs from the kernel, always the same text.
    pub needs: &'static str,
    /// Why it does or does not work on this machine.
    pub why: String,
}

/// The whole diagnosis.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kernel: Option<String>,
    pub euid: Option<u32>,
    pub checks: Vec<Check>,
    pub peek_backends: Vec<Verdict>,
    pub commands: Vec<Verdict>,
}

impl Facts {
    /// Whether the effective set holds `c` (unknown counts as not held).
    pub fn has_cap(&self, c: u32) -> bool {
        self.cap_eff.is_some_and(|m| m & (1u64 << c) != 0)
    }

    pub(super) fn can_perfmon(&self) -> bool {
        self.has_cap(cap::PERFMON) || self.has_cap(cap::SYS_ADMIN)
    }

    pub(super) fn can_bpf(&self) -> bool {
        (self.has_cap(cap::BPF) && self.has_cap(cap::PERFMON)) || self.has_cap(cap::SYS_ADMIN)
    }

    pub(super) fn confidentiality(&self) -> bool {
        self.lockdown.as_deref() == Some("confidentiality")
    }
}

fn check(name: &'static str, status: Status, detail: String, fix: Option<&str>) -> Check {
    Check {
        name,
        status,
        detail,
        fix: fix.map(str::to_string),
    }
}

const FIX_ROOT_PERF: &str =
    "run as root (sudo), or grant CAP_PERFMON, or `sysctl kernel.perf_event_paranoid=-1`";

fn capabilities(f: &Facts) -> Check {
    let Some(_) = f.cap_eff else {
        return check(
            "capabilities",
            Status::Warn,
            "unknown: /proc/self/status has no CapEff line".into(),
            None,
        );
    };
    let held: Vec<&str> = cap::USED
        .iter()
        .filter(|(c, _)| f.has_cap(*c))
        .map(|(_, n)| *n)
        .collect();
    let lacking: Vec<&str> = cap::USED
        .iter()
        .filter(|(c, _)| !f.has_cap(*c))
        .map(|(_, n)| *n)
        .collect();
    let uid = f
        .euid
        .map_or("uid unknown".to_string(), |u| format!("uid {u}"));
    if lacking.is_empty() {
        check(
            "capabilities",
            Status::Ok,
            format!("{uid}; all that kpeek uses: {}", held.join(" ")),
            None,
        )
    } else {
        check(
            "capabilities",
            Status::Warn,
            format!(
                "{uid}; held: {}; lacking: {}",
                if held.is_empty() {
                    "none".to_string()
                } else {
                    held.join(" ")
                },
                lacking.join(" ")
            ),
            Some("run as root (sudo kpeek ...) for the commands that need them (listed below)"),
        )
    }
}

fn tracefs(f: &Facts) -> Check {
    match &f.tracefs {
        TracefsState::Mounted { path } => {
            check("tracefs", Status::Ok, format!("mounted at {path}"), None)
        }
        TracefsState::Denied { path } => check(
            "tracefs",
            Status::Missing,
            format!("{path} is not readable by this user"),
            Some("run as root (tracefs is root-only by default)"),
        ),
        TracefsState::NotMounted => check(
            "tracefs",
            Status::Missing,
            "not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing".into(),
            Some(
                "mount -t tracefs nodev /sys/kernel/tracing (kpeek trace mounts it itself when run as root)",
            ),
        ),
    }
}

fn paranoid(f: &Facts) -> Check {
    match f.perf_event_paranoid {
        None => check(
            "perf_event_paranoid",
            Status::Missing,
            "no /proc/sys/kernel/perf_event_paranoid: the kernel has no perf events".into(),
            Some("use a kernel built with CONFIG_PERF_EVENTS"),
        ),
        Some(v) if v <= -1 => check(
            "perf_event_paranoid",
            Status::Ok,
            format!("{v}: every user may trace the kernel"),
            None,
        ),
        Some(v) if f.can_perfmon() => check(
            "perf_event_paranoid",
            Status::Ok,
            format!("{v}, but this user has CAP_PERFMON or CAP_SYS_ADMIN, which override it"),
            None,
        ),
        Some(v) => check(
            "perf_event_paranoid",
            Status::Warn,
            format!("{v}: system-wide tracepoint events need CAP_PERFMON (or the value -1)"),
            Some(FIX_ROOT_PERF),
        ),
    }
}

fn probe_check(name: &'static str, p: &Probe, what: &str, fix: &str) -> Check {
    match p {
        Probe::Works => check(name, Status::Ok, format!("{what}: works"), None),
        Probe::Fails { error } => {
            check(name, Status::Missing, format!("{what}: {error}"), Some(fix))
        }
        Probe::NotProbed { why } => check(
            name,
            Status::Warn,
            format!("{what}: not tried: {why}"),
            None,
        ),
    }
}

fn kptr_restrict(f: &Facts) -> Check {
    let fix2 = "sysctl kernel.kptr_restrict=1 (then root, or CAP_SYSLOG, sees addresses)";
    match f.kptr_restrict {
        None => check(
            "kptr_restrict",
            Status::Warn,
            "no /proc/sys/kernel/kptr_restrict".into(),
            None,
        ),
        Some(0) => check(
            "kptr_restrict",
            Status::Ok,
            "0: addresses shown to CAP_SYSLOG or when perf_event_paranoid <= 1".into(),
            None,
        ),
        Some(1) if f.has_cap(cap::SYSLOG) => check(
            "kptr_restrict",
            Status::Ok,
            "1: addresses shown to CAP_SYSLOG, which this user has".into(),
            None,
        ),
        Some(1) => check(
            "kptr_restrict",
            Status::Warn,
            "1: addresses shown only to CAP_SYSLOG, which this user lacks".into(),
            Some("run as root (or with CAP_SYSLOG)"),
        ),
        Some(v) => check(
            "kptr_restrict",
            Status::Missing,
            format!("{v}: addresses hidden from everyone, root included"),
            Some(fix2),
        ),
    }
}

fn kallsyms(f: &Facts) -> Check {
    let name = "/proc/kallsyms";
    match &f.kallsyms {
        KallsymsState::Addresses => check(name, Status::Ok, "real addresses".into(), None),
        KallsymsState::Hidden => check(
            name,
            Status::Missing,
            "every address reads as zero: hidden from this reader".into(),
            Some(
                "run as root (or with CAP_SYSLOG), or `sysctl kernel.perf_event_paranoid=1` when kptr_restrict is 0",
            ),
        ),
        KallsymsState::Absent => check(
            name,
            Status::Missing,
            "absent: the kernel has no CONFIG_KALLSYMS".into(),
            Some("use a saved table or System.map: kpeek sym --kallsyms FILE"),
        ),
        KallsymsState::Unreadable { error } => check(
            name,
            Status::Missing,
            format!("unreadable: {error}"),
            Some("run as root"),
        ),
    }
}

fn bpf(f: &Facts) -> Check {
    let fix = match f.unprivileged_bpf_disabled {
        Some(v) if v != 0 => format!("run as root (CAP_BPF + CAP_PERFMON); unprivileged BPF is off here (unprivileged_bpf_disabled = {v})"),
        _ => "run as root (CAP_BPF + CAP_PERFMON); a kernel without CONFIG_BPF_SYSCALL cannot do it at all".to_string(),
    };
    probe_check("bpf", &f.bpf_syscall, "bpf(BPF_MAP_CREATE)", &fix)
}

fn btf(f: &Facts) -> Check {
    if f.btf_vmlinux {
        check(
            "btf",
            Status::Ok,
            "/sys/kernel/btf/vmlinux present".into(),
            None,
        )
    } else {
        check(
            "btf",
            Status::Missing,
            "no /sys/kernel/btf/vmlinux: the kernel has no CONFIG_DEBUG_INFO_BTF".into(),
            Some("use a kernel with BTF (Debian's and most distributions' kernels have it)"),
        )
    }
}

fn kcore(f: &Facts) -> Check {
    match &f.kcore {
        Access::Readable => check("/proc/kcore", Status::Ok, "readable".into(), None),
        Access::Absent => check(
            "/proc/kcore",
            Status::Missing,
            "absent: the kernel has no CONFIG_PROC_KCORE".into(),
            Some("kpeek peek uses its bpf or kpeek.ko backend instead"),
        ),
        Access::Denied { error } => check(
            "/proc/kcore",
            Status::Missing,
            format!("not readable: {error}"),
            Some(if f.confidentiality() {
                "lockdown=confidentiality forbids it; kpeek peek uses its other backends"
            } else {
                "run as root (CAP_SYS_RAWIO)"
            }),
        ),
    }
}

fn lockdown(f: &Facts) -> Check {
    match f.lockdown.as_deref() {
        None => check(
            "lockdown",
            Status::Ok,
            "not reported (no /sys/kernel/security/lockdown: no lockdown LSM, or securityfs not mounted)".into(),
            None,
        ),
        Some("none") => check("lockdown", Status::Ok, "none".into(), None),
        Some("integrity") => check(
            "lockdown",
            Status::Warn,
            "integrity: unsigned modules are refused (kpeek.ko must be signed, e.g. by DKMS's MOK key)".into(),
            Some("enroll the DKMS signing key with mokutil --import, or boot without lockdown"),
        ),
        Some(m) => check(
            "lockdown",
            Status::Missing,
            format!("{m}: kernel memory reads are refused (/proc/kcore, bpf_probe_read_kernel, kpeek.ko's peek)"),
            Some("boot without lockdown=confidentiality (Secure Boot may impose it)"),
        ),
    }
}

fn modules(f: &Facts) -> Check {
    if !f.modules_supported {
        check(
            "modules",
            Status::Missing,
            "no /proc/modules: this kernel cannot load modules".into(),
            Some("kpeek.ko cannot run here; use the bpf backend (kpeek peek --via bpf, kpeek bpf)"),
        )
    } else if f.modules_disabled == Some(1) {
        check(
            "modules",
            Status::Missing,
            "loading is disabled until reboot (kernel.modules_disabled = 1)".into(),
            Some(
                "load kpeek.ko at boot, before modules_disabled is set (/etc/modules-load.d/kpeek.conf)",
            ),
        )
    } else {
        check(
            "modules",
            Status::Ok,
            "loadable modules supported".into(),
            None,
        )
    }
}

fn kpeek_ko(f: &Facts) -> Vec<Check> {
    let ko = &f.kpeek_ko;
    let want = kpeek_abi::ABI_VERSION;
    let mut out = Vec::new();
    if !ko.loaded {
        out.push(check(
            "kpeek.ko",
            Status::Missing,
            "not loaded (no /sys/module/kpeek)".into(),
            Some(if f.modules_supported {
                "modprobe kpeek (installed by the kpeek-dkms package, or built from kmod/)"
            } else {
                "this kernel cannot load modules"
            }),
        ));
        return out;
    }
    out.push(match ko.abi_version {
        Some(v) if v == want => check("kpeek.ko", Status::Ok, format!("loaded, ABI version {v} (the same as this kpeek)"), None),
        Some(v) => check(
            "kpeek.ko",
            Status::Missing,
            format!("loaded, ABI version {v}, but this kpeek speaks {want}"),
            Some("install kpeek and kpeek-dkms of the same release, then rmmod kpeek && modprobe kpeek"),
        ),
        None => check(
            "kpeek.ko",
            Status::Warn,
            "loaded, but /sys/kernel/kpeek/info is unreadable: ABI version unknown".into(),
            None,
        ),
    });
    out.push(match &ko.dev {
        Access::Readable => check("/dev/kpeek", Status::Ok, "opens".into(), None),
        Access::Absent => check(
            "/dev/kpeek",
            Status::Missing,
            "absent (udev did not create it)".into(),
            Some("udevadm trigger, or reload kpeek.ko"),
        ),
        Access::Denied { error } => check(
            "/dev/kpeek",
            Status::Warn,
            format!("does not open: {error}"),
            Some("run as root, or enable the group rule of /usr/lib/udev/rules.d/99-kpeek.rules (copy it to /etc/udev/rules.d)"),
        ),
    });
    out
}

/// Judge `f`.
pub fn diagnose(f: &Facts) -> Report {
    let mut checks = vec![
        capabilities(f),
        tracefs(f),
        paranoid(f),
        probe_check(
            "perf tracepoints",
            &f.perf_tracepoint,
            "perf_event_open of a tracepoint, all processes, CPU 0",
            FIX_ROOT_PERF,
        ),
        kptr_restrict(f),
        kallsyms(f),
        bpf(f),
        btf(f),
        kcore(f),
        lockdown(f),
        modules(f),
    ];
    checks.extend(kpeek_ko(f));
    let peek_backends = super::verdicts::peek_backends(f);
    let commands = super::verdicts::commands(f, &peek_backends);
    Report {
        kernel: f.kernel.clone(),
        euid: f.euid,
        checks,
        peek_backends,
        commands,
    }
}

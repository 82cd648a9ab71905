//! Which `kpeek peek` backends and which commands can work, judged from the facts.

use super::diagnose::{Readiness, Verdict};
use super::facts::{Access, Facts, KallsymsState, Probe, TracefsState};

fn yn(ok: bool) -> Readiness {
    if ok { Readiness::Yes } else { Readiness::No }
}

fn verdict(
    name: &'static str,
    works: Readiness,
    needs: &'static str,
    why: impl Into<String>,
) -> Verdict {
    Verdict {
        name,
        works,
        needs,
        why: why.into(),
    }
}

pub fn peek_backends(f: &Facts) -> Vec<Verdict> {
    let ko = &f.kpeek_ko;
    let ko_ok =
        ko.loaded && ko.abi_version == Some(kpeek_abi::ABI_VERSION) && ko.dev == Access::Readable;
    let locked = f.confidentiality();
    let ko_why = if !ko.loaded {
        "kpeek.ko is not loaded".to_string()
    } else if !ko_ok {
        "kpeek.ko is loaded but /dev/kpeek does not open or its ABI differs".to_string()
    } else if locked {
        "lockdown=confidentiality".to_string()
    } else {
        "kpeek.ko loaded, /dev/kpeek opens".to_string()
    };
    let bpf_ok = f.bpf_syscall == Probe::Works && f.btf_vmlinux && f.can_bpf();
    let bpf_why = match (&f.bpf_syscall, f.btf_vmlinux, f.can_bpf()) {
        (Probe::Works, true, true) => {
            "BPF system call works, BTF present, CAP_BPF+CAP_PERFMON held".to_string()
        }
        (Probe::Works, false, _) => "no kernel BTF".to_string(),
        (Probe::Works, true, false) => {
            "reading kernel memory from BPF needs CAP_BPF and CAP_PERFMON".to_string()
        }
        (Probe::Fails { error }, _, _) => format!("bpf(): {error}"),
        (Probe::NotProbed { why }, _, _) => format!("not tried: {why}"),
    };
    let kcore_ok = f.kcore == Access::Readable;
    let kcore_why = match &f.kcore {
        Access::Readable => "readable".to_string(),
        Access::Absent => "/proc/kcore is absent".to_string(),
        Access::Denied { error } => format!("/proc/kcore: {error}"),
    };
    vec![
        verdict(
            "kpeek.ko",
            yn(ko_ok && !locked),
            "kpeek.ko loaded, /dev/kpeek, CAP_SYS_RAWIO, no lockdown=confidentiality",
            ko_why,
        ),
        verdict(
            "bpf",
            yn(bpf_ok && !locked),
            "bpf() with CAP_BPF+CAP_PERFMON, /sys/kernel/btf/vmlinux, no lockdown=confidentiality",
            if locked && bpf_ok {
                "lockdown=confidentiality".into()
            } else {
                bpf_why
            },
        ),
        verdict(
            "kcore",
            yn(kcore_ok && !locked),
            "/proc/kcore readable (CAP_SYS_RAWIO), no lockdown=confidentiality",
            kcore_why,
        ),
    ]
}

pub fn commands(f: &Facts, backends: &[Verdict]) -> Vec<Verdict> {
    let sym = match &f.kallsyms {
        KallsymsState::Addresses => verdict(
            "sym",
            Readiness::Yes,
            "/proc/kallsyms with real addresses (or --kallsyms FILE)",
            "the live table shows addresses",
        ),
        _ => verdict(
            "sym",
            Readiness::Limited,
            "/proc/kallsyms with real addresses (or --kallsyms FILE)",
            "the live table is not usable (see /proc/kallsyms above); saved tables (--kallsyms FILE) work",
        ),
    };
    let tracefs_ok = matches!(f.tracefs, TracefsState::Mounted { .. });
    let trace = match (&f.perf_tracepoint, tracefs_ok) {
        (Probe::Works, true) => verdict(
            "trace",
            Readiness::Yes,
            "tracefs, perf tracepoint events (CAP_PERFMON or perf_event_paranoid -1)",
            "tracefs mounted, tracepoint events open",
        ),
        (Probe::Fails { error }, _) => verdict(
            "trace",
            Readiness::No,
            "tracefs, perf tracepoint events (CAP_PERFMON or perf_event_paranoid -1)",
            format!("perf_event_open: {error}"),
        ),
        (_, false) => verdict(
            "trace",
            Readiness::No,
            "tracefs, perf tracepoint events (CAP_PERFMON or perf_event_paranoid -1)",
            "tracefs is not usable",
        ),
        (Probe::NotProbed { why }, true) => verdict(
            "trace",
            yn(f.can_perfmon() || f.perf_event_paranoid.is_some_and(|v| v <= -1)),
            "tracefs, perf tracepoint events (CAP_PERFMON or perf_event_paranoid -1)",
            format!("judged from capabilities and perf_event_paranoid (not tried: {why})"),
        ),
    };
    let ko = &f.kpeek_ko;
    let module = if !ko.loaded {
        verdict(
            "mod",
            Readiness::No,
            "kpeek.ko loaded; /dev/kpeek for the fast channels, events and probes",
            "kpeek.ko is not loaded",
        )
    } else if ko.dev != Access::Readable {
        verdict(
            "mod",
            Readiness::Limited,
            "kpeek.ko loaded; /dev/kpeek for the fast channels, events and probes",
            "procfs, sysfs, configfs and netlink reads work; /dev/kpeek does not open (chardev, ioctl, mmap, events, probes)",
        )
    } else {
        verdict(
            "mod",
            Readiness::Yes,
            "kpeek.ko loaded; /dev/kpeek for the fast channels, events and probes",
            "kpeek.ko loaded and /dev/kpeek opens",
        )
    };
    let working: Vec<&str> = backends
        .iter()
        .filter(|b| b.works == Readiness::Yes)
        .map(|b| b.name)
        .collect();
    let peek = if working.is_empty() {
        verdict(
            "peek",
            Readiness::No,
            "one backend: kpeek.ko, bpf or kcore (below)",
            "no backend works here",
        )
    } else {
        verdict(
            "peek",
            Readiness::Yes,
            "one backend: kpeek.ko, bpf or kcore (below)",
            format!("through {}", working.join(", ")),
        )
    };
    let bpf = match (&f.bpf_syscall, f.btf_vmlinux) {
        (Probe::Works, true) => verdict(
            "bpf",
            Readiness::Yes,
            "bpf() (CAP_BPF+CAP_PERFMON), kernel BTF",
            "BPF system call works, BTF present",
        ),
        (Probe::Works, false) => verdict(
            "bpf",
            Readiness::Limited,
            "bpf() (CAP_BPF+CAP_PERFMON), kernel BTF",
            "BPF works but without BTF types are unknown",
        ),
        (Probe::Fails { error }, _) => verdict(
            "bpf",
            Readiness::No,
            "bpf() (CAP_BPF+CAP_PERFMON), kernel BTF",
            format!("bpf(): {error}"),
        ),
        (Probe::NotProbed { why }, _) => verdict(
            "bpf",
            yn(f.can_bpf() && f.btf_vmlinux),
            "bpf() (CAP_BPF+CAP_PERFMON), kernel BTF",
            format!("judged from capabilities and BTF (not tried: {why})"),
        ),
    };
    let monitor_needs =
        "procfs always; tracepoint rates need what `trace` needs; kpeek.ko counters need kpeek.ko";
    let monitor = if trace.works == Readiness::Yes {
        verdict(
            "top/watch/serve",
            Readiness::Yes,
            monitor_needs,
            if ko.loaded {
                "every source"
            } else {
                "every source but kpeek.ko's counters (not loaded)"
            },
        )
    } else {
        verdict(
            "top/watch/serve",
            Readiness::Limited,
            monitor_needs,
            "procfs/sysfs numbers only: tracepoint rates are not available",
        )
    };
    vec![sym, trace, module, peek, bpf, monitor]
}

//! Counting in the kernel on the running kernel: exact counts of known workloads.

use kpeek_bpf::count::{Counter, KeyValue, Request};
use kpeek_trace::format::EventFormat;
use kpeek_trace::tracefs::Tracefs;

fn format(ev: &str) -> EventFormat {
    let t = Tracefs::discover_or_mount().expect("tracefs");
    let name = t.lookup(ev).expect("event");
    t.format(&name).expect("format")
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn getppid_calls_counted_exactly_by_pid_and_tid() {
    let f = format("syscalls:sys_enter_getppid");
    let req = Request {
        by: vec!["pid".into(), "tid".into()],
        ..Default::default()
    };
    let c = Counter::start(&[f], &req, 1024).expect("start");
    let n = 12_345;
    for _ in 0..n {
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::getppid() };
    }
    let s = c.snapshot().expect("snapshot");
    let me = std::process::id() as u64;
    // SAFETY: gettid cannot fail.
    let tid = unsafe { libc::gettid() } as u64;
    let mine: Vec<_> = s
        .entries
        .iter()
        .filter(|e| e.key[0] == KeyValue::UInt(me))
        .collect();
    assert_eq!(mine.len(), 1, "{:?}", s.entries);
    assert_eq!(mine[0].key[1], KeyValue::UInt(tid));
    assert_eq!(mine[0].count, n);
    assert_eq!((s.full, s.lost, s.read_errors), (0, 0, 0));
}

/// A kernel that lacks a feature (answers injected): when the kernel refuses the count (here: a
/// map of 0 entries, which every kernel refuses), the error names the missing feature and its
/// version instead of the refusal; a feature only `--by kstack` needs is asked for only then.
#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_missing_feature_names_it_and_its_version() {
    use kpeek_bpf::features::{Feature, Probe};
    struct Lacks(Feature);
    impl Probe for Lacks {
        fn has(&self, f: Feature) -> Option<bool> {
            Some(f != self.0)
        }
    }
    let f = format("syscalls:sys_enter_getppid");
    let req = Request::default();
    let refused = 0;
    let err = Counter::start_probed(
        std::slice::from_ref(&f),
        &req,
        refused,
        &Lacks(Feature::ProbeReadKernel),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "this kernel lacks the BPF helpers bpf_probe_read_kernel and bpf_probe_read_kernel_str (needs Linux 5.5 or later)"
    );
    let err = Counter::start_probed(
        std::slice::from_ref(&f),
        &req,
        refused,
        &Lacks(Feature::TracepointProgs),
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs Linux 4.7"), "{err}");
    // Stack traces are only needed for kstack keys: without them the refusal itself is the
    // error.
    let err = Counter::start_probed(
        std::slice::from_ref(&f),
        &req,
        refused,
        &Lacks(Feature::StackTraces),
    )
    .unwrap_err();
    assert!(
        !err.to_string().contains("lacks"),
        "expected the kernel's refusal, not a missing feature: {err}"
    );
    let kstack = Request {
        by: vec!["kstack".into()],
        ..Default::default()
    };
    let err =
        Counter::start_probed(&[f], &kstack, refused, &Lacks(Feature::StackTraces)).unwrap_err();
    assert!(err.to_string().contains("stack trace maps"), "{err}");
}

/// A count the kernel accepts probes nothing: the probes (each loads a program or makes a map)
/// are not paid for before the first event.
#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_count_the_kernel_accepts_is_not_probed() {
    use kpeek_bpf::features::{Feature, Probe};
    struct Unasked;
    impl Probe for Unasked {
        fn has(&self, f: Feature) -> Option<bool> {
            panic!("{f:?} was probed although the kernel accepted the count");
        }
    }
    let f = format("syscalls:sys_enter_getppid");
    Counter::start_probed(&[f], &Request::default(), 16, &Unasked)
        .expect("this kernel accepts a count by nothing of sys_enter_getppid");
}

/// The real kernel has every feature a count uses (the probes answer yes, not "unknown").
#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn this_kernel_has_every_feature() {
    use kpeek_bpf::features::{Feature, KernelProbe, Probe};
    for f in [
        Feature::TracepointProgs,
        Feature::PercpuMaps,
        Feature::ProbeReadKernel,
        Feature::StackTraces,
    ] {
        assert_eq!(KernelProbe.has(f), Some(true), "{f:?}");
    }
}

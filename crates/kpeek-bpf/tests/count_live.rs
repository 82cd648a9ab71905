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

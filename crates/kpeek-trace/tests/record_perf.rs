//! The perf layer on the live kernel: exact sample counts through a kernel filter, and lost
//! records accounted for when a tiny ring overflows. Needs root (or CAP_PERFMON) and tracefs.

use std::ffi::CString;

use kpeek_trace::perf::{PerfEvent, PerfRing, Record, TracepointConfig};

fn tracepoint_id(system: &str, name: &str) -> u64 {
    let path = format!("/sys/kernel/tracing/events/{system}/{name}/id");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("this test needs tracefs at /sys/kernel/tracing: {path}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

fn getppid_n(n: u64) {
    for _ in 0..n {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
}

/// Keeps the calling thread on `cpu`.
fn pin_to_cpu(cpu: i32) {
    // SAFETY: a zeroed cpu_set_t with one bit set, applied to the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set),
            0,
            "sched_setaffinity to CPU {cpu}"
        );
    }
}

/// Open sys_enter_getppid on every CPU filtered to this thread, all into CPU rings.
fn open_getppid(data_pages: usize) -> (Vec<PerfEvent>, Vec<PerfRing>, u64) {
    let config = TracepointConfig {
        id: tracepoint_id("syscalls", "sys_enter_getppid"),
        sampling: true,
        callchain: false,
        wakeup_bytes: 0,
        inherit: false,
    };
    let filter = CString::new(format!("common_pid == {}", gettid())).unwrap();
    let mut events = Vec::new();
    let mut rings = Vec::new();
    for cpu in kpeek_trace::perf::online_cpus() {
        let ev = PerfEvent::tracepoint(&config, None, cpu)
            .unwrap_or_else(|e| panic!("perf_event_open on cpu {cpu} (run as root): {e}"));
        ev.set_filter(&filter).expect("kernel accepts the filter");
        rings.push(PerfRing::map(&ev, data_pages, config.sample_type()).expect("mmap ring"));
        events.push(ev);
    }
    (events, rings, config.sample_type())
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn exact_count_with_common_pid_filter() {
    const N: u64 = 5000;
    let (events, mut rings, _) = open_getppid(256);
    let ids: Vec<u64> = events.iter().map(|e| e.id().unwrap()).collect();
    events.iter().for_each(|e| e.enable().unwrap());
    getppid_n(N);
    events.iter().for_each(|e| e.disable().unwrap());
    let tid = gettid() as u32;
    let (mut samples, mut lost) = (0u64, 0u64);
    for ring in &mut rings {
        let mut last_time = 0;
        ring.read(|r| match r {
            Record::Sample(s) => {
                assert_eq!(s.tid, tid, "the kernel filter let another thread through");
                assert_eq!(s.pid, std::process::id());
                assert!(ids.contains(&s.id), "unknown sample id {}", s.id);
                assert!(s.time >= last_time, "a CPU ring is time ordered");
                last_time = s.time;
                // raw: common_type(2) flags(1) preempt(1) common_pid(4) __syscall_nr(4)
                assert!(s.raw.len() >= 12);
                let pid = i32::from_ne_bytes(s.raw[4..8].try_into().unwrap());
                assert_eq!(pid as u32, tid);
                let nr = i32::from_ne_bytes(s.raw[8..12].try_into().unwrap());
                assert_eq!(nr as i64, libc::SYS_getppid);
                samples += 1;
            }
            Record::Lost { lost: n, .. } => lost += n,
            other => panic!("unexpected record {other:?}"),
        })
        .expect("a well-formed ring");
    }
    assert_eq!(lost, 0);
    assert_eq!(samples, N);
    let counted: u64 = events.iter().map(|e| e.read_count().unwrap().value).sum();
    assert_eq!(counted, N, "the counters agree");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn tiny_ring_overflow_is_accounted() {
    const N: u64 = 20_000;
    // One CPU for the whole test: the kernel writes a ring's pending PERF_RECORD_LOST only with
    // that ring's next record, so the flushing event below must reach the ring that overflowed
    // (a thread moved to another CPU on a busy machine left the count behind).
    pin_to_cpu(kpeek_trace::perf::online_cpus()[0]);
    let (events, mut rings, _) = open_getppid(1);
    events.iter().for_each(|e| e.enable().unwrap());
    getppid_n(N);
    // Drain, then one more event: the kernel writes the pending PERF_RECORD_LOST before it.
    let (mut samples, mut lost) = (0u64, 0u64);
    let mut drain = |rings: &mut Vec<PerfRing>| {
        for ring in rings.iter_mut() {
            ring.read(|r| match r {
                Record::Sample(_) => samples += 1,
                Record::Lost { lost: n, .. } => lost += n,
                other => panic!("unexpected record {other:?}"),
            })
            .expect("a well-formed ring");
        }
    };
    drain(&mut rings);
    getppid_n(1);
    events.iter().for_each(|e| e.disable().unwrap());
    drain(&mut rings);
    let counted: u64 = events.iter().map(|e| e.read_count().unwrap().value).sum();
    assert_eq!(counted, N + 1);
    let kernel_lost: u64 = events
        .iter()
        .map(|e| {
            e.read_count()
                .unwrap()
                .lost
                .expect("PERF_FORMAT_LOST on Linux 6.0+")
        })
        .sum();
    assert_eq!(
        kernel_lost, lost,
        "the per-event lost counters agree with PERF_RECORD_LOST"
    );
    assert!(lost > 0, "a one-page ring must overflow with {N} events");
    assert!(samples > 0);
    assert_eq!(samples + lost, N + 1, "samples {samples} + lost {lost}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn ring_size_must_be_power_of_two() {
    let (events, _, st) = open_getppid(1);
    let err = PerfRing::map(&events[0], 3, st)
        .err()
        .expect("3 pages is rejected");
    assert!(err.to_string().contains("power of two"), "{err}");
}

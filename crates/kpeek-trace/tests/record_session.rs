//! Recording sessions on the live kernel: exact counts through kernel filters, loopback
//! packets, lost-record accounting, cross-CPU time order, bad filters, unknown events, and
//! counting mode. Needs root (or CAP_PERFMON) and tracefs.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use kpeek_trace::record::{
    Event, Lost, RecordError, RecordOptions, Session, Sink, Stop, Summary, resolve_events,
};
use kpeek_trace::stat::Counter;
use kpeek_trace::tracefs::{EventName, Tracefs, TracefsError};
use kpeek_trace::value::Value;

fn tracefs() -> Tracefs {
    Tracefs::discover().expect("these tests need tracefs (run as root on a Linux machine)")
}

fn gettid() -> i32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() }
}

fn getppid_n(n: u64) {
    for _ in 0..n {
        // SAFETY: no preconditions.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, applied to the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set),
            0
        );
    }
}

#[derive(Debug, Clone)]
struct Got {
    time: u64,
    cpu: u32,
    pid: u32,
    tid: u32,
    event: String,
    fields: Vec<(String, Value)>,
}

#[derive(Default)]
struct Collect {
    events: Vec<Got>,
    lost: Vec<Lost>,
    finished: Option<Summary>,
    /// Sleep this long on the first event: a slow reader, to overflow a ring.
    stall: Option<Duration>,
    /// Tell the test the events are enabled.
    started: Option<mpsc::Sender<()>>,
}

impl Sink for Collect {
    fn enabled(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.started.take() {
            tx.send(()).unwrap();
        }
        Ok(())
    }
    fn event(&mut self, ev: &Event<'_>) -> std::io::Result<()> {
        if let Some(d) = self.stall.take() {
            std::thread::sleep(d);
        }
        let fields = ev.format.decode(ev.raw).expect("every record decodes");
        self.events.push(Got {
            time: ev.time,
            cpu: ev.cpu,
            pid: ev.pid,
            tid: ev.tid,
            event: ev.format.name.to_string(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        });
        Ok(())
    }
    fn lost(&mut self, lost: &Lost) -> std::io::Result<()> {
        self.lost.push(*lost);
        Ok(())
    }
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.finished = Some(summary.clone());
        Ok(())
    }
}

fn field<'a>(g: &'a Got, name: &str) -> &'a Value {
    &g.fields
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .1
}

/// Run a session in a thread while `work` runs here; the session stops after `work` returns.
/// Returns the collected events and the summary.
fn record_around(
    events: &[&str],
    opts: RecordOptions,
    stall: Option<Duration>,
    work: impl FnOnce(),
) -> (Collect, Summary) {
    let tfs = tracefs();
    let specs: Vec<String> = events.iter().map(|s| s.to_string()).collect();
    let names = resolve_events(&tfs, &specs).unwrap();
    let mut session = Session::open(&tfs, &names, &opts).expect("open the session");
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let stop2 = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut sink = Collect {
            stall,
            started: Some(tx),
            ..Collect::default()
        };
        let summary = session
            .run(
                Stop {
                    flag: Some(&stop2),
                    duration: None,
                    count: None,
                },
                &mut sink,
            )
            .expect("session runs");
        (sink, summary)
    });
    rx.recv().unwrap(); // the events are enabled
    work();
    // A hit is in its ring when the traced call returns; run() drains every ring after the
    // stop flag, so nothing is missed.
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap()
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn exact_getppid_count_with_common_pid_filter() {
    const N: u64 = 10_000;
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        tx.send(gettid()).unwrap();
        go_rx.recv().unwrap();
        getppid_n(N);
    });
    let tid = rx.recv().unwrap();
    let opts = RecordOptions {
        filter: Some(format!("common_pid == {tid}")),
        ..Default::default()
    };
    let (got, summary) = record_around(&["syscalls:sys_enter_getppid"], opts, None, || {
        go_tx.send(()).unwrap();
        worker.join().unwrap();
    });
    assert_eq!(got.events.len() as u64, N, "exactly N events");
    assert_eq!(summary.events, N);
    assert_eq!(summary.lost(), 0);
    assert_eq!(summary.hits, N, "the kernel counted N hits");
    assert_eq!(summary.per_event, vec![N]);
    for g in &got.events {
        assert_eq!(g.tid, tid as u32);
        assert_eq!(g.pid, std::process::id());
        assert_eq!(g.event, "syscalls:sys_enter_getppid");
        assert_eq!(field(g, "__syscall_nr").as_i64(), Some(libc::SYS_getppid));
    }
    assert!(
        got.events.windows(2).all(|w| w[0].time <= w[1].time),
        "time ordered"
    );
    assert!(got.finished.is_some());
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn loopback_udp_only_lo_with_the_sent_lengths() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sizes = [1001usize, 1237, 1399, 1402, 77];
    let opts = RecordOptions {
        filter: Some("name == \"lo\"".into()),
        ..Default::default()
    };
    let (got, summary) = record_around(&["net:netif_receive_skb"], opts, None, || {
        let mut buf = [0u8; 2048];
        for &n in &sizes {
            tx.send_to(&vec![0x5a; n], rx.local_addr().unwrap())
                .unwrap();
            assert_eq!(rx.recv(&mut buf).unwrap(), n);
        }
    });
    assert_eq!(summary.lost(), 0);
    assert!(!got.events.is_empty());
    for g in &got.events {
        assert_eq!(
            field(g, "name").as_str(),
            Some("lo"),
            "the kernel filter kept only lo"
        );
    }
    let lens: Vec<u64> = got
        .events
        .iter()
        .map(|g| field(g, "len").as_u64().unwrap())
        .collect();
    for n in sizes {
        // len is the IP packet: 20 bytes of IPv4 header + 8 of UDP + payload.
        let want = (n + 28) as u64;
        assert!(
            lens.contains(&want),
            "no lo packet of len {want} in {lens:?}"
        );
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn tiny_ring_overflow_lost_plus_recorded_equals_generated() {
    const N: u64 = 50_000;
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        tx.send(gettid()).unwrap();
        go_rx.recv().unwrap();
        getppid_n(N);
    });
    let tid = rx.recv().unwrap();
    let opts = RecordOptions {
        filter: Some(format!("common_pid == {tid}")),
        buffer_pages: 1,
        ..Default::default()
    };
    // The sink stalls on the first event, so the one-page rings overflow during the burst.
    let (got, summary) = record_around(
        &["syscalls:sys_enter_getppid"],
        opts,
        Some(Duration::from_millis(300)),
        || {
            // One event first so the sink stalls while the burst runs.
            go_tx.send(()).unwrap();
            worker.join().unwrap();
        },
    );
    let reported: u64 = got.lost.iter().map(|l| l.count).sum();
    assert_eq!(
        reported, summary.lost_reported,
        "every PERF_RECORD_LOST reached the sink"
    );
    assert!(
        summary.lost() > 0,
        "a one-page ring must overflow: {summary:?}"
    );
    assert_eq!(summary.hits, N);
    assert_eq!(
        got.events.len() as u64 + summary.lost(),
        N,
        "recorded {} + lost {} (reported {}, unreported {}) = generated {N}",
        got.events.len(),
        summary.lost(),
        summary.lost_reported,
        summary.lost_unreported
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn cpus_are_merged_in_time_order() {
    let cpus = kpeek_trace::perf::online_cpus();
    if cpus.len() < 2 {
        panic!("this test needs at least 2 CPUs to check the merge; this machine has {cpus:?}");
    }
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Arc::new(std::sync::Mutex::new(go_rx));
    let workers: Vec<_> = cpus[..2]
        .iter()
        .map(|&cpu| {
            let tx = tx.clone();
            let go = go_rx.clone();
            std::thread::spawn(move || {
                pin_to_cpu(cpu as usize);
                tx.send(gettid()).unwrap();
                go.lock().unwrap().recv().unwrap();
                for _ in 0..200 {
                    getppid_n(20);
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let tids: Vec<i32> = (0..2).map(|_| rx.recv().unwrap()).collect();
    let opts = RecordOptions {
        filter: Some(format!(
            "common_pid == {} || common_pid == {}",
            tids[0], tids[1]
        )),
        ..Default::default()
    };
    let (got, summary) = record_around(&["syscalls:sys_enter_getppid"], opts, None, || {
        go_tx.send(()).unwrap();
        go_tx.send(()).unwrap();
        for w in workers {
            w.join().unwrap();
        }
    });
    assert_eq!(summary.lost(), 0);
    assert_eq!(got.events.len(), 8000);
    let on: Vec<u32> = cpus[..2].iter().map(|&c| c as u32).collect();
    for c in &on {
        assert!(
            got.events.iter().any(|g| g.cpu == *c),
            "no events from cpu {c}"
        );
    }
    for w in got.events.windows(2) {
        assert!(
            w[0].time <= w[1].time,
            "out of order: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn two_events_are_told_apart() {
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        tx.send(gettid()).unwrap();
        go_rx.recv().unwrap();
        getppid_n(300);
    });
    let tid = rx.recv().unwrap();
    let opts = RecordOptions {
        filter: Some(format!("common_pid == {tid}")),
        ..Default::default()
    };
    let (got, summary) = record_around(
        &["syscalls:sys_enter_getppid", "syscalls:sys_exit_getppid"],
        opts,
        None,
        || {
            go_tx.send(()).unwrap();
            worker.join().unwrap();
        },
    );
    assert_eq!(summary.per_event, vec![300, 300]);
    // Each enter is followed by its exit.
    for pair in got.events.chunks(2) {
        assert_eq!(pair[0].event, "syscalls:sys_enter_getppid");
        assert_eq!(pair[1].event, "syscalls:sys_exit_getppid");
        let ret = field(&pair[1], "ret").as_i64().unwrap();
        // SAFETY: no preconditions.
        assert_eq!(ret, unsafe { libc::getppid() } as i64);
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn bad_filter_shows_the_kernel_explanation_and_fields() {
    let tfs = tracefs();
    let names = [EventName::new("net", "netif_receive_skb")];
    for (filter, want) in [
        ("nme == \"lo\"", "Field not found"),
        ("len >> 3", "parse_error"),
        ("name == ", "parse_error"),
    ] {
        let opts = RecordOptions {
            filter: Some(filter.into()),
            ..Default::default()
        };
        let err = Session::open(&tfs, &names, &opts)
            .err()
            .expect("the kernel rejects it");
        let RecordError::BadFilter {
            explanation,
            fields,
            ..
        } = &err
        else {
            panic!("{filter}: not a filter error: {err}");
        };
        assert!(explanation.contains(want), "{filter}: {explanation}");
        assert!(fields.iter().any(|f| f == "len") && fields.iter().any(|f| f == "name"));
        let msg = err.to_string();
        assert!(
            msg.contains("net:netif_receive_skb") && msg.contains("skbaddr"),
            "{msg}"
        );
    }
    // The scratch instances are gone.
    let left: Vec<_> = std::fs::read_dir(tfs.root().join("instances"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("kpeek-filter-{}-", std::process::id()))
        })
        .collect();
    assert!(left.is_empty(), "scratch instances left behind: {left:?}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn unknown_event_suggests_close_names() {
    let err = resolve_events(&tracefs(), &["net:netif_recieve_skb".into()]).unwrap_err();
    match &err {
        RecordError::Tracefs(TracefsError::UnknownEvent { suggestions, .. }) => {
            assert!(
                suggestions.contains(&EventName::new("net", "netif_receive_skb")),
                "{err}"
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn bad_options_are_rejected() {
    let tfs = tracefs();
    let names = [EventName::new("syscalls", "sys_enter_getppid")];
    let opts = RecordOptions {
        buffer_pages: 3,
        ..Default::default()
    };
    let err = Session::open(&tfs, &names, &opts).err().unwrap();
    assert!(
        matches!(
            err,
            kpeek_trace::error::RecordError::BadOption(kpeek_trace::error::OptionFault::RingSize(
                3
            ))
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "bad option: the ring size must be a power of two (1, 2, 4, ... data pages per CPU), got 3"
    );
    let err = Session::open(&tfs, &[], &RecordOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("no events"), "{err}");
    let opts = RecordOptions {
        pid: Some(i32::MAX),
        ..Default::default()
    };
    let err = Session::open(&tfs, &names, &opts).err().unwrap();
    assert!(matches!(err, RecordError::NoProcess(_)), "{err}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn stat_counts_exactly() {
    const N: u64 = 7_777;
    let tfs = tracefs();
    let names = [EventName::new("syscalls", "sys_enter_getppid")];
    let tid = gettid();
    let counter = Counter::open(&tfs, &names, Some(&format!("common_pid == {tid}")), None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (tx, rx) = mpsc::channel();
    let (on_tx, on_rx) = mpsc::channel();
    // Count in another thread while this one (the filtered tid) makes the calls once the
    // counters are enabled; the counters are read after the stop flag.
    let report = std::thread::scope(|s| {
        let r = s.spawn(|| {
            counter
                .run_notify(None, Some(&stop2), move || on_tx.send(()).unwrap())
                .unwrap()
        });
        on_rx.recv().unwrap();
        getppid_n(N);
        tx.send(()).unwrap();
        stop.store(true, Ordering::Relaxed);
        r.join().unwrap()
    });
    drop(rx);
    assert_eq!(report.events.len(), 1);
    let e = &report.events[0];
    assert_eq!(e.total, N);
    assert_eq!(e.per_cpu.iter().map(|c| c.count).sum::<u64>(), N);
    assert_eq!(e.per_cpu.len(), kpeek_trace::perf::online_cpus().len());
    assert!(e.rate > 0.0);
    let text = report.to_text();
    assert!(
        text.contains("syscalls:sys_enter_getppid") && text.contains("total"),
        "{text}"
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn counted_tracepoints_give_one_sample_per_hit() {
    // sched_stat_runtime adds the runtime in ns to the counter (`__perf_count`). Without
    // PERF_SAMPLE_PERIOD the kernel would emit that many samples per hit and throttle them.
    let (got, summary) = record_around(
        &["sched:sched_stat_runtime"],
        RecordOptions::default(),
        None,
        || {
            let t = std::time::Instant::now();
            while t.elapsed() < Duration::from_millis(200) {
                std::hint::black_box(0u64);
            }
            std::thread::sleep(Duration::from_millis(100));
        },
    );
    assert!(summary.events > 0, "a busy thread updates its runtime");
    assert_eq!(summary.throttled, 0, "{summary:?}");
    assert_eq!(summary.lost(), 0, "{summary:?}");
    assert_eq!(summary.samples, summary.events);
    assert!(
        summary.hits > summary.events,
        "the counter sums runtimes: {summary:?}"
    );
    assert!(
        got.events
            .iter()
            .all(|g| g.event == "sched:sched_stat_runtime")
    );
}

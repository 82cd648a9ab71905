//! Output writers on live recordings: CTF read back by the real `babeltrace2`, JSON lines and
//! Chrome trace-event JSON parsed, and lost records present in each format.
//! Needs root, tracefs, perf tracepoint events and babeltrace2 (scripts/setup installs it).

use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use kpeek_trace::output::{ChromeWriter, CtfWriter, JsonWriter, TextWriter};
use kpeek_trace::record::{Event, Lost, RecordOptions, Session, SessionInfo, Sink, Stop, Summary};
use kpeek_trace::tracefs::{EventName, Tracefs};

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

/// Delays the first event so a tiny ring overflows, then passes everything on.
struct Stall<S> {
    inner: S,
    stall: Option<Duration>,
    started: Option<mpsc::Sender<()>>,
}

impl<S: Sink> Sink for Stall<S> {
    fn begin(&mut self, info: &SessionInfo<'_>) -> std::io::Result<()> {
        self.inner.begin(info)
    }
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
        self.inner.event(ev)
    }
    fn lost(&mut self, lost: &Lost) -> std::io::Result<()> {
        self.inner.lost(lost)
    }
    fn finish(&mut self, s: &Summary) -> std::io::Result<()> {
        self.inner.finish(s)
    }
}

/// Record `events` with `filter` into `sink` while `work` runs in a thread that first reports
/// its tid (used in the filter).
fn record<S: Sink + Send + 'static>(
    events: &[EventName],
    filter: impl FnOnce(i32) -> String,
    buffer_pages: usize,
    sink: S,
    stall: Option<Duration>,
    work: impl FnOnce() + Send + 'static,
) -> (S, Summary) {
    let tfs = Tracefs::discover().expect("tracefs (run as root)");
    let (tid_tx, tid_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        tid_tx.send(gettid()).unwrap();
        go_rx.recv().unwrap();
        work();
    });
    let tid = tid_rx.recv().unwrap();
    let opts = RecordOptions {
        filter: Some(filter(tid)),
        buffer_pages,
        ..Default::default()
    };
    let mut session = Session::open(&tfs, events, &opts).expect("open");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut s = Stall {
            inner: sink,
            stall,
            started: Some(tx),
        };
        let summary = session
            .run(
                Stop {
                    flag: Some(&stop2),
                    ..Stop::default()
                },
                &mut s,
            )
            .expect("run");
        (s.inner, summary)
    });
    rx.recv().unwrap(); // the events are enabled
    go_tx.send(()).unwrap();
    worker.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap()
}

fn getppid_event() -> Vec<EventName> {
    vec![EventName::new("syscalls", "sys_enter_getppid")]
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kpeek-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn babeltrace(dir: &std::path::Path) -> (String, String) {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .output()
        .expect("this test needs babeltrace2 (scripts/setup installs it)");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "babeltrace2 failed: {e}");
    (o, e)
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn ctf_is_read_back_by_babeltrace2() {
    let dir = tmpdir("ctf");
    let sink = CtfWriter::create(&dir, "testhost").unwrap();
    let (rx, tx) = (
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    let to = rx.local_addr().unwrap();
    let events = vec![
        EventName::new("syscalls", "sys_enter_getppid"),
        EventName::new("net", "netif_receive_skb"),
    ];
    let (_, summary) = record(
        &events,
        |tid| format!("common_pid == {tid}"),
        64,
        sink,
        None,
        move || {
            getppid_n(100);
            let mut buf = [0u8; 2048];
            for n in [333usize, 1111] {
                tx.send_to(&vec![1u8; n], to).unwrap();
                rx.recv(&mut buf).unwrap();
            }
        },
    );
    assert_eq!(summary.lost(), 0);
    assert_eq!(summary.per_event[0], 100);
    let (text, _) = babeltrace(&dir);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, summary.events, "{text}");
    let getppid: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("syscalls:sys_enter_getppid:"))
        .collect();
    assert_eq!(getppid.len(), 100);
    for l in &getppid {
        assert!(l.contains("{ __syscall_nr = 110 }"), "{l}");
        assert!(l.contains("testhost"), "{l}");
    }
    // Strings, integers and pointers from a richer event (if the softirq ran on this thread).
    for l in lines
        .iter()
        .filter(|l| l.contains("net:netif_receive_skb:"))
    {
        assert!(l.contains("name = \"lo\""), "{l}");
        assert!(l.contains("len = 361") || l.contains("len = 1139"), "{l}");
        assert!(l.contains("skbaddr = 0x"), "{l}");
    }
    // Wall-clock time: babeltrace2 shows the same HH:MM:SS as kpeek's text (local time).
    assert!(
        lines[0].starts_with('[') && lines[0].as_bytes()[9] == b'.',
        "{}",
        lines[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn lost_records_appear_in_ctf_json_and_text() {
    const N: u64 = 50_000;
    let dir = tmpdir("ctf-lost");
    let (_, summary) = record(
        &getppid_event(),
        |tid| format!("common_pid == {tid}"),
        1,
        CtfWriter::create(&dir, "h").unwrap(),
        Some(Duration::from_millis(300)),
        || getppid_n(N),
    );
    assert!(summary.lost() > 0, "{summary:?}");
    assert_eq!(summary.events + summary.lost(), N);
    let (text, err) = babeltrace(&dir);
    let recorded = text
        .lines()
        .filter(|l| l.contains("sys_enter_getppid:"))
        .count() as u64;
    assert_eq!(recorded, summary.events);
    let lost_inline: u64 = text
        .lines()
        .filter(|l| l.contains("kpeek:lost:"))
        .map(|l| {
            let c = l.rsplit_once("count = ").unwrap().1;
            c.trim_end_matches(" }").parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(lost_inline, summary.lost(), "{text}");
    if summary.lost_reported > 0 {
        assert!(
            err.contains("discarded"),
            "babeltrace2 reports discarded events: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let (json, summary) = record(
        &getppid_event(),
        |tid| format!("common_pid == {tid}"),
        1,
        JsonWriter::new(Vec::new()),
        Some(Duration::from_millis(300)),
        || getppid_n(N),
    );
    let out = String::from_utf8(json.into_inner()).unwrap();
    let (mut events, mut lost) = (0u64, 0u64);
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if let Some(n) = v.get("lost") {
            lost += n.as_u64().unwrap();
        } else {
            assert_eq!(v["fields"]["__syscall_nr"], 110);
            events += 1;
        }
    }
    assert!(lost > 0);
    assert_eq!(events, summary.events);
    assert_eq!(events + lost, N);

    let (text, summary) = record(
        &getppid_event(),
        |tid| format!("common_pid == {tid}"),
        1,
        TextWriter::new(Vec::new(), "h"),
        Some(Duration::from_millis(300)),
        || getppid_n(N),
    );
    let out = String::from_utf8(text.into_inner()).unwrap();
    let (mut events, mut lost) = (0u64, 0u64);
    for l in out.lines() {
        if l.contains(" kpeek:lost: ") {
            let c = l.split("count = ").nth(1).unwrap();
            lost += c.split(' ').next().unwrap().parse::<u64>().unwrap();
        } else {
            assert!(l.ends_with("{ __syscall_nr = 110 }"), "{l}");
            events += 1;
        }
    }
    assert!(lost > 0);
    assert_eq!(events, summary.events);
    assert_eq!(
        events + lost,
        N,
        "in-line and end-of-run lost lines account for every drop"
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn json_chrome_and_text_agree() {
    const N: u64 = 200;
    let (json, s1) = record(
        &getppid_event(),
        |tid| format!("common_pid == {tid}"),
        64,
        JsonWriter::new(Vec::new()),
        None,
        || getppid_n(N),
    );
    let (chrome, s2) = record(
        &getppid_event(),
        |tid| format!("common_pid == {tid}"),
        64,
        ChromeWriter::new(Vec::new()),
        None,
        || getppid_n(N),
    );
    let (text, s3) = record(
        &getppid_event(),
        |tid| format!("common_pid == {tid}"),
        64,
        TextWriter::new(Vec::new(), "h"),
        None,
        || getppid_n(N),
    );
    for s in [&s1, &s2, &s3] {
        assert_eq!((s.events, s.lost()), (N, 0));
    }
    let json = String::from_utf8(json.into_inner()).unwrap();
    assert_eq!(json.lines().count() as u64, N);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    for key in ["ts", "cpu", "pid", "tid", "event", "fields"] {
        assert!(first.get(key).is_some(), "missing {key}: {first}");
    }
    let chrome: serde_json::Value = serde_json::from_slice(&chrome.into_inner()).unwrap();
    assert_eq!(chrome["traceEvents"].as_array().unwrap().len() as u64, N);
    assert_eq!(chrome["otherData"]["lost"], 0);
    let text = String::from_utf8(text.into_inner()).unwrap();
    assert_eq!(text.lines().count() as u64, N);
    assert!(text.lines().all(|l| l.ends_with("{ __syscall_nr = 110 }")));
}

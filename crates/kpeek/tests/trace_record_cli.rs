//! `kpeek trace record` / `kpeek trace stat` on the live kernel, through the binary: output
//! formats parse and carry the right data, errors are explained, exit codes are right.
//! Needs root, tracefs and perf tracepoint events; the permission test needs `setpriv`
//! (util-linux) and the `nobody` user.

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kpeek");

fn gettid() -> i32 {
    // SAFETY: no preconditions.
    unsafe { libc_gettid() }
}

unsafe extern "C" {
    #[link_name = "gettid"]
    fn libc_gettid() -> i32;
    #[link_name = "getppid"]
    fn libc_getppid() -> i32;
}

fn getppid() -> i32 {
    // SAFETY: no preconditions (glibc does not cache getppid: it is a real syscall).
    unsafe { libc_getppid() }
}

/// Run kpeek with `args` while this thread calls getppid until kpeek exits (at most 30 s).
fn run_while_calling(args: &[&str]) -> Output {
    run_while(args, || {
        for _ in 0..10 {
            getppid();
        }
    })
}

/// Run kpeek with `args`, calling `work` every 2 ms until it exits (at most 30 s).
fn run_while(args: &[&str], mut work: impl FnMut()) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpeek");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            let mut stderr = Vec::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_end(&mut stderr)
                .unwrap();
            let stdout = reader.join().unwrap();
            panic!(
                "kpeek {args:?} did not finish in 30 s; stdout: {}; stderr: {}",
                text(&stdout),
                text(&stderr)
            );
        }
        work();
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn json_lines_with_a_tid_filter_and_count() {
    let tid = gettid();
    let filter = format!("common_pid == {tid}");
    let out = run_while_calling(&[
        "trace",
        "record",
        "syscalls:sys_enter_getppid",
        "--filter",
        &filter,
        "--count",
        "50",
        "--json",
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 50, "{stdout}");
    let mut last_ts = 0;
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
        assert_eq!(v["tid"], tid, "{l}");
        assert_eq!(v["pid"], std::process::id(), "{l}");
        assert_eq!(v["event"], "syscalls:sys_enter_getppid");
        assert_eq!(v["fields"]["__syscall_nr"], 110, "{l}");
        assert!(v["cpu"].is_u64());
        let ts = v["ts"].as_u64().expect("ts in ns");
        assert!(ts >= last_ts, "time ordered");
        last_ts = ts;
    }
    // Wall clock: within a minute of now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!((now.as_nanos() as i128 - last_ts as i128).abs() < 60_000_000_000);
    assert!(err.contains("50 events") && err.contains("lost 0"), "{err}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn text_is_lttng_style() {
    let tid = gettid();
    let filter = format!("common_pid == {tid}");
    let out = run_while_calling(&[
        "trace",
        "record",
        "syscalls:sys_enter_getppid",
        "--filter",
        &filter,
        "--count",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (i, l) in lines.iter().enumerate() {
        // [HH:MM:SS.nnnnnnnnn] (+S.nnnnnnnnn) host syscalls:sys_enter_getppid: { cpu_id = N }, { __syscall_nr = 110 }
        let (stamp, rest) = l.split_once("] ").unwrap_or_else(|| panic!("{l}"));
        let b = stamp.as_bytes();
        assert!(
            b[0] == b'[' && b[3] == b':' && b[6] == b':' && b[9] == b'.',
            "{l}"
        );
        assert_eq!(stamp.len(), 19, "{l}");
        let (delta, rest) = rest.split_once(") ").unwrap();
        if i == 0 {
            assert_eq!(delta, "(+?.?????????");
        } else {
            let d = delta.strip_prefix("(+").unwrap();
            let (s, ns) = d.split_once('.').unwrap();
            assert!(s.parse::<u64>().is_ok() && ns.len() == 9, "{l}");
        }
        let (_host, rest) = rest.split_once(' ').unwrap();
        assert!(
            rest.starts_with("syscalls:sys_enter_getppid: { cpu_id = "),
            "{l}"
        );
        assert!(rest.ends_with("}, { __syscall_nr = 110 }"), "{l}");
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn chrome_trace_file_parses() {
    let dir = std::env::temp_dir().join(format!("kpeek-chrome-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("trace.json");
    let tid = gettid();
    let filter = format!("common_pid == {tid}");
    let out = run_while_calling(&[
        "trace",
        "record",
        "syscalls:sys_enter_getppid",
        "--filter",
        &filter,
        "--count",
        "20",
        "--format",
        "chrome",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).expect("valid JSON");
    let evs = v["traceEvents"].as_array().expect("traceEvents array");
    assert_eq!(evs.len(), 20);
    let mut last = -1.0;
    for e in evs {
        assert_eq!(e["ph"], "i");
        assert_eq!(e["s"], "t");
        assert_eq!(e["name"], "syscalls:sys_enter_getppid");
        assert_eq!(e["cat"], "syscalls");
        assert_eq!(e["pid"], std::process::id());
        assert_eq!(e["tid"], tid);
        assert_eq!(e["args"]["__syscall_nr"], 110);
        assert!(e["args"]["cpu"].is_u64());
        let ts = e["ts"].as_f64().expect("ts in microseconds");
        assert!(ts >= last && ts >= 0.0);
        last = ts;
    }
    assert_eq!(v["displayTimeUnit"], "ns");
    assert_eq!(v["otherData"]["events"], 20);
    assert_eq!(v["otherData"]["lost"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn pid_follows_one_process_and_stops_when_it_exits() {
    let mut sleeper = Command::new("sleep").arg("0.7").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let start = Instant::now();
    let out = Command::new(BIN)
        .args([
            "trace",
            "record",
            "raw_syscalls:sys_enter",
            "--pid",
            &pid,
            "--json",
        ])
        .output()
        .unwrap();
    sleeper.wait().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "recording ended with the process"
    );
    let stdout = text(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        !lines.is_empty(),
        "sleep makes syscalls (at least exit_group)"
    );
    for v in &lines {
        assert_eq!(v["pid"].to_string(), pid, "{v}");
    }
    // exit_group (231 on x86-64) is the last syscall of the process.
    #[cfg(target_arch = "x86_64")]
    assert_eq!(lines.last().unwrap()["fields"]["id"], 231);
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn bad_filter_is_explained_with_exit_code_2() {
    let out = Command::new(BIN)
        .args([
            "trace",
            "record",
            "net:netif_receive_skb",
            "--filter",
            "nme == \"lo\"",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("rejected the filter"), "{err}");
    assert!(err.contains("parse_error: Field not found"), "{err}");
    assert!(err.contains("    ^"), "the kernel's caret: {err}");
    assert!(err.contains("skbaddr, len, name"), "{err}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn unknown_event_suggests_names() {
    let out = Command::new(BIN)
        .args(["trace", "record", "net:netif_recieve_skb", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("did you mean net:netif_receive_skb"), "{err}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &[
            "trace",
            "record",
            "syscalls:sys_enter_getppid",
            "--buffer-pages",
            "3",
        ][..],
        &[
            "trace",
            "record",
            "syscalls:sys_enter_getppid",
            "--duration",
            "5x",
        ],
        &[
            "trace",
            "record",
            "syscalls:sys_enter_getppid",
            "--duration",
            "1s",
            "--count",
            "1",
        ],
        &["trace", "record"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn no_permission_names_perf_event_paranoid() {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").unwrap();
    for args in [
        &[
            "trace",
            "record",
            "syscalls:sys_enter_getppid",
            "--count",
            "1",
        ][..],
        &[
            "trace",
            "stat",
            "syscalls:sys_enter_getppid",
            "--duration",
            "100ms",
        ],
    ] {
        let out = common::as_nobody(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("/proc/sys/kernel/perf_event_paranoid"),
            "{err}"
        );
        assert!(
            err.contains(&format!("it is {} now", paranoid.trim())),
            "{err}"
        );
        assert!(err.contains("CAP_PERFMON") && err.contains("root"), "{err}");
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn stat_json_counts_per_cpu() {
    let tid = gettid();
    let filter = format!("common_pid == {tid}");
    let out = run_while_calling(&[
        "trace",
        "stat",
        "syscalls:sys_enter_getppid",
        "--filter",
        &filter,
        "--duration",
        "500ms",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let e = &v["events"][0];
    assert_eq!(e["event"], "syscalls:sys_enter_getppid");
    let total = e["total"].as_u64().unwrap();
    assert!(total > 0, "this thread called getppid during the count");
    let per_cpu = e["per_cpu"].as_array().unwrap();
    assert_eq!(
        per_cpu
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum::<u64>(),
        total
    );
    assert!(e["rate"].as_f64().unwrap() > 0.0);
    let secs = v["elapsed_s"].as_f64().unwrap();
    assert!((0.45..5.0).contains(&secs), "{secs}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn stat_text_table() {
    let out = Command::new(BIN)
        .args([
            "trace",
            "stat",
            "syscalls:sys_enter_getppid",
            "--duration",
            "100ms",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.starts_with("event"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("syscalls:sys_enter_getppid") && l.contains("total"))
    );
    assert!(t.contains("elapsed 0.1"), "{t}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn callchains_are_symbolized() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = run_while(
        &[
            "trace",
            "record",
            "net:netif_receive_skb",
            "--filter",
            "name == \"lo\"",
            "--callchain",
            "--count",
            "2",
            "--json",
        ],
        || {
            sock.send_to(b"kpeek", "127.0.0.1:9").unwrap();
        },
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for l in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let chain = v["callchain"].as_array().expect("a callchain");
        assert!(chain.len() >= 3, "{l}");
        for f in chain {
            let ip = f["ip"].as_str().unwrap();
            assert!(ip.starts_with("0xffff"), "kernel address: {l}");
            let sym = f["sym"].as_str().unwrap();
            // name+0xoff/0xsize [module], as %pS prints it
            assert!(sym.contains("+0x") && sym.contains("/0x"), "{sym}");
        }
        let syms: Vec<&str> = chain.iter().map(|f| f["sym"].as_str().unwrap()).collect();
        assert!(
            syms.iter().any(|s| s.contains("netif_receive_skb")),
            "{syms:?}"
        );
    }
    assert_eq!(stdout.lines().count(), 2);
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn ctrl_c_and_duration_stop_cleanly() {
    // SIGINT: the events are disabled, the rings drained, the summary printed, exit 0.
    let mut child = Command::new(BIN)
        .args(["trace", "record", "sched:sched_switch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line means the session runs (the handler is installed before recording).
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("events in"),
        "{}",
        text(&out.stderr)
    );
    for l in first.lines().chain(rest.lines()) {
        let v: serde_json::Value = serde_json::from_str(l).expect("complete JSON lines");
        assert_eq!(v["event"], "sched:sched_switch");
    }

    let start = Instant::now();
    let out = Command::new(BIN)
        .args([
            "trace",
            "record",
            "sched:sched_switch",
            "--duration",
            "300ms",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn realtime_reader_runs_under_sched_fifo() {
    let mut child = Command::new(BIN)
        .args([
            "trace",
            "record",
            "sched:sched_switch",
            "--realtime",
            "7",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    // /proc/PID/stat fields 18 and 41: priority (-1 - rt_priority) and policy (1 = SCHED_FIFO).
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let (prio, policy) = (fields[15], fields[38]);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(policy, "1", "SCHED_FIFO: {stat}");
    assert_eq!(prio, "-8", "rt priority 7: {stat}");

    let out = Command::new(BIN)
        .args(["trace", "record", "sched:sched_switch", "--realtime", "100"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("1 to 99"),
        "{}",
        text(&out.stderr)
    );
}

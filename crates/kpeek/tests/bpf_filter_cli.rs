//! `kpeek bpf count` through the binary on the live kernel: `~` globs on real events, hits
//! still reaching the tracepoint's perf counters while kpeek counts them, and a verifier
//! rejection reported with its log. Needs root, tracefs, BPF and perf (scripts/setup installs
//! linux-perf).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kpeek");

/// Start `kpeek bpf count ARGS` and wait until it counts.
fn start(args: &[&str]) -> Child {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpeek");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).expect("read kpeek's stderr");
    if !line.contains("counting") {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        panic!("kpeek did not start counting: {line}{rest}");
    }
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    child
}

fn final_json(out: &Output) -> Value {
    assert!(out.status.success(), "kpeek failed: {:?}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().expect("no output");
    let v: Value = serde_json::from_str(last).expect("final line is JSON");
    assert_eq!(v["final"], true, "{last}");
    v
}

fn set_comm(name: &str) {
    let mut buf = [0u8; 16];
    buf[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from buf.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr()) }, 0);
}

fn getppid_n(n: u64) {
    for _ in 0..n {
        // SAFETY: getppid has no arguments and cannot fail (glibc does not cache it).
        unsafe { libc::getppid() };
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn comm_globs_count_exactly_the_matching_threads() {
    let me = std::process::id();
    // Threads named so that each part of the glob decides: the class, the `?`, the middle
    // segment and the anchored suffix.
    let filter = format!(r#"pid == {me} && comm ~ "kg?x*mid*[0-4]z""#);
    let child = start(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "--by",
        "comm",
        "--filter",
        &filter,
        "--duration",
        "2s",
        "--json",
    ]);
    let names: [(&'static str, bool); 7] = [
        ("kgAxmid3z", true),
        ("kgBx_mid_0z", true),
        ("kgxmid3z", false),   // no byte for ?
        ("kgAxmi3z", false),   // no middle
        ("kgAxmid7z", false),  // 7 not in [0-4]
        ("kgAxmid3zz", false), // the suffix is anchored
        ("kgAxmidmid4z", true),
    ];
    let threads: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, &(name, _))| {
            std::thread::spawn(move || {
                set_comm(name);
                getppid_n(100 + i as u64);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = final_json(&child.wait_with_output().unwrap());
    let mut got: Vec<(String, u64)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"]["comm"].as_str().unwrap().to_owned(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, u64)> = names
        .iter()
        .enumerate()
        .filter(|(_, (_, m))| *m)
        .map(|(i, (n, _))| (n.to_string(), 100 + i as u64))
        .collect();
    want.sort();
    assert_eq!(got, want, "{v}");
    assert_eq!(v["lost"], 0);
}

/// The workload of [`perf_counters_still_see_the_hits_kpeek_counts`], run in a process of its
/// own: it names its thread and calls getppid `KPEEK_GETPPID_N` times. Does nothing in a
/// normal test run.
#[test]
fn getppid_workload() {
    let Ok(n) = std::env::var("KPEEK_GETPPID_N") else {
        return;
    };
    set_comm(&std::env::var("KPEEK_GETPPID_COMM").unwrap());
    getppid_n(n.parse().unwrap());
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn perf_counters_still_see_the_hits_kpeek_counts() {
    let n = 5_000u64;
    let comm = format!("kpkperf{}", std::process::id() % 100_000);
    let filter = format!(r#"comm == "{comm}""#);
    let child = start(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "--filter",
        &filter,
        "--duration",
        "3s",
        "--json",
    ]);
    // perf enables its counter before it starts the workload, and counts only that process.
    let exe = std::env::current_exe().unwrap();
    let perf = Command::new("perf")
        .args(["stat", "-x,", "-e", "syscalls:sys_enter_getppid", "--"])
        .arg(exe)
        .args(["--exact", "getppid_workload", "--nocapture"])
        .env("KPEEK_GETPPID_N", n.to_string())
        .env("KPEEK_GETPPID_COMM", &comm)
        .output()
        .expect("perf (scripts/setup installs linux-perf)");
    let err = String::from_utf8_lossy(&perf.stderr);
    assert!(perf.status.success(), "perf stat failed: {err}");
    let perf_count: u64 = err
        .lines()
        .find(|l| l.contains("syscalls:sys_enter_getppid"))
        .and_then(|l| l.split(',').next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no count in perf's output: {err}"));
    let v = final_json(&child.wait_with_output().unwrap());
    assert_eq!(v["total"], n, "kpeek: {v}");
    assert_eq!(perf_count, n, "perf stat beside kpeek: {err}");
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_verifier_rejection_shows_the_log() {
    // Each `*x` segment is searched with a loop the verifier walks once per position of the
    // 256-byte string; twelve such globs exceed the verifier's budget of a million
    // instructions.
    let glob = format!("\"{}*\"", "*x".repeat(60));
    let filter = vec![format!("name ~ {glob}"); 12].join(" || ");
    let o = Command::new(BIN)
        .args(["bpf", "count", "net:netif_receive_skb", "--filter", &filter])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the kernel's verifier rejected BPF program kpk_netif_receive")
            && err.contains("its log ends:")
            && err.contains("processed"),
        "{err}"
    );
}

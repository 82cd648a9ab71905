//! `kpeek bpf count` on the live kernel, through the binary: exact counts of workloads this
//! test makes, histograms equal to ones computed here, losses counted, nothing left behind
//! after exit / Ctrl-C / SIGKILL, and every error explained with exit code 2.
//! Needs root, tracefs, BPF and bpftool (scripts/setup installs it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kpeek");

/// A background `kpeek bpf count`, started and attached (its "counting" line was seen).
struct Bg {
    child: Child,
    stderr: String,
}

fn start(args: &[&str]) -> Bg {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpeek");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).expect("read kpeek's stderr");
    assert!(
        line.contains("counting"),
        "kpeek did not start counting: {line}{}",
        {
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut rest);
            rest
        }
    );
    // Keep draining stderr so kpeek never blocks on it.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    });
    Bg {
        child,
        stderr: line,
    }
}

impl Bg {
    fn finish(self) -> (Output, String) {
        let out = self.child.wait_with_output().expect("wait for kpeek");
        (out, self.stderr)
    }
}

fn final_json(out: &Output) -> Value {
    assert!(out.status.success(), "kpeek failed: {:?}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().expect("no output");
    let v: Value = serde_json::from_str(last).expect("final line is JSON");
    assert_eq!(v["final"], true, "{last}");
    v
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run kpeek")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn getppid_counted_exactly_by_pid() {
    let bg = start(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "--by",
        "pid",
        "--duration",
        "2s",
        "--json",
    ]);
    let n = 7_777u64;
    for _ in 0..n {
        // SAFETY: getppid has no arguments and cannot fail (glibc does not cache it).
        unsafe { libc::getppid() };
    }
    let (out, _) = bg.finish();
    let v = final_json(&out);
    let me = std::process::id() as u64;
    let mine: Vec<&Value> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"]["pid"] == me)
        .collect();
    assert_eq!(mine.len(), 1, "{v}");
    assert_eq!(mine[0]["count"], n, "{v}");
    assert_eq!(v["lost"], 0);
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn intervals_add_up_to_the_total_and_top_limits_entries() {
    let me = std::process::id();
    let filter = format!("pid == {me}");
    let bg = start(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "--by",
        "pid,tid",
        "--filter",
        &filter,
        "--interval",
        "300ms",
        "--duration",
        "2s",
        "--top",
        "1",
        "--json",
    ]);
    // Three threads with 300, 200 and 100 calls, spread over about a second.
    let handles: Vec<_> = [300u32, 200, 100]
        .into_iter()
        .map(|n| {
            std::thread::spawn(move || {
                for i in 0..n {
                    // SAFETY: no preconditions.
                    unsafe { libc::getppid() };
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let out = bg.finish().0;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let objs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, intervals) = objs.split_last().unwrap();
    assert!(
        intervals.len() >= 5,
        "expected an object every 300 ms over 2 s: {text}"
    );
    for (i, o) in intervals.iter().enumerate() {
        assert_eq!(o["interval"], i as u64 + 1);
    }
    // --top 1: the final print has only the busiest thread, the totals count all three.
    assert_eq!(last["entries"].as_array().unwrap().len(), 1, "{last}");
    assert_eq!(last["entries"][0]["count"], 300, "{last}");
    assert_eq!(last["total"], 600, "{last}");
    assert_eq!(last["keys"], 3, "{last}");
    // Intervals show what changed: their totals add up to the final total.
    let sum: u64 = intervals.iter().map(|o| o["total"].as_u64().unwrap()).sum();
    assert!(sum <= 600, "{text}");
    assert!(
        intervals
            .iter()
            .filter(|o| o["total"].as_u64().unwrap() > 0)
            .count()
            >= 2,
        "{text}"
    );
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_full_map_is_counted_and_shown_never_silent() {
    let me = std::process::id();
    let filter = format!("pid == {me}");
    for json in [true, false] {
        let mut args = vec![
            "bpf",
            "count",
            "syscalls:sys_enter_getppid",
            "--by",
            "tid",
            "--filter",
            &filter,
            "--max-keys",
            "2",
            "--duration",
            "2s",
        ];
        if json {
            args.push("--json");
        }
        let bg = start(&args);
        // Five threads, one after the other, 10 calls each: two keys fit, three threads' calls
        // find the map full.
        for _ in 0..5 {
            std::thread::spawn(|| {
                for _ in 0..10 {
                    // SAFETY: no preconditions.
                    unsafe { libc::getppid() };
                }
            })
            .join()
            .unwrap();
        }
        let out = bg.finish().0;
        if json {
            let v = final_json(&out);
            assert_eq!(
                (v["keys"].as_u64(), v["total"].as_u64()),
                (Some(2), Some(20)),
                "{v}"
            );
            assert_eq!(
                (v["map_full"].as_u64(), v["lost"].as_u64()),
                (Some(30), Some(30)),
                "{v}"
            );
        } else {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("LOST 30 events (map full: 30,"), "{text}");
        }
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn kstack_keys_are_symbolized_kernel_stacks() {
    let me = std::process::id();
    let filter = format!("pid == {me}");
    let bg = start(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "--by",
        "kstack",
        "--filter",
        &filter,
        "--duration",
        "2s",
        "--json",
    ]);
    for _ in 0..100 {
        // SAFETY: no preconditions.
        unsafe { libc::getppid() };
    }
    let v = final_json(&bg.finish().0);
    let total: u64 = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 100, "{v}");
    let frames: Vec<String> = v["entries"][0]["key"]["kstack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    // Every system call enters through do_syscall_64 on x86-64.
    assert!(
        frames.iter().any(|f| f.starts_with("do_syscall_64+")),
        "{frames:?}"
    );
    assert_eq!(v["read_errors"], 0);
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn lo_packets_counted_by_name_with_a_string_filter() {
    // Pings of a size no other traffic is likely to have: 1371 data bytes make IP packets of
    // 1399 bytes. Each ping is a request and a reply received on lo.
    let n = 5;
    let bg = start(&[
        "bpf",
        "count",
        "net:netif_receive_skb",
        "--by",
        "name",
        "--filter",
        "name == \"lo\" && len == 1399",
        "--duration",
        "3s",
        "--json",
    ]);
    let ping = Command::new("ping")
        .args([
            "-c",
            &n.to_string(),
            "-i",
            "0.2",
            "-s",
            "1371",
            "-q",
            "127.0.0.1",
        ])
        .output()
        .expect("ping (iputils-ping)");
    assert!(ping.status.success(), "ping failed: {}", stderr(&ping));
    let (out, _) = bg.finish();
    let v = final_json(&out);
    let e = v["entries"].as_array().unwrap();
    assert_eq!(e.len(), 1, "only lo may be counted: {v}");
    assert_eq!(e[0]["key"]["name"], "lo");
    assert_eq!(e[0]["count"], 2 * n, "{v}");

    // The same packets seen through a prefix glob and a negated filter: nothing but lo.
    let bg = start(&[
        "bpf",
        "count",
        "net:netif_receive_skb",
        "--by",
        "name",
        "--filter",
        "name ~ \"l*\" && !(name != \"lo\") && len >= 1399 && len <= 1399",
        "--duration",
        "3s",
        "--json",
    ]);
    Command::new("ping")
        .args(["-c", "3", "-i", "0.2", "-s", "1371", "-q", "127.0.0.1"])
        .output()
        .unwrap();
    let v = final_json(&bg.finish().0);
    assert_eq!(v["entries"][0]["key"]["name"], "lo", "{v}");
    assert_eq!(v["entries"][0]["count"], 6, "{v}");
}

/// bpftrace's log2 slot of a value.
fn log2_slot(v: i64) -> usize {
    match v {
        v if v < 0 => 0,
        0 => 1,
        v => 2 + (63 - v.leading_zeros() as usize),
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn udp_datagram_histograms_equal_the_ones_computed_here() {
    let sizes: Vec<usize> = vec![
        0, 1, 1, 2, 3, 7, 8, 100, 1000, 1024, 1500, 4000, 9000, 9000, 65000,
    ];
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let me = std::process::id();
    let filter = format!("pid == {me}");
    for linear in [None, Some("1000")] {
        let mut args = vec![
            "bpf",
            "count",
            "syscalls:sys_enter_sendto",
            "--hist",
            "len",
            "--filter",
            &filter,
            "--duration",
            "2s",
            "--json",
        ];
        if let Some(step) = linear {
            args.extend(["--linear", step]);
        }
        let bg = start(&args);
        let buf = vec![0x5au8; 65536];
        for &s in &sizes {
            tx.send_to(&buf[..s], to).unwrap();
        }
        let v = final_json(&bg.finish().0);
        let mut want = std::collections::BTreeMap::new();
        for &s in &sizes {
            let slot = match linear {
                None => log2_slot(s as i64),
                Some(_) => 1 + (s / 1000).min(64),
            };
            *want.entry(slot).or_insert(0u64) += 1;
        }
        let e = &v["entries"][0];
        assert_eq!(e["count"], sizes.len() as u64, "{v}");
        let got: std::collections::BTreeMap<usize, u64> = e["hist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let min = b["min"].as_i64();
                let slot = match (linear, min) {
                    (None, Some(0)) => 1,
                    (None, Some(m)) => log2_slot(m),
                    (Some(_), Some(m)) => 1 + (m as usize / 1000),
                    (_, None) => 0,
                };
                (slot, b["count"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(got, want, "linear {linear:?}: {v}");
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn sum_and_several_events_and_text_output() {
    // sys_enter_getpgid has a field `pid` (its argument), which wins over the name pid:
    // filter on common_pid, the thread id.
    // SAFETY: no preconditions.
    let filter = format!("common_pid == {}", unsafe { libc::gettid() });
    let bg = start(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "syscalls:sys_enter_getpgid",
        "--by",
        "tid",
        "--sum",
        "__syscall_nr",
        "--filter",
        &filter,
        "--duration",
        "2s",
    ]);
    for _ in 0..30 {
        // SAFETY: no preconditions.
        unsafe { libc::getppid() };
    }
    for _ in 0..20 {
        // SAFETY: getpgid(0) asks for the caller's own group (a raw system call: the test
        // must not depend on libc's wrapper).
        unsafe { libc::syscall(libc::SYS_getpgid, 0) };
    }
    let (out, _) = bg.finish();
    let text = String::from_utf8_lossy(&out.stdout);
    // SAFETY: no preconditions.
    let tid = unsafe { libc::gettid() };
    let row = |ev: &str, n: i64, nr: i64| {
        text.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f == [ev, &tid.to_string(), &n.to_string(), &(n * nr).to_string()]
        })
    };
    assert!(text.starts_with("--- total"), "{text}");
    assert!(text.contains("SUM(__syscall_nr)"), "{text}");
    assert!(
        row("syscalls:sys_enter_getppid", 30, libc::SYS_getppid),
        "{text}"
    );
    assert!(
        row("syscalls:sys_enter_getpgid", 20, libc::SYS_getpgid),
        "{text}"
    );
}

/// Ids of the BPF programs and maps a process holds, from /proc/PID/fdinfo.
fn bpf_ids(pid: u32) -> (Vec<u32>, Vec<u32>) {
    let (mut progs, mut maps) = (Vec::new(), Vec::new());
    for e in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .flatten()
    {
        let Ok(t) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for l in t.lines() {
            if let Some(v) = l.strip_prefix("prog_id:") {
                progs.push(v.trim().parse().unwrap());
            }
            if let Some(v) = l.strip_prefix("map_id:") {
                maps.push(v.trim().parse().unwrap());
            }
        }
    }
    progs.sort();
    progs.dedup();
    maps.sort();
    maps.dedup();
    (progs, maps)
}

fn bpftool_has(kind: &str, id: u32) -> bool {
    Command::new("bpftool")
        .args([kind, "show", "id", &id.to_string()])
        .output()
        .expect("bpftool (scripts/setup installs it)")
        .status
        .success()
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn nothing_left_after_exit_ctrl_c_or_sigkill() {
    for how in ["exit", "SIGINT", "SIGKILL"] {
        let dur = if how == "exit" { "1s" } else { "60s" };
        let bg = start(&[
            "bpf",
            "count",
            "syscalls:sys_enter_getppid",
            "--by",
            "comm,kstack",
            "--hist",
            "__syscall_nr",
            "--duration",
            dur,
        ]);
        let pid = bg.child.id();
        let (progs, maps) = bpf_ids(pid);
        assert!(
            !progs.is_empty() && maps.len() >= 4,
            "{how}: kpeek holds {progs:?} {maps:?}"
        );
        for &p in &progs {
            assert!(bpftool_has("prog", p), "bpftool does not see prog {p}");
        }
        match how {
            "SIGINT" => {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid as i32, libc::SIGINT) };
            }
            "SIGKILL" => {
                // SAFETY: as above.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            _ => {}
        }
        let (out, _) = bg.finish();
        if how != "SIGKILL" {
            assert!(
                out.status.success(),
                "{how}: {:?} {}",
                out.status,
                stderr(&out)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("--- total"));
        }
        // Freeing is deferred a little (RCU): wait up to 5 s.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left: Vec<String> = progs
                .iter()
                .filter(|&&p| bpftool_has("prog", p))
                .map(|p| format!("prog {p}"))
                .chain(
                    maps.iter()
                        .filter(|&&m| bpftool_has("map", m))
                        .map(|m| format!("map {m}")),
                )
                .collect();
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after {how}, still loaded: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A filter that does not parse is named before the tracepoint is looked up: any user, any
/// kernel.
#[test]
fn a_filter_that_does_not_parse_is_named_before_the_kernel_is_asked() {
    for (filter, want) in [
        ("len >", "offset 5"),
        ("len == ", "offset 7"),
        ("(len > 3", "offset 8"),
    ] {
        let args = ["bpf", "count", "net:netif_receive_skb", "--filter", filter];
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{args:?}: want {want:?} in: {}",
            stderr(&o)
        );
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn errors_are_explained_with_exit_code_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["bpf", "count", "syscalls:sys_enter_getppidd"],
            "did you mean syscalls:sys_enter_getppid",
        ),
        (
            &["bpf", "count", "syscalls:sys_enter_getppid", "--by", "pidd"],
            "did you mean pid",
        ),
        (
            &[
                "bpf",
                "count",
                "net:netif_receive_skb",
                "--filter",
                "lenn > 3",
            ],
            "did you mean len",
        ),
        (
            &[
                "bpf",
                "count",
                "net:netif_receive_skb",
                "--filter",
                "comm ~ \"*0123456789abcdef\"",
            ],
            "longer than the 15 bytes kpeek reads",
        ),
        (
            &[
                "bpf",
                "count",
                "net:netif_receive_skb",
                "--filter",
                "name > 3",
            ],
            "string",
        ),
        (
            &[
                "bpf",
                "count",
                "net:netif_receive_skb",
                "--filter",
                "len == \"x\"",
            ],
            "integer",
        ),
        (
            &["bpf", "count", "net:netif_receive_skb", "--hist", "name"],
            "not an integer",
        ),
        (
            &[
                "bpf",
                "count",
                "net:netif_receive_skb",
                "--hist",
                "len",
                "--linear",
                "0",
            ],
            "at least 1",
        ),
        (
            &["bpf", "dump", "no_such_map_kpeek"],
            "no BPF map no_such_map_kpeek",
        ),
        (&["bpf", "dump", "4294967295"], "no BPF map 4294967295"),
    ];
    for (args, want) in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{args:?}: want {want:?} in: {}",
            stderr(&o)
        );
    }
}

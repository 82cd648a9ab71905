//! `kpeek peek` against the running kernel through the BPF backend (no module, no /proc/kcore),
//! checked against oracles the kernel itself publishes. Root only: BPF needs CAP_BPF +
//! CAP_PERFMON; a non-root run fails loudly rather than passing.

mod common;

use assert_cmd::Command;
use serde_json::Value;

fn kpeek() -> Command {
    assert!(
        common::is_root(),
        "the live peek tests read kernel memory: run them as root"
    );
    Command::cargo_bin("kpeek").unwrap()
}

fn peek_json(args: &[&str]) -> Vec<Value> {
    let out = kpeek()
        .arg("peek")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kpeek peek {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn peek_err(args: &[&str]) -> String {
    let out = kpeek().arg("peek").args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "kpeek peek {args:?} should fail with 2"
    );
    String::from_utf8(out.stderr).unwrap()
}

fn possible_cpus() -> Vec<u32> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    kpeek_peek::percpu::parse_cpu_list(&s).unwrap()
}

/// Context switches since boot (`ctxt` of /proc/stat).
fn ctxt() -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("ctxt "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Field `i` (0 = user) of /proc/stat's `cpuN` line, in USER_HZ ticks.
fn cpu_stat(cpu: u32, i: usize) -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap();
    let key = format!("cpu{cpu} ");
    let line = s.lines().find(|l| l.starts_with(&key)).unwrap();
    line.split_whitespace().nth(1 + i).unwrap().parse().unwrap()
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn runqueues_cpu_field_equals_the_cpu_number() {
    for cpu in possible_cpus() {
        let v = peek_json(&["--via", "bpf", &format!("runqueues@cpu{cpu}.cpu")]);
        assert_eq!(v[0]["value"], cpu, "{v:?}");
        assert_eq!(v[0]["type"], "int");
        assert_eq!(v[0]["via"], "bpf");
    }
    let all = peek_json(&["--via", "bpf", "runqueues@all.cpu"]);
    let want: Vec<Value> = possible_cpus().into_iter().map(Value::from).collect();
    assert_eq!(all[0]["value"], Value::Array(want));
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn nr_switches_sum_lies_between_two_reads_of_ctxt() {
    let before = ctxt();
    let v = peek_json(&["--via", "bpf", "runqueues@sum.nr_switches"]);
    let after = ctxt();
    let sum = v[0]["value"].as_u64().unwrap();
    assert!(
        before <= sum && sum <= after,
        "{before} <= {sum} <= {after}"
    );
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn kernel_cpustat_user_time_matches_proc_stat() {
    // /proc/stat prints cpustat[CPUTIME_USER] (ns) in USER_HZ (100) ticks, rounded down.
    for cpu in possible_cpus() {
        let before = cpu_stat(cpu, 0);
        let v = peek_json(&[
            "--via",
            "bpf",
            &format!("kernel_cpustat@cpu{cpu}.cpustat[0]"),
        ]);
        let after = cpu_stat(cpu, 0);
        let ticks = v[0]["value"].as_u64().unwrap() / 10_000_000;
        assert!(
            before <= ticks && ticks <= after,
            "cpu{cpu}: {before} <= {ticks} <= {after}"
        );
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn pointer_chains_and_typed_addresses() {
    // The task running kpeek on CPU 0 is... whoever runs there; its comm is a string and its
    // pid a number, and reading the same place by address with --as agrees.
    let v = peek_json(&[
        "--via",
        "bpf",
        "runqueues@cpu0.curr->comm",
        "runqueues@cpu0.cpu",
    ]);
    assert!(v[0]["value"].is_string(), "{v:?}");
    assert_eq!(v[0]["type"], "char[16]");
    let addr = v[1]["addr"].as_str().unwrap().to_string();
    let typed = peek_json(&["--via", "bpf", &addr, "--as", "int"]);
    assert_eq!(typed[0]["value"], 0);
    assert_eq!(typed[0]["type_from"], "--as");
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn text_output_is_debugger_style() {
    let out = kpeek()
        .args([
            "peek",
            "--via",
            "bpf",
            "runqueues@cpu0.cpu",
            "runqueues@all.cpu",
            "runqueues@cpu0.curr->se",
            "--depth",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("runqueues@cpu0.cpu = 0\nrunqueues@all.cpu = {\n  [cpu0] = 0,\n"),
        "{text}"
    );
    assert!(
        text.contains("runqueues@cpu0.curr->se = {\n  load = {...},\n"),
        "{text}"
    );
    // Pointers in hex.
    assert!(text.contains("  cfs_rq = 0xffff"), "{text}");
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_symbol_without_type_information_reads_as_raw_bytes_and_says_so() {
    // `schedule` is code: no variable type anywhere, so raw bytes sized by the next symbol.
    let v = peek_json(&["--via", "bpf", "schedule"]);
    assert!(v[0]["type"].as_str().unwrap().starts_with("raw["), "{v:?}");
    assert!(
        v[0]["type_from"]
            .as_str()
            .unwrap()
            .contains("no type information"),
        "{v:?}"
    );
    assert!(!v[0]["value"].as_array().unwrap().is_empty());
}

/// What is wrong in the arguments themselves is said before any backend opens: these run as
/// any user, on any kernel.
#[test]
fn bad_expressions_and_arguments_are_named_before_any_backend_opens() {
    let cases: &[(&[&str], &str)] = &[
        (&["a..b"], "bad expression `a..b` at column 3"),
        (&["runqueues@"], "bad expression `runqueues@`"),
        (&["x[1"], "bad expression `x[1`"),
        (
            &["runqueues@cpu0", "--watch=-1"],
            "interval must be 0 (no pause) to a day",
        ),
    ];
    for (args, want) in cases {
        for via in ["bpf", "kcore", "kpeek"] {
            let mut full = vec!["--via", via];
            full.extend_from_slice(args);
            // Any user: not through kpeek(), which insists on root.
            let out = Command::cargo_bin("kpeek")
                .unwrap()
                .arg("peek")
                .args(&full)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "kpeek peek {full:?}: {err}");
            assert!(
                err.contains(want),
                "kpeek peek {full:?}: want {want:?} in {err:?}"
            );
        }
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn bad_input_is_named_with_exit_code_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["runqueues@cpu0.nr_runing"],
            "struct rq has no field `nr_runing` (close names: nr_running",
        ),
        (
            &["runqueues@cpu0.curr->comm[16]"],
            "index past the end of char[16]",
        ),
        (
            &["runqueues@cpu0.idle->mm->mmap_base"],
            "NULL at runqueues@cpu0.idle->mm",
        ),
        (
            &["runqueues@cpu0", "--as", "struct no_such_struct"],
            "unknown type `struct no_such_struct`",
        ),
        (&["runqueues.cpu"], "is a per-CPU variable: say which copy"),
        (&["runqueues@cpu4096.cpu"], "no CPU 4096"),
        (&["schedule@cpu0"], "applies only to per-CPU variables"),
        (
            &["runqueues@cpu0.curr.comm"],
            "is a pointer (struct task_struct *): use `runqueues@cpu0.curr->comm`",
        ),
        (&["runqueues@cpu0.cpu->x"], "int is not a struct or union"),
        (&["runqueues@cpu0.cpu[1]"], "neither an array nor a pointer"),
        (&["runqueues@sum.curr"], "@sum adds numbers"),
        (
            &["no_such_symbol_xyz"],
            "unknown symbol `no_such_symbol_xyz`",
        ),
        (&["schedul"], "close names: schedule"),
        (&["0x10"], "--as TYPE"),
        (&["0x10", "--as", "u64"], "cannot read 8 byte(s) at 0x10"),
    ];
    for (args, want) in cases {
        let mut full = vec!["--via", "bpf"];
        full.extend_from_slice(args);
        let err = peek_err(&full);
        assert!(
            err.contains(want),
            "kpeek peek {args:?}: want {want:?} in {err:?}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn watch_prints_value_and_rate() {
    let v = peek_json(&[
        "--via",
        "bpf",
        "runqueues@sum.nr_switches",
        "--watch",
        "100ms",
        "--count",
        "3",
    ]);
    assert_eq!(v.len(), 3);
    assert!(v[0]["rate"].is_null());
    // A busy CPU may run one task for a whole interval: the count may stand still, never drop.
    for w in v.windows(2) {
        let (a, b) = (
            w[0]["value"].as_u64().unwrap(),
            w[1]["value"].as_u64().unwrap(),
        );
        assert!(a <= b, "{v:?}");
        assert!(w[1]["rate"].as_f64().unwrap() >= 0.0, "{v:?}");
    }
}

/// `--watch` prints fixed integers from text prepared once (no allocation per reading) and
/// everything else through the ordinary printer: both must print what one `kpeek peek` prints.
#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn watch_fast_and_general_readings_print_like_one_peek() {
    let exprs = [
        "runqueues@cpu0.cpu",
        "runqueues@cpu0.nr_switches",
        "runqueues@all.cpu",
    ];
    let once = peek_json(&[&["--via", "bpf"][..], &exprs[..]].concat());
    let rounds = 40;
    let count = rounds.to_string();
    let v = peek_json(
        &[
            &["--via", "bpf"][..],
            &exprs[..],
            &["--watch", "0", "--count", &count][..],
        ]
        .concat(),
    );
    assert_eq!(
        v.len(),
        rounds * exprs.len(),
        "one line per expression and round"
    );
    let cpus: Vec<Value> = possible_cpus().into_iter().map(Value::from).collect();
    for (i, line) in v.iter().enumerate() {
        let want = &once[i % exprs.len()];
        for key in ["expr", "type", "type_from", "via", "addr"] {
            assert_eq!(
                line.get(key),
                want.get(key),
                "line {i} field {key}: {line} vs {want}"
            );
        }
        assert_eq!(
            line["rate"].is_null(),
            i < exprs.len() || i % exprs.len() == 2,
            "line {i}: rate from the second round on, numbers only: {line}"
        );
        match i % exprs.len() {
            0 => assert_eq!(line["value"], 0, "line {i}: {line}"),
            1 => {
                let prev = if i < exprs.len() {
                    0
                } else {
                    v[i - 3]["value"].as_u64().unwrap()
                };
                assert!(line["value"].as_u64().unwrap() >= prev, "line {i}: {line}");
            }
            _ => assert_eq!(
                line["value"],
                Value::Array(cpus.clone()),
                "line {i}: {line}"
            ),
        }
    }
    let out = kpeek()
        .args([
            "peek",
            "--via",
            "bpf",
            "runqueues@cpu0.cpu",
            "--watch",
            "0",
            "--count",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "runqueues@cpu0.cpu = 0\n\
         runqueues@cpu0.cpu = 0  (+0.0/s)\n\
         runqueues@cpu0.cpu = 0  (+0.0/s)\n",
        "text: value, then value and rate"
    );
}

#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn non_root_is_refused_by_each_backend() {
    let out = common::as_nobody(&["peek", "--via", "bpf", "runqueues@cpu0.cpu"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bpf") && err.contains("permission denied"),
        "{err}"
    );
    let out = common::as_nobody(&["peek", "--via", "kcore", "runqueues@cpu0.cpu"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // This machine has no /proc/kcore; where it exists, nobody may not open it.
    assert!(
        err.contains("via kcore: permission denied") || err.contains("/proc/kcore does not exist"),
        "{err}"
    );
    let out = common::as_nobody(&["peek", "runqueues@cpu0.cpu"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no backend can read kernel memory here"),
        "{err}"
    );
}

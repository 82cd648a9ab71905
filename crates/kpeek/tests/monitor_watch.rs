//! `kpeek watch` (and the monitor's shared flags) on the live kernel, through the binary: the
//! default set, a tracepoint rate against a generator's known rate, CSV, record/replay, error
//! rows, and bad input. Needs root, tracefs and perf tracepoint events.

mod common;

use std::process::Command;

use common::monitor::BIN;
use serde_json::Value;

fn watch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).arg("watch").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn blocks(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn default_set_has_tracepoints_vmstat_and_stat() {
    assert!(common::is_root(), "the default set's tracepoints need root");
    let (code, out, err) = watch(&["--count", "2", "-i", "300ms", "--json"]);
    assert_eq!(code, 0, "{err}");
    let b = blocks(&out);
    assert_eq!(b.len(), 2);
    let metrics = b[1]["metrics"].as_array().unwrap();
    let has = |src: &str, name: &str| {
        metrics
            .iter()
            .any(|m| m["source"] == src && m["name"] == name)
    };
    assert!(has("tracepoint", "events"), "{out}");
    assert!(has("vmstat", "pgfault"));
    assert!(has("stat", "context_switches"));
    let sw = metrics
        .iter()
        .find(|m| m["labels"]["event"] == "sched:sched_switch")
        .expect("sched_switch in the default set");
    assert!(sw["rate"].as_f64().unwrap() > 0.0, "{sw}");
    assert!(!sw["per_cpu"].as_array().unwrap().is_empty());
    for m in metrics {
        if let Some(r) = m["rate"].as_f64() {
            assert!(r >= 0.0, "negative rate: {m}");
        }
    }
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn tracepoint_counts_are_exact_and_rates_add_up() {
    assert!(common::is_root(), "tracepoints need root");
    // 3000 calls at 2000/s, started once the watch has taken its baseline.
    let (tid, go, burst) = common::monitor::syscall_burst(true, 3000, 2000);
    let filter = format!("common_pid == {tid}");
    let mut child = Command::new(BIN)
        .args([
            "watch",
            "--tracepoint",
            "syscalls:sys_enter_getpgid",
            "--filter",
            &filter,
            "-i",
            "300ms",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    go.send(()).unwrap();
    burst.join().unwrap();
    // Two more rounds after the last call, then SIGTERM ends the watch cleanly.
    std::thread::sleep(std::time::Duration::from_millis(900));
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    let value = |b: &Value| b["metrics"][0]["value"].as_u64().unwrap();
    let m = &first["metrics"][0];
    assert_eq!(m["labels"]["event"], "syscalls:sys_enter_getpgid");
    assert_eq!(m["labels"]["filter"], filter.as_str());
    let last = rest.last().unwrap();
    assert_eq!(
        value(last) - value(&first),
        3000,
        "every call counted, none twice"
    );
    // The per-interval rates, times their intervals, add up to the calls made.
    let mut prev_t = first["t"].as_f64().unwrap();
    let mut sum = 0.0;
    for b in &rest {
        let t = b["t"].as_f64().unwrap();
        let r = b["metrics"][0]["rate"].as_f64().unwrap();
        assert!(r >= 0.0);
        sum += r * (t - prev_t);
        prev_t = t;
    }
    assert!((sum - 3000.0).abs() < 1.0, "rates add up to {sum}");
}

#[test]
fn csv_record_and_replay_agree() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.jsonl");
    let rec_s = rec.to_str().unwrap();
    let (code, csv, err) = watch(&[
        "--source", "vmstat", "--source", "stat", "--count", "2", "-i", "200ms", "--csv",
        "--record", rec_s,
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "t,source,name,labels,kind,unit,value,rate");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",vmstat,pgfault,,counter,,"))
    );
    // The replay shows the recorded values (the last round of the CSV).
    let (code, out, err) = watch(&["--replay", rec_s, "--json"]);
    assert_eq!(code, 0, "{err}");
    let b = blocks(&out);
    assert_eq!(b.len(), 2, "two rounds after the baseline one");
    let last = b.last().unwrap();
    let pgfault = last["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "pgfault")
        .unwrap();
    let csv_pgfault = lines
        .iter()
        .rev()
        .find(|l| l.contains(",vmstat,pgfault,"))
        .unwrap();
    let v: f64 = csv_pgfault.split(',').nth(6).unwrap().parse().unwrap();
    assert_eq!(pgfault["value"].as_f64().unwrap(), v);
}

#[test]
fn failing_sources_are_error_rows_not_exits() {
    let (code, out, err) = watch(&[
        "--file",
        "/nonexistent/kpeek-test",
        "--source",
        "vmstat",
        "--count",
        "1",
        "-i",
        "100ms",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let b = blocks(&out);
    let errors = b[0]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{out}");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/kpeek-test"),
        "{out}"
    );
    assert!(!b[0]["metrics"].as_array().unwrap().is_empty());
    // kpeek.ko through a tree where it is not loaded: an error row saying so.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("KPEEK_SYSROOT", dir.path())
        .args(["watch", "--kpeek", "--count", "1", "-i", "100ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ERROR") && text.contains("mod: kpeek.ko"),
        "{text}"
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn an_unknown_tracepoint_exits_2_naming_it() {
    let (code, _, err) = watch(&["--tracepoint", "nosuchsys:nosuchevent", "--count", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("nosuchsys"), "{err}");
}

/// Configuration, flags and recordings are checked before any source opens: any user, any
/// kernel.
#[test]
fn bad_input_exits_2_and_says_where() {
    let (code, _, err) = watch(&["--source", "bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown source \"bogus\""), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("k.toml");
    std::fs::write(
        &cfg,
        "interval = \"1s\"\n\n[[source]]\ntype = \"vmstatt\"\n",
    )
    .unwrap();
    let (code, _, err) = watch(&["-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}:4:8", cfg.display())) && err.contains("vmstatt"),
        "{err}"
    );
    std::fs::write(&cfg, "interval = \"soon\"\n").unwrap();
    let (code, _, err) = watch(&["-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(":1:12") && err.contains("not a duration"),
        "{err}"
    );

    let rec = dir.path().join("bad.jsonl");
    std::fs::write(&rec, "{\"rec\":\"header\",\"version\":1}\nnot json\n").unwrap();
    let (code, _, err) = watch(&["--replay", rec.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("line 2"), "{err}");
    let (code, _, err) = watch(&["--replay", "/nonexistent/rec"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/rec"), "{err}");
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn bpf_count_peek_and_bpf_progs_sources() {
    assert!(common::is_root(), "BPF and peek need root");
    // 2000 calls at 2000/s from one thread, started once the watch has taken its baseline.
    let (tid, go, burst) = common::monitor::syscall_burst(false, 2000, 2000);
    let mut child = Command::new(BIN)
        .args([
            "watch",
            "--bpf-count",
            "syscalls:sys_enter_getppid --by tid",
            "--peek",
            "runqueues@all.nr_running",
            "--source",
            "bpf_progs",
            "-i",
            "300ms",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let _first = lines.next().unwrap().unwrap();
    go.send(()).unwrap();
    burst.join().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let b: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    let last = b.last().unwrap();
    assert_eq!(last["errors"].as_array().unwrap().len(), 0, "{last}");
    let metrics = last["metrics"].as_array().unwrap();
    // The BPF count of the burst's thread: exactly its calls.
    let mine = metrics
        .iter()
        .find(|m| m["source"] == "bpf_count" && m["labels"]["tid"] == tid.to_string().as_str())
        .unwrap_or_else(|| panic!("no bpf_count entry for tid {tid}: {last}"));
    assert_eq!(mine["value"], 2000, "{mine}");
    let dropped = metrics
        .iter()
        .find(|m| m["source"] == "bpf_count" && m["name"] == "keys_dropped")
        .unwrap();
    assert_eq!(dropped["value"], 0);
    // peek: one value per CPU, summed.
    let nr = metrics.iter().find(|m| m["source"] == "peek").unwrap();
    let per: u64 = nr["per_cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_u64().unwrap())
        .sum();
    assert_eq!(nr["value"].as_u64().unwrap(), per);
    assert!(per >= 1, "this very process is running: {nr}");
    // bpf_progs: the count's own program ran at least once per call (statistics on while the
    // source lives).
    assert!(
        metrics.iter().any(|m| m["source"] == "bpf_progs"
            && m["name"] == "runs"
            && m["labels"]["type"] == "tracepoint"
            && m["value"].as_u64().is_some_and(|r| r >= 2000)),
        "{last}"
    );
}

#[test]
fn bad_bpf_and_peek_input_exits_2() {
    let (code, _, err) = watch(&["--peek", "runqueues@@", "--count", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("runqueues@@"), "{err}");
    let (code, _, err) = watch(&["--bpf-count", "syscalls:sys_enter_getppid --colour red"]);
    assert_eq!(code, 2);
    assert!(err.contains("--colour"), "{err}");
    let (code, _, err) = watch(&[
        "--bpf-count",
        "syscalls:sys_enter_getppid --filter pid ==",
        "--count",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("filter"), "{err}");
    let (code, _, err) = watch(&["--bpf-map", "no_such_map_kpeek", "--count", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("no_such_map_kpeek"), "{err}");
}

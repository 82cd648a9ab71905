//! `kpeek watch` (and the monitor's shared flags) on the live kernel, through the binary: the
//! default set, a tracepoint rate against a generator's known rate, CSV, record/replay, error
//! rows, and bad input. Needs root, tracefs and perf tracepoint events.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::monitor::{BIN, getppid_generator};
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
fn tracepoint_rate_matches_a_known_rate() {
    assert!(common::is_root(), "tracepoints need root");
    let stop = Arc::new(AtomicBool::new(false));
    let (tid, gen_thread) = getppid_generator(2000, stop.clone());
    let filter = format!("common_pid == {tid}");
    let (code, out, err) = watch(&[
        "--tracepoint",
        "syscalls:sys_enter_getppid",
        "--filter",
        &filter,
        "--count",
        "3",
        "-i",
        "1s",
        "--json",
    ]);
    stop.store(true, Ordering::Relaxed);
    gen_thread.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let b = blocks(&out);
    // The 10 s average over the last two intervals smooths a late tick of the generator.
    let m = &b[2]["metrics"][0];
    assert_eq!(m["labels"]["event"], "syscalls:sys_enter_getppid");
    assert_eq!(m["labels"]["filter"], filter.as_str());
    let avg = m["avg10"].as_f64().unwrap();
    assert!(
        (1800.0..=2200.0).contains(&avg),
        "rate {avg}/s, generator 2000/s: {out}"
    );
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

    let (code, _, err) = watch(&["--tracepoint", "nosuchsys:nosuchevent", "--count", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("nosuchsys"), "{err}");

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
fn bpf_count_peek_and_bpf_progs_sources() {
    assert!(common::is_root(), "BPF and peek need root");
    let stop = Arc::new(AtomicBool::new(false));
    let (tid, gen_thread) = getppid_generator(1000, stop.clone());
    let (code, out, err) = watch(&[
        "--bpf-count",
        "syscalls:sys_enter_getppid --by tid",
        "--peek",
        "runqueues@all.nr_running",
        "--source",
        "bpf_progs",
        "--count",
        "3",
        "-i",
        "1s",
        "--json",
    ]);
    stop.store(true, Ordering::Relaxed);
    gen_thread.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let b = blocks(&out);
    let last = &b[2];
    assert_eq!(last["errors"].as_array().unwrap().len(), 0, "{last}");
    let metrics = last["metrics"].as_array().unwrap();
    // The BPF count of the generator's thread: its known rate.
    let mine = metrics
        .iter()
        .find(|m| m["source"] == "bpf_count" && m["labels"]["tid"] == tid.to_string().as_str())
        .unwrap_or_else(|| panic!("no bpf_count entry for tid {tid}: {last}"));
    let avg = mine["avg10"].as_f64().unwrap();
    assert!((900.0..=1100.0).contains(&avg), "{avg}/s, generator 1000/s");
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
    // bpf_progs: the count's own program ran (statistics on while the source lives).
    assert!(
        metrics.iter().any(|m| m["source"] == "bpf_progs"
            && m["name"] == "runs"
            && m["labels"]["type"] == "tracepoint"
            && m["rate"].as_f64().is_some_and(|r| r > 100.0)),
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

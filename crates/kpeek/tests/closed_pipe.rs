//! Every printing command ends quietly with exit 0 when its reader goes away (`kpeek … | head`):
//! the test closes the read end of stdout before the command writes anything, so its first
//! write fails with EPIPE.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ksyms/tests/fixtures/x86_64-6.12-modules.kallsyms"
);

/// Runs kpeek with stdout a pipe already closed at the reading end; returns (code, stderr).
fn with_closed_stdout(args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpeek"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpeek");
    drop(child.stdout.take()); // the reader goes away at once
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

fn assert_quiet(args: &[&str], stdin: &[u8]) {
    let (code, err) = with_closed_stdout(args, stdin);
    assert_eq!(
        code, 0,
        "kpeek {args:?} on a closed pipe: exit {code}, stderr {err}"
    );
    for bad in ["Broken pipe", "os error 32", "panicked", "kpeek:"] {
        assert!(
            !err.contains(bad),
            "kpeek {args:?} on a closed pipe said: {err}"
        );
    }
}

#[test]
fn sym_commands() {
    let k = ["sym", "--kallsyms", FIXTURE];
    let with = |more: &[&'static str]| [&k[..], more].concat();
    assert_quiet(&with(&["search", "*"]), b"");
    assert_quiet(&with(&["--json", "search", "*"]), b"");
    assert_quiet(&with(&["stats"]), b"");
    assert_quiet(&with(&["kpeek_counter_add", "0xffffffffc0236014"]), b"");
    let oops = "[<ffffffffc0236014>] x\n".repeat(10_000);
    assert_quiet(&with(&["symbolize"]), oops.as_bytes());
}

/// A tracefs-shaped tree with one event and its format file, removed on drop.
struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree() -> Tree {
    let root = std::env::temp_dir().join(format!("kpeek-pipe-{}", std::process::id()));
    let d = root.join("events/sched/sched_switch");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("id"), "316\n").unwrap();
    std::fs::write(
        d.join("format"),
        "name: sched_switch\nID: 316\nformat:\n\
         \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
         \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
         \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
         \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
         \tfield:pid_t prev_pid;\toffset:8;\tsize:4;\tsigned:1;\n\n\
         print fmt: \"prev_pid=%d\", REC->prev_pid\n",
    )
    .unwrap();
    Tree(root)
}

#[test]
fn trace_list_and_format() {
    let t = tree();
    let root = t.0.to_str().unwrap();
    assert_quiet(&["trace", "list", "--tracefs", root], b"");
    assert_quiet(&["trace", "list", "--tracefs", root, "--json"], b"");
    assert_quiet(
        &["trace", "format", "--tracefs", root, "sched:sched_switch"],
        b"",
    );
}

/// Needs root and the live kernel's perf events: ignored unless asked for (./test-all asks).
#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn live_trace_record_and_stat() {
    assert!(
        common::is_root(),
        "live_trace_record_and_stat opens perf events: run as root (./test-all does)"
    );
    assert_quiet(
        &["trace", "record", "sched:sched_switch", "--duration", "3s"],
        b"",
    );
    assert_quiet(
        &[
            "trace",
            "record",
            "sched:sched_switch",
            "--json",
            "--duration",
            "3s",
        ],
        b"",
    );
    assert_quiet(
        &["trace", "stat", "sched:sched_switch", "--duration", "200ms"],
        b"",
    );
}

/// An error message on a closed stderr (`kpeek … 2>&-`): the exit code still says 2, and the
/// process does not panic (exit 101) because nobody reads the message.
#[test]
fn an_error_on_a_closed_stderr_still_exits_2() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpeek"))
        .args(["sym", "--kallsyms", "/nonexistent/kallsyms", "stats"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpeek");
    drop(child.stderr.take()); // nobody reads the message
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "kpeek on a closed stderr: {status}");
}

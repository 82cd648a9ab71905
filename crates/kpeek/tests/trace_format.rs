//! `kpeek trace format`: on a fake tracefs tree (snapshots, suggestions, malformed files) and
//! on the live tracefs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use insta::assert_snapshot;

const EXEC: &str = "name: sched_process_exec
ID: 365
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:unsigned long args[2];\toffset:16;\tsize:16;\tsigned:0;
\tfield:void * ptr;\toffset:32;\tsize:8;\tsigned:0;

print fmt: \"filename=%s pid=%d\", __get_str(filename), REC->pid
";

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree(tag: &str) -> Tree {
    let root = std::env::temp_dir().join(format!("kpeek-format-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let files = [
        ("sched", "sched_process_exec", EXEC.to_string()),
        (
            "sched",
            "sched_switch",
            EXEC.replace("sched_process_exec", "sched_switch"),
        ),
        (
            "net",
            "netif_rx",
            EXEC.replace("sched_process_exec", "netif_rx"),
        ),
        (
            "other",
            "netif_rx",
            EXEC.replace("sched_process_exec", "netif_rx"),
        ),
        (
            "bad",
            "broken",
            EXEC.replace("offset:12;", "offset:twelve;"),
        ),
    ];
    for (sys, name, text) in files {
        let d = root.join("events").join(sys).join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("format"), text).unwrap();
    }
    Tree(root)
}

fn format(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["trace", "format", "--tracefs", root.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap(), s(out.stdout), s(out.stderr))
}

#[test]
fn text_layout() {
    let t = tree("text");
    let (code, out, err) = format(&t.0, &["sched:sched_process_exec"]);
    assert_eq!(code, 0, "{err}");
    assert_snapshot!(out, @r#"
    sched:sched_process_exec  id 365  4 fields, fixed part 40 bytes
      FIELD                 TYPE               OFFSET  SIZE  SIGNED  DECODED AS
      common_type           unsigned short          0     2  no      u16
      common_flags          unsigned char           2     1  no      u8
      common_preempt_count  unsigned char           3     1  no      u8
      common_pid            int                     4     4  yes     s32

      filename              __data_loc char[]       8     4  no      data_loc string
      pid                   pid_t                  12     4  yes     s32
      args                  unsigned long[2]       16    16  no      u64[2]
      ptr                   void *                 32     8  no      pointer
    print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
    "#);
    // A bare name that is unique resolves to its system.
    let (code, out2, _) = format(&t.0, &["sched_process_exec"]);
    assert_eq!(code, 0);
    assert_eq!(out, out2);
}

#[test]
fn json_layout() {
    let t = tree("json");
    let (code, out, err) = format(&t.0, &["sched:sched_process_exec", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["event"], "sched:sched_process_exec");
    assert_eq!(v["id"], 365);
    assert_eq!(v["common_fields"].as_array().unwrap().len(), 4);
    assert_snapshot!(serde_json::to_string(&v["fields"]).unwrap(), @r#"[{"kind":"data_loc string","name":"filename","offset":8,"signed":false,"size":4,"type":"__data_loc char[]"},{"kind":"s32","name":"pid","offset":12,"signed":true,"size":4,"type":"pid_t"},{"kind":"u64[2]","name":"args","offset":16,"signed":false,"size":16,"type":"unsigned long[2]"},{"kind":"pointer","name":"ptr","offset":32,"signed":false,"size":8,"type":"void *"}]"#);
    assert!(
        v["print_fmt"]
            .as_str()
            .unwrap()
            .starts_with("\"filename=%s")
    );
}

#[test]
fn unknown_events_get_suggestions() {
    let t = tree("unknown");
    let (code, out, err) = format(&t.0, &["sched:sched_swtch"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "kpeek: unknown event `sched:sched_swtch`; did you mean sched:sched_switch?\n"
    );
    // Same name in other systems.
    let (code, _, err) = format(&t.0, &["sched:netif_rx"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "kpeek: unknown event `sched:netif_rx`; did you mean net:netif_rx, other:netif_rx?\n"
    );
    // Ambiguous bare name.
    let (code, _, err) = format(&t.0, &["netif_rx"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "kpeek: `netif_rx` matches several events: net:netif_rx, other:netif_rx; name one as system:name\n"
    );
    let (code, _, err) = format(&t.0, &["zzzz:qqqqqqqqqq"]);
    assert_eq!(code, 2);
    assert!(err.contains("`kpeek trace list` shows the events"), "{err}");
}

#[test]
fn malformed_format_file_names_file_and_line() {
    let t = tree("bad");
    let (code, _, err) = format(&t.0, &["bad:broken"]);
    assert_eq!(code, 2);
    let path = t.0.join("events/bad/broken/format");
    assert_eq!(
        err,
        format!(
            "kpeek: {}: line 10: bad number \"twelve\" for `offset`\n",
            path.display()
        )
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn live_format_of_sched_switch() {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["trace", "format", "sched:sched_switch", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "needs the live tracefs as root: {err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = std::fs::read_to_string("/sys/kernel/tracing/events/sched/sched_switch/id").unwrap();
    assert_eq!(v["id"].to_string(), id.trim());
    let fields = v["fields"].as_array().unwrap();
    let f = |n: &str| {
        fields
            .iter()
            .find(|f| f["name"] == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    assert_eq!(f("prev_comm")["kind"], "string[16]");
    assert_eq!(f("prev_comm")["size"], 16);
    assert_eq!(f("prev_pid")["signed"], true);
    assert_eq!(f("prev_pid")["size"], 4);
    assert_eq!(f("next_comm")["type"], "char[16]");

    // The text form of a data_loc event, and an unknown event's suggestion.
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["trace", "format", "netif_receive_skb"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("net:netif_receive_skb  id "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("name") && l.contains("data_loc string")),
        "{text}"
    );
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["trace", "format", "sched:sched_swich"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean sched:sched_switch"));
}

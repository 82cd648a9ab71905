//! `kpeek trace list`: on a fake tracefs tree (snapshots, exit codes, errors), on the live
//! tracefs, and as an unprivileged user.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use insta::assert_snapshot;

/// A temporary tracefs-shaped tree, removed on drop.
struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree(tag: &str) -> Tree {
    let root = std::env::temp_dir().join(format!("kpeek-list-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (sys, name, id) in [
        ("sched", "sched_switch", 316),
        ("sched", "sched_wakeup", 318),
        ("net", "netif_receive_skb", 1602),
        ("skb", "kfree_skb", 1598),
    ] {
        let d = root.join("events").join(sys).join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("id"), format!("{id}\n")).unwrap();
        std::fs::write(d.join("enable"), "0\n").unwrap();
    }
    std::fs::write(root.join("events/enable"), "0\n").unwrap();
    std::fs::write(root.join("events/header_page"), "").unwrap();
    Tree(root)
}

fn kpeek(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap(), s(out.stdout), s(out.stderr))
}

fn list(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["trace", "list", "--tracefs", root.to_str().unwrap()];
    a.extend_from_slice(args);
    kpeek(&a)
}

#[test]
fn lists_a_tree_sorted_and_globbed() {
    let t = tree("glob");
    let (code, out, err) = list(&t.0, &[]);
    assert_eq!(code, 0, "{err}");
    assert_snapshot!(out, @r"
    net:netif_receive_skb
    sched:sched_switch
    sched:sched_wakeup
    skb:kfree_skb
    ");
    let (code, out, _) = list(&t.0, &["*skb*"]);
    assert_eq!(code, 0);
    assert_eq!(out, "net:netif_receive_skb\nskb:kfree_skb\n");
    let (code, out, _) = list(&t.0, &["sched_w*"]);
    assert_eq!(code, 0);
    assert_eq!(out, "sched:sched_wakeup\n");
}

#[test]
fn json_has_ids() {
    let t = tree("json");
    let (code, out, err) = list(&t.0, &["sched:*", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_snapshot!(out, @r#"
    [
      {
        "event": "sched:sched_switch",
        "system": "sched",
        "name": "sched_switch",
        "id": 316
      },
      {
        "event": "sched:sched_wakeup",
        "system": "sched",
        "name": "sched_wakeup",
        "id": 318
      }
    ]
    "#);
}

#[test]
fn no_match_is_exit_1_and_a_bad_glob_is_exit_2() {
    let t = tree("nomatch");
    let (code, out, err) = list(&t.0, &["nothing:*"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "kpeek: no event matches `nothing:*`\n");
    let (code, _, err) = list(&t.0, &["sched:[ab"]);
    assert_eq!(code, 2);
    // The same glob dialect and message as `kpeek sym search`.
    assert!(err.starts_with("kpeek: bad glob `sched:[ab`: "), "{err}");
    assert!(err.contains("unclosed character class"), "{err}");
}

#[test]
fn missing_tracefs_says_how_to_mount() {
    let empty = std::env::temp_dir().join(format!("kpeek-list-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let (code, out, err) = list(&empty, &[]);
    std::fs::remove_dir_all(&empty).unwrap();
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!(
            "kpeek: tracefs is not mounted (looked in {}); mount it with: mount -t tracefs nodev /sys/kernel/tracing\n",
            empty.display()
        )
    );
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn live_list() {
    let (code, out, err) = kpeek(&["trace", "list", "sched:*"]);
    assert_eq!(code, 0, "needs the live tracefs as root: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"sched:sched_switch"), "{out}");
    assert!(lines.iter().all(|l| l.starts_with("sched:")), "{out}");
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);

    let (code, out, err) = kpeek(&["trace", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let all = v.as_array().unwrap();
    assert!(all.len() > 1000, "only {} events", all.len());
    let sw = all
        .iter()
        .find(|e| e["event"] == "sched:sched_switch")
        .unwrap();
    let id = std::fs::read_to_string("/sys/kernel/tracing/events/sched/sched_switch/id").unwrap();
    assert_eq!(sw["id"].as_u64().unwrap().to_string(), id.trim());
}

#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn unprivileged_user_gets_a_permission_error() {
    let out = common::as_nobody(&["trace", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("permission denied reading /sys/kernel/"),
        "{err}"
    );
    assert!(err.contains("needs root"), "{err}");
}

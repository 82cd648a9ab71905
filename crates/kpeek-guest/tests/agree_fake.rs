//! `kpeek-guest channels-agree` on fake trees: it passes when the channels agree and fails,
//! naming the difference, when they do not. (The real run is in the qemu guest.)

use std::fs;
use std::path::Path;
use std::process::Command;

fn tree(dir: &Path, sysfs_writes: u64) {
    let w = |p: &str, s: String| {
        let p = dir.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    };
    w("proc/kpeek", "kpeek_example writes 7\napp hits 42\n".into());
    w("sys/kernel/kpeek/info", "1\n".into());
    w(
        "sys/kernel/kpeek/kpeek_example/writes",
        format!("{sysfs_writes}\n"),
    );
    w("sys/kernel/kpeek/app/hits", "42\n".into());
    w(
        "sys/kernel/config/kpeek/groups/app/hits/value",
        "42\n".into(),
    );
    w(
        "sys/kernel/debug/kpeek/stats",
        "groups 2\ncounters 2\nconfigfs_groups 1\n".into(),
    );
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kpeek-guest"))
        .env("KPEEK_SYSROOT", dir)
        .arg("channels-agree")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn agreeing_channels_pass() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), 7);
    let (code, out) = run(
        d.path(),
        &[
            "--expect",
            "kpeek_example/writes=7",
            "--expect",
            "app/hits=42",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("PASS: configfs app/hits = 42"), "{out}");
}

#[test]
fn disagreeing_channels_fail_with_the_difference() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), 8);
    let (code, out) = run(d.path(), &["--expect", "kpeek_example/writes=7"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "FAIL: procfs and sysfs show the same counters and values: kpeek_example/writes: 7 vs 8"
        ),
        "{out}"
    );
    assert!(
        out.contains("FAIL: sysfs kpeek_example/writes = 7: got Some(8), want Some(7)"),
        "{out}"
    );
}

#[test]
fn no_module_is_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let (code, out) = run(d.path(), &[]);
    assert_eq!(code, 2);
    assert!(
        out.contains("FAIL: kpeek-guest: kpeek.ko is not loaded"),
        "{out}"
    );
}

//! `kpeek mod` against fake /proc and /sys trees (this machine cannot load kpeek.ko; the real
//! module is exercised by vmtest/guest/5*-mod-*.sh in qemu). The hidden `--root DIR` option and
//! `$KPEEK_SYSROOT` point every channel at such a tree.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

/// A directory removed on drop (the kpeek crate has no tempfile dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "kpeek-mod-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A tree like a guest with kpeek.ko and kpeek_example.ko loaded, after 7 writes of 100 bytes
/// and 5 reads of 64 bytes, plus a configfs group `app` with one counter.
fn fake_tree() -> TempDir {
    let d = TempDir::new();
    let r = d.path();
    let w = |p: &str, s: &str| {
        let p = r.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    };
    w(
        "proc/kpeek",
        "kpeek_example writes 7\nkpeek_example bytes_written 700\nkpeek_example reads 5\n\
         kpeek_example bytes_read 320\napp hits 42\n",
    );
    w("sys/kernel/kpeek/info", "4\n");
    for (c, v) in [
        ("writes", 7),
        ("bytes_written", 700),
        ("reads", 5),
        ("bytes_read", 320),
    ] {
        w(
            &format!("sys/kernel/kpeek/kpeek_example/{c}"),
            &format!("{v}\n"),
        );
    }
    w("sys/kernel/kpeek/kpeek_example/reset", "");
    w("sys/kernel/kpeek/app/hits", "42\n");
    w("sys/kernel/kpeek/app/reset", "");
    w("sys/kernel/config/kpeek/groups/app/description", "my app\n");
    w("sys/kernel/config/kpeek/groups/app/hits/value", "42\n");
    w("sys/kernel/config/kpeek/groups/app/hits/description", "\n");
    w(
        "sys/kernel/debug/kpeek/stats",
        "groups 2\ncounters 5\napi_groups 1\nconfigfs_groups 1\nbytes 4096\n",
    );
    w("sys/module/kpeek/parameters/max_groups", "1024\n");
    w("sys/module/kpeek/parameters/max_counters", "65536\n");
    w("sys/module/kpeek/parameters/fail_init_step", "0\n");
    d
}

fn kpeek(root: &Path) -> Command {
    let mut c = Command::cargo_bin("kpeek").unwrap();
    c.arg("mod").arg("--root").arg(root);
    c
}

const EXAMPLE_JSON: &str = "\
{\"group\":\"kpeek_example\",\"counter\":\"bytes_read\",\"value\":320}
{\"group\":\"kpeek_example\",\"counter\":\"bytes_written\",\"value\":700}
{\"group\":\"kpeek_example\",\"counter\":\"reads\",\"value\":5}
{\"group\":\"kpeek_example\",\"counter\":\"writes\",\"value\":7}
";

#[test]
fn procfs_and_sysfs_print_the_same_json() {
    let t = fake_tree();
    for via in ["procfs", "sysfs"] {
        kpeek(t.path())
            .args([
                "counters",
                "--via",
                via,
                "--group",
                "kpeek_example",
                "--json",
            ])
            .assert()
            .success()
            .stdout(EXAMPLE_JSON);
    }
}

#[test]
fn configfs_shows_only_its_groups() {
    let t = fake_tree();
    kpeek(t.path())
        .args(["counters", "--via", "configfs", "--json"])
        .assert()
        .success()
        .stdout("{\"group\":\"app\",\"counter\":\"hits\",\"value\":42}\n");
}

#[test]
fn table_is_aligned() {
    let t = fake_tree();
    kpeek(t.path()).arg("counters").assert().success().stdout(
        "\
GROUP          COUNTER        VALUE
app            hits              42
kpeek_example  bytes_read       320
kpeek_example  bytes_written    700
kpeek_example  reads              5
kpeek_example  writes             7
",
    );
}

#[test]
fn env_var_works_like_root() {
    let t = fake_tree();
    Command::cargo_bin("kpeek")
        .unwrap()
        .env("KPEEK_SYSROOT", t.path())
        .args(["mod", "counters", "--group", "app", "--json"])
        .assert()
        .success()
        .stdout("{\"group\":\"app\",\"counter\":\"hits\",\"value\":42}\n");
}

#[test]
fn unknown_group_is_exit_1_and_bad_group_name_exit_2() {
    let t = fake_tree();
    kpeek(t.path())
        .args(["counters", "--group", "nope"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "no counters in group \"nope\" (read via procfs)",
        ));
    kpeek(t.path())
        .args(["counters", "--group", "no-pe"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("may only contain [A-Za-z0-9_]"));
}

#[test]
fn module_not_loaded_says_modprobe() {
    let empty = TempDir::new();
    for via in ["procfs", "sysfs"] {
        kpeek(empty.path())
            .args(["counters", "--via", via])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("kpeek.ko is not loaded")
                    .and(predicate::str::contains("modprobe kpeek")),
            );
    }
    kpeek(empty.path())
        .args(["counters", "--via", "configfs"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("configfs is not mounted")
                .and(predicate::str::contains("mount -t configfs")),
        );
    kpeek(empty.path()).arg("debug").assert().code(2).stderr(
        predicate::str::contains("debugfs is not mounted")
            .and(predicate::str::contains("mount -t debugfs")),
    );
    kpeek(empty.path())
        .arg("info")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kpeek.ko is not loaded"));
}

#[test]
fn malformed_procfs_is_reported_with_its_line() {
    let t = fake_tree();
    fs::write(t.path().join("proc/kpeek"), "a b 1\na b\n").unwrap();
    kpeek(t.path())
        .arg("counters")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "proc/kpeek:2: \"a b\" has 2 space-separated fields",
        ));
}

#[test]
fn group_and_counter_changes_go_through_configfs_and_sysfs() {
    let t = fake_tree();
    let r = t.path();
    let cfs = r.join("sys/kernel/config/kpeek/groups");
    kpeek(r)
        .args(["group", "create", "web"])
        .assert()
        .success()
        .stdout("created group web\n");
    assert!(cfs.join("web").is_dir());
    kpeek(r)
        .args(["counter", "create", "web", "requests"])
        .assert()
        .success();
    assert!(cfs.join("web/requests").is_dir());
    kpeek(r)
        .args(["counter", "set", "app", "hits", "18446744073709551615"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(cfs.join("app/hits/value")).unwrap(),
        "18446744073709551615"
    );
    // A regular file is not truncated by an attribute write (configfs replaces the value).
    fs::write(cfs.join("app/hits/value"), "").unwrap();
    kpeek(r)
        .args(["counter", "reset", "app", "hits"])
        .assert()
        .success();
    assert_eq!(fs::read_to_string(cfs.join("app/hits/value")).unwrap(), "0");
    kpeek(r)
        .args(["counter", "describe", "app", "hits", "cache hits"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(cfs.join("app/hits/description")).unwrap(),
        "cache hits"
    );
    fs::write(cfs.join("app/description"), "").unwrap();
    kpeek(r)
        .args(["group", "describe", "app", ""])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(cfs.join("app/description")).unwrap(),
        "\n"
    );
    kpeek(r)
        .args(["group", "reset", "kpeek_example"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(r.join("sys/kernel/kpeek/kpeek_example/reset")).unwrap(),
        "1"
    );
    kpeek(r)
        .args(["counter", "reset", "app"])
        .assert()
        .success()
        .stdout("reset group app\n");
    kpeek(r)
        .args(["counter", "delete", "web", "requests"])
        .assert()
        .success();
    kpeek(r).args(["group", "delete", "web"]).assert().success();
    assert!(!cfs.join("web").exists());
}

#[test]
fn bad_names_and_values_are_exit_2_with_the_rule() {
    let t = fake_tree();
    let r = t.path();
    let long = "x".repeat(32);
    let cases: &[(&[&str], &str)] = &[
        (
            &["group", "create", &long],
            "is 32 bytes, longer than 31 bytes",
        ),
        (
            &["group", "create", "a-b"],
            "has '-' at byte 1: names may only contain [A-Za-z0-9_]",
        ),
        (
            &["group", "create", "info"],
            "group name \"info\" is reserved",
        ),
        (&["group", "create", ""], "group name is empty"),
        (
            &["counter", "create", "app", "reset"],
            "counter name \"reset\" is reserved",
        ),
        (
            &["counter", "set", "app", "hits", "-1"],
            "invalid value '-1'",
        ),
        (
            &["counter", "set", "app", "hits", "18446744073709551616"],
            "invalid value",
        ),
        (
            &["counter", "describe", "app", "hits", "a\tb"],
            "only printable ASCII",
        ),
        (
            &["group", "create", "ok", "--description", &"d".repeat(128)],
            "128 bytes, longer than 127",
        ),
        (&["group", "create", "app"], "group \"app\" already exists"),
        (&["counter", "create", "nope", "c"], "no group \"nope\""),
        (
            &["counter", "set", "app", "nope", "1"],
            "no counter app/nope",
        ),
        (&["group", "reset", "nope"], "no group \"nope\""),
        (
            &["counters", "--via", "carrier_pigeon"],
            "invalid value 'carrier_pigeon'",
        ),
    ];
    for (args, msg) in cases {
        kpeek(r)
            .args(*args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*msg));
    }
    assert!(!r.join("sys/kernel/config/kpeek/groups/ok").exists());
}

#[test]
fn another_abi_version_is_a_warning() {
    let t = fake_tree();
    fs::write(t.path().join("sys/kernel/kpeek/info"), "5\n").unwrap();
    kpeek(t.path())
        .args(["counters", "--group", "app", "--json"])
        .assert()
        .success()
        .stdout("{\"group\":\"app\",\"counter\":\"hits\",\"value\":42}\n")
        .stderr("kpeek: warning: kpeek.ko speaks ABI version 5, this kpeek speaks 4\n");
    kpeek(t.path())
        .arg("info")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "abi_version      5 (this kpeek speaks 4: use matching versions)",
        ));
}

#[test]
fn group_list_shows_sources_counts_and_descriptions() {
    let t = fake_tree();
    fs::create_dir_all(t.path().join("sys/kernel/kpeek/empty")).unwrap();
    kpeek(t.path())
        .args(["group", "list"])
        .assert()
        .success()
        .stdout(
            "\
GROUP          SOURCE    COUNTERS  DESCRIPTION
app            configfs         1  my app
empty          module           0
kpeek_example  module           4
",
        );
    kpeek(t.path()).args(["group", "list", "--json"]).assert().success().stdout(
        "{\"counters\":1,\"description\":\"my app\",\"group\":\"app\",\"source\":\"configfs\"}\n\
         {\"counters\":0,\"description\":null,\"group\":\"empty\",\"source\":\"module\"}\n\
         {\"counters\":4,\"description\":null,\"group\":\"kpeek_example\",\"source\":\"module\"}\n",
    );
}

#[test]
fn errors_are_one_line_said_once() {
    let t = fake_tree();
    kpeek(t.path())
        .args(["group", "create", "info"])
        .assert()
        .code(2)
        .stdout("")
        .stderr("kpeek: group name \"info\" is reserved (it is a control file in sysfs)\n");
    kpeek(t.path())
        .args(["counter", "describe", "app", "hits", &"d".repeat(130)])
        .assert()
        .code(2)
        .stderr("kpeek: description is 130 bytes, longer than 127 bytes\n");
}

#[test]
fn debug_and_info() {
    let t = fake_tree();
    kpeek(t.path()).arg("debug").assert().success().stdout(
        "groups           2\ncounters         5\napi_groups       1\nconfigfs_groups  1\nbytes            4096\n",
    );
    kpeek(t.path())
        .args(["debug", "--json"])
        .assert()
        .success()
        .stdout(
            "{\"groups\":2,\"counters\":5,\"api_groups\":1,\"configfs_groups\":1,\"bytes\":4096}\n",
        );
    kpeek(t.path()).args(["info", "--json"]).assert().success().stdout(
        "{\"abi_version\":4,\"configfs_groups\":1,\"counters\":5,\"groups\":2,\"kpeek_abi_version\":4,\
         \"params\":{\"fail_init_step\":0,\"max_counters\":65536,\"max_groups\":1024}}\n",
    );
    kpeek(t.path())
        .arg("info")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "abi_version      4 (same as this kpeek)",
        ))
        .stdout(predicate::str::contains("  max_groups       1024"));
}

#[test]
fn help_lists_every_command() {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["mod", "--help"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for word in [
        "counters",
        "group",
        "counter",
        "debug",
        "info",
        "events",
        "listen",
        "probe",
        "threshold",
        "Changes need root",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
    assert!(
        !text.contains("--root"),
        "--root is for tests and stays hidden"
    );
}

/// A `read()` snapshot of /dev/kpeek as kpeek.ko lays it out (kpeek_abi::dev::SnapHeader, then
/// kpeek_abi::dev::CounterRec records), built by hand from the ABI constants.
fn dev_snapshot(recs: &[(&str, &str, u64)]) -> Vec<u8> {
    use kpeek_abi::dev::SNAP_MAGIC;
    let mut b = Vec::new();
    b.extend_from_slice(&SNAP_MAGIC.to_ne_bytes());
    b.extend_from_slice(&(kpeek_abi::ABI_VERSION as u16).to_ne_bytes());
    b.extend_from_slice(&24u16.to_ne_bytes());
    b.extend_from_slice(&88u32.to_ne_bytes());
    b.extend_from_slice(&(recs.len() as u32).to_ne_bytes());
    b.extend_from_slice(&9u64.to_ne_bytes());
    for (i, (g, c, v)) in recs.iter().enumerate() {
        b.extend_from_slice(&(i as u64 + 10).to_ne_bytes());
        b.extend_from_slice(&1u64.to_ne_bytes());
        b.extend_from_slice(&v.to_ne_bytes());
        for name in [g, c] {
            let mut f = [0u8; 32];
            f[..name.len()].copy_from_slice(name.as_bytes());
            b.extend_from_slice(&f);
        }
    }
    b
}

#[test]
fn chardev_prints_the_same_json_as_procfs() {
    let t = fake_tree();
    fs::create_dir_all(t.path().join("dev")).unwrap();
    fs::write(
        t.path().join("dev/kpeek"),
        dev_snapshot(&[
            ("kpeek_example", "writes", 7),
            ("kpeek_example", "bytes_written", 700),
            ("kpeek_example", "reads", 5),
            ("kpeek_example", "bytes_read", 320),
            ("app", "hits", 42),
        ]),
    )
    .unwrap();
    kpeek(t.path())
        .args([
            "counters",
            "--via",
            "chardev",
            "--group",
            "kpeek_example",
            "--json",
        ])
        .assert()
        .success()
        .stdout(EXAMPLE_JSON);
    // A truncated snapshot is named as such, with the offset.
    let full = dev_snapshot(&[("app", "hits", 42)]);
    fs::write(t.path().join("dev/kpeek"), &full[..full.len() - 8]).unwrap();
    kpeek(t.path())
        .args(["counters", "--via", "chardev"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "dev/kpeek: at byte 12: count 1 x 88-byte records",
        ))
        .stderr(predicate::str::contains("torn or partial read?"));
}

#[test]
fn debugfs_prints_the_same_json_as_procfs() {
    let t = fake_tree();
    fs::copy(
        t.path().join("proc/kpeek"),
        t.path().join("sys/kernel/debug/kpeek/counters"),
    )
    .unwrap();
    kpeek(t.path())
        .args([
            "counters",
            "--via",
            "debugfs",
            "--group",
            "kpeek_example",
            "--json",
        ])
        .assert()
        .success()
        .stdout(EXAMPLE_JSON);
}

#[test]
fn device_channels_say_what_is_missing() {
    let t = fake_tree();
    for via in ["chardev", "ioctl", "mmap"] {
        kpeek(t.path())
            .args(["counters", "--via", via])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("dev/kpeek"))
            .stderr(predicate::str::contains("device node is missing"));
    }
    // A regular file in place of the device: its ioctls fail with ENOTTY.
    fs::create_dir_all(t.path().join("dev")).unwrap();
    fs::write(t.path().join("dev/kpeek"), "").unwrap();
    for via in ["ioctl", "mmap"] {
        kpeek(t.path())
            .args(["counters", "--via", via])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("KPEEK_IOC_INFO"))
            .stderr(predicate::str::contains("(ENOTTY)"));
    }
    fs::remove_file(t.path().join("proc/kpeek")).unwrap();
    fs::remove_file(t.path().join("dev/kpeek")).unwrap();
    kpeek(t.path())
        .args(["events", "--count", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kpeek.ko is not loaded"));
}

#[test]
fn events_and_probe_arguments_are_checked() {
    let t = fake_tree();
    for (args, msg) in [
        (
            &["events", "--probe", "sched_switch", "--filter", "dev=lo"][..],
            "filter \"dev=lo\" does not apply to sched_switch",
        ),
        (
            &["events", "--filter", "len=3"],
            "unknown filter key \"len\"",
        ),
        (&["events", "--filter", "pid=-4"], "expected a pid"),
        (&["events", "--ring-size", "5000"], "must be a power of two"),
        (&["events", "--duration", "5 parsecs"], "not a duration"),
        (&["probe", "enable", "kprobe"], "invalid value 'kprobe'"),
        (
            &[
                "probe",
                "enable",
                "netif_receive_skb",
                "--filter",
                "dev=abcdefghijklmnopq",
            ],
            "1..15 bytes",
        ),
        (&["threshold", "set", "a-b", "c", "5"], ""),
    ] {
        kpeek(t.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(msg));
    }
}

/// This machine has generic netlink but no kpeek.ko: the family does not resolve.
#[test]
fn netlink_without_the_module_says_not_loaded() {
    let t = fake_tree();
    for args in [
        &["counters", "--via", "netlink"][..],
        &["listen", "--count", "1"],
        &["threshold", "set", "app", "hits", "5"],
        &["probe", "disable", "sched_switch", "--via", "netlink"],
    ] {
        kpeek(t.path()).args(args).assert().code(2).stderr(
            "kpeek: kpeek.ko is not loaded (no generic netlink family \"kpeek\"): modprobe kpeek\n",
        );
    }
}

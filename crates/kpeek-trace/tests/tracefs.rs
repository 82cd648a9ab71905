//! Finding tracefs, listing events and resolving names, on a fake tree and on the live kernel.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use kpeek_trace::tracefs::{EventName, Tracefs, TracefsError};

/// A fresh empty directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("kpeek-tracefs-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn empty_mount_points_are_not_mounted_and_the_error_says_how_to_mount() {
    let a = TempDir::new("a");
    let b = TempDir::new("b");
    let err = Tracefs::discover_in([a.0.clone(), b.0.join("missing")]).unwrap_err();
    assert!(
        matches!(err, TracefsError::NotMounted { ref tried } if tried.len() == 2),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("mount -t tracefs nodev /sys/kernel/tracing"),
        "{msg}"
    );
    assert!(msg.contains(&a.0.display().to_string()), "{msg}");
}

#[test]
fn discover_takes_the_first_mounted_candidate() {
    let empty = TempDir::new("c");
    let fake = TempDir::new("d");
    std::fs::create_dir_all(fake.0.join("events/sys1/ev_a")).unwrap();
    let fs = Tracefs::discover_in([empty.0.clone(), fake.0.clone()]).unwrap();
    assert_eq!(fs.root(), fake.0);
}

/// A tracefs-shaped tree: two systems, a format file per event, and the top-level files
/// (`enable`, `header_page`) that are not events.
fn fake_tree() -> TempDir {
    let t = TempDir::new("tree");
    let fmt = |name: &str, id: u32| {
        format!(
            "name: {name}\nID: {id}\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n\nprint fmt: \"x=%d\", REC->x\n"
        )
    };
    for (sys, name, id) in [
        ("sched", "sched_switch", 1),
        ("sched", "sched_wakeup", 2),
        ("net", "netif_rx", 3),
        ("other", "netif_rx", 4),
    ] {
        let d = t.0.join("events").join(sys).join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("format"), fmt(name, id)).unwrap();
        std::fs::write(d.join("enable"), "0\n").unwrap();
    }
    std::fs::write(t.0.join("events/enable"), "0\n").unwrap();
    std::fs::write(t.0.join("events/header_page"), "").unwrap();
    std::fs::write(t.0.join("events/sched/filter"), "none\n").unwrap();
    let bad = t.0.join("events/bad/broken");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("format"), "name: broken\nID: x\n").unwrap();
    t
}

#[test]
fn lists_and_globs_a_tree() {
    let t = fake_tree();
    let fs = Tracefs::at(&t.0);
    let all: Vec<String> = fs
        .events(None)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        all,
        [
            "bad:broken",
            "net:netif_rx",
            "other:netif_rx",
            "sched:sched_switch",
            "sched:sched_wakeup"
        ]
    );
    let names = |g| -> Vec<String> {
        fs.events(Some(g))
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        names("sched:*"),
        ["sched:sched_switch", "sched:sched_wakeup"]
    );
    assert_eq!(names("netif_*"), ["net:netif_rx", "other:netif_rx"]);
    assert_eq!(names("*:*wake*"), ["sched:sched_wakeup"]);
    assert!(names("nothing*").is_empty());
    assert!(matches!(
        fs.events(Some("[oops")),
        Err(TracefsError::BadGlob { .. })
    ));
}

#[test]
fn format_and_lookup_errors() {
    let t = fake_tree();
    let fs = Tracefs::at(&t.0);
    let f = fs.format(&"sched:sched_switch".parse().unwrap()).unwrap();
    assert_eq!(f.name, EventName::new("sched", "sched_switch"));
    assert_eq!(f.id, 1);

    let err = fs
        .format(&"sched:sched_swtch".parse().unwrap())
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("did you mean sched:sched_switch"), "{msg}");

    // Same name, wrong system: both systems that have it are suggested.
    let err = fs.lookup("sched:netif_rx").unwrap_err();
    match err {
        TracefsError::UnknownEvent { suggestions, .. } => {
            assert_eq!(
                suggestions[..2],
                [
                    EventName::new("net", "netif_rx"),
                    EventName::new("other", "netif_rx")
                ]
            );
        }
        e => panic!("{e:?}"),
    }
    // A bare name must be unique.
    assert_eq!(
        fs.lookup("sched_wakeup").unwrap(),
        EventName::new("sched", "sched_wakeup")
    );
    let err = fs.lookup("netif_rx").unwrap_err();
    assert!(
        matches!(err, TracefsError::AmbiguousEvent { ref candidates, .. } if candidates.len() == 2)
    );
    assert!(
        fs.lookup("zzzzzzzzzzzzzz")
            .unwrap_err()
            .to_string()
            .contains("no event has a similar name")
    );

    // A malformed format file names the file and the line.
    let err = fs.format(&"bad:broken".parse().unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("events/bad/broken/format: line 2"), "{msg}");

    // Path tricks are rejected before touching the file system.
    let err = fs.format(&EventName::new("..", "x")).unwrap_err();
    assert!(matches!(err, TracefsError::BadEventName { .. }), "{err:?}");
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn live_tracefs_lists_and_resolves() {
    let fs = Tracefs::discover_or_mount()
        .unwrap_or_else(|e| panic!("this test needs the live tracefs (run as root): {e}"));
    let sched = fs.events(Some("sched:*")).unwrap();
    assert!(
        sched.contains(&EventName::new("sched", "sched_switch")),
        "{sched:?}"
    );
    assert!(sched.iter().all(|e| e.system == "sched"));
    assert_eq!(
        fs.lookup("sched_switch").unwrap(),
        EventName::new("sched", "sched_switch")
    );
    let err = fs.lookup("sched:sched_swich").unwrap_err().to_string();
    assert!(err.contains("sched:sched_switch"), "{err}");
    // The same name exists in another system: e.g. `syscalls:sys_enter_getppid` asked as
    // `raw_syscalls:sys_enter_getppid`.
    let err = fs
        .lookup("raw_syscalls:sys_enter_getppid")
        .unwrap_err()
        .to_string();
    assert!(err.contains("syscalls:sys_enter_getppid"), "{err}");
}

//! `kpeek top` driven in tmux (send-keys, capture-pane): it renders, sorts, filters, pauses,
//! opens the detail view and help, and quits (q, Ctrl-C, SIGTERM) with the terminal restored
//! (no alternate screen, canonical mode and echo back). Needs tmux.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::monitor::BIN;

/// tmux on its own server (socket named after the session): tests start sessions in parallel,
/// and concurrent first sessions on one shared server can fail.
fn tmux(name: &str) -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", name]);
    c
}

/// A detached 160x40 tmux session `name` running `script` under `sh -c`.
fn new_session(name: &str, script: &str) {
    let st = tmux(name)
        .args([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "160",
            "-y",
            "40",
            "sh",
            "-c",
        ])
        .arg(script)
        .status()
        .expect("tmux (installed by scripts/setup)");
    assert!(st.success(), "tmux new-session {name}");
}

struct Tmux {
    name: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    /// `kpeek top ARGS` in a fresh 160x40 session; afterwards the pane records `stty -a`.
    fn start(args: &str) -> Tmux {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "kpeek-top-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "{BIN} top {args}; echo \"exit=$?\" > {d}/exit; stty -a > {d}/stty; sleep 60",
            d = dir.path().display()
        );
        new_session(&name, &script);
        Tmux { name, dir }
    }

    fn screen(&self) -> String {
        let out = tmux(&self.name)
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let st = tmux(&self.name)
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Wait until the screen satisfies `f`.
    fn wait(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alternate_on(&self) -> bool {
        let out = tmux(&self.name)
            .args(["display", "-p", "-t", &self.name, "#{alternate_on}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// After kpeek top ended: its exit status and whether the terminal was restored.
    fn ended(&self) -> String {
        let exit = self.dir.path().join("exit");
        let t = Instant::now();
        while !exit.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "kpeek top did not exit: {}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
        let stty = std::fs::read_to_string(self.dir.path().join("stty")).unwrap();
        let words: Vec<&str> = stty.split_whitespace().collect();
        assert!(
            words.contains(&"icanon") && words.contains(&"echo"),
            "not restored: {stty}"
        );
        assert!(!self.alternate_on(), "still on the alternate screen");
        std::fs::read_to_string(exit).unwrap().trim().to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&self.name).args(["kill-server"]).status();
    }
}

fn row_names(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains(':') && !w.ends_with(':'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn renders_sorts_filters_pauses_and_quits() {
    let t = Tmux::start("--source vmstat --source stat --file /nonexistent/kpeek-top -i 300ms");
    let s = t.wait("the table", |s| {
        s.contains("stat:context_switches") && s.contains("RATE/s")
    });
    assert!(s.contains("kpeek top —"));
    assert!(
        s.contains("ERROR") && s.contains("/nonexistent/kpeek-top"),
        "{s}"
    );
    assert!(t.alternate_on());
    // Sorted by name.
    let names = row_names(&s);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Sort by value, descending.
    t.keys(&["3"]);
    let s = t.wait("sort by value", |s| s.contains("sort: VALUE desc"));
    assert!(s.contains("VALUE▼"));
    // Filter.
    t.keys(&["/", "p", "g", "f", "a", "u", "l", "t", "Enter"]);
    let s = t.wait("the filter", |s| s.contains("filter: pgfault"));
    let names = row_names(&s);
    assert!(
        !names.is_empty() && names.iter().all(|n| n.contains("fault")),
        "{s}"
    );
    // Pause.
    t.keys(&["p"]);
    t.wait("paused", |s| s.contains("[PAUSED]"));
    // Details and help.
    t.keys(&["Enter"]);
    t.wait("details", |s| {
        s.contains("┌ details") && s.contains("history (rate/s)")
    });
    // Escape alone (a key right after it would read as Alt+key).
    t.keys(&["Escape"]);
    t.wait("the table again", |s| !s.contains("┌ details"));
    t.keys(&["?"]);
    t.wait("help", |s| {
        s.contains("┌ help") && s.contains("pause / resume")
    });
    t.keys(&["q"]);
    t.wait("back to the table", |s| !s.contains("┌ help"));
    t.keys(&["q"]);
    assert_eq!(t.ended(), "exit=0");
}

#[test]
fn ctrl_c_and_sigterm_restore_the_terminal() {
    let t = Tmux::start("--source stat -i 200ms");
    t.wait("the table", |s| s.contains("stat:context_switches"));
    t.keys(&["C-c"]);
    assert_eq!(t.ended(), "exit=0");

    let t = Tmux::start("--source stat -i 200ms");
    t.wait("the table", |s| s.contains("stat:context_switches"));
    let out = Command::new("pgrep")
        .args(["-f", "-n", "kpeek top --source stat -i 200ms"])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!pid.is_empty());
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(t.ended(), "exit=0");
}

#[test]
fn responsive_with_10000_metrics() {
    // 10,000 numbers through the vmstat source, from a tree KPEEK_SYSROOT points at.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proc")).unwrap();
    let body: String = (0..10_000)
        .map(|i| format!("bench_counter_{i:05} {}\n", i * 3))
        .collect();
    std::fs::write(dir.path().join("proc/vmstat"), body).unwrap();
    let name = format!("kpeek-top-10k-{}", std::process::id());
    let script = format!(
        "KPEEK_SYSROOT={} {BIN} top --source vmstat -i 500ms",
        dir.path().display()
    );
    new_session(&name, &script);
    let t = Tmux {
        name,
        dir: tempfile::tempdir().unwrap(),
    };
    t.wait("10,000 rows", |s| s.contains("10000 metrics, 10000 shown"));
    t.wait("rates", |s| s.contains("vmstat:bench_counter_00001"));
    // Each key is answered promptly while 10,000 series refresh twice a second.
    for (key, want) in [
        ("End", "vmstat:bench_counter_09999"),
        ("Home", "vmstat:bench_counter_00000"),
        ("p", "[PAUSED]"),
    ] {
        let start = Instant::now();
        t.keys(&[key]);
        t.wait(key, |s| s.contains(want));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{key} took {:?}",
            start.elapsed()
        );
    }
    t.keys(&["q"]);
}

//! `kpeek bpf maps`, `dump` and permissions on the live kernel, through the binary: a map made
//! by a running bpftrace is listed, and dumped with the values bpftrace prints at its exit; a
//! user without privileges gets an error naming the capabilities. Needs root, BPF, bpftrace
//! (scripts/setup installs it), setpriv (util-linux) and the `nobody` user.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kpeek");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run kpeek")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn set_comm(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string (truncated to 16 bytes).
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) }, 0);
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn bpftrace_map_listed_and_dumped_with_the_values_bpftrace_prints() {
    let before: Vec<u64> = maps_json()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    let mut bt = Command::new("bpftrace")
        .args([
            "-e",
            "tracepoint:syscalls:sys_enter_getppid { @calls[comm] = count(); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bpftrace (scripts/setup installs it)");
    let bt_pid = bt.id() as i32;
    // Stop bpftrace even when an assertion below fails.
    struct Kill(Option<i32>);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                // SAFETY: signalling our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let mut guard = Kill(Some(bt_pid));
    // bpftrace's output, read on the side (its stdout is a pipe: it may hold lines back).
    let mut stdout = bt.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    // bpftrace says "Attaching" before it attaches: wait for its map, then until a thread
    // named kpk-bt-sync is seen in it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let map = loop {
        let new: Vec<Value> = maps_json()
            .into_iter()
            .filter(|m| !before.contains(&m["id"].as_u64().unwrap()) && m["name"] == "AT_calls")
            .collect();
        if new.len() == 1 {
            break new[0].clone();
        }
        assert!(new.len() < 2, "several new AT_calls maps: {new:?}");
        assert!(
            Instant::now() < deadline,
            "kpeek bpf maps never listed bpftrace's map"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (
            map["type"].as_str(),
            map["key_size"].as_u64(),
            map["value_size"].as_u64()
        ),
        (Some("percpu_hash"), Some(16), Some(8))
    );
    let id = map["id"].to_string();
    let dump = |id: &str| -> Value {
        let d = run(&["bpf", "dump", id, "--json"]);
        assert!(d.status.success(), "{}", stderr(&d));
        serde_json::from_slice(&d.stdout).unwrap()
    };
    let entry = |d: &Value, key: &str| -> Option<Value> {
        d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .map(|e| e["value"].clone())
    };
    std::thread::spawn(|| {
        set_comm(c"kpk-bt-sync");
        for _ in 0..400 {
            // SAFETY: no preconditions.
            unsafe { libc::getppid() };
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    while entry(&dump(&id), "kpk-bt-sync").is_none() {
        assert!(Instant::now() < deadline, "bpftrace never counted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = 4321u64;
    std::thread::spawn(move || {
        set_comm(c"kpk-bt-test");
        for _ in 0..n {
            // SAFETY: no preconditions.
            unsafe { libc::getppid() };
        }
    })
    .join()
    .unwrap();
    let d = dump(&id);
    assert_eq!(d["btf"], false);
    assert_eq!(entry(&d, "kpk-bt-test"), Some(Value::from(n)), "{d}");
    let text = run(&["bpf", "dump", &id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("\"kpk-bt-test\": {n}")), "{text}");

    // bpftrace prints its maps and exits on SIGINT; a SIGINT that lands while it is busy can
    // go unnoticed, so repeat it every 2 s for up to 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut next_sig = Instant::now();
    loop {
        if Instant::now() >= next_sig {
            // SAFETY: signalling our own child, not yet reaped.
            unsafe { libc::kill(bt_pid, libc::SIGINT) };
            next_sig += Duration::from_secs(2);
        }
        if bt.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bpftrace did not exit on SIGINT within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    guard.0 = None;
    let rest = reader.join().unwrap();
    assert!(
        rest.contains(&format!("@calls[kpk-bt-test]: {n}\n")),
        "bpftrace printed: {rest}"
    );
}

fn maps_json() -> Vec<Value> {
    let o = run(&["bpf", "maps", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn non_root_gets_a_permission_error_naming_the_capabilities() {
    let o = common::as_nobody(&["bpf", "maps"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("permission denied") && e.contains("CAP_BPF") && e.contains("CAP_PERFMON"),
        "{e}"
    );
    let disabled = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled").unwrap();
    if disabled.trim() != "0" {
        assert!(e.contains("unprivileged_bpf_disabled"), "{e}");
    }
    let o = common::as_nobody(&[
        "bpf",
        "count",
        "syscalls:sys_enter_getppid",
        "--duration",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("ermission denied"), "{}", stderr(&o));
}

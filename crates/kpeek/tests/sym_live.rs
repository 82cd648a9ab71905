//! `kpeek sym` on the live `/proc/kallsyms` of the machine running the tests (CI runs as root),
//! including what an unprivileged user gets.

mod common;

use assert_cmd::Command;

fn kpeek(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap(), s(out.stdout), s(out.stderr))
}

fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn schedule_address_and_back() {
    let (code, out, err) = kpeek(&["sym", "schedule"], "");
    assert_eq!(code, 0, "{err}");
    // `schedule  0xffffffff821f8be0 T` (+ ` exported` on kernels with modules)
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[0], "schedule", "{out}");
    assert_eq!(fields[2], "T", "{out}");
    let addr = u64::from_str_radix(fields[1].strip_prefix("0x").unwrap(), 16).unwrap();
    assert!(addr > 0xffff_0000_0000_0000, "{out}");

    let q = format!("{:#x}", addr + 0x10);
    let (code, out, _) = kpeek(&["sym", &q, "schedule+0x10"], "");
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{q}  schedule+0x10/0x")),
        "{out}"
    );
    assert_eq!(lines[1], format!("schedule+0x10  {q}"));
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn json_and_exported_flag_on_live_kernel() {
    let (code, out, _) = kpeek(&["sym", "--json", "_printk", "__ksymtab__printk"], "");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let printk = &lines[0]["matches"];
    assert_eq!(printk.as_array().unwrap().len(), 1, "{out}");
    let has_ksymtab = !lines[1]["matches"].as_array().unwrap().is_empty();
    assert_eq!(printk[0]["exported"], has_ksymtab, "{out}");
    assert_eq!(code, if has_ksymtab { 0 } else { 1 });
    // Cross-check against the raw file.
    let raw = std::fs::read_to_string("/proc/kallsyms").unwrap();
    assert_eq!(
        has_ksymtab,
        raw.lines().any(|l| l.ends_with(" __ksymtab__printk"))
    );
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn symbolize_live_addresses() {
    let (_, out, _) = kpeek(&["sym", "schedule", "_printk"], "");
    let addrs: Vec<u64> = out
        .lines()
        .map(|l| {
            u64::from_str_radix(
                l.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .trim_start_matches("0x"),
                16,
            )
            .unwrap()
        })
        .collect();
    let text = format!(" [<{:016x}>] x\n ? {:#x}\n", addrs[0] + 4, addrs[1] + 8);
    let (code, out, _) = kpeek(&["sym", "symbolize", "--replace"], &text);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with(" [<schedule+0x4/0x"), "{out}");
    assert!(lines[1].starts_with(" ? _printk+0x8/0x"), "{out}");
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn stats_live() {
    let (code, out, _) = kpeek(&["sym", "--json", "stats"], "");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // BPF programs and ftrace trampolines come and go (other tests run at the same time): count
    // the rest, which is fixed while the kernel runs.
    let volatile = |m: &str| m == "bpf" || m == "__builtin__ftrace";
    let fixed: u64 = v["regions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !volatile(r["module"].as_str().unwrap()))
        .map(|r| r["symbols"].as_u64().unwrap())
        .sum();
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let lines = text
        .lines()
        .filter(|l| !l.ends_with("\t[bpf]") && !l.ends_with("\t[__builtin__ftrace]"))
        .count();
    assert_eq!(fixed, lines as u64);
    assert_eq!(v["regions"][0]["module"], "vmlinux");
    assert_eq!(v["address_digits"], 16);
}

/// What an unprivileged user sees depends on the sysctls (kernel `kallsyms_show_value()`):
/// kptr_restrict=0 shows addresses when perf_event_paranoid <= 1, otherwise CAP_SYSLOG is
/// needed, which `nobody` does not have. Run the real binary as `nobody` and check both ways.
#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn unprivileged_user_gets_the_kptr_restrict_error() {
    let out = common::as_nobody(&["sym", "schedule"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let (kptr, paranoid) = (sysctl("kptr_restrict"), sysctl("perf_event_paranoid"));
    let hidden = kptr != "0" || paranoid.parse::<i32>().unwrap() > 1;
    if hidden {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(out.stdout.is_empty());
        let want = format!(
            "all addresses are zero? kernel.kptr_restrict = {kptr}, kernel.perf_event_paranoid = {paranoid}"
        );
        assert!(err.starts_with("kpeek: /proc/kallsyms: all "), "{err}");
        assert!(
            err.contains(&format!(
                "(kernel.kptr_restrict = {kptr}, kernel.perf_event_paranoid = {paranoid})"
            )),
            "{want}: {err}"
        );
        assert!(err.contains("CAP_SYSLOG"), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(0), "{err}");
    }
}

//! The live `/proc/kallsyms` of the machine running the tests (CI runs as root).

use std::process::Command;

use ksyms::{Ksyms, SymExpr};

fn live() -> Ksyms {
    Ksyms::load_live()
        .unwrap_or_else(|e| panic!("these tests need the live /proc/kallsyms as root: {e}"))
}

/// Whether the running kernel was built with modules (hence `EXPORT_SYMBOL` tables).
fn kernel_has_modules() -> bool {
    let out = Command::new("sh")
        .args([
            "-c",
            "zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)",
        ])
        .output()
        .expect("sh");
    let config = String::from_utf8_lossy(&out.stdout);
    assert!(
        config.contains("CONFIG_"),
        "cannot read the kernel config (/proc/config.gz or /boot/config-*)"
    );
    config.lines().any(|l| l == "CONFIG_MODULES=y")
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn schedule_resolves_both_ways() {
    let ks = live();
    let s = ks.find("schedule");
    assert!(!s.is_empty(), "no `schedule` in /proc/kallsyms");
    let s = s[0];
    assert!(matches!(s.kind, 'T' | 't'));
    let r = ks.lookup(s.addr + 0x10).expect("schedule+0x10 resolves");
    assert_eq!(
        (r.symbol.name, r.offset, r.symbol.module),
        ("schedule", 0x10, None)
    );
    let size = r.size.expect("schedule has a size");
    assert!(size > 0x10 && size < 0x10000, "{r}");
    let back = ks.resolve_expr(&SymExpr::parse(&r.to_string()).unwrap());
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].addr, s.addr + 0x10);
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn live_table_is_complete_and_compact() {
    // Parse the very bytes counted: BPF programs loaded by concurrent tests change the live file.
    let raw = std::fs::read("/proc/kallsyms").unwrap();
    let lines = raw.iter().filter(|&&b| b == b'\n').count();
    let ks = Ksyms::parse_named(&raw, "/proc/kallsyms", &Default::default()).unwrap();
    assert_eq!(ks.len(), lines);
    assert!(live().len() > lines / 2);
    assert_eq!(ks.address_digits(), 16);
    assert!(
        ks.heap_bytes() < raw.len(),
        "index {} B > file {} B",
        ks.heap_bytes(),
        raw.len()
    );
    // Every text symbol's own address resolves to a symbol at that address.
    for s in ks.symbols().filter(|s| matches!(s.kind, 'T' | 't')) {
        let r = ks
            .lookup(s.addr)
            .unwrap_or_else(|| panic!("{s:?} does not resolve"));
        assert_eq!(r.symbol.addr, s.addr);
    }
}

#[test]
#[ignore = "needs root and the live kernel: /proc/kallsyms addresses; ./test-all runs it (cargo test -- --include-ignored)"]
fn exported_flag_matches_the_kernel() {
    let ks = live();
    let printk = ks.find("_printk");
    assert_eq!(printk.len(), 1, "_printk");
    // A kernel with modules exports _printk; one without has empty __ksymtab sections.
    let has_ksymtab = ks.find("__ksymtab__printk").len() == 1;
    assert_eq!(
        has_ksymtab,
        kernel_has_modules(),
        "__ksymtab__printk vs CONFIG_MODULES"
    );
    assert_eq!(ks.is_exported(&printk[0]), has_ksymtab);
    let st = ks.stats();
    if has_ksymtab {
        assert!(st.exported > 1000, "{}", st.exported);
    } else {
        let start = ks.find("__start___ksymtab")[0].addr;
        let stop = ks.find("__stop___ksymtab")[0].addr;
        assert_eq!(start, stop, "no modules, yet a non-empty __ksymtab");
        assert_eq!(st.exported, 0);
    }
}

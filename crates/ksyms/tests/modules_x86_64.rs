//! A real x86-64 table with modules: Debian's 6.12 kernel in the project's qemu guest
//! (`vmtest/run`) with configfs, kpeek.ko and kpeek_example.ko loaded.
//!
//! `tests/fixtures/x86_64-6.12-modules.kallsyms` is `vmtest/out/kallsyms-6.12.txt` trimmed to
//! the first 1200 lines, the last 300 lines of the core kernel and every module line:
//! ```sh
//! core=$(( $(grep -n -P '\t\[' kallsyms-6.12.txt | head -1 | cut -d: -f1) - 1 ))
//! { head -n 1200 kallsyms-6.12.txt; sed -n "$((core-299)),${core}p" kallsyms-6.12.txt;
//!   sed -n "$((core+1)),\$p" kallsyms-6.12.txt; } > x86_64-6.12-modules.kallsyms
//! ```

use std::path::PathBuf;

use ksyms::{Filter, Ksyms, Pattern, SymExpr};

fn table() -> Ksyms {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x86_64-6.12-modules.kallsyms");
    Ksyms::from_path(p).unwrap()
}

fn show(ks: &Ksyms, addr: u64) -> Option<String> {
    ks.lookup(addr).map(|r| r.to_string())
}

#[test]
fn loads_core_and_three_modules() {
    let ks = table();
    assert_eq!(ks.address_digits(), 16);
    assert_eq!(ks.len(), 2207);
    let mods: Vec<_> = ks.modules().collect();
    assert_eq!(mods, ["kpeek_example", "kpeek", "configfs"]);
    let st = ks.stats();
    let per_region: Vec<(&str, usize)> = st
        .regions
        .iter()
        .map(|r| (r.module.as_str(), r.symbols))
        .collect();
    assert_eq!(
        per_region,
        [
            (ksyms::CORE, 1500),
            ("kpeek_example", 25),
            ("kpeek", 403),
            ("configfs", 279)
        ]
    );
}

#[test]
fn module_symbols_resolve_with_their_module() {
    let ks = table();
    assert_eq!(
        show(&ks, 0xffffffffc0236014).as_deref(),
        Some("kpeek_counter_add+0x4/0x20 [kpeek]")
    );
    assert_eq!(
        show(&ks, 0xffffffffc024e014).as_deref(),
        Some("kpeek_example_write+0x4/0x40 [kpeek_example]")
    );
    // The 16-byte `__pfx_` padding before each function is its own symbol.
    assert_eq!(
        show(&ks, 0xffffffffc0236000).as_deref(),
        Some("__pfx_kpeek_counter_add+0x0/0x10 [kpeek]")
    );
    let r = ks.lookup(0xffffffffc0236014).unwrap();
    assert_eq!((r.symbol.kind, r.symbol.module), ('t', Some("kpeek")));
    // Round trip through a symbol expression.
    let e = SymExpr::parse("kpeek_counter_add+0x4 [kpeek]").unwrap();
    let back: Vec<u64> = ks.resolve_expr(&e).iter().map(|r| r.addr).collect();
    assert_eq!(back, [0xffffffffc0236014]);
}

#[test]
fn region_rules_at_module_boundaries() {
    let ks = table();
    // configfs ends at 0xffffffffc023219c (its orc_header); kpeek starts at 0xffffffffc0236000.
    assert_eq!(
        show(&ks, 0xffffffffc023219c).as_deref(),
        Some("orc_header+0x0 [configfs]")
    );
    assert_eq!(show(&ks, 0xffffffffc023219d), None);
    assert_eq!(show(&ks, 0xffffffffc0235fff), None);
    // kpeek_example's last symbol answers only for its own address.
    assert_eq!(
        show(&ks, 0xffffffffc0252388).as_deref(),
        Some("orc_header+0x0 [kpeek_example]")
    );
    assert_eq!(show(&ks, 0xffffffffc0252389), None);
    assert_eq!(show(&ks, u64::MAX), None);
    // Below the first module, past the core kernel's last symbol: nobody's.
    assert_eq!(
        show(&ks, 0xffffffffa1800000).as_deref(),
        Some("__init_scratch_end+0x0")
    );
    assert_eq!(show(&ks, 0xffffffffa1800001), None);
    assert_eq!(show(&ks, 0xffffffffc0220fff), None);
    // Sizes never reach into the next module: kpeek's last text symbol is bounded by kpeek's
    // own next symbol.
    let r = ks.lookup(0xffffffffc023c744).unwrap();
    assert_eq!(r.symbol.module, Some("kpeek"));
    let next = r.symbol.addr + r.size.unwrap();
    assert_eq!(ks.lookup(next).unwrap().symbol.module, Some("kpeek"));
    // Absolute per-CPU symbols at 0 and small offsets never answer.
    assert_eq!(show(&ks, 0x1000), None);
}

#[test]
fn same_name_in_several_modules() {
    let ks = table();
    let mut found: Vec<_> = ks
        .find("cleanup_module")
        .iter()
        .map(|s| (s.module, s.addr))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (Some("configfs"), 0xffffffffc0226720),
            (Some("kpeek"), 0xffffffffc023c740),
            (Some("kpeek_example"), 0xffffffffc024e120)
        ]
    );
    assert_eq!(ks.find("orc_header").len(), 3);
}

#[test]
fn exported_module_symbols() {
    let ks = table();
    for name in [
        "kpeek_counter_add",
        "kpeek_counter_read",
        "kpeek_counter_create",
        "kpeek_counter_destroy",
        "kpeek_group_destroy",
    ] {
        let s = ks.find(name);
        assert_eq!(s.len(), 1, "{name}");
        assert_eq!(s[0].module, Some("kpeek"), "{name}");
        assert!(
            ks.is_exported(&s[0]),
            "{name} has __ksymtab_{name} in [kpeek]"
        );
        let tab = ks.find(&format!("__ksymtab_{name}"));
        assert_eq!(tab.len(), 1, "{name}");
        assert_eq!((tab[0].module, tab[0].kind), (Some("kpeek"), 'r'));
    }
    let local = &ks.find("kpeek_counter_add_locked")[0];
    assert!(!ks.is_exported(local));
    let ex = &ks.find("kpeek_example_write")[0];
    assert!(!ks.is_exported(ex));
    let f = Filter {
        pattern: Pattern::glob("kpeek_*").unwrap(),
        module: Some("kpeek".into()),
        exported_only: true,
        ..Filter::default()
    };
    let mut names: Vec<_> = ks.search(&f).iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "kpeek_counter_add",
            "kpeek_counter_create",
            "kpeek_counter_destroy",
            "kpeek_counter_read",
            "kpeek_group_destroy"
        ]
    );
}

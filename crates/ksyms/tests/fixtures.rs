//! Real-world tables: the shared 32-bit ARM distro table with modules, and trimmed copies of this
//! project's own machines.

use std::path::PathBuf;

use ksyms::{Error, Filter, Ksyms, LoadOptions, Pattern, SymExpr};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The team's shared fixture: it must be there (`../shared/fixtures` beside the workspace).
fn arm32() -> Ksyms {
    Ksyms::from_path(arm32_path()).unwrap()
}

fn arm32_path() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/kallsyms/arm32-distro-with-modules.kallsyms");
    assert!(
        p.exists(),
        "shared fixture missing: {} (the repo expects ../shared/fixtures beside the workspace)",
        p.display()
    );
    p
}

/// What `ks` answers for `addr`: the `%pS` text and whether the symbol is exported.
fn answer(ks: &Ksyms, addr: u64) -> Option<(String, bool)> {
    ks.lookup(addr)
        .map(|r| (r.to_string(), ks.is_exported(&r.symbol)))
}

fn show(ks: &Ksyms, addr: u64) -> Option<String> {
    ks.lookup(addr).map(|r| r.to_string())
}

#[test]
fn arm32_loads_with_modules_and_32_bit_addresses() {
    let ks = arm32();
    assert_eq!(ks.address_digits(), 8);
    assert_eq!(ks.len(), 41_418);
    let mods: Vec<_> = ks.modules().collect();
    assert_eq!(mods, ["binfmt_misc", "i2c_bcm2708", "spi_bcm2708"]);
    let st = ks.stats();
    assert_eq!(st.mapping, 67);
    assert_eq!(st.per_type[&'T'], 9800);
    assert_eq!(
        st.regions.iter().map(|r| r.symbols).sum::<usize>(),
        ks.len()
    );
}

/// The one-pass path for a few addresses answers like the whole table on real tables read in
/// several chunks (arm32: 1.3 MB, 8-digit addresses, modules, mapping symbols, `__ksymtab_`
/// entries): 150 symbols spread over each table, each at its address, one byte past it and one
/// byte before it, in batches.
#[test]
fn few_address_tables_answer_like_the_whole_on_real_tables() {
    for path in [
        arm32_path(),
        fixture("x86_64-6.12-modules.kallsyms"),
        fixture("x86_64-6.18-trimmed.kallsyms"),
    ] {
        let whole = Ksyms::from_path(&path).unwrap();
        let addrs: Vec<u64> = whole
            .symbols()
            .step_by((whole.len() / 150).max(1))
            .flat_map(|s| [s.addr, s.addr + 1, s.addr.saturating_sub(1)])
            .collect();
        assert!(addrs.len() > 300, "{}", path.display());
        for batch in addrs.chunks(7) {
            let few = Ksyms::for_addresses(&path, batch)
                .unwrap_or_else(|| panic!("{} declined", path.display()));
            for &q in batch {
                assert_eq!(
                    answer(&few, q),
                    answer(&whole, q),
                    "{} at {q:#x}",
                    path.display()
                );
            }
        }
        // One address at a time: the path's common-line loop for a single query (which also
        // notes `__ksymtab_` lines), exported answers among them.
        let mut exported = 0;
        for &q in addrs.iter().step_by(7) {
            let few = Ksyms::for_addresses(&path, &[q])
                .unwrap_or_else(|| panic!("{} declined", path.display()));
            let (want, got) = (answer(&whole, q), answer(&few, q));
            exported += usize::from(want.as_ref().is_some_and(|w| w.1));
            assert_eq!(got, want, "{} at {q:#x} alone", path.display());
        }
        let has_exports = std::fs::read_to_string(&path)
            .unwrap()
            .contains(" __ksymtab_");
        assert_eq!(
            exported > 0,
            has_exports,
            "{}: exported answers",
            path.display()
        );
    }
}

#[test]
fn arm32_lookups_follow_pss_rules() {
    let ks = arm32();
    // $a/$d mapping symbols neither answer nor bound a size.
    assert_eq!(
        show(&ks, 0xbf00ae90).as_deref(),
        Some("scanarg+0x10/0x70 [binfmt_misc]")
    );
    assert_eq!(
        show(&ks, 0xc0100470).as_deref(),
        Some("run_init_process+0x18/0x28")
    );
    // Last symbol of a module: its own address only.
    assert_eq!(
        show(&ks, 0xbf00b3d0).as_deref(),
        Some("bm_mnt+0x0 [binfmt_misc]")
    );
    assert_eq!(show(&ks, 0xbf00b3d4), None);
    // Core kernel end: `_end`/`__bss_stop` are markers and last; `_end` comes first in the file.
    assert_eq!(show(&ks, 0xc0882900).as_deref(), Some("_end+0x0"));
    assert_eq!(show(&ks, 0xc0882904), None);
    assert_eq!(show(&ks, 0xc0000000), None);
    // No answer is ever a mapping or absolute symbol.
    for s in ks.symbols() {
        if let Some(r) = ks.lookup(s.addr) {
            assert!(!r.symbol.name.starts_with('$'), "{s:?} -> {r}");
            assert!(!matches!(r.symbol.kind, 'A' | 'a'), "{s:?} -> {r}");
        }
    }
}

#[test]
fn arm32_names_and_exports() {
    let ks = arm32();
    let p = ks.find("printk");
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].addr, p[0].kind, p[0].module), (0xc04d324c, 'T', None));
    assert!(ks.is_exported(&p[0]));
    let s = &ks.find("cleanup_module");
    assert_eq!(s.len(), 3, "one per module");
    assert!(s.iter().all(|s| s.module.is_some() && !ks.is_exported(s)));
    assert_eq!(ks.stats().exported, 5159);
    let f = Filter {
        pattern: Pattern::glob("bm_*").unwrap(),
        module: Some("binfmt_misc".into()),
        kinds: vec!['t'],
        ..Filter::default()
    };
    assert_eq!(ks.search(&f).len(), 8);
    let r = ks.resolve_expr(&SymExpr::parse("scanarg+0x10/0x70 [binfmt_misc]").unwrap());
    assert_eq!(r.iter().map(|r| r.addr).collect::<Vec<_>>(), [0xbf00ae90]);
}

#[test]
fn trimmed_x86_64_copy_of_this_machine() {
    let ks = Ksyms::from_path(fixture("x86_64-6.18-trimmed.kallsyms")).unwrap();
    assert_eq!(ks.address_digits(), 16);
    let s = &ks.find("schedule")[0];
    let r = ks.lookup(s.addr + 0x10).unwrap();
    assert_eq!((r.symbol.name, r.offset), ("schedule", 0x10));
    assert_eq!(ks.modules().collect::<Vec<_>>(), ["__builtin__ftrace"]);
    assert_eq!(
        show(&ks, 0xffffffffc0201000).as_deref(),
        Some("ftrace_trampoline+0x0 [__builtin__ftrace]")
    );
    // The four aliases of the kernel's first address: all kept, a global one preferred.
    let r = ks.lookup(0xffffffff81000004).unwrap();
    let names: Vec<_> = ks.aliases(&r).iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["srso_alias_untrain_ret", "_stext", "_text", "__pi__text"]
    );
}

#[test]
fn modules_fixture() {
    let ks = Ksyms::from_path(fixture("modules-x86_64.kallsyms")).unwrap();
    assert_eq!(
        show(&ks, 0xffffffff8110a0f4).as_deref(),
        Some("schedule+0x24/0xb0")
    );
    assert_eq!(
        show(&ks, 0xffffffffc0002010).as_deref(),
        Some("ext4_probe+0x10/0x100 [ext4]")
    );
    assert_eq!(
        show(&ks, 0xffffffffc0003010).as_deref(),
        Some("bpf_prog_6deef7357e7b4530_sd_fw_egress+0x10/0x800 [bpf]")
    );
    assert_eq!(
        show(&ks, 0xffffffffc0003810),
        None,
        "past the last BPF program"
    );
    assert_eq!(show(&ks, 0xffffffff82000010), None, "after _etext");
    let w = ks.find("do_work");
    assert_eq!(w.len(), 3);
    let exported: Vec<_> = ks
        .find("ext4_mount")
        .iter()
        .map(|s| ks.is_exported(s))
        .collect();
    assert_eq!(exported, [true]);
    assert!(ks.is_exported(&ks.find("_printk")[0]));
}

#[test]
fn system_map_without_module_column() {
    let ks = Ksyms::from_path(fixture("System.map-x86_64-excerpt")).unwrap();
    assert_eq!(ks.len(), 200);
    assert_eq!(ks.modules().count(), 0);
    assert!(ks.lookup(0xffffffff81000004).is_some());
}

#[test]
fn hidden_addresses_are_an_error_naming_kptr_restrict() {
    let err = Ksyms::from_path(fixture("hidden.kallsyms")).unwrap_err();
    assert!(matches!(err, Error::Hidden(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("kptr_restrict"), "{msg}");
    assert!(msg.contains("CAP_SYSLOG"), "{msg}");
    assert!(
        msg.contains("hidden.kallsyms: all 40 addresses are zero"),
        "{msg}"
    );
}

#[test]
fn malformed_line_is_reported_with_its_number_or_skipped() {
    let p = fixture("malformed.kallsyms");
    let err = Ksyms::from_path(&p).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "malformed.kallsyms:3: address is not hexadecimal: \"ffffffff8100zz00 T broken\""
        ),
        "{err}"
    );
    let ks = Ksyms::from_path_with(
        &p,
        &LoadOptions {
            lenient: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!((ks.len(), ks.skipped_lines()), (5, 1));
    assert_eq!(ks.first_skipped(), Some((3, "address is not hexadecimal")));
}

#[test]
fn empty_and_truncated_inputs() {
    assert!(matches!(Ksyms::parse(b""), Err(Error::Empty { .. })));
    assert!(matches!(Ksyms::parse(b"\n\n"), Err(Error::Empty { .. })));
    let e = Ksyms::parse(b"ffffffff81000000 T a\nffffffff8100").unwrap_err();
    assert_eq!(
        e.to_string(),
        "<memory>:2: missing symbol type and name: \"ffffffff8100\""
    );
    let e = Ksyms::from_path("/nonexistent/kallsyms").unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/kallsyms: "), "{e}");
}

/// The kernel prints `?` as the type of symbols `nm` could not classify (a debug build of 6.12
/// has `ffffffffb46e8000 ? __nosave_begin`): such a table loads, in every path, and its `?`
/// symbols answer lookups like any other.
#[test]
fn question_mark_types_load_in_every_path() {
    let text = "ffffffff81000000 T _stext\nffffffff81000100 t helper\n\
                ffffffff82000000 ? __nosave_begin\nffffffff82001000 D after\n";
    let whole = Ksyms::parse(text.as_bytes()).unwrap();
    let r = whole.lookup(0xffffffff82000010).unwrap();
    assert_eq!((r.symbol.name, r.symbol.kind), ("__nosave_begin", '?'));
    let few = Ksyms::parse_for_addresses(text.as_bytes(), &[0xffffffff82000010]).unwrap();
    assert_eq!(
        few.lookup(0xffffffff82000010).map(|r| r.to_string()),
        Some(r.to_string())
    );
}

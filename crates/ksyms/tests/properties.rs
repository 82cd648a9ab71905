//! Property tests: any generated table round-trips through text, lookups agree with a
//! brute-force reading of the rules, and no input makes the parser panic.

use ksyms::{Ksyms, LoadOptions, SymExpr};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Entry {
    addr: u64,
    kind: char,
    name: String,
    module: Option<&'static str>,
}

const MODULES: [Option<&str>; 5] = [
    None,
    Some("m1"),
    Some("m2"),
    Some("bpf"),
    Some("__builtin__ftrace"),
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z_][a-z0-9_.]{0,10}",
        1 => prop::sample::select(vec![
            "a", "b", "dup", "$x", "$d", "$a.1", "$x.12", "_etext", "__stop_sec", "__ksymtab_a",
            "__ksymtab_dup", "_end", "init_module",
        ])
        .prop_map(str::to_string),
    ]
}

fn entry(wide: bool) -> impl Strategy<Value = Entry> {
    // Addresses of different regions differ in their low 4 bits, so no address is shared by two
    // regions (the rules leave that case's tie-break to table order).
    let base: u64 = if wide {
        0xffff_ffff_8000_0000
    } else {
        0xbf00_0000
    };
    (
        0usize..MODULES.len(),
        0u64..4096,
        prop::sample::select(vec!['T', 't', 'D', 'd', 'R', 'r', 'B', 'b', 'W', 'A', 'a']),
        name(),
        0u8..20,
    )
        .prop_map(move |(m, k, kind, name, zero)| Entry {
            addr: if zero == 0 {
                0
            } else {
                base + k * 16 + m as u64
            },
            kind,
            name,
            module: MODULES[m],
        })
}

fn table() -> impl Strategy<Value = (bool, Vec<Entry>)> {
    any::<bool>().prop_flat_map(|wide| (Just(wide), prop::collection::vec(entry(wide), 1..120)))
}

fn render(wide: bool, entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        if wide {
            s.push_str(&format!("{:016x} {} {}", e.addr, e.kind, e.name));
        } else {
            s.push_str(&format!("{:08x} {} {}", e.addr, e.kind, e.name));
        }
        if let Some(m) = e.module {
            s.push_str(&format!("\t[{m}]"));
        }
        s.push('\n');
    }
    s
}

fn eligible(e: &Entry) -> bool {
    let b = e.name.as_bytes();
    let mapping = b.len() >= 2 && b[0] == b'$' && b"adtx".contains(&b[1]);
    e.addr != 0 && !matches!(e.kind, 'A' | 'a') && !mapping
}

fn is_marker(n: &str) -> bool {
    [
        "_etext",
        "_einittext",
        "_edata",
        "_end",
        "__bss_stop",
        "__init_end",
    ]
    .contains(&n)
        || n.starts_with("__stop_")
        || n.starts_with("__end_")
        || n.ends_with("_text_end")
}

/// The rules of `Ksyms::lookup`, read literally: the nearest eligible symbol at or below `q`
/// decides the region; O(n) per query.
fn brute(entries: &[Entry], q: u64) -> Option<(String, u64, Option<u64>, Option<&'static str>)> {
    if q == 0 {
        return None;
    }
    let mut best: Option<(u64, Option<&str>)> = None;
    for e in entries.iter().filter(|e| eligible(e) && e.addr <= q) {
        if best.is_none_or(|(b, _)| e.addr > b) {
            best = Some((e.addr, e.module));
        }
    }
    let (pred, m) = best?;
    let in_region: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.module == m && eligible(e))
        .collect();
    let next = in_region.iter().map(|e| e.addr).filter(|&a| a > pred).min();
    if next.is_none() && q != pred {
        return None;
    }
    let mut aliases: Vec<(usize, &Entry)> = in_region
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, e)| e.addr == pred)
        .collect();
    aliases.sort_by_key(|(i, e)| (is_marker(&e.name), e.kind.is_ascii_lowercase(), *i));
    let chosen = aliases[0].1;
    if is_marker(&chosen.name) && q != pred {
        return None;
    }
    Some((chosen.name.clone(), q - pred, next.map(|n| n - pred), m))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trips_through_text((wide, entries) in table()) {
        prop_assume!(entries.iter().any(|e| e.addr != 0));
        let ks = Ksyms::parse(render(wide, &entries).as_bytes()).unwrap();
        let key = |a: u64, k: char, n: &str, m: Option<&str>| (a, k, n.to_string(), m.map(str::to_string));
        let mut want: Vec<_> = entries.iter().map(|e| key(e.addr, e.kind, &e.name, e.module)).collect();
        let mut got: Vec<_> = ks.symbols().map(|s| key(s.addr, s.kind, s.name, s.module)).collect();
        want.sort();
        got.sort();
        prop_assert_eq!(&want, &got);
        // And again from the parsed table's own rendering.
        let again: Vec<Entry> = ks.symbols().map(|s| Entry {
            addr: s.addr, kind: s.kind, name: s.name.to_string(),
            module: MODULES.iter().copied().find(|m| *m == s.module).unwrap(),
        }).collect();
        let ks2 = Ksyms::parse(render(wide, &again).as_bytes()).unwrap();
        let mut got2: Vec<_> = ks2.symbols().map(|s| key(s.addr, s.kind, s.name, s.module)).collect();
        got2.sort();
        prop_assert_eq!(&want, &got2);
        // The re-rendered table is in index order (the loader's no-sort path): same answers.
        for e in &entries {
            for q in [e.addr, e.addr + 3, e.addr.wrapping_sub(1)] {
                let a = ks.lookup(q).map(|r| (r.symbol.name, r.offset, r.size, r.symbol.module));
                let b = ks2.lookup(q).map(|r| (r.symbol.name, r.offset, r.size, r.symbol.module));
                prop_assert_eq!(a, b, "address {:#x}", q);
            }
        }
        prop_assert_eq!(ks.address_digits(), if wide { 16 } else { 8 });
        prop_assert!(ks.heap_bytes() > 0);
    }

    #[test]
    fn lookups_agree_with_brute_force((wide, entries) in table(), probes in prop::collection::vec(any::<u64>(), 40)) {
        prop_assume!(entries.iter().any(|e| e.addr != 0));
        let ks = Ksyms::parse(render(wide, &entries).as_bytes()).unwrap();
        // Probe every symbol address, its neighbours, and random addresses near and far.
        let mut qs: Vec<u64> = entries.iter().flat_map(|e| [e.addr, e.addr.wrapping_sub(1), e.addr + 1, e.addr + 7]).collect();
        let base: u64 = if wide { 0xffff_ffff_8000_0000 } else { 0xbf00_0000 };
        qs.extend(probes.iter().map(|p| base + p % 70_000));
        qs.extend(probes);
        for q in qs {
            let got = ks.lookup(q).map(|r| (r.symbol.name.to_string(), r.offset, r.size, r.symbol.module));
            let want = brute(&entries, q);
            prop_assert_eq!(&got, &want, "address {:#x}", q);
            // The printed form resolves back to the same address.
            if let Some(r) = ks.lookup(q) {
                let text = r.to_string();
                let back = ks.resolve_expr(&SymExpr::parse(&text).unwrap());
                prop_assert!(back.iter().any(|b| b.addr == q), "{} -> {:?}", text, back);
            }
        }
        // Name lookups agree with a scan.
        for e in &entries {
            let n = ks.find(&e.name).len();
            prop_assert_eq!(n, entries.iter().filter(|x| x.name == e.name).count());
        }
    }

    #[test]
    fn odd_but_valid_layouts_parse_the_same((wide, entries) in table(), seps in prop::collection::vec(0u8..6, 120)) {
        prop_assume!(entries.iter().any(|e| e.addr != 0));
        // Tabs or several blanks between fields, CRLF line ends, blank lines, no final newline.
        let mut text = String::new();
        for (e, sep) in entries.iter().zip(seps.iter().cycle()) {
            let (a, b, end) = match sep {
                0 => ("  ", " ", "\n"),
                1 => ("\t", "\t", "\r\n"),
                2 => (" ", " ", "\n\n"),
                3 => (" ", "   ", "\n"),
                _ => (" ", " ", "\n"),
            };
            let addr = if wide { format!("{:016x}", e.addr) } else { format!("{:08x}", e.addr) };
            text.push_str(&format!("{addr}{a}{}{b}{}", e.kind, e.name));
            if let Some(m) = e.module {
                text.push_str(&format!("\t[{m}]"));
            }
            text.push_str(end);
        }
        let text = text.trim_end_matches('\n');
        let plain = Ksyms::parse(render(wide, &entries).as_bytes()).unwrap();
        let odd = Ksyms::parse(text.as_bytes()).unwrap();
        let a: Vec<_> = plain.symbols().map(|s| (s.addr, s.kind, s.name, s.module)).collect();
        let b: Vec<_> = odd.symbols().map(|s| (s.addr, s.kind, s.name, s.module)).collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for lenient in [false, true] {
            let opts = LoadOptions { lenient, ..LoadOptions::default() };
            if let Ok(ks) = Ksyms::parse_named(&bytes, "fuzz", &opts) {
                for q in [0, 1, u64::MAX, 0xffffffff81000000] {
                    let _ = ks.lookup(q);
                }
                let _ = ks.stats();
                let _ = ks.symbolize_text(&String::from_utf8_lossy(&bytes), ksyms::Mode::Append);
            }
        }
    }

    #[test]
    fn mangled_tables_never_panic((wide, entries) in table(), cut in any::<prop::sample::Index>(), junk in prop::collection::vec(any::<u8>(), 0..8)) {
        let text = render(wide, &entries).into_bytes();
        let at = cut.index(text.len() + 1);
        let mut bytes = text[..at].to_vec();
        bytes.extend_from_slice(&junk);
        bytes.extend_from_slice(&text[at..]);
        for b in [&text[..at], &bytes[..]] {
            match Ksyms::parse(b) {
                Ok(ks) => { let _ = ks.lookup(0xffff_ffff_8000_0010); }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            if let Ok(ks) = Ksyms::parse_named(b, "x", &LoadOptions { lenient: true, ..LoadOptions::default() }) {
                prop_assert!(ks.len() + ks.skipped_lines() <= entries.len() + 2);
            }
        }
    }
}

/// What a lookup answers, independent of the table it came from: text, address, type,
/// module, size, exported.
type Answer = (String, u64, char, Option<String>, Option<u64>, bool);

fn answer(ks: &Ksyms, q: u64) -> Option<Answer> {
    ks.lookup(q).map(|r| {
        (
            r.to_string(),
            r.symbol.addr,
            r.symbol.kind,
            r.symbol.module.map(str::to_string),
            r.size,
            ks.is_exported(&r.symbol),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The one-pass table for a few addresses answers them exactly like the whole table
    /// (aliases, markers, region ends, sizes, exported flags), or declines.
    #[test]
    fn few_address_table_answers_like_the_whole(
        (wide, entries) in table(),
        picks in prop::collection::vec((0usize..1000, 0u64..40), 1..6),
    ) {
        let text = render(wide, &entries);
        let whole = Ksyms::parse(text.as_bytes());
        let addrs: Vec<u64> = picks
            .iter()
            .map(|&(i, off)| entries[i % entries.len()].addr.wrapping_add(off))
            .collect();
        let few = Ksyms::parse_for_addresses(text.as_bytes(), &addrs);
        match (&whole, &few) {
            (Ok(whole), Some(few)) => {
                for &q in &addrs {
                    prop_assert_eq!(answer(whole, q), answer(few, q), "address {:#x}", q);
                }
            }
            // These tables are all well-formed and of one width: nothing to decline.
            (Ok(_), None) => prop_assert!(false, "declined a well-formed table"),
            // Answering where the whole table is an error is never allowed.
            (Err(_), None) => {}
            (Err(e), Some(_)) => prop_assert!(false, "the whole table fails ({e}) but the fast path answered"),
        }
    }
}

#[test]
fn few_address_table_declines_hidden_and_malformed_tables() {
    let hidden = "0000000000000000 T a\n0000000000000000 T b\n";
    assert!(Ksyms::parse_for_addresses(hidden.as_bytes(), &[0]).is_none());
    let bad = "ffffffff81000000 T a\nnot a line\n";
    assert!(Ksyms::parse_for_addresses(bad.as_bytes(), &[0xffffffff81000000]).is_none());
    let ok = "ffffffff81000000 T a\nffffffff81000010 T b\n";
    let few = Ksyms::parse_for_addresses(ok.as_bytes(), &[0xffffffff81000004]).unwrap();
    assert_eq!(
        few.lookup(0xffffffff81000004).unwrap().to_string(),
        "a+0x4/0x10"
    );
}

//! Property tests: the expression parser and the type walker/decoder on made-up types.

use kpeek_peek::expr::{Base, CpuSel, Expr, Step};
use kpeek_peek::testkit::{VecMemory, types_from_bytes};
use kpeek_peek::types::TypeRef;
use kpeek_peek::value::decode;
use kpeek_peek::walk::{Place, walk};
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,12}"
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        ident().prop_map(Step::Field),
        ident().prop_map(Step::Arrow),
        any::<u64>().prop_map(Step::Index),
    ]
}

/// Symbol names, dotted and odd ones too (printed quoted): anything but `"` and NUL.
fn sym_name() -> impl Strategy<Value = String> {
    prop_oneof![
        ident(),
        "[A-Za-z_][A-Za-z0-9_]{0,8}\\.(constprop\\.|isra\\.|)[0-9]{1,3}",
        "[^\"\\x00]{1,12}",
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let base = prop_oneof![
        (proptest::option::of(ident()), sym_name())
            .prop_map(|(module, name)| Base::Symbol { module, name }),
        any::<u64>().prop_map(Base::Address),
    ];
    let cpu = proptest::option::of(prop_oneof![
        any::<u32>().prop_map(CpuSel::Cpu),
        Just(CpuSel::All),
        Just(CpuSel::Sum),
    ]);
    (base, cpu, proptest::collection::vec(step(), 0..6)).prop_map(|(base, cpu, steps)| Expr {
        base,
        cpu,
        steps,
    })
}

proptest! {
    #[test]
    fn display_then_parse_is_identity(e in expr()) {
        let text = e.to_string();
        prop_assert_eq!(Expr::parse(&text).unwrap(), e);
    }

    #[test]
    fn a_quoted_name_is_taken_whole(name in "[^\"\\x00]{1,20}", field in ident()) {
        let e = Expr::parse(&format!("\"{name}\".{field}")).unwrap();
        prop_assert_eq!(e.base, Base::Symbol { module: None, name: name.clone() });
        prop_assert_eq!(e.steps, vec![Step::Field(field)]);
    }

    #[test]
    fn any_text_parses_or_names_a_column_inside_it(s in "\\PC{0,40}") {
        match Expr::parse(&s) {
            Ok(e) => {
                // What parses prints back to something that parses the same.
                prop_assert_eq!(Expr::parse(&e.to_string()).unwrap(), e);
            }
            Err(err) => {
                prop_assert!(err.pos <= s.len());
                let col = format!("column {}", err.pos + 1);
                prop_assert!(err.to_string().contains(&col), "{} lacks {}", err, col);
            }
        }
    }

    #[test]
    fn walking_and_decoding_made_up_types_never_panics(
        tydata in proptest::collection::vec(any::<u8>(), 0..64),
        mem in proptest::collection::vec(any::<u8>(), 0..512),
        e in expr(),
        pick in any::<u8>(),
        depth in 0u32..4,
    ) {
        let (types, made) = types_from_bytes(&tydata);
        let ty: TypeRef = made[usize::from(pick) % made.len()];
        let base = 0xffff_8880_0000_0000u64;
        let memory = VecMemory { base, bytes: mem.clone() };
        // Every name C can spell is fair: the walker must answer with a value or an error.
        let _ = types.name(ty);
        if let Ok(place) = walk(&types, &memory, &e, 0, Place { addr: base, ty, bits: None })
            && let Ok(size) = types.size_of(place.ty)
            && size < 4096
        {
            let off = place.addr.wrapping_sub(base) as usize;
            if let Some(bytes) = mem.get(off..off.saturating_add(size as usize)) {
                let _ = decode(&types, place.ty, bytes, place.bits, depth);
            }
        }
        let _ = decode(&types, ty, &mem, None, depth);
    }
}

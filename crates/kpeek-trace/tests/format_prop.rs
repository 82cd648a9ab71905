//! Property tests of the format-file parser: it never panics, round-trips what the kernel
//! writes, and reports a line inside the input for anything malformed.

use kpeek_trace::format::{EventFormat, FieldKind};
use proptest::prelude::*;

/// A field as the kernel would declare it: (type, array suffix, element size, signed).
#[derive(Clone, Debug)]
struct Decl {
    c_type: &'static str,
    array: Option<usize>,
    elem_size: usize,
    signed: bool,
    dynamic: bool,
}

fn decl() -> impl Strategy<Value = Decl> {
    let scalar = prop_oneof![
        Just(("u8", 1, false)),
        Just(("unsigned short", 2, false)),
        Just(("int", 4, true)),
        Just(("pid_t", 4, true)),
        Just(("unsigned long", 8, false)),
        Just(("s64", 8, true)),
        Just(("bool", 1, false)),
        Just(("void *", 8, false)),
        Just(("const char *const *", 8, false)),
        Just(("enum zone_type", 4, false)),
        Just(("char", 1, false)),
    ];
    (
        scalar,
        prop_oneof![Just(None), (1usize..40).prop_map(Some)],
        0u8..6,
    )
        .prop_map(|((c_type, elem_size, signed), array, dyn_pick)| {
            let dynamic = dyn_pick == 0 && !c_type.contains('*') && c_type != "bool";
            Decl {
                c_type,
                array,
                elem_size,
                signed,
                dynamic,
            }
        })
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,12}"
}

/// (name, c_type, offset, size, signed) of one field.
type Expected = (String, String, usize, usize, bool);

/// Render a format file from declarations; returns the text and the expected
/// (name, c_type, offset, size, signed) of the event's own fields.
fn render(decls: &[(Decl, String)], rel: bool) -> (String, Vec<Expected>) {
    let mut text = String::from(
        "name: prop_event\nID: 4242\nformat:\n\
         \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
         \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
         \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
         \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n",
    );
    let mut offset = 8;
    let mut expected = Vec::new();
    for (i, (d, name)) in decls.iter().enumerate() {
        let name = format!("{name}_{i}");
        let (c_type, decl, size) = if d.dynamic {
            let loc = if rel { "__rel_loc" } else { "__data_loc" };
            let t = format!("{loc} {}[]", d.c_type);
            (t.clone(), format!("{t} {name}"), 4)
        } else if let Some(n) = d.array {
            let t = format!("{}[{n}]", d.c_type);
            (t, format!("{} {name}[{n}]", d.c_type), d.elem_size * n)
        } else {
            (
                d.c_type.to_string(),
                format!("{} {name}", d.c_type),
                d.elem_size,
            )
        };
        text.push_str(&format!(
            "\tfield:{decl};\toffset:{offset};\tsize:{size};\tsigned:{};\n",
            d.signed as u8
        ));
        expected.push((name, c_type, offset, size, d.signed));
        offset += size;
    }
    text.push_str("\nprint fmt: \"x=%d\", REC->x\n");
    (text, expected)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_any_text(s in "\\PC{0,400}") {
        let _ = EventFormat::parse(&s);
    }

    #[test]
    fn never_panics_on_format_like_text(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("name: x".to_string()),
                Just("ID: 1".to_string()),
                Just("format:".to_string()),
                Just(String::new()),
                "\tfield:[a-z_ *\\[\\]0-9]{0,30};\toffset:[0-9x-]{0,12};\tsize:[0-9]{0,12};\tsigned:[0-9]{0,2};",
                "print fmt: \\PC{0,20}",
                "[a-z:;\\[\\] \t]{0,30}",
            ],
            0..20,
        )
    ) {
        let text = lines.join("\n");
        if let Err(e) = EventFormat::parse(&text) {
            prop_assert!(e.line >= 1 && e.line <= lines.len() + 1, "{e} for {text:?}");
        }
    }

    #[test]
    fn round_trips_kernel_layouts(
        decls in proptest::collection::vec((decl(), ident()), 0..12),
        rel in any::<bool>(),
    ) {
        let (text, expected) = render(&decls, rel);
        let f = EventFormat::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(f.id, 4242);
        prop_assert_eq!(f.common_fields.len(), 4);
        prop_assert_eq!(f.fields.len(), expected.len());
        for (field, (name, c_type, offset, size, signed)) in f.fields.iter().zip(&expected) {
            prop_assert_eq!(&field.name, name);
            prop_assert_eq!(&field.c_type, c_type);
            prop_assert_eq!(field.offset, *offset);
            prop_assert_eq!(field.size, *size);
            prop_assert_eq!(field.signed, *signed);
            prop_assert_eq!(field.kind.fixed_size(), Some(*size), "{:?}", field.kind);
            let is_dyn = matches!(field.kind, FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. });
            prop_assert_eq!(is_dyn, c_type.starts_with("__"));
        }
    }

    #[test]
    fn mutated_formats_fail_cleanly(
        decls in proptest::collection::vec((decl(), ident()), 1..6),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            Just(""), Just(";"), Just(":"), Just("["), Just("]"), Just("\n"), Just(" "),
            Just("x"), Just("-1"), Just("99999999999999999999"), Just("\t"),
        ]), 1..4),
    ) {
        let (mut text, _) = render(&decls, false);
        for (at, with) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            let end = (i + 1).min(text.len());
            let end = if text.is_char_boundary(end) { end } else { i };
            text.replace_range(i..end, with);
        }
        let lines = text.lines().count();
        if let Err(e) = EventFormat::parse(&text) {
            prop_assert!(e.line >= 1 && e.line <= lines + 1, "{e} for {text:?}");
        }
    }
}

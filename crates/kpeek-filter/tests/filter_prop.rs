//! The filter parser: examples of the kernel's grammar, errors with positions, and properties
//! (printing any AST parses back to it; arbitrary input never panics).

use kpeek_filter::{Expr, Op, ParseErrorKind, Pred, Value, parse};
use proptest::prelude::*;

fn pred(field: &str, op: Op, value: Value) -> Expr {
    Expr::Pred(Pred {
        field: field.into(),
        op,
        value,
    })
}

#[test]
fn a_bare_word_with_both_quotes_prints_back() {
    let e = parse("a~!\"'").unwrap();
    assert_eq!(parse(&e.to_string()).unwrap(), e);
}

#[test]
fn kernel_examples_parse() {
    let e = parse("((sig >= 10 && sig < 15) || sig == 17) && comm != bash").unwrap();
    let want = Expr::And(
        Box::new(Expr::Or(
            Box::new(Expr::And(
                Box::new(pred("sig", Op::Ge, Value::Int(10))),
                Box::new(pred("sig", Op::Lt, Value::Int(15))),
            )),
            Box::new(pred("sig", Op::Eq, Value::Int(17))),
        )),
        Box::new(pred("comm", Op::Ne, Value::Str("bash".into()))),
    );
    assert_eq!(e, want);
    assert_eq!(
        parse("flags & 0x10").unwrap(),
        pred("flags", Op::BitAnd, Value::Int(16))
    );
    assert_eq!(
        parse("mode == 0755").unwrap(),
        pred("mode", Op::Eq, Value::Int(0o755))
    );
    assert_eq!(
        parse("prev_prio<-1").unwrap(),
        pred("prev_prio", Op::Lt, Value::Int(-1))
    );
    assert_eq!(
        parse("name ~ \"eth*\"").unwrap(),
        pred("name", Op::Glob, Value::Str("eth*".into()))
    );
    assert_eq!(
        parse("name ~ *lo*").unwrap(),
        pred("name", Op::Glob, Value::Str("*lo*".into()))
    );
    assert_eq!(
        parse("comm == 'a b'").unwrap(),
        pred("comm", Op::Eq, Value::Str("a b".into()))
    );
    assert_eq!(
        parse("!(a == 1)||b==2&&c==3").unwrap(),
        Expr::Or(
            Box::new(Expr::Not(Box::new(pred("a", Op::Eq, Value::Int(1))))),
            Box::new(Expr::And(
                Box::new(pred("b", Op::Eq, Value::Int(2))),
                Box::new(pred("c", Op::Eq, Value::Int(3))),
            )),
        )
    );
    assert_eq!(
        parse("x == 18446744073709551615").unwrap(),
        pred("x", Op::Eq, Value::Int(u64::MAX as i128))
    );
    assert_eq!(
        parse("x == -9223372036854775808").unwrap(),
        pred("x", Op::Eq, Value::Int(i64::MIN as i128))
    );
}

#[test]
fn errors_say_what_and_where() {
    let cases: &[(&str, usize, ParseErrorKind)] = &[
        ("", 0, ParseErrorKind::Empty),
        ("   ", 3, ParseErrorKind::Empty),
        ("a == ", 5, ParseErrorKind::ExpectedValue("==")),
        ("a 1", 2, ParseErrorKind::ExpectedOp("a".into())),
        ("== 1", 0, ParseErrorKind::ExpectedField),
        ("a == \"x", 5, ParseErrorKind::UnterminatedString),
        ("(a == 1", 7, ParseErrorKind::ExpectedClose),
        ("a == 1 b", 7, ParseErrorKind::Trailing("b".into())),
        ("a < \"x\"", 4, ParseErrorKind::NeedsInt("<")),
        ("a ~ 3", 4, ParseErrorKind::NeedsString("~")),
        ("a == 0x", 5, ParseErrorKind::BadInt("0x".into())),
        ("a == 09", 5, ParseErrorKind::BadInt("09".into())),
        (
            "a == 18446744073709551616",
            5,
            ParseErrorKind::IntRange("18446744073709551616".into()),
        ),
        (
            "a == -9223372036854775809",
            6,
            ParseErrorKind::IntRange("-9223372036854775809".into()),
        ),
        ("a == 1 &&", 9, ParseErrorKind::ExpectedField),
    ];
    for (input, pos, kind) in cases {
        let e = parse(input).expect_err(input);
        assert_eq!((e.pos, &e.kind), (*pos, kind), "{input:?}");
        assert!(e.to_string().contains(&format!("offset {pos}")), "{e}");
    }
    let deep = format!("{}a == 1{}", "(".repeat(500), ")".repeat(500));
    assert!(matches!(
        parse(&deep).unwrap_err().kind,
        ParseErrorKind::TooDeep(_)
    ));
    let nots = format!("{}a == 1", "!".repeat(500));
    assert!(matches!(
        parse(&nots).unwrap_err().kind,
        ParseErrorKind::TooDeep(_)
    ));
}

fn arb_pred() -> impl Strategy<Value = Expr> {
    let field = "[a-z_][a-z0-9_]{0,8}";
    let int = prop_oneof![
        any::<i64>().prop_map(|v| v as i128),
        any::<u64>().prop_map(|v| v as i128)
    ];
    let s = "[a-zA-Z0-9 _*?.\"-]{0,10}";
    prop_oneof![
        (
            field,
            prop::sample::select(vec![
                Op::Eq,
                Op::Ne,
                Op::Lt,
                Op::Le,
                Op::Gt,
                Op::Ge,
                Op::BitAnd
            ]),
            int
        )
            .prop_map(|(f, op, v)| pred(&f, op, Value::Int(v))),
        (
            field,
            prop::sample::select(vec![Op::Eq, Op::Ne, Op::Glob]),
            s
        )
            .prop_map(|(f, op, v)| pred(&f, op, Value::Str(v))),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    arb_pred().prop_recursive(6, 40, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Expr::Not(Box::new(a))),
        ]
    })
}

proptest! {
    #[test]
    fn printing_parses_back(e in arb_expr()) {
        let text = e.to_string();
        prop_assert_eq!(parse(&text).map_err(|e| e.to_string()), Ok(e), "{}", text);
    }

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn grammar_tokens_never_panic(s in "[a-z0-9 ()!&|=<>~\"'*x-]{0,40}") {
        if let Ok(e) = parse(&s) {
            prop_assert_eq!(parse(&e.to_string()).ok(), Some(e));
        }
    }
}

/// The segment form a BPF program evaluates answers as the kernel's matcher does, for every
/// pattern and text (bytes from a small alphabet full of glob syntax, so classes, escapes,
/// malformed classes and several `*`s are common).
mod glob_props {
    use kpeek_filter::glob::{Glob, glob_match};
    use proptest::prelude::*;

    fn pat() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("*"),
                Just("?"),
                Just("["),
                Just("]"),
                Just("!"),
                Just("-"),
                Just("\\"),
                Just("[a-b]"),
                Just("[!a]"),
            ],
            0..12,
        )
        .prop_map(|v| v.concat())
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'a'),
                Just(b'b'),
                Just(b'c'),
                Just(b'['),
                Just(b']'),
                Just(b'-'),
                Just(b'!'),
                Just(b'*'),
                Just(b'\\')
            ],
            0..10,
        )
    }

    fn kernel(p: &str, t: &[u8]) -> bool {
        match p.strip_prefix('!') {
            Some(body) => !glob_match(body.as_bytes(), t),
            None => glob_match(p.as_bytes(), t),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn segments_match_as_the_kernel_does(p in pat(), t in text()) {
            prop_assert_eq!(Glob::parse(&p).matches(&t), kernel(&p, &t), "pattern {:?} text {:?}", p, String::from_utf8_lossy(&t));
        }

        #[test]
        fn any_bytes_match_as_the_kernel_does(p in "\\PC{0,10}", t in proptest::collection::vec(any::<u8>(), 0..12)) {
            prop_assert_eq!(Glob::parse(&p).matches(&t), kernel(&p, &t));
        }
    }

    #[test]
    fn literal_and_prefix_forms() {
        for (p, t) in [("lo", "lo"), ("eth*", "eth0"), ("eth*", "et")] {
            let g = Glob::parse(p);
            assert_eq!(g.matches(t.as_bytes()), kernel(p, t.as_bytes()));
        }
    }
}

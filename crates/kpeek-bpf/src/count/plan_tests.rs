//! Tests of plan.rs.

use super::*;

const NETIF: &str = "name: netif_receive_skb\nID: 2303\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;\n\
\tfield:unsigned int len;\toffset:16;\tsize:4;\tsigned:0;\n\
\tfield:__data_loc char[] name;\toffset:20;\tsize:4;\tsigned:0;\n\n\
print fmt: \"dev=%s\", __get_str(name)\n";

fn netif() -> EventFormat {
    let mut f = EventFormat::parse(NETIF).unwrap();
    f.name = kpeek_trace::tracefs::EventName::new("net", "netif_receive_skb");
    f
}

#[test]
fn names_resolve_to_sources() {
    let f = netif();
    assert_eq!(
        resolve(&f, "len").unwrap(),
        Source::Int {
            offset: 16,
            bytes: 4,
            signed: false
        }
    );
    assert_eq!(
        resolve(&f, "name").unwrap(),
        Source::Str {
            offset: 20,
            loc: StrLoc::DataLoc
        }
    );
    assert_eq!(
        resolve(&f, "skbaddr").unwrap(),
        Source::Int {
            offset: 8,
            bytes: 8,
            signed: false
        }
    );
    assert_eq!(resolve(&f, "common_pid").unwrap(), Source::Tid);
    assert_eq!(resolve(&f, "comm").unwrap(), Source::Comm);
    assert!(matches!(
        resolve(&f, "common_flags"),
        Err(Error::CannotExpress { .. })
    ));
    match resolve(&f, "lenn") {
        Err(Error::UnknownField { close, .. }) => assert_eq!(close[0], "len"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn key_layout_and_filters() {
    let req = Request {
        by: vec!["name".into(), "cpu".into(), "comm".into()],
        filter: Some(kpeek_filter::parse(r#"name ~ "eth*" && len > 100"#).unwrap()),
        ..Default::default()
    };
    let (layout, plans) = plan(&[netif()], &req).unwrap();
    let kinds: Vec<(usize, SlotKind)> = layout.slots.iter().map(|s| (s.offset, s.kind)).collect();
    assert_eq!(
        kinds,
        [
            (0, SlotKind::Str { width: DYN_STR }),
            (32, SlotKind::Int { signed: false }),
            (40, SlotKind::Str { width: 16 }),
        ]
    );
    assert_eq!(layout.size, 56);
    let Some(Cond::And(a, b)) = &plans[0].filter else {
        panic!()
    };
    assert_eq!(
        **a,
        Cond::Str {
            src: Source::Str {
                offset: 20,
                loc: StrLoc::DataLoc
            },
            bytes: b"eth".to_vec(),
            exact: false,
            negate: false
        }
    );
    assert!(matches!(
        **b,
        Cond::Int {
            op: Op::Gt,
            value: 100,
            ..
        }
    ));
}

fn filter_of(f: &str) -> Option<Cond> {
    let req = Request {
        filter: Some(kpeek_filter::parse(f).unwrap()),
        ..Default::default()
    };
    plan(&[netif()], &req).unwrap().1.remove(0).filter
}

#[test]
fn globs_take_the_cheapest_form() {
    let name = Source::Str {
        offset: 20,
        loc: StrLoc::DataLoc,
    };
    let str_cond = |bytes: &[u8], exact| Cond::Str {
        src: name.clone(),
        bytes: bytes.to_vec(),
        exact,
        negate: false,
    };
    assert_eq!(filter_of("name ~ lo"), Some(str_cond(b"lo\0", true)));
    assert_eq!(filter_of("name == lo"), Some(str_cond(b"lo\0", true)));
    assert_eq!(filter_of("name ~ eth*"), Some(str_cond(b"eth", false)));
    assert_eq!(
        filter_of("name ~ !eth*"),
        Some(Cond::Not(Box::new(str_cond(b"eth", false))))
    );
    assert_eq!(filter_of("name ~ * || len > 3"), None);
    assert_eq!(filter_of("name ~ !* && len > 3"), Some(Cond::False));
    assert!(matches!(filter_of("name ~ *lo"), Some(Cond::Glob { .. })));
    assert!(matches!(filter_of("name ~ l?"), Some(Cond::Glob { .. })));
    // 31 bytes could be a cut longer name in the 32-byte stack copy: matched in full.
    let l31 = "y".repeat(31);
    assert!(matches!(
        filter_of(&format!("name == {l31}")),
        Some(Cond::Not(_)) | Some(Cond::Glob { .. })
    ));
}

#[test]
fn what_bpf_cannot_do_is_an_error() {
    let bad = |filter: &str| {
        let req = Request {
            filter: Some(kpeek_filter::parse(filter).unwrap()),
            ..Default::default()
        };
        match plan(&[netif()], &req) {
            Err(Error::CannotExpress { what }) => what,
            r => panic!("{filter}: {r:?}"),
        }
    };
    let long = "x".repeat(GLOB_STR);
    assert!(bad(&format!("name == {long}")).contains("longer than the 255 bytes"));
    assert!(bad(&format!("name ~ *{long}")).contains("longer than the 255 bytes"));
    assert!(bad(r#"comm ~ "0123456789abcdef*""#).contains("longer than the 15 bytes"));
    assert!(bad("name > 3").contains("string"));
    assert!(bad(r#"len == "x""#).contains("integer"));
    let req = Request {
        hist: Some("name".into()),
        ..Default::default()
    };
    assert!(matches!(
        plan(&[netif()], &req),
        Err(Error::CannotExpress { .. })
    ));
    let req = Request {
        by: vec!["comm".into(); 20],
        ..Default::default()
    };
    assert!(
        matches!(plan(&[netif()], &req), Err(Error::CannotExpress { what }) if what.contains("key of"))
    );
}

use super::*;
use proptest::prelude::*;

fn tlv(ty: u16, v: &[u8]) -> Vec<u8> {
    let mut b = ((v.len() + 4) as u16).to_ne_bytes().to_vec();
    b.extend_from_slice(&ty.to_ne_bytes());
    b.extend_from_slice(v);
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    b
}

fn attrs(raw: &[u8]) -> Attrs {
    Attrs(
        parse_attrs(raw)
            .unwrap()
            .into_iter()
            .map(|(t, v)| (t, v.to_vec()))
            .collect(),
    )
}

#[test]
fn decodes_a_counter() {
    let raw = [
        tlv(attr::ID, &7u64.to_ne_bytes()),
        tlv(attr::GROUP_ID, &3u64.to_ne_bytes()),
        tlv(attr::GROUP, b"kpeek_example\0"),
        tlv(attr::COUNTER, b"writes\0"),
        tlv(attr::PAD, &[]),
        tlv(attr::VALUE, &42u64.to_ne_bytes()),
    ]
    .concat();
    let c = decode_counter(&attrs(&raw)).unwrap();
    assert_eq!(
        c,
        NlCounter {
            id: 7,
            group_id: Some(3),
            group: "kpeek_example".into(),
            counter: "writes".into(),
            value: 42
        }
    );
}

#[test]
fn names_what_is_wrong() {
    let ok = |extra: Vec<u8>| {
        [
            tlv(attr::ID, &7u64.to_ne_bytes()),
            tlv(attr::COUNTER, b"c"),
            extra,
        ]
        .concat()
    };
    for (raw, want) in [
        (ok(tlv(attr::GROUP, b"g")), "KPEEK_A_VALUE is missing"),
        (
            [ok(tlv(attr::GROUP, b"g")), tlv(attr::VALUE, &[1, 2, 3])].concat(),
            "KPEEK_A_VALUE has 3 bytes, expected 8",
        ),
        (
            [ok(tlv(attr::GROUP, b"g\0x")), tlv(attr::VALUE, &[0; 8])].concat(),
            "NUL inside",
        ),
        (
            [ok(tlv(attr::GROUP, b"a-b")), tlv(attr::VALUE, &[0; 8])].concat(),
            "may only contain",
        ),
    ] {
        let e = decode_counter(&attrs(&raw)).unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    let info = [
        tlv(attr::ABI_VERSION, &2u32.to_ne_bytes()),
        tlv(attr::GROUPS, &1u32.to_ne_bytes()),
        tlv(attr::COUNTERS, &4u32.to_ne_bytes()),
    ]
    .concat();
    assert_eq!(
        decode_info(&attrs(&info)).unwrap_err().to_string(),
        "KPEEK_A_GENERATION is missing"
    );
}

#[test]
fn attribute_walker_refuses_bad_lengths() {
    assert!(
        parse_attrs(&[8, 0, 1, 0, 1, 2])
            .unwrap_err()
            .to_string()
            .contains("length 8")
    );
    assert!(
        parse_attrs(&[2, 0, 1, 0])
            .unwrap_err()
            .to_string()
            .contains("length 2")
    );
    assert_eq!(
        parse_attrs(&[1, 2]).unwrap_err(),
        AttrError::Stray { offset: 0, len: 2 }
    );
    // Nested/byte-order flags are stripped from the type.
    assert_eq!(parse_attrs(&[4, 0, 7, 0x80]).unwrap(), [(7, &[][..])]);
}

/// The controller resolves its own family, `nlctrl` (id `GENL_ID_CTRL`, 16), and its
/// `notify` group (also 16) on any Linux kernel, without privileges; an unknown family is
/// ENOENT, which reads as "the module is not loaded".
#[test]
fn resolves_families_through_the_controller() {
    let nl = Netlink::connect_unresolved().unwrap();
    assert_eq!(
        nl.resolve_family("nlctrl", "notify").unwrap(),
        (16, Some(16))
    );
    assert_eq!(
        nl.resolve_family("nlctrl", "no_such_group").unwrap(),
        (16, None)
    );
    let e = nl.resolve_family("kpeek_nosuch", "x").unwrap_err();
    assert!(matches!(e, Error::NotLoaded { .. }), "{e:?}");
}

proptest! {
    #[test]
    fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(a) = parse_attrs(&b) {
            let a = Attrs(a.into_iter().map(|(t, v)| (t, v.to_vec())).collect());
            let _ = decode_counter(&a);
            let _ = decode_info(&a);
            let _ = crate::notify::decode_notification(&a);
        }
    }
}

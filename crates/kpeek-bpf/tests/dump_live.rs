//! `objects::dump` of a map made here with BTF (a struct key with a char array and a bitfield,
//! a struct value with an enum and a signed field): the decoded entries are exactly what was
//! stored. And `objects::maps` lists it with its BTF ids.

use std::ffi::CString;

use kpeek_bpf::decode::Decoded;
use kpeek_bpf::objects;
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

/// Build the BTF, load it into the kernel, return (btf pointer, key type, value type).
fn make_btf() -> (*mut libbpf_sys::btf, i32, i32) {
    let c = |s: &str| CString::new(s).unwrap();
    // SAFETY: libbpf's BTF builder: each call gets the builder made by btf__new_empty and
    // valid NUL-terminated names; every id returned is checked to be positive.
    unsafe {
        let b = libbpf_sys::btf__new_empty();
        assert!(!b.is_null());
        let u32_t = libbpf_sys::btf__add_int(b, c("unsigned int").as_ptr(), 4, 0);
        let char_t =
            libbpf_sys::btf__add_int(b, c("char").as_ptr(), 1, libbpf_sys::BTF_INT_CHAR as i32);
        let s64_t =
            libbpf_sys::btf__add_int(b, c("long").as_ptr(), 8, libbpf_sys::BTF_INT_SIGNED as i32);
        let u64_t = libbpf_sys::btf__add_int(b, c("unsigned long").as_ptr(), 8, 0);
        let comm_t = libbpf_sys::btf__add_array(b, u32_t, char_t, 16);
        let key_t = libbpf_sys::btf__add_struct(b, c("kkey").as_ptr(), 24);
        assert!(libbpf_sys::btf__add_field(b, c("comm").as_ptr(), comm_t, 0, 0) == 0);
        assert!(libbpf_sys::btf__add_field(b, c("cpu").as_ptr(), u32_t, 128, 0) == 0);
        assert!(libbpf_sys::btf__add_field(b, c("low3").as_ptr(), u32_t, 160, 3) == 0);
        assert!(libbpf_sys::btf__add_field(b, c("next5").as_ptr(), u32_t, 163, 5) == 0);
        let state_t = libbpf_sys::btf__add_enum(b, c("kstate").as_ptr(), 4);
        assert!(libbpf_sys::btf__add_enum_value(b, c("IDLE").as_ptr(), 0) == 0);
        assert!(libbpf_sys::btf__add_enum_value(b, c("BUSY").as_ptr(), 7) == 0);
        let val_t = libbpf_sys::btf__add_struct(b, c("kval").as_ptr(), 24);
        assert!(libbpf_sys::btf__add_field(b, c("count").as_ptr(), u64_t, 0, 0) == 0);
        assert!(libbpf_sys::btf__add_field(b, c("delta").as_ptr(), s64_t, 64, 0) == 0);
        assert!(libbpf_sys::btf__add_field(b, c("state").as_ptr(), state_t, 128, 0) == 0);
        for id in [u32_t, char_t, s64_t, u64_t, comm_t, key_t, state_t, val_t] {
            assert!(id > 0, "btf__add_*: {id}");
        }
        assert_eq!(
            libbpf_sys::btf__load_into_kernel(b),
            0,
            "loading BTF into the kernel"
        );
        (b, key_t, val_t)
    }
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn map_with_btf_is_listed_and_dumped_decoded() {
    let (b, key_t, val_t) = make_btf();
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        // SAFETY: b is the loaded BTF object made above.
        btf_fd: unsafe { libbpf_sys::btf__fd(b) } as u32,
        btf_key_type_id: key_t as u32,
        btf_value_type_id: val_t as u32,
        ..Default::default()
    };
    let map = MapHandle::create(MapType::Hash, Some("kpk_btf_test"), 24, 24, 8, &opts)
        .expect("create map");
    let mut key = [0u8; 24];
    key[..6].copy_from_slice(b"kpeek\0");
    key[16..20].copy_from_slice(&3u32.to_ne_bytes());
    // low3 = 5, next5 = 17: bits 0..3 and 3..8 of the u32 at byte 20.
    key[20..24].copy_from_slice(&(5u32 | (17 << 3)).to_ne_bytes());
    let mut val = [0u8; 24];
    val[..8].copy_from_slice(&123_456u64.to_ne_bytes());
    val[8..16].copy_from_slice(&(-42i64).to_ne_bytes());
    val[16..20].copy_from_slice(&7u32.to_ne_bytes());
    map.update(&key, &val, MapFlags::ANY).expect("update");

    let info = map.info().expect("info");
    let id = info.info.id;
    let listed = objects::maps().expect("maps");
    let m = listed.iter().find(|m| m.id == id).expect("listed");
    assert_eq!((m.name.as_str(), m.ty.as_str()), ("kpk_btf_test", "hash"));
    assert!(m.btf_id != 0);
    assert_eq!(
        (m.btf_key_type_id, m.btf_value_type_id),
        (key_t as u32, val_t as u32)
    );

    let found = objects::find_map(&id.to_string()).expect("find by id");
    let d = objects::dump(&found).expect("dump");
    assert!(d.btf);
    assert_eq!(d.entries.len(), 1);
    let e = &d.entries[0];
    assert_eq!(
        e.key,
        Decoded::Struct(vec![
            ("comm".into(), Decoded::Str("kpeek".into())),
            ("cpu".into(), Decoded::UInt(3)),
            ("low3".into(), Decoded::UInt(5)),
            ("next5".into(), Decoded::UInt(17)),
        ])
    );
    assert_eq!(
        e.value,
        Decoded::Struct(vec![
            ("count".into(), Decoded::UInt(123_456)),
            ("delta".into(), Decoded::Int(-42)),
            ("state".into(), Decoded::Enum("BUSY".into())),
        ])
    );
    assert_eq!(
        e.key.to_string(),
        r#"{comm: "kpeek", cpu: 3, low3: 5, next5: 17}"#
    );
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(json["value"]["state"], "BUSY");
    assert_eq!(json["value"]["delta"], -42);
    // SAFETY: the builder is no longer used (the kernel keeps its own copy).
    unsafe { libbpf_sys::btf__free(b) };
}

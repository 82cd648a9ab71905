//! The BTF reader: against libbpf's parser on the running kernel's whole BTF (every type's kind,
//! name, size and members), on known kernel types, and by property on BTF written here.

use std::ffi::{CStr, CString};

use kpeek_peek::btf::{BtfTypes, PERCPU_SEC};
use kpeek_peek::testkit::BtfWriter;
use kpeek_peek::types::{RecordKind, Ty, TypeRef, TypeSource, Types};
use proptest::prelude::*;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// libbpf's view of one type: kind, name, size-or-type, vlen.
fn libbpf_types() -> Vec<(u32, String, u32, u32)> {
    let path = CString::new(VMLINUX).unwrap();
    // SAFETY: a NUL-terminated path; a NULL result is checked below.
    let btf = unsafe { libbpf_sys::btf__parse(path.as_ptr(), std::ptr::null_mut()) };
    assert!(!btf.is_null(), "libbpf cannot parse {VMLINUX}");
    // SAFETY: btf is a valid handle from btf__parse.
    let n = unsafe { libbpf_sys::btf__type_cnt(btf) };
    let mut out = Vec::new();
    for id in 1..n {
        // SAFETY: id < btf__type_cnt, so the type exists; the pointer lives as long as btf.
        let t = unsafe { &*libbpf_sys::btf__type_by_id(btf, id) };
        // SAFETY: name_off comes from the same BTF; libbpf returns a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(libbpf_sys::btf__name_by_offset(btf, t.name_off)) };
        out.push((
            (t.info >> 24) & 0x1f,
            name.to_string_lossy().into_owned(),
            // SAFETY: a union of two u32s; either reading is the same bits.
            unsafe { t.__bindgen_anon_1.size },
            t.info & 0xffff,
        ));
    }
    // SAFETY: btf came from btf__parse and is freed once.
    unsafe { libbpf_sys::btf__free(btf) };
    out
}

#[test]
fn every_vmlinux_type_matches_libbpf() {
    let ours = BtfTypes::vmlinux().expect("this machine's kernel has BTF");
    let theirs = libbpf_types();
    assert_eq!(ours.type_count() as usize, theirs.len() + 1, "type count");
    let mut types = Types::new();
    let src = types.add(Box::new(BtfTypes::vmlinux().unwrap()));
    let (mut records, mut checked) = (0, 0);
    for (i, (kind, name, size, vlen)) in theirs.iter().enumerate() {
        let id = i as u64 + 1;
        let t = ours.get(id);
        let named = |n: &Option<String>| n.clone().unwrap_or_default() == *name;
        match (kind, &t) {
            (
                4 | 5,
                Ok(Ty::Record {
                    kind: k,
                    name: n,
                    size: s,
                    members,
                }),
            ) => {
                assert_eq!(*k == RecordKind::Union, *kind == 5, "type {id}");
                assert!(named(n), "type {id}: {n:?} vs {name}");
                assert_eq!(*s, u64::from(*size), "type {id} size");
                assert_eq!(members.len(), *vlen as usize, "type {id} members");
                records += 1;
            }
            (
                1,
                Ok(Ty::Int {
                    name: n, size: s, ..
                }),
            ) => {
                assert_eq!(n, name, "type {id}");
                assert_eq!(s, size, "type {id}");
            }
            (
                6 | 19,
                Ok(Ty::Enum {
                    name: n, values, ..
                }),
            ) => {
                assert!(named(n), "type {id}");
                assert_eq!(values.len(), *vlen as usize, "type {id}");
            }
            (8, Ok(Ty::Typedef { name: n, target })) => {
                assert_eq!(n, name, "type {id}");
                assert_eq!(target.id, u64::from(*size), "type {id} target");
            }
            (2, Ok(Ty::Ptr(target))) => assert_eq!(target.id, u64::from(*size)),
            (3, Ok(Ty::Array { .. })) | (7, Ok(Ty::Fwd { .. })) | (16, Ok(Ty::Float { .. })) => {}
            (9 | 10 | 11 | 14 | 18, Ok(Ty::Qualified { target, .. })) => {
                assert_eq!(target.id, u64::from(*size), "type {id} target")
            }
            (12 | 13, Ok(Ty::Func)) => {}
            (15 | 17, Err(_)) => {}
            _ => panic!("type {id}: libbpf says kind {kind} `{name}`, we say {t:?}"),
        }
        checked += 1;
        // Names and sizes of every record through the model too.
        if *kind == 4 {
            let r = TypeRef { src, id };
            assert_eq!(types.size_of(r).unwrap(), u64::from(*size));
        }
    }
    assert!(
        records > 1000 && checked == theirs.len(),
        "{records} records"
    );
}

#[test]
fn known_kernel_types_and_percpu_vars() {
    let btf = BtfTypes::vmlinux().unwrap();
    let pc = btf.percpu_vars();
    assert!(pc.contains_key("runqueues"), "no per-CPU runqueues");
    let rq = pc["runqueues"];
    let mut types = Types::new();
    let src = types.add(Box::new(btf));
    let rq_ty = TypeRef {
        src,
        id: u64::from(rq.type_id),
    };
    assert_eq!(types.name(rq_ty), "struct rq");
    let task = types.find("struct", "task_struct").unwrap();
    let (comm, _, _) = types.member(task, "comm").unwrap().unwrap();
    assert_eq!(types.name(comm), "char[16]");
    let (pid, _, _) = types.member(task, "pid").unwrap().unwrap();
    assert_eq!(types.name(pid), "pid_t");
    assert_eq!(types.size_of(pid).unwrap(), 4);
    assert!(types.find("struct", "no_such_struct_here").is_none());
    assert!(types.find("", "u64").is_some());
    assert_eq!(PERCPU_SEC, ".data..percpu");
}

#[test]
fn split_btf_refers_to_its_base() {
    let mut base = BtfWriter::new();
    let int = base.int("int", 4, true, false);
    let mut m = BtfWriter::split(&base);
    let s = m.record(false, "my_dev", 8, &[("a", int, 0, 0), ("b", int, 32, 0)]);
    let var = m.raw("hits", 14, 0, false, int, &[1]);
    let sec = m.raw(PERCPU_SEC, 15, 1, false, 4, &[var, 16, 4]);
    assert_eq!((int, s, sec), (1, 2, 4));
    let b = BtfTypes::from_bytes(&base.bytes(), "base").unwrap();
    let split = BtfTypes::split_from_bytes(&b, &m.bytes(), "split").unwrap();
    let pc = split.percpu_vars();
    assert_eq!(pc["hits"].offset, 16);
    assert_eq!(pc["hits"].type_id, int);
    let mut types = Types::new();
    let src = types.add(Box::new(split));
    let r = types.find("struct", "my_dev").unwrap();
    assert_eq!(r, TypeRef { src, id: 2 });
    let (b_ty, off, _) = types.member(r, "b").unwrap().unwrap();
    assert_eq!((types.name(b_ty).as_str(), off), ("int", 32));
}

#[test]
fn malformed_btf_is_an_error_naming_the_problem() {
    let mut w = BtfWriter::new();
    w.int("int", 4, true, false);
    let good = w.bytes();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "shorter than a header"),
        (
            {
                let mut b = good.clone();
                b[0] = 0;
                b
            },
            "magic",
        ),
        (
            {
                let mut b = good.clone();
                b[2] = 2;
                b
            },
            "version",
        ),
        (good[..good.len() - 1].to_vec(), "runs past the end"),
        (
            {
                let mut b = good.clone();
                b[24 + 7] = 30;
                b
            },
            "unknown kind 30",
        ),
    ];
    for (bytes, want) in cases {
        let e = BtfTypes::from_bytes(&bytes, "t.btf")
            .err()
            .expect(want)
            .to_string();
        assert!(e.contains(want) && e.contains("t.btf"), "{want}: {e}");
    }
}

/// A made-up type for the round trip.
#[derive(Debug, Clone)]
enum Gen {
    Int(u32, bool),
    Ptr(u32),
    Array(u32, u32),
    Struct(Vec<(u32, u32, u32)>),
    Enum(Vec<i32>, bool),
    Enum64(Vec<i64>),
    Typedef(u32),
}

fn arb_type() -> impl Strategy<Value = Gen> {
    prop_oneof![
        (
            prop_oneof![Just(1u32), Just(2), Just(4), Just(8)],
            any::<bool>()
        )
            .prop_map(|(s, g)| Gen::Int(s, g)),
        any::<u32>().prop_map(Gen::Ptr),
        (any::<u32>(), any::<u32>()).prop_map(|(e, n)| Gen::Array(e, n)),
        proptest::collection::vec((any::<u32>(), 0u32..0xff_ffff, 0u32..64), 0..6)
            .prop_map(Gen::Struct),
        (proptest::collection::vec(any::<i32>(), 0..5), any::<bool>())
            .prop_map(|(v, s)| Gen::Enum(v, s)),
        proptest::collection::vec(any::<i64>(), 0..5).prop_map(Gen::Enum64),
        any::<u32>().prop_map(Gen::Typedef),
    ]
}

proptest! {
    /// Whatever types are written, each reads back as written.
    #[test]
    fn written_types_read_back(gens in proptest::collection::vec(arb_type(), 1..24)) {
        let mut w = BtfWriter::new();
        let n = gens.len() as u32;
        for (i, g) in gens.iter().enumerate() {
            let name = format!("t{i}");
            match g {
                Gen::Int(s, signed) => { w.int(&name, *s, *signed, false); }
                Gen::Ptr(t) => { w.raw("", 2, 0, false, t % (n + 1), &[]); }
                Gen::Array(e, len) => { w.raw("", 3, 0, false, 0, &[e % (n + 1), 1, *len]); }
                Gen::Struct(ms) => {
                    let names: Vec<String> = (0..ms.len()).map(|j| format!("m{j}")).collect();
                    let ms: Vec<(&str, u32, u32, u32)> = ms.iter().zip(&names)
                        .map(|((t, off, bits), nm)| (nm.as_str(), t % (n + 1), *off, *bits)).collect();
                    w.record(false, &name, 64, &ms);
                }
                Gen::Enum(vs, signed) => {
                    let mut rest = Vec::new();
                    for (j, v) in vs.iter().enumerate() { rest.push(w.str(&format!("E{i}_{j}"))); rest.push(*v as u32); }
                    w.raw(&name, 6, vs.len() as u32, *signed, 4, &rest);
                }
                Gen::Enum64(vs) => {
                    let mut rest = Vec::new();
                    for (j, v) in vs.iter().enumerate() {
                        rest.push(w.str(&format!("E{i}_{j}")));
                        rest.push(*v as u64 as u32);
                        rest.push((*v as u64 >> 32) as u32);
                    }
                    w.raw(&name, 19, vs.len() as u32, true, 8, &rest);
                }
                Gen::Typedef(t) => { w.raw(&name, 8, 0, false, t % (n + 1), &[]); }
            }
        }
        let b = BtfTypes::from_bytes(&w.bytes(), "gen").unwrap();
        prop_assert_eq!(b.type_count(), n + 1);
        for (i, g) in gens.iter().enumerate() {
            let id = i as u64 + 1;
            let t = b.get(id).unwrap();
            let name = format!("t{i}");
            match (g, t) {
                (Gen::Int(s, signed), Ty::Int { name: nm, size, signed: sg, .. }) => {
                    prop_assert_eq!((nm, size, sg), (name.clone(), *s, *signed));
                    prop_assert_eq!(b.find("", &name), Some(id));
                }
                (Gen::Ptr(t), Ty::Ptr(r)) => prop_assert_eq!(r.id, u64::from(t % (n + 1))),
                (Gen::Array(e, len), Ty::Array { elem, len: l }) => {
                    prop_assert_eq!((elem.id, l), (u64::from(e % (n + 1)), u64::from(*len)));
                }
                (Gen::Struct(ms), Ty::Record { members, name: nm, .. }) => {
                    prop_assert_eq!(nm, Some(name.clone()));
                    prop_assert_eq!(b.find("struct", &name), Some(id));
                    let bitfields = ms.iter().any(|m| m.2 != 0);
                    for (j, ((t, off, bits), m)) in ms.iter().zip(&members).enumerate() {
                        prop_assert_eq!(m.name.clone(), Some(format!("m{j}")));
                        prop_assert_eq!(m.ty.id, u64::from(t % (n + 1)));
                        prop_assert_eq!(m.bit_offset, u64::from(*off));
                        prop_assert_eq!(m.bit_size, (bitfields && *bits != 0).then_some(*bits));
                    }
                }
                (Gen::Enum(vs, signed), Ty::Enum { values, signed: sg, .. }) => {
                    prop_assert_eq!(sg, *signed);
                    let want: Vec<i64> = vs.iter().map(|v| if *signed { i64::from(*v) } else { i64::from(*v as u32) }).collect();
                    prop_assert_eq!(values.iter().map(|v| v.1).collect::<Vec<_>>(), want);
                }
                (Gen::Enum64(vs), Ty::Enum { values, .. }) => {
                    prop_assert_eq!(values.iter().map(|v| v.1).collect::<Vec<_>>(), vs.clone());
                    prop_assert_eq!(b.find("enum", &name), Some(id));
                }
                (Gen::Typedef(t), Ty::Typedef { target, name: nm }) => {
                    prop_assert_eq!((target.id, nm), (u64::from(t % (n + 1)), name));
                }
                (g, t) => prop_assert!(false, "{g:?} read back as {t:?}"),
            }
        }
        prop_assert!(b.get(u64::from(n) + 1).is_err());
    }

    /// Damaged BTF (any byte changed, or cut anywhere) is an error or reads, never a panic.
    #[test]
    fn damaged_btf_never_panics(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut w = BtfWriter::new();
        let int = w.int("int", 4, true, false);
        let p = w.raw("", 2, 0, false, int, &[]);
        w.record(false, "s", 16, &[("a", int, 0, 0), ("p", p, 64, 0)]);
        let var = w.raw("v", 14, 0, false, int, &[1]);
        w.raw(PERCPU_SEC, 15, 1, false, 4, &[var, 0, 4]);
        let mut bytes = w.bytes();
        let i = at.index(bytes.len());
        if cut { bytes.truncate(i) } else { bytes[i] = byte }
        if let Ok(b) = BtfTypes::from_bytes(&bytes, "damaged") {
            let _ = b.percpu_vars();
            let mut types = Types::new();
            let src = types.add(Box::new(b));
            for id in 0..8 {
                let r = TypeRef { src, id };
                let _ = types.name(r);
                let _ = types.size_of(r);
                let _ = types.member(r, "a");
            }
        }
    }
}

//! Property: for any set of groups and counters laid out the way kpeek.ko lays them out (procfs
//! lines, sysfs files, configfs directories, debugfs's `counters`, the binary `read()` snapshot of
//! /dev/kpeek), every
//! file-backed channel returns the same Snapshot, equal to the model's (ioctl, mmap and netlink
//! need the real module). The qemu guest checks the same against the real module (kpeek-guest
//! channels-agree).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use kpeek_client::{Channel, CounterValue, Snapshot, SysRoot};
use proptest::prelude::*;

type Model = BTreeMap<String, BTreeMap<String, u64>>;

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,31}".prop_filter("reserved", |n| n != "info" && n != "reset")
}

fn model() -> impl Strategy<Value = Model> {
    proptest::collection::btree_map(
        name(),
        proptest::collection::btree_map(name(), any::<u64>(), 0..6),
        0..6,
    )
}

fn lay_out(root: &Path, m: &Model) {
    let sys = root.join("sys/kernel/kpeek");
    let cfs = root.join("sys/kernel/config/kpeek/groups");
    fs::create_dir_all(root.join("proc")).unwrap();
    fs::create_dir_all(&sys).unwrap();
    fs::create_dir_all(&cfs).unwrap();
    fs::write(sys.join("info"), "1\n").unwrap();
    // procfs in "creation" order: reverse of the sorted order, to make sure sorting happens.
    let mut proc = String::new();
    for (g, cs) in m.iter().rev() {
        fs::create_dir_all(sys.join(g)).unwrap();
        fs::write(sys.join(g).join("reset"), "").unwrap();
        fs::create_dir_all(cfs.join(g)).unwrap();
        fs::write(cfs.join(g).join("description"), "\n").unwrap();
        for (c, v) in cs.iter().rev() {
            proc.push_str(&format!("{g} {c} {v}\n"));
            fs::write(sys.join(g).join(c), format!("{v}\n")).unwrap();
            fs::create_dir_all(cfs.join(g).join(c)).unwrap();
            fs::write(cfs.join(g).join(c).join("value"), format!("{v}\n")).unwrap();
            fs::write(cfs.join(g).join(c).join("description"), "x\n").unwrap();
        }
    }
    fs::write(root.join("proc/kpeek"), &proc).unwrap();
    fs::create_dir_all(root.join("sys/kernel/debug/kpeek")).unwrap();
    fs::write(root.join("sys/kernel/debug/kpeek/counters"), &proc).unwrap();
    fs::create_dir_all(root.join("dev")).unwrap();
    fs::write(root.join("dev/kpeek"), dev_snapshot(m)).unwrap();
}

/// The `read()` snapshot of /dev/kpeek for the model, in reverse ("creation") order.
fn dev_snapshot(m: &Model) -> Vec<u8> {
    use kpeek_abi::dev::{CounterRec, SnapHeader, to_cbuf};
    let recs: Vec<CounterRec> = m
        .iter()
        .rev()
        .flat_map(|(g, cs)| {
            cs.iter().rev().map(move |(c, v)| CounterRec {
                id: 1,
                group_id: 2,
                value: *v,
                group: to_cbuf(g).unwrap(),
                counter: to_cbuf(c).unwrap(),
            })
        })
        .collect();
    let h = SnapHeader {
        magic: kpeek_abi::dev::SNAP_MAGIC,
        abi_version: kpeek_abi::ABI_VERSION as u16,
        header_size: size_of::<SnapHeader>() as u16,
        record_size: size_of::<CounterRec>() as u32,
        count: recs.len() as u32,
        generation: 1,
    };
    let mut out = bytemuck::bytes_of(&h).to_vec();
    for r in &recs {
        out.extend_from_slice(bytemuck::bytes_of(r));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_channel_returns_the_model(m in model()) {
        let dir = tempfile::tempdir().unwrap();
        lay_out(dir.path(), &m);
        let want = Snapshot::new(
            m.iter()
                .flat_map(|(g, cs)| cs.iter().map(move |(c, v)| CounterValue::new(g, c, *v)))
                .collect(),
        );
        let root = SysRoot::new(dir.path());
        for ch in [
            Channel::Procfs,
            Channel::Sysfs,
            Channel::Configfs,
            Channel::Debugfs,
            Channel::Chardev,
        ] {
            let got = ch.open(&root).snapshot().unwrap();
            prop_assert_eq!(&got, &want, "{}", ch);
        }
    }
}

//! `errnos`: every write path, fed bad input with kpeek-client's own checks turned off, answers
//! with the errno the contract names, and kpeek-client turns it into a message naming the rule.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use kpeek_client::configfs::Configfs;
use kpeek_client::sysfs::Sysfs;
use kpeek_client::{Error, SysRoot};

use crate::report::Report;

#[derive(clap::Args)]
pub struct Args {}

const G: &str = "errno_g";

/// Expect `res` to fail with `errno` and a message containing `text`.
fn expect(r: &Report, name: &str, res: kpeek_client::Result<()>, errno: i32, text: &str) {
    match res {
        Ok(()) => r.fail(name, &format!("accepted, want errno {errno}")),
        Err(e) => {
            let msg = e.to_string();
            r.check(name, e.errno() == Some(errno) && msg.contains(text), || {
                format!(
                    "got errno {:?} ({msg}), want {errno} and {text:?}",
                    e.errno()
                )
            })
        }
    }
}

fn raw_write(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write(data).map(drop)
}

pub fn run(root: &SysRoot, r: &Report, _a: Args) -> anyhow::Result<()> {
    let cfs = Configfs::new(root).unchecked();
    let long = "x".repeat(32);
    let longest = "y".repeat(31);
    let too_long = "name longer than 31 bytes";
    let bad_name = "invalid name: names are 1..31 bytes of [A-Za-z0-9_]";

    // Groups.
    expect(
        r,
        "group: 32 bytes -> ENAMETOOLONG",
        cfs.create_group(&long, None),
        36,
        too_long,
    );
    for bad in ["a-b", "a.b", "a b", "info", "ü"] {
        expect(
            r,
            &format!("group {bad:?} -> EINVAL"),
            cfs.create_group(bad, None),
            22,
            bad_name,
        );
    }
    // Latin-1 letters are alphanumeric to the kernel's isalnum(): the rule is ASCII only.
    let latin1 = cfs
        .dir()
        .join("groups")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    match std::fs::create_dir(&latin1) {
        Ok(()) => {
            let _ = std::fs::remove_dir(&latin1);
            r.fail(
                "group \"caf\\xe9\" (Latin-1) -> EINVAL",
                "accepted: the kernel's rule is not ASCII-only",
            );
        }
        Err(e) => r.eq(
            "group \"caf\\xe9\" (Latin-1) -> EINVAL",
            e.raw_os_error(),
            Some(22),
        ),
    }
    expect(
        r,
        "group named like a module's group -> EEXIST",
        cfs.create_group("kpeek_example", None),
        17,
        "already exists",
    );
    r.ok("group: 31 bytes accepted", cfs.create_group(&longest, None));
    r.ok("group: 31 bytes removed", cfs.delete_group(&longest));
    r.ok("group errno_g created", cfs.create_group(G, None));
    expect(
        r,
        "group twice -> EEXIST",
        cfs.create_group(G, None),
        17,
        "group \"errno_g\" already exists",
    );

    // Counters.
    expect(
        r,
        "counter: 32 bytes -> ENAMETOOLONG",
        cfs.create_counter(G, &long, None),
        36,
        too_long,
    );
    for bad in ["reset", "c-d", "c:d"] {
        expect(
            r,
            &format!("counter {bad:?} -> EINVAL"),
            cfs.create_counter(G, bad, None),
            22,
            bad_name,
        );
    }
    r.ok("counter c created", cfs.create_counter(G, "c", None));
    expect(
        r,
        "counter twice -> EEXIST",
        cfs.create_counter(G, "c", None),
        17,
        "counter errno_g/c already exists",
    );
    r.ok(
        "counter named info is fine",
        cfs.create_counter(G, "info", None),
    );

    // Values.
    for bad in [
        &b"-1"[..],
        b"abc",
        b"18446744073709551616",
        b"1 2",
        b" 5",
        b"0x10",
        b"5\n\n",
    ] {
        let shown = String::from_utf8_lossy(bad);
        expect(
            r,
            &format!("value {shown:?} -> EINVAL"),
            cfs.write_raw_value(G, "c", bad),
            22,
            "invalid value: write a decimal number",
        );
    }
    r.ok(
        "value 18446744073709551615 accepted",
        cfs.set_value(G, "c", u64::MAX),
    );
    r.eq("value reads back", cfs.value(G, "c").ok(), Some(u64::MAX));
    r.ok(
        "value with newline accepted",
        cfs.write_raw_value(G, "c", b"5\n"),
    );
    r.eq("value 5 reads back", cfs.value(G, "c").ok(), Some(5));

    // Descriptions.
    let desc_rule = "invalid description: at most 127 bytes of printable ASCII";
    expect(
        r,
        "description 128 bytes -> EINVAL",
        cfs.set_description(G, Some("c"), &"d".repeat(128)),
        22,
        desc_rule,
    );
    expect(
        r,
        "description with a control byte -> EINVAL",
        cfs.set_description(G, None, "a\u{1}b"),
        22,
        desc_rule,
    );
    let d127 = "e".repeat(127);
    r.ok(
        "description 127 bytes accepted",
        cfs.set_description(G, Some("c"), &d127),
    );
    r.eq(
        "description reads back",
        cfs.description(G, Some("c")).ok(),
        Some(d127),
    );
    r.ok(
        "group description accepted",
        cfs.set_description(G, None, "errno tests"),
    );
    r.eq(
        "group description reads back",
        cfs.description(G, None).ok().as_deref(),
        Some("errno tests"),
    );

    // sysfs reset accepts exactly "1" (with an optional newline).
    let reset = Sysfs::new(root).dir().join(G).join("reset");
    for bad in [&b"2"[..], b"0", b"11", b"1 ", b"yes"] {
        let got = raw_write(&reset, bad).err().and_then(|e| e.raw_os_error());
        r.eq(
            &format!("reset {:?} -> EINVAL", String::from_utf8_lossy(bad)),
            got,
            Some(22),
        );
    }
    r.ok("reset 1 accepted", Sysfs::new(root).reset(G));
    r.eq("reset zeroed the counter", cfs.value(G, "c").ok(), Some(0));

    // rmdir of a group that still has counters; then the client's delete (counters first).
    let got = std::fs::remove_dir(cfs.dir().join("groups").join(G))
        .err()
        .and_then(|e| e.raw_os_error());
    r.eq("rmdir of a group with counters -> ENOTEMPTY", got, Some(39));
    r.ok("delete group with its counters", cfs.delete_group(G));
    match cfs.delete_group(G) {
        Err(Error::NoSuchGroup { .. }) => r.pass("deleting it again: no such group"),
        other => r.fail("deleting it again: no such group", &format!("{other:?}")),
    }
    Ok(())
}

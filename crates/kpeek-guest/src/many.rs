//! `procfs-many`: /proc/kpeek with many counters (many pages) is complete and in creation
//! order, whatever the read size, and after lseek.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::time::Instant;

use kpeek_client::configfs::Configfs;
use kpeek_client::procfs::{self, Procfs};
use kpeek_client::sysfs::Sysfs;
use kpeek_client::{CounterSource, CounterValue, SysRoot};

use crate::report::Report;

#[derive(clap::Args)]
pub struct Args {
    /// How many groups to create.
    #[arg(long, default_value_t = 100)]
    groups: usize,
    /// How many counters in each group.
    #[arg(long, default_value_t = 100)]
    per_group: usize,
    /// Group name prefix (names sort in creation order only by accident: order is checked
    /// against creation, not names).
    #[arg(long, default_value = "many")]
    prefix: String,
}

/// Read the whole file with `read()`s of at most `chunk` bytes.
fn read_chunked(path: &std::path::Path, chunk: usize) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

pub fn run(root: &SysRoot, r: &Report, a: Args) -> anyhow::Result<()> {
    let cfs = Configfs::new(root);
    // Group names deliberately not in sorted order (reverse index), so a sorted listing would fail.
    let gname = |i: usize| format!("{}{:05}", a.prefix, a.groups - 1 - i);
    let cname = |j: usize| format!("c{:05}", (j * 7919) % 100_000);
    let value = |i: usize, j: usize| (i * a.per_group + j) as u64 * 1_000_003;
    let mut expected = Vec::with_capacity(a.groups * a.per_group);

    let t = Instant::now();
    for i in 0..a.groups {
        cfs.create_group(&gname(i), None)?;
        for j in 0..a.per_group {
            cfs.create_counter(&gname(i), &cname(j), None)?;
            cfs.set_value(&gname(i), &cname(j), value(i, j))?;
            expected.push(CounterValue::new(&gname(i), &cname(j), value(i, j)));
        }
    }
    eprintln!(
        "kpeek-guest: created {} counters in {:.1?}",
        expected.len(),
        t.elapsed()
    );

    let proc = Procfs::new(root);
    let ours = |all: Vec<CounterValue>| -> Vec<CounterValue> {
        all.into_iter()
            .filter(|c| c.group.starts_with(&a.prefix))
            .collect()
    };
    let full = proc.read_raw()?;
    for chunk in [1 << 20, 4096, 333, 17] {
        let name = format!(
            "{} counters complete and in creation order, read({chunk})",
            expected.len()
        );
        match read_chunked(proc.path(), chunk) {
            Ok(bytes) => match procfs::parse(&bytes) {
                Ok(rows) => {
                    let got = ours(rows);
                    r.check(&name, got == expected, || {
                        let first = got.iter().zip(&expected).position(|(g, e)| g != e);
                        format!(
                            "{} lines, want {}; first difference at {first:?}",
                            got.len(),
                            expected.len()
                        )
                    });
                    r.eq(
                        &format!("read({chunk}) returns the same bytes as one big read"),
                        bytes == full,
                        true,
                    );
                }
                Err(e) => r.fail(&name, &e.to_string()),
            },
            Err(e) => r.fail(&name, &e.to_string()),
        }
    }

    // lseek into the middle (of a line, too) and read the rest: the same bytes.
    for off in [
        full.len() / 2,
        full.len() / 3 + 1,
        full.len().saturating_sub(10),
    ] {
        let mut f = File::open(proc.path())?;
        f.seek(SeekFrom::Start(off as u64))?;
        let mut rest = Vec::new();
        f.read_to_end(&mut rest)?;
        r.check(
            &format!("lseek({off}) then read gives the tail"),
            rest == full[off..],
            || format!("{} bytes, want {}", rest.len(), full.len() - off),
        );
    }

    let sys = Sysfs::new(root).snapshot()?;
    let sys_ours = sys.filter_groups(|g| g.starts_with(&a.prefix));
    let proc_snap = kpeek_client::Snapshot::new(expected.clone());
    r.check(
        "sysfs agrees on every counter",
        sys_ours == proc_snap,
        || sys_ours.diff(&proc_snap).join("; "),
    );
    let cfs_snap = cfs.snapshot()?.filter_groups(|g| g.starts_with(&a.prefix));
    r.check(
        "configfs agrees on every counter",
        cfs_snap == proc_snap,
        || cfs_snap.diff(&proc_snap).join("; "),
    );

    let t = Instant::now();
    for i in 0..a.groups {
        cfs.delete_group(&gname(i))?;
    }
    eprintln!("kpeek-guest: deleted them in {:.1?}", t.elapsed());
    let left = ours(proc.read_in_order()?);
    r.eq("all removed from procfs", left.len(), 0);
    let left = Sysfs::new(root)
        .groups()?
        .into_iter()
        .filter(|g| g.starts_with(&a.prefix))
        .count();
    r.eq("all removed from sysfs", left, 0);
    Ok(())
}

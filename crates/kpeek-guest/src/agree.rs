//! `channels-agree`: every channel reports the same counters with the same values.

use std::collections::BTreeSet;

use kpeek_client::configfs::Configfs;
use kpeek_client::debugfs::Debugfs;
use kpeek_client::procfs::Procfs;
use kpeek_client::sysfs::Sysfs;
use kpeek_client::{CounterSource, SysRoot};

use crate::report::Report;

#[derive(clap::Args)]
pub struct Args {
    /// Also require GROUP/COUNTER to have exactly VALUE in every channel that shows it
    /// (repeatable), e.g. `kpeek_example/writes=7`.
    #[arg(long, value_name = "GROUP/COUNTER=VALUE")]
    expect: Vec<String>,
}

fn parse_expect(s: &str) -> anyhow::Result<(String, String, u64)> {
    let (gc, v) = s
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--expect {s:?}: want G/C=V"))?;
    let (g, c) = gc
        .split_once('/')
        .ok_or_else(|| anyhow::anyhow!("--expect {s:?}: want G/C=V"))?;
    Ok((g.to_owned(), c.to_owned(), v.parse()?))
}

pub fn run(root: &SysRoot, r: &Report, a: Args) -> anyhow::Result<()> {
    let expects: Vec<_> = a
        .expect
        .iter()
        .map(|s| parse_expect(s))
        .collect::<Result<_, _>>()?;
    let procfs = Procfs::new(root).snapshot()?;
    let sysfs = Sysfs::new(root);
    let sys = sysfs.snapshot()?;
    let cfs = Configfs::new(root);
    let cfs_snap = cfs.snapshot()?;
    let cfs_groups = cfs.groups()?;

    r.check(
        "procfs and sysfs show the same counters and values",
        procfs == sys,
        || procfs.diff(&sys).join("; "),
    );
    let wanted: BTreeSet<&str> = cfs_groups.iter().map(String::as_str).collect();
    let proc_cfs = procfs.filter_groups(|g| wanted.contains(g));
    r.check(
        &format!(
            "configfs ({} groups) matches procfs for those groups",
            cfs_groups.len()
        ),
        proc_cfs == cfs_snap,
        || cfs_snap.diff(&proc_cfs).join("; "),
    );
    let sys_groups = sysfs.groups()?;
    r.check(
        "every configfs group has a sysfs directory",
        wanted.iter().all(|g| sys_groups.iter().any(|s| s == g)),
        || format!("configfs {cfs_groups:?}, sysfs {sys_groups:?}"),
    );
    let proc_groups: BTreeSet<&str> = procfs.groups().into_iter().collect();
    r.check(
        "every procfs group has a sysfs directory",
        proc_groups
            .iter()
            .all(|g| sys_groups.iter().any(|s| s == g)),
        || format!("procfs {proc_groups:?}, sysfs {sys_groups:?}"),
    );

    match Debugfs::new(root).stats() {
        Ok(stats) => {
            let get = |k: &str| stats.iter().find(|s| s.key == k).and_then(|s| s.as_u64());
            r.eq(
                "debugfs groups = sysfs group directories",
                get("groups"),
                Some(sys_groups.len() as u64),
            );
            r.eq(
                "debugfs counters = procfs lines",
                get("counters"),
                Some(procfs.len() as u64),
            );
            r.eq(
                "debugfs configfs_groups = configfs groups",
                get("configfs_groups"),
                Some(cfs_groups.len() as u64),
            );
        }
        Err(e) => r.fail("debugfs stats readable", &e.to_string()),
    }

    for (g, c, v) in expects {
        r.eq(
            &format!("procfs {g}/{c} = {v}"),
            procfs.get(&g, &c),
            Some(v),
        );
        r.eq(&format!("sysfs {g}/{c} = {v}"), sys.get(&g, &c), Some(v));
        if wanted.contains(g.as_str()) {
            r.eq(
                &format!("configfs {g}/{c} = {v}"),
                cfs_snap.get(&g, &c),
                Some(v),
            );
        }
    }
    Ok(())
}

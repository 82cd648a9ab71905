//! `kpeek mod probe`: switch kpeek.ko's in-kernel probes on and off, with their filters.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use kpeek_client::SysRoot;
use kpeek_client::chardev::Device;
use kpeek_client::ioctl::{Probe, ProbeFilter, ProbeState};
use kpeek_client::netlink::Netlink;
use serde_json::json;

/// Probe names as the CLI takes them (the tracepoints' names).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ProbeName {
    /// net:netif_receive_skb (filters: dev=NAME, min_len=BYTES).
    NetifReceiveSkb,
    /// sched:sched_switch (filter: pid=N, previous or next task).
    SchedSwitch,
    /// block:block_rq_issue (filters: pid=N, min_len=BYTES).
    BlockRqIssue,
}

impl From<ProbeName> for Probe {
    fn from(p: ProbeName) -> Probe {
        match p {
            ProbeName::NetifReceiveSkb => Probe::NetifReceiveSkb,
            ProbeName::SchedSwitch => Probe::SchedSwitch,
            ProbeName::BlockRqIssue => Probe::BlockRqIssue,
        }
    }
}

/// Which filter keys a probe takes.
fn applies(p: Probe, key: &str) -> bool {
    matches!(
        (p, key),
        (Probe::NetifReceiveSkb, "dev" | "min_len")
            | (Probe::SchedSwitch, "pid")
            | (Probe::BlockRqIssue, "pid" | "min_len")
    )
}

/// Each probe's filter from the `--filter` terms: a term goes to every chosen probe that takes
/// its key; a term no chosen probe takes is an error.
pub fn filters_for(probes: &[Probe], terms: &[String]) -> Result<Vec<ProbeFilter>, String> {
    let mut out = vec![ProbeFilter::default(); probes.len()];
    for t in terms {
        let key = t.split('=').next().unwrap_or("");
        let mut used = false;
        for (p, f) in probes.iter().zip(out.iter_mut()) {
            if applies(*p, key) {
                f.add_term(t).map_err(|e| e.to_string())?;
                used = true;
            }
        }
        if !used {
            // Parse it anyway so a malformed term gets its own message.
            ProbeFilter::default()
                .add_term(t)
                .map_err(|e| e.to_string())?;
            let names: Vec<_> = probes.iter().map(|p| p.name()).collect();
            return Err(format!(
                "filter {t:?} does not apply to {} (dev: netif_receive_skb; pid: sched_switch, \
                 block_rq_issue; min_len: netif_receive_skb, block_rq_issue)",
                names.join(", ")
            ));
        }
    }
    Ok(out)
}

/// `--via` for probe changes.
#[derive(Clone, Copy, ValueEnum)]
pub enum CtlVia {
    /// KPEEK_IOC_PROBE_SET on /dev/kpeek.
    Ioctl,
    /// KPEEK_CMD_PROBE_SET over generic netlink.
    Netlink,
}

#[derive(Subcommand)]
pub enum ProbeCmd {
    /// Attach a probe to its tracepoint, with a filter; --ring also writes records to the rings.
    Enable {
        #[arg(value_enum)]
        probe: ProbeName,
        /// dev=NAME, pid=N or min_len=BYTES (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// Also write records into the event rings (read them with `kpeek mod events`).
        #[arg(long)]
        ring: bool,
        #[arg(long, value_enum, default_value = "ioctl")]
        via: CtlVia,
    },
    /// Detach a probe.
    Disable {
        #[arg(value_enum)]
        probe: ProbeName,
        #[arg(long, value_enum, default_value = "ioctl")]
        via: CtlVia,
    },
    /// Every probe's state, filter and hit counts.
    Show {
        /// One JSON object per probe per line.
        #[arg(long)]
        json: bool,
    },
}

fn set_probe(root: &SysRoot, via: CtlVia, s: &ProbeState) -> anyhow::Result<()> {
    match via {
        CtlVia::Ioctl => Device::open(root)?.probe_set(s)?,
        CtlVia::Netlink => Netlink::connect()?.probe_set(s)?,
    }
    Ok(())
}

pub(super) fn filter_text(f: &ProbeFilter) -> String {
    let mut v = Vec::new();
    if let Some(d) = &f.dev {
        v.push(format!("dev={d}"));
    }
    if let Some(p) = f.pid {
        v.push(format!("pid={p}"));
    }
    if let Some(m) = f.min_len {
        v.push(format!("min_len={m}"));
    }
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

pub fn probe(root: &SysRoot, cmd: ProbeCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ProbeCmd::Enable {
            probe,
            filter,
            ring,
            via,
        } => {
            let p = Probe::from(probe);
            let f = filters_for(&[p], &filter).map_err(anyhow::Error::msg)?;
            let s = ProbeState {
                probe: p,
                enabled: true,
                ring,
                filter: f.into_iter().next().unwrap_or_default(),
                hits: 0,
                matched: 0,
            };
            set_probe(root, via, &s)?;
            crate::outln!("enabled probe {} ({})", p.name(), filter_text(&s.filter))?;
        }
        ProbeCmd::Disable { probe, via } => {
            let p = Probe::from(probe);
            let s = ProbeState {
                probe: p,
                enabled: false,
                ring: false,
                filter: ProbeFilter::default(),
                hits: 0,
                matched: 0,
            };
            set_probe(root, via, &s)?;
            crate::outln!("disabled probe {}", p.name())?;
        }
        ProbeCmd::Show { json } => {
            let dev = Device::open(root)?;
            let mut out = io::stdout().lock();
            if !json {
                writeln!(
                    out,
                    "{:18}  {:7}  {:4}  {:>12}  {:>12}  FILTER",
                    "PROBE", "ENABLED", "RING", "HITS", "MATCHED"
                )?;
            }
            for p in Probe::ALL {
                let s = dev.probe_get(p)?;
                if json {
                    let obj = json!({
                        "probe": p.name(), "enabled": s.enabled, "ring": s.ring,
                        "hits": s.hits, "matched": s.matched,
                        "filter": {"dev": s.filter.dev, "pid": s.filter.pid, "min_len": s.filter.min_len},
                    });
                    writeln!(out, "{obj}")?;
                } else {
                    writeln!(
                        out,
                        "{:18}  {:7}  {:4}  {:>12}  {:>12}  {}",
                        p.name(),
                        if s.enabled { "yes" } else { "no" },
                        if s.ring { "yes" } else { "no" },
                        s.hits,
                        s.matched,
                        filter_text(&s.filter)
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_go_to_the_probes_that_take_them() {
        let p = [Probe::NetifReceiveSkb, Probe::SchedSwitch];
        let f = filters_for(&p, &["dev=lo".into(), "pid=7".into()]).unwrap();
        assert_eq!(f[0].dev.as_deref(), Some("lo"));
        assert_eq!(f[0].pid, None);
        assert_eq!(f[1].pid, Some(7));
        let e = filters_for(&[Probe::SchedSwitch], &["dev=lo".into()]).unwrap_err();
        assert!(e.contains("does not apply to sched_switch"), "{e}");
        let e = filters_for(&[Probe::SchedSwitch], &["pid=x".into()]).unwrap_err();
        assert!(e.contains("expected a pid"), "{e}");
    }
}

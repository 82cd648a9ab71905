//! `kpeek mod threshold`: counters that notify when they pass a value.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use kpeek_client::netlink::Netlink;

#[derive(Subcommand)]
pub enum ThresholdCmd {
    /// Notify the netlink "events" group when GROUP/COUNTER rises to VALUE or above.
    Set {
        group: String,
        counter: String,
        value: u64,
    },
    /// Remove a counter's threshold.
    Clear { group: String, counter: String },
}

pub fn threshold(cmd: ThresholdCmd) -> anyhow::Result<ExitCode> {
    let nl = Netlink::connect()?;
    let (group, counter, value) = match cmd {
        ThresholdCmd::Set {
            group,
            counter,
            value,
        } => {
            if value == 0 {
                bail!("a threshold of 0 would clear it: use `kpeek mod threshold clear`");
            }
            (group, counter, value)
        }
        ThresholdCmd::Clear { group, counter } => (group, counter, 0),
    };
    let c = nl.counter_by_name(&group, &counter)?;
    nl.set_threshold(c.id, value)?;
    if value == 0 {
        crate::outln!("cleared the threshold of {group}/{counter}")?;
    } else {
        crate::outln!(
            "threshold of {group}/{counter} (id {}) set to {value}",
            c.id
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

//! `kpeek mod`: read and drive kpeek.ko's counters through its channels.
//!
//! Reads go through the channel the user picks (`--via`); changes go through configfs (create,
//! delete, set, describe) and sysfs (reset), the channels built for them. The push channels
//! (event rings, netlink notifications) and the in-kernel probes live in `module/live.rs`. Every
//! error says what to do: load the module, mount a filesystem, become root, or which naming rule
//! a name broke.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use kpeek_client::configfs::Configfs;
use kpeek_client::debugfs::Debugfs;
use kpeek_client::params::Params;
use kpeek_client::sysfs::Sysfs;
use kpeek_client::{Channel, CounterSource, CounterValue, NameKind, SysRoot};
use serde_json::json;

mod events;
mod listen;
mod probe;
mod threshold;

/// Read and change kpeek.ko's counters (see also /proc/kpeek, /sys/kernel/kpeek,
/// /sys/kernel/config/kpeek).
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kpeek mod counters                          every counter, as a table (via procfs)
  kpeek mod counters --via sysfs --json       one JSON object per counter per line
  kpeek mod counters --via mmap               the same values from the shared counter mapping
  kpeek mod group list                        every group, module- or configfs-made
  kpeek mod group create app --description 'my app'
  kpeek mod counter create app hits
  kpeek mod counter set app hits 42
  kpeek mod group reset app                   zero every counter of the group (sysfs)
  kpeek mod group delete app                  its counters go with it
  kpeek mod info                              ABI version, groups, counters, module parameters
  kpeek mod events --filter dev=lo --count 5  packets received on lo, from the in-kernel probe
  kpeek mod listen --json                     netlink notifications: created/removed/threshold
  kpeek mod threshold set app hits 100        notify listeners when app/hits reaches 100
  kpeek mod probe show                        every probe, its filter and hit counts

Changes need root, and so do probes and event rings (/dev/kpeek is 0600). Groups made by other modules (e.g. kpeek_example) are read-only here except
for reset; only groups created with `kpeek mod group create` (configfs) can be changed.
Exit status: 0 done; 1 `counters --group G` found no counter; 2 bad input, module not loaded,
filesystem not mounted, or a change refused (the message names the rule).")]
pub struct Args {
    /// Resolve /proc, /sys, ... under DIR instead of / (for tests; also $KPEEK_SYSROOT).
    #[arg(long, value_name = "DIR", global = true, hide = true)]
    root: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every counter and its value, read through one channel.
    Counters(CountersArgs),
    /// List, create, delete, describe or reset counter groups.
    #[command(subcommand)]
    Group(GroupCmd),
    /// Create, delete, set, describe or reset a counter.
    #[command(subcommand)]
    Counter(CounterCmd),
    /// Show kpeek.ko's internals from debugfs (root only; for debugging).
    Debug(DebugArgs),
    /// Show the ABI version, how many groups and counters exist, and the module parameters.
    Info(InfoArgs),
    /// Stream the in-kernel probes' records from the per-CPU event rings (lttng-view style).
    Events(events::EventsArgs),
    /// Print the netlink "events" notifications: groups/counters created or removed, thresholds.
    Listen(listen::ListenArgs),
    /// Enable, disable or show the in-kernel tracepoint probes.
    #[command(subcommand)]
    Probe(probe::ProbeCmd),
    /// Set or clear a counter's threshold (notified to `kpeek mod listen`).
    #[command(subcommand)]
    Threshold(threshold::ThresholdCmd),
}

/// The channels `--via` accepts.
#[derive(Clone, Copy, ValueEnum)]
enum Via {
    /// /proc/kpeek: one line per counter (readable by everyone).
    Procfs,
    /// /sys/kernel/kpeek/<group>/<counter>: one file per counter.
    Sysfs,
    /// /sys/kernel/config/kpeek/groups/<group>/<counter>/value: only groups created through configfs.
    Configfs,
    /// /sys/kernel/debug/kpeek/counters: one line per counter (root only).
    Debugfs,
    /// read() of /dev/kpeek: one binary snapshot (root, or a udev rule granting access).
    Chardev,
    /// KPEEK_IOC_GET_COUNTERS on /dev/kpeek, page by page.
    Ioctl,
    /// The shared counter mapping of /dev/kpeek (refreshed by one KPEEK_IOC_MMAP_SYNC first).
    Mmap,
    /// A KPEEK_CMD_GET_COUNTERS dump of the generic netlink family "kpeek".
    Netlink,
}

impl From<Via> for Channel {
    fn from(v: Via) -> Channel {
        match v {
            Via::Procfs => Channel::Procfs,
            Via::Sysfs => Channel::Sysfs,
            Via::Configfs => Channel::Configfs,
            Via::Debugfs => Channel::Debugfs,
            Via::Chardev => Channel::Chardev,
            Via::Ioctl => Channel::Ioctl,
            Via::Mmap => Channel::Mmap,
            Via::Netlink => Channel::Netlink,
        }
    }
}

#[derive(clap::Args)]
struct CountersArgs {
    /// The channel to read.
    #[arg(long, value_enum, default_value = "procfs")]
    via: Via,
    /// Only this group (exit 1 when it has no counters in that channel).
    #[arg(long, value_name = "G")]
    group: Option<String>,
    /// One JSON object per counter per line: {"group":"…","counter":"…","value":N}.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum GroupCmd {
    /// List every group: who made it (a module or configfs), its counters, its description.
    List {
        /// One JSON object per group per line.
        #[arg(long)]
        json: bool,
    },
    /// Create a group (configfs mkdir).
    Create {
        /// 1..31 bytes of [A-Za-z0-9_]; not "info".
        name: String,
        /// Printable text, at most 127 bytes.
        #[arg(long, short)]
        description: Option<String>,
    },
    /// Delete a group created through configfs, with its counters.
    Delete { name: String },
    /// Set a configfs group's description (empty text clears it).
    Describe { name: String, text: String },
    /// Zero every counter of a group (sysfs reset; any group).
    Reset { name: String },
}

#[derive(Subcommand)]
enum CounterCmd {
    /// Create a counter in a configfs group (configfs mkdir).
    Create {
        group: String,
        /// 1..31 bytes of [A-Za-z0-9_]; not "reset".
        counter: String,
        /// Printable text, at most 127 bytes.
        #[arg(long, short)]
        description: Option<String>,
    },
    /// Delete a counter of a configfs group.
    Delete { group: String, counter: String },
    /// Set a counter of a configfs group to VALUE (0..2^64-1).
    Set {
        group: String,
        counter: String,
        #[arg(allow_hyphen_values = true)]
        value: u64,
    },
    /// Set a counter's description (empty text clears it).
    Describe {
        group: String,
        counter: String,
        text: String,
    },
    /// Zero one counter of a configfs group, or with no COUNTER every counter of any group (sysfs).
    Reset {
        group: String,
        counter: Option<String>,
    },
}

#[derive(clap::Args)]
struct DebugArgs {
    /// One JSON object of every numeric statistic.
    #[arg(long)]
    json: bool,
    /// Also print every other file of /sys/kernel/debug/kpeek as it is.
    #[arg(long)]
    all: bool,
}

#[derive(clap::Args)]
struct InfoArgs {
    /// One JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = match args.root {
        Some(dir) => SysRoot::new(dir),
        None => SysRoot::from_env(),
    };
    match args.command {
        Command::Counters(a) => counters(&root, a),
        Command::Group(g) => group(&root, g),
        Command::Counter(c) => counter(&root, c),
        Command::Debug(a) => debug(&root, a),
        Command::Info(a) => info(&root, a),
        Command::Events(a) => events::events(&root, a),
        Command::Listen(a) => listen::listen(a),
        Command::Probe(p) => probe::probe(&root, p),
        Command::Threshold(t) => threshold::threshold(t),
    }
}

fn counters(root: &SysRoot, a: CountersArgs) -> anyhow::Result<ExitCode> {
    if let Some(g) = &a.group {
        kpeek_abi::validate_name(NameKind::Group, g)?;
    }
    let channel = Channel::from(a.via);
    let mut snap = channel.open(root).snapshot()?;
    // The pseudo-file formats are stable, but say so when the module is newer or older.
    if let Ok(v) = Sysfs::new(root).abi_version()
        && v != kpeek_abi::ABI_VERSION
    {
        crate::errln!(
            "kpeek: warning: kpeek.ko speaks ABI version {v}, this kpeek speaks {}",
            kpeek_abi::ABI_VERSION
        );
    }
    if let Some(g) = &a.group {
        snap = snap.filter_groups(|x| x == g);
        if snap.is_empty() {
            crate::errln!("kpeek: no counters in group {g:?} (read via {channel})");
            return Ok(ExitCode::from(1));
        }
    }
    let mut out = io::stdout().lock();
    if a.json {
        for c in snap.counters() {
            writeln!(out, "{}", serde_json::to_string(c)?)?;
        }
    } else {
        write_table(&mut out, snap.counters())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// GROUP, COUNTER, VALUE columns, values right-aligned.
fn write_table(out: &mut impl Write, rows: &[CounterValue]) -> io::Result<()> {
    let gw = rows.iter().map(|r| r.group.len()).max().unwrap_or(0).max(5);
    let cw = rows
        .iter()
        .map(|r| r.counter.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let vw = rows
        .iter()
        .map(|r| r.value.to_string().len())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(out, "{:gw$}  {:cw$}  {:>vw$}", "GROUP", "COUNTER", "VALUE")?;
    for r in rows {
        writeln!(out, "{:gw$}  {:cw$}  {:>vw$}", r.group, r.counter, r.value)?;
    }
    Ok(())
}

fn group(root: &SysRoot, cmd: GroupCmd) -> anyhow::Result<ExitCode> {
    let cfs = Configfs::new(root);
    match cmd {
        GroupCmd::List { json } => return group_list(root, json),
        GroupCmd::Create { name, description } => {
            cfs.create_group(&name, description.as_deref())?;
            crate::outln!("created group {name}")?;
        }
        GroupCmd::Delete { name } => {
            cfs.delete_group(&name)?;
            crate::outln!("deleted group {name}")?;
        }
        GroupCmd::Describe { name, text } => {
            cfs.set_description(&name, None, &text)?;
            crate::outln!("described group {name}")?;
        }
        GroupCmd::Reset { name } => {
            Sysfs::new(root).reset(&name)?;
            crate::outln!("reset group {name}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Groups from sysfs (every group has a directory there), their source from configfs.
fn group_list(root: &SysRoot, json: bool) -> anyhow::Result<ExitCode> {
    let sysfs = Sysfs::new(root);
    let cfs = Configfs::new(root);
    // configfs may be unavailable (not mounted): then every group's source is unknown.
    let cfs_groups = cfs.groups().ok();
    let mut rows = Vec::new();
    for g in sysfs.groups()? {
        let counters = match sysfs.group(&g) {
            Ok(c) => c.len(),
            Err(kpeek_client::Error::NoSuchGroup { .. }) => continue, // removed meanwhile
            Err(e) => return Err(e.into()),
        };
        let (source, description) = match &cfs_groups {
            Some(list) if list.contains(&g) => ("configfs", cfs.description(&g, None).ok()),
            Some(_) => ("module", None),
            None => ("?", None),
        };
        rows.push((g, source, counters, description));
    }
    let mut out = io::stdout().lock();
    if json {
        for (g, source, counters, description) in &rows {
            let obj = json!({"group": g, "source": source, "counters": counters, "description": description});
            writeln!(out, "{obj}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let gw = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(5);
    writeln!(
        out,
        "{:gw$}  {:8}  {:>8}  DESCRIPTION",
        "GROUP", "SOURCE", "COUNTERS"
    )?;
    for (g, source, counters, description) in &rows {
        let d = description.as_deref().unwrap_or("");
        let line = format!("{g:gw$}  {source:8}  {counters:>8}  {d}");
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn counter(root: &SysRoot, cmd: CounterCmd) -> anyhow::Result<ExitCode> {
    let cfs = Configfs::new(root);
    match cmd {
        CounterCmd::Create {
            group,
            counter,
            description,
        } => {
            cfs.create_counter(&group, &counter, description.as_deref())?;
            crate::outln!("created counter {group}/{counter}")?;
        }
        CounterCmd::Delete { group, counter } => {
            cfs.delete_counter(&group, &counter)?;
            crate::outln!("deleted counter {group}/{counter}")?;
        }
        CounterCmd::Set {
            group,
            counter,
            value,
        } => {
            cfs.set_value(&group, &counter, value)?;
            crate::outln!("set {group}/{counter} = {value}")?;
        }
        CounterCmd::Describe {
            group,
            counter,
            text,
        } => {
            cfs.set_description(&group, Some(&counter), &text)?;
            crate::outln!("described counter {group}/{counter}")?;
        }
        CounterCmd::Reset {
            group,
            counter: Some(counter),
        } => {
            cfs.set_value(&group, &counter, 0)?;
            crate::outln!("reset {group}/{counter}")?;
        }
        CounterCmd::Reset {
            group,
            counter: None,
        } => {
            Sysfs::new(root).reset(&group)?;
            crate::outln!("reset group {group}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn debug(root: &SysRoot, a: DebugArgs) -> anyhow::Result<ExitCode> {
    let dbg = Debugfs::new(root);
    let stats = dbg.stats()?;
    let mut out = io::stdout().lock();
    if a.json {
        // Keys in the kernel's order (serde_json's map would sort them).
        let mut fields: Vec<String> = stats
            .iter()
            .map(|s| {
                let v = s.as_u64().map_or_else(|| json!(s.value), |n| json!(n));
                format!("{}:{v}", json!(s.key))
            })
            .collect();
        if a.all {
            let files: serde_json::Map<_, _> = dbg
                .files()?
                .into_iter()
                .filter(|(n, _)| n != "stats")
                .map(|(n, t)| (n, json!(t)))
                .collect();
            fields.push(format!("\"files\":{}", serde_json::Value::Object(files)));
        }
        writeln!(out, "{{{}}}", fields.join(","))?;
        return Ok(ExitCode::SUCCESS);
    }
    let kw = stats.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for s in &stats {
        writeln!(out, "{:kw$}  {}", s.key, s.value)?;
    }
    if a.all {
        for (name, text) in dbg.files()?.into_iter().filter(|(n, _)| n != "stats") {
            writeln!(out, "\n== {}", dbg.dir().join(&name).display())?;
            write!(out, "{text}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn info(root: &SysRoot, a: InfoArgs) -> anyhow::Result<ExitCode> {
    let sysfs = Sysfs::new(root);
    let abi = sysfs.abi_version()?;
    let groups = sysfs.groups()?;
    let counters = kpeek_client::procfs::Procfs::new(root)
        .snapshot()
        .context("counting counters")?
        .len();
    let configfs_groups = Configfs::new(root).groups().ok();
    let params = Params::new(root).all()?;
    let mut out = io::stdout().lock();
    if a.json {
        let params: serde_json::Map<_, _> = params
            .iter()
            .map(|p| {
                let v = match &p.value {
                    Some(v) => v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)),
                    None => serde_json::Value::Null,
                };
                (p.name.clone(), v)
            })
            .collect();
        let obj = json!({
            "abi_version": abi,
            "kpeek_abi_version": kpeek_abi::ABI_VERSION,
            "groups": groups.len(),
            "configfs_groups": configfs_groups.as_ref().map(Vec::len),
            "counters": counters,
            "params": params,
        });
        writeln!(out, "{obj}")?;
    } else {
        let note = if abi == kpeek_abi::ABI_VERSION {
            " (same as this kpeek)".to_owned()
        } else {
            format!(
                " (this kpeek speaks {}: use matching versions)",
                kpeek_abi::ABI_VERSION
            )
        };
        writeln!(out, "abi_version      {abi}{note}")?;
        writeln!(out, "groups           {}", groups.len())?;
        match &configfs_groups {
            Some(g) => writeln!(out, "configfs_groups  {}", g.len())?,
            None => writeln!(out, "configfs_groups  ? (configfs not available)")?,
        }
        writeln!(out, "counters         {counters}")?;
        writeln!(out, "parameters ({}):", Params::new(root).dir().display())?;
        for p in &params {
            let v = p.value.as_deref().unwrap_or("(unreadable: root only)");
            writeln!(out, "  {:15}  {v}", p.name)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `kpeek bpf maps`, `progs`, `dump`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use kpeek_bpf::objects;

use crate::cmd::trace::record::{parse_duration, stop_flag};

/// List every BPF map on the system.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek bpf maps
  kpeek bpf maps --json | jq '.[] | select(.type == \"percpu_hash\")'")]
pub struct MapsArgs {
    /// One JSON array of maps.
    #[arg(long)]
    json: bool,
}

/// List every BPF program with run statistics.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek bpf progs                      run counts over 1s (stats on while kpeek runs)
  kpeek bpf progs --sample 5s --json

Run counts and times are only kept while BPF statistics are on (BPF_ENABLE_STATS, Linux 5.8):
kpeek turns them on, waits --sample, and shows what ran meanwhile plus the totals.")]
pub struct ProgsArgs {
    /// How long to keep statistics on before reading them (0: read at once).
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "1s")]
    sample: Duration,
    /// One JSON array of programs.
    #[arg(long)]
    json: bool,
}

/// Print a map's keys and values.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek bpf dump 42
  kpeek bpf dump AT_ --json
  kpeek bpf dump /sys/fs/bpf/my_map

MAP is a map id, a pinned path, or a name (which must be unique). Keys and values are decoded
with the map's BTF when it has one; without BTF, integers of 1, 2, 4 or 8 bytes, NUL-padded
strings and arrays of u64 are recognized, anything else is shown as bytes. Per-CPU maps show
the sum over CPUs (integers) and every CPU's value with --json.")]
pub struct DumpArgs {
    /// Map id, pinned path or unique name.
    #[arg(value_name = "MAP")]
    map: String,
    /// One JSON object: the map and its entries.
    #[arg(long)]
    json: bool,
}

pub fn maps(args: MapsArgs) -> anyhow::Result<ExitCode> {
    let maps = objects::maps()?;
    let mut o = std::io::stdout().lock();
    if args.json {
        writeln!(o, "{}", serde_json::to_string(&maps)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        o,
        "{:>6}  {:<16}  {:<22}  {:>5}  {:>6}  {:>8}  BTF",
        "ID", "NAME", "TYPE", "KEY", "VALUE", "ENTRIES"
    )?;
    for m in &maps {
        let btf = if m.btf_id == 0 {
            "-".to_string()
        } else {
            format!(
                "{} (key {}, value {})",
                m.btf_id, m.btf_key_type_id, m.btf_value_type_id
            )
        };
        writeln!(
            o,
            "{:>6}  {:<16}  {:<22}  {:>5}  {:>6}  {:>8}  {btf}",
            m.id, m.name, m.ty, m.key_size, m.value_size, m.max_entries
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn progs(args: ProgsArgs) -> anyhow::Result<ExitCode> {
    let before = objects::progs()?;
    let guard = objects::enable_stats()?;
    let stop = stop_flag();
    let end = std::time::Instant::now() + args.sample;
    while std::time::Instant::now() < end && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20).min(args.sample));
    }
    let after = objects::progs()?;
    drop(guard);
    let mut o = std::io::stdout().lock();
    let delta = |p: &objects::ProgSummary| {
        before
            .iter()
            .find(|b| b.id == p.id)
            .map(|b| {
                (
                    p.run_count - b.run_count.min(p.run_count),
                    p.run_time_ns - b.run_time_ns.min(p.run_time_ns),
                )
            })
            .unwrap_or((p.run_count, p.run_time_ns))
    };
    if args.json {
        let v: Vec<serde_json::Value> = after
            .iter()
            .map(|p| {
                let (n, t) = delta(p);
                let mut j = serde_json::to_value(p).unwrap_or_default();
                j["sample_run_count"] = n.into();
                j["sample_run_time_ns"] = t.into();
                j
            })
            .collect();
        writeln!(o, "{}", serde_json::Value::Array(v))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        o,
        "{:>6}  {:<16}  {:<16}  {:>10}  {:>12}  {:>8}  {:>12}  MAPS",
        "ID", "NAME", "TYPE", "RUNS", "RUN_TIME_NS", "AVG_NS", "MISSED"
    )?;
    for p in &after {
        let (n, t) = delta(p);
        let avg = t
            .checked_div(n)
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        let maps: Vec<String> = p.map_ids.iter().map(u32::to_string).collect();
        writeln!(
            o,
            "{:>6}  {:<16}  {:<16}  {n:>10}  {t:>12}  {avg:>8}  {:>12}  {}",
            p.id,
            p.name,
            p.ty,
            p.recursion_misses,
            maps.join(",")
        )?;
    }
    writeln!(
        o,
        "(RUNS and RUN_TIME_NS: during the {:.1}s sample)",
        args.sample.as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn dump(args: DumpArgs) -> anyhow::Result<ExitCode> {
    let map = objects::find_map(&args.map)?;
    let d = objects::dump(&map)?;
    let mut o = std::io::stdout().lock();
    if args.json {
        writeln!(o, "{}", serde_json::to_string(&d)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        o,
        "map {} {} ({}, key {}B, value {}B, {} of {} entries{})",
        map.id,
        map.name,
        map.ty,
        map.key_size,
        map.value_size,
        d.entries.len(),
        map.max_entries,
        if d.btf { ", BTF" } else { ", no BTF: guessed" }
    )?;
    for e in &d.entries {
        writeln!(o, "{}: {}", e.key, e.value)?;
    }
    Ok(ExitCode::SUCCESS)
}

//! `kpeek doctor`: what this machine allows kpeek to do, and what to do about each missing
//! piece (like `bpftrace --info`). Facts are gathered (`facts`, `probe`), judged (`diagnose`)
//! and printed here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use kpeek_client::SysRoot;

mod diagnose;
mod facts;
mod probe;
mod verdicts;

use diagnose::{Readiness, Report, Status};

/// Check what this machine allows: tracefs, perf events, capabilities, BPF and BTF, /proc/kcore,
/// kptr_restrict, lockdown, kpeek.ko; which `kpeek peek` backends work; what each command can do.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kpeek doctor            the checks, then what each command can do here
  sudo kpeek doctor       the same as root (most kernel features need it)
  kpeek doctor --json     one JSON object: checks, peek_backends, commands, facts

Every check that is not `ok` says what to do. The BPF and perf checks try the system calls
themselves (a one-entry BPF map, a tracepoint event on CPU 0) rather than guessing from sysctls.
Exit status: 0 the report was printed (whatever it says); 2 bad arguments.")]
pub struct Args {
    /// One JSON object instead of the text report.
    #[arg(long)]
    json: bool,

    /// Resolve /proc, /sys, /dev under DIR instead of / (for tests; also $KPEEK_SYSROOT). The
    /// BPF and perf system calls are not tried then.
    #[arg(long, value_name = "DIR", hide = true)]
    root: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = match args.root {
        Some(dir) => SysRoot::new(dir),
        None => SysRoot::from_env(),
    };
    let real = root.dir() == std::path::Path::new("/");
    if !root.dir().is_dir() {
        bail!("--root {}: not a directory", root.dir().display());
    }
    let facts = facts::gather(&root, real);
    let report = diagnose::diagnose(&facts);
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "kernel": report.kernel,
            "euid": report.euid,
            "checks": report.checks,
            "peek_backends": report.peek_backends,
            "commands": report.commands,
            "facts": facts,
        });
        writeln!(out, "{v}").context("writing the report")?;
    } else {
        print_text(&mut out, &report).context("writing the report")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "kernel {}, {}",
        r.kernel.as_deref().unwrap_or("(unknown)"),
        r.euid
            .map_or("uid unknown".to_string(), |u| format!("uid {u}"))
    )?;
    writeln!(out)?;
    writeln!(out, "checks:")?;
    let w = r.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.checks {
        writeln!(
            out,
            "  {:<7} {:<w$}  {}",
            c.status.label(),
            c.name,
            c.detail
        )?;
        if let Some(fix) = &c.fix
            && c.status != Status::Ok
        {
            writeln!(out, "  {:<7} {:<w$}  fix: {fix}", "", "")?;
        }
    }
    for (title, list) in [
        ("peek backends:", &r.peek_backends),
        ("commands:", &r.commands),
    ] {
        writeln!(out)?;
        writeln!(out, "{title}")?;
        let w = list.iter().map(|v| v.name.len()).max().unwrap_or(0);
        for v in list {
            writeln!(out, "  {:<7} {:<w$}  {}", v.works.label(), v.name, v.why)?;
            writeln!(out, "  {:<7} {:<w$}  needs: {}", "", "", v.needs)?;
        }
    }
    let missing = r.checks.iter().filter(|c| c.status != Status::Ok).count();
    let unusable = r
        .commands
        .iter()
        .filter(|c| c.works != Readiness::Yes)
        .count();
    writeln!(out)?;
    writeln!(
        out,
        "{missing} of {} checks need attention; {unusable} of {} commands are limited or unavailable",
        r.checks.len(),
        r.commands.len()
    )?;
    Ok(())
}

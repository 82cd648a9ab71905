//! `kpeek sym`: kernel symbols from `/proc/kallsyms` (or any kallsyms / System.map file).
//!
//! `kpeek sym [--kallsyms FILE] [--json] QUERY...` answers queries in input order, and three
//! subcommands work on the whole table: `symbolize` (text from stdin), `search`, `stats`.
//! Queries and subcommands share one level (clap: positional arguments beside subcommands, so
//! `kpeek sym QUERY...` stays exactly as specified): a *first* query spelled like a subcommand
//! (`stats`, `search`, `symbolize`, `help`) must follow `--` (`kpeek sym -- stats`) or come from
//! stdin; after a first query every word is a query.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use ksyms::{Ksyms, LoadOptions};

mod listing;
mod queries;
mod text;

const AFTER_HELP: &str = "\
QUERY forms:
  0xffffffff8110a0f4          an address: the symbol containing it (like %pS)
  schedule                    a name: every symbol of that name
  schedule+0x24[/0xb0] [mod]  a symbol expression: the address it denotes
  -                           read queries from stdin, one per line

Exit codes: 0 every query answered; 1 some query had no answer; 2 usage or input error
(unreadable, malformed or hidden symbol table, bad query).

Examples:
  kpeek sym schedule 0xffffffff8110a0f4
  kpeek sym --json - < addresses.txt
  dmesg | kpeek sym symbolize
  kpeek sym search 'vfs_*' --type T --exported
  kpeek sym --kallsyms System.map stats";

/// Kernel symbols: address -> name+0xoff/0xsize [module], name -> addresses.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Symbol table to read: /proc/kallsyms format or System.map [default: /proc/kallsyms].
    #[arg(long, value_name = "FILE", global = true)]
    kallsyms: Option<PathBuf>,
    /// One JSON object per line instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Skip malformed lines of the table (their count is reported on stderr) instead of failing.
    #[arg(long, global = true)]
    lenient: bool,
    /// Addresses (0x...), names, or sym+0xoff expressions; `-` reads them from stdin.
    #[arg(value_name = "QUERY")]
    queries: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Symbolize kernel addresses in text read from stdin (oops, stack dump, perf script).
    Symbolize(text::Args),
    /// List symbols by name pattern, module, type, export.
    Search(listing::SearchArgs),
    /// Counts per type and module, exported count, address range of each region.
    Stats,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.command.is_none() && args.queries.is_empty() {
        anyhow::bail!(
            "nothing to do: give a QUERY (address, name, sym+0xoff, or - for stdin) or a \
             subcommand (symbolize, search, stats); see `kpeek sym --help`"
        );
    }
    let ks = load(&args)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let result = dispatch(&ks, &args, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        // The reader went away (`| head`): not an error of ours.
        Err(e) if crate::cli::output::is_closed_pipe(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn dispatch(ks: &Ksyms, args: &Args, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(Command::Symbolize(a)) => {
            let mut input = io::BufReader::with_capacity(64 << 10, io::stdin().lock());
            text::run(ks, a, args.json, &mut input, out)
        }
        Some(Command::Search(a)) => listing::search(ks, a, args.json, out),
        Some(Command::Stats) => listing::stats(ks, args.json, out),
        None => queries::run(ks, &args.queries, args.json, &mut io::stdin().lock(), out),
    }
}

fn load(args: &Args) -> anyhow::Result<Ksyms> {
    if let Some(ks) = load_for_addresses(args) {
        return Ok(ks);
    }
    let opts = LoadOptions {
        lenient: args.lenient,
        ..LoadOptions::default()
    };
    let ks = Ksyms::load(args.kallsyms.as_deref(), &opts)?;
    if let Some((line, reason)) = ks.first_skipped() {
        crate::errln!(
            "kpeek: {}: skipped {} malformed line(s) (first: line {line}: {reason})",
            ks.source(),
            ks.skipped_lines()
        );
    }
    Ok(ks)
}

/// Only address queries on a saved table: read the file once and index only the lines that
/// can answer them (`Ksyms::for_addresses`, same answers). `None`: load the whole table.
///
/// The file is read, never mapped (`Ksyms::from_path_mapped` is `unsafe`): any process may
/// truncate or rewrite a file given by path while it is scanned, and a mapping then raises
/// SIGBUS or changes bytes behind a `&[u8]`. Nothing checkable makes an arbitrary path safe:
/// a read lease (`F_SETLEASE`) needs the file's owner or CAP_LEASE, fails while a writer has it
/// open, and is broken by the kernel after `fs.lease-break-time` seconds whatever the holder
/// does; seals exist for memfds only. Mapping would not pay either: mapping, populating and
/// unmapping a 5 MB table costs more than the kernel's copy into a 64 KiB buffer that stays in
/// cache (docs/benchmarks.md).
fn load_for_addresses(args: &Args) -> Option<Ksyms> {
    let path = args.kallsyms.as_deref()?;
    if args.command.is_some() || args.lenient || path == std::path::Path::new(ksyms::KALLSYMS) {
        return None;
    }
    let addrs: Option<Vec<u64>> = args
        .queries
        .iter()
        .map(|q| {
            let hex = q.strip_prefix("0x")?;
            u64::from_str_radix(hex, 16).ok()
        })
        .collect();
    Ksyms::for_addresses(path, &addrs?)
}

/// Exit code from "every query answered".
pub(crate) fn code(all_answered: bool) -> ExitCode {
    if all_answered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Writes a line; a closed pipe (`| head`) ends output quietly.
pub(crate) fn emit(out: &mut impl Write, line: std::fmt::Arguments<'_>) -> io::Result<()> {
    out.write_fmt(line)?;
    out.write_all(b"\n")
}

/// Reads queries from stdin for the `-` query: one per line, blank lines skipped.
pub(crate) fn stdin_queries(stdin: &mut impl BufRead) -> anyhow::Result<Vec<String>> {
    let mut v = Vec::new();
    for line in stdin.lines() {
        let line = line.context("reading queries from stdin")?;
        let q = line.trim();
        if !q.is_empty() {
            v.push(q.to_string());
        }
    }
    Ok(v)
}

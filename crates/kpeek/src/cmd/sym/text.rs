//! `kpeek sym symbolize`: kernel addresses in any text (oops, stack dump, `perf script`)
//! get their `sym+0xoff/0xsize [mod]`; everything else passes through untouched.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use ksyms::{Ksyms, Mode};
use serde::Serialize;

use super::emit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Replace each address with its symbol instead of appending the symbol after it.
    #[arg(long)]
    replace: bool,
}

#[derive(Serialize)]
struct FoundJson<'a> {
    line: usize,
    column: usize,
    text: &'a str,
    addr: String,
    name: &'a str,
    offset: u64,
    size: Option<u64>,
    module: Option<&'a str>,
    #[serde(rename = "type")]
    kind: String,
}

/// Streams stdin line by line; output is flushed whenever the input is caught up, so a live
/// `dmesg -w` works. Text mode exits 0; with `--json` it prints one object per address found
/// (line, 1-based byte column) and exits 1 when there was none.
pub(super) fn run(
    ks: &Ksyms,
    args: &Args,
    json: bool,
    input: &mut BufReader<impl Read>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let mode = if args.replace {
        Mode::Replace
    } else {
        Mode::Append
    };
    let mut buf = Vec::new();
    let mut no = 0;
    let mut total = 0;
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf).context("reading stdin")?;
        if n == 0 {
            break;
        }
        no += 1;
        // Binary junk in a log must not stop the stream: lossy, then symbolize.
        let line = String::from_utf8_lossy(&buf);
        if json {
            for f in ks.addresses_in(&line) {
                total += 1;
                let r = &f.resolved;
                let j = FoundJson {
                    line: no,
                    column: f.range.start + 1,
                    text: &line[f.range.clone()],
                    addr: format!("{:#x}", r.addr),
                    name: r.symbol.name,
                    offset: r.offset,
                    size: r.size,
                    module: r.symbol.module,
                    kind: r.symbol.kind.to_string(),
                };
                emit(out, format_args!("{}", serde_json::to_string(&j)?))?;
            }
        } else {
            let s = ks.symbolize_text(&line, mode);
            total += s.found;
            out.write_all(s.text.as_bytes())?;
        }
        // Caught up with the input (a live `dmesg -w`, a terminal): show what we have before
        // the next read blocks. A file or a fast pipe flushes only every 64 KiB of input.
        if input.buffer().is_empty() {
            out.flush()?;
        }
    }
    Ok(if json && total == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

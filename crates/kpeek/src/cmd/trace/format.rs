//! `kpeek trace format EVENT`: an event's record layout, from its tracefs format file.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kpeek_trace::format::{EventFormat, Field};
use serde::Serialize;

use super::list::open_tracefs;

const AFTER_HELP: &str = "\
Shows every field (common ones first) with its C type, offset, size, signedness and how kpeek
decodes it, then the kernel's print format. An unknown EVENT is an error that suggests close
names (the same name in other systems, near spellings).

Examples:
  kpeek trace format sched:sched_switch
  kpeek trace format netif_receive_skb --json

Exit codes: 0 shown; 2 unknown event, malformed format file, or tracefs missing.";

/// Show an event's record layout, from its tracefs format file.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The event (system:name or a unique bare name).
    #[arg(value_name = "EVENT")]
    event: String,
    /// One JSON object: {"event","system","name","id","common_fields":[...],"fields":[...],
    /// "print_fmt"}; each field {"name","type","offset","size","signed","kind"}.
    #[arg(long)]
    json: bool,
    /// Use this tracefs mount instead of /sys/kernel/tracing (or /sys/kernel/debug/tracing).
    #[arg(long, value_name = "DIR")]
    tracefs: Option<PathBuf>,
}

#[derive(Serialize)]
struct JsonField<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    c_type: &'a str,
    offset: usize,
    size: usize,
    signed: bool,
    kind: String,
}

#[derive(Serialize)]
struct JsonFormat<'a> {
    event: String,
    system: &'a str,
    name: &'a str,
    id: u32,
    common_fields: Vec<JsonField<'a>>,
    fields: Vec<JsonField<'a>>,
    print_fmt: &'a str,
}

fn json_fields(fields: &[Field]) -> Vec<JsonField<'_>> {
    fields
        .iter()
        .map(|f| JsonField {
            name: &f.name,
            c_type: &f.c_type,
            offset: f.offset,
            size: f.size,
            signed: f.signed,
            kind: f.kind.describe(),
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let fs = open_tracefs(args.tracefs.as_ref())?;
    let name = fs.lookup(&args.event)?;
    let f = fs.format(&name)?;
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let j = JsonFormat {
            event: f.name.to_string(),
            system: &f.name.system,
            name: &f.name.name,
            id: f.id,
            common_fields: json_fields(&f.common_fields),
            fields: json_fields(&f.fields),
            print_fmt: &f.print_fmt,
        };
        serde_json::to_writer_pretty(&mut out, &j)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &f)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, f: &EventFormat) -> io::Result<()> {
    writeln!(
        out,
        "{}  id {}  {} fields, fixed part {} bytes",
        f.name,
        f.id,
        f.fields.len(),
        f.min_record_size()
    )?;
    let all: Vec<&Field> = f.common_fields.iter().chain(&f.fields).collect();
    let w_name = all.iter().map(|x| x.name.len()).max().unwrap_or(0).max(5);
    let w_type = all.iter().map(|x| x.c_type.len()).max().unwrap_or(0).max(4);
    let row = |out: &mut dyn Write, cols: [&str; 6]| {
        writeln!(
            out,
            "  {:<w_name$}  {:<w_type$}  {:>6}  {:>4}  {:<6}  {}",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]
        )
    };
    row(
        out,
        ["FIELD", "TYPE", "OFFSET", "SIZE", "SIGNED", "DECODED AS"],
    )?;
    for (i, group) in [&f.common_fields, &f.fields].into_iter().enumerate() {
        if i == 1 && !f.common_fields.is_empty() && !f.fields.is_empty() {
            writeln!(out)?;
        }
        for x in group {
            row(
                out,
                [
                    &x.name,
                    &x.c_type,
                    &x.offset.to_string(),
                    &x.size.to_string(),
                    if x.signed { "yes" } else { "no" },
                    &x.kind.describe(),
                ],
            )?;
        }
    }
    writeln!(out, "print fmt: {}", f.print_fmt)
}

//! `kpeek peek --watch`: the expressions planned once, then read again and again.
//!
//! A plan whose every step is fixed and whose leaf is a plain integer (the common case: a
//! counter, `mod:sym`, `sym.field`, `runqueues@cpu1.nr_switches`) is read with one backend call
//! into a stack buffer and printed from text prepared once: no allocation and no type lookup per
//! reading. Anything else (pointers to follow, `@all`, strings, records) goes through
//! [`Session::read_plan`] and the ordinary printer. Output is buffered: it is written once per
//! interval, or, with no pause and a file or pipe as output, when the buffer is full or
//! [`FLUSH_EVERY`] has passed.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kpeek_peek::Session;
use kpeek_peek::plan::{IntLeaf, Plan};
use kpeek_peek::value::Value;
use kpeek_peek::via::Backend;
use serde_json::json;

use super::{Args, emit};

/// With no pause between readings, the longest output waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Stand-ins for the value and the rate in the JSON template.
const VALUE_MARK: &str = "\u{1}kpeek-value";
const RATE_MARK: &str = "\u{1}kpeek-rate";

/// How one expression is read and printed each time.
enum Reading {
    /// A fixed integer: `head` is `EXPR = ` (text) or the JSON object up to the first of value
    /// and rate, `mid` what lies between them, `tail` the rest.
    Int {
        leaf: IntLeaf,
        head: String,
        mid: String,
        tail: String,
        /// In the JSON template, whether the rate comes before the value.
        rate_first: bool,
    },
    /// Anything else: [`Session::read_plan`] and the ordinary printer.
    General,
}

/// The printed text of a fixed integer reading, prepared once (the same text `emit` prints).
fn prepare(
    session: &mut Session,
    plan: &Plan,
    backend: &dyn Backend,
    as_json: bool,
) -> anyhow::Result<Reading> {
    let Some(leaf) = plan.int_leaf() else {
        return Ok(Reading::General);
    };
    if !as_json {
        return Ok(Reading::Int {
            leaf,
            head: format!("{} = ", plan.text()),
            mid: String::new(),
            tail: String::new(),
            rate_first: false,
        });
    }
    // The JSON object `emit` prints, with marks for the two fields that change.
    let a = session.read_plan(plan, backend)?;
    let mut j = json!({
        "expr": a.expr,
        "type": a.ty,
        "value": VALUE_MARK,
        "via": a.via,
        "type_from": a.type_from,
        "located": a.located,
        "rate": RATE_MARK,
    });
    if let Some(addr) = a.addr {
        j["addr"] = json!(format!("{addr:#x}"));
    }
    let t = j.to_string();
    let mark = |m: &str| serde_json::to_string(m).expect("a string serializes");
    let (v, r) = (mark(VALUE_MARK), mark(RATE_MARK));
    let (vi, ri) = (t.find(&v), t.find(&r));
    let (Some(vi), Some(ri)) = (vi, ri) else {
        return Ok(Reading::General);
    };
    let rate_first = ri < vi;
    let (first, flen, second, slen) = if rate_first {
        (ri, r.len(), vi, v.len())
    } else {
        (vi, v.len(), ri, r.len())
    };
    Ok(Reading::Int {
        leaf,
        head: t[..first].to_string(),
        mid: t[first + flen..second].to_string(),
        tail: t[second + slen..].to_string(),
        rate_first,
    })
}

/// Writes an integer value (decimal, as both printers do).
fn write_num(out: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Signed(x) => write!(out, "{x}"),
        Value::Unsigned(x) => write!(out, "{x}"),
        _ => unreachable!("an integer leaf decodes to an integer"),
    }
}

/// Writes the rate as JSON (`null` before the second reading), as `emit` does.
fn write_json_rate(out: &mut impl Write, rate: Option<f64>) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &rate).map_err(io::Error::other)
}

fn print_int(
    out: &mut impl Write,
    r: &Reading,
    value: &Value,
    rate: Option<f64>,
    as_json: bool,
) -> io::Result<()> {
    let Reading::Int {
        head,
        mid,
        tail,
        rate_first,
        ..
    } = r
    else {
        unreachable!("only integer readings")
    };
    out.write_all(head.as_bytes())?;
    if as_json {
        if *rate_first {
            write_json_rate(out, rate)?;
            out.write_all(mid.as_bytes())?;
            write_num(out, value)?;
        } else {
            write_num(out, value)?;
            out.write_all(mid.as_bytes())?;
            write_json_rate(out, rate)?;
        }
        out.write_all(tail.as_bytes())?;
        out.write_all(b"\n")
    } else {
        write_num(out, value)?;
        match rate {
            Some(r) => writeln!(out, "  ({r:+.1}/s)"),
            None => out.write_all(b"\n"),
        }
    }
}

pub(super) fn watch(
    session: &mut Session,
    backend: &dyn Backend,
    args: &Args,
    interval: Duration,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let plans = args
        .exprs
        .iter()
        .map(|e| session.plan(e, backend))
        .collect::<Result<Vec<_>, _>>()?;
    let readings = plans
        .iter()
        .map(|p| prepare(session, p, backend, args.json))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut prev: Vec<Option<(i128, Instant)>> = vec![None; plans.len()];
    // A terminal sees each round at once; a file or pipe gets whole buffers.
    let flush_each = !interval.is_zero() || io::stdout().is_terminal();
    let mut n = 0u64;
    let start = Instant::now();
    let mut flushed = start;
    let mut last = start;
    loop {
        for (i, (plan, reading)) in plans.iter().zip(&readings).enumerate() {
            let (value, answer) = match reading {
                Reading::Int { leaf, .. } => (leaf.read(backend, plan.text())?, None),
                Reading::General => {
                    let a = session.read_plan(plan, backend)?;
                    (a.value.clone(), Some(a))
                }
            };
            let now = Instant::now();
            last = now;
            let num = value.as_number();
            let rate = match (num, prev[i]) {
                (Some(v), Some((pv, pt))) => {
                    let dt = now.duration_since(pt).as_secs_f64();
                    (dt > 0.0).then(|| (v - pv) as f64 / dt)
                }
                _ => None,
            };
            prev[i] = num.map(|v| (v, now));
            let r = match &answer {
                Some(a) => emit(out, session, a, args.json, Some(rate)),
                None => print_int(out, reading, &value, rate, args.json),
            };
            match r {
                // `| head`: the reader went away.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
                other => other?,
            }
        }
        n += 1;
        if args.count.is_some_and(|c| n >= c) {
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        if flush_each {
            out.flush()?;
        } else if last.duration_since(flushed) >= FLUSH_EVERY {
            out.flush()?;
            flushed = last;
        }
        // Sleep to the next tick of a fixed schedule (no drift).
        if !interval.is_zero() {
            let next = start + interval.mul_f64(n as f64);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
}

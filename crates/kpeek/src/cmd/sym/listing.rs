//! `kpeek sym search` and `kpeek sym stats`: the whole table.

use std::io::Write;
use std::process::ExitCode;

use ksyms::{CORE, Filter, Ksyms, Pattern};
use serde::Serialize;

use super::{code, emit};

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Shell glob on the whole name (`vfs_*`, `*_probe`, `tcp_v[46]_*`) [default: every name].
    #[arg(value_name = "PATTERN")]
    pattern: Option<String>,
    /// PATTERN is a regular expression, matched anywhere in the name (anchor with ^...$).
    #[arg(long, short = 'E')]
    regex: bool,
    /// Only this module (`vmlinux` for the core kernel; pseudo-modules like `bpf` too).
    #[arg(long, value_name = "NAME")]
    module: Option<String>,
    /// Only these type letters, e.g. `T` or `tT` (case matters: lower case is local).
    #[arg(long = "type", value_name = "LETTERS")]
    kinds: Option<String>,
    /// Only exported symbols (those with a __ksymtab_<name> entry).
    #[arg(long)]
    exported: bool,
}

#[derive(Serialize)]
struct SymJson<'a> {
    addr: String,
    name: &'a str,
    #[serde(rename = "type")]
    kind: String,
    module: Option<&'a str>,
    exported: bool,
}

/// Lists matches as `0xADDR T name [mod] exported`; exit 1 when nothing matched.
pub(super) fn search(
    ks: &Ksyms,
    a: &SearchArgs,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let pattern = match (&a.pattern, a.regex) {
        (None, _) => Pattern::any(),
        (Some(p), false) => Pattern::glob(p)?,
        (Some(p), true) => Pattern::regex(p)?,
    };
    let kinds: Vec<char> = a.kinds.as_deref().unwrap_or("").chars().collect();
    if let Some(k) = kinds.iter().find(|k| !k.is_ascii_alphabetic()) {
        anyhow::bail!("bad --type {k:?}: type letters are A-Z and a-z, like nm prints them");
    }
    if let Some(m) = a
        .module
        .as_ref()
        .filter(|m| *m != CORE && !ks.modules().any(|x| x == *m))
    {
        anyhow::bail!(
            "no module {m:?} in {} (modules: {}; `{CORE}` is the core kernel)",
            ks.source(),
            list_modules(ks)
        );
    }
    let filter = Filter {
        pattern,
        module: a.module.clone(),
        kinds,
        exported_only: a.exported,
    };
    let found = ks.search(&filter);
    for s in &found {
        let exported = ks.is_exported(s);
        if json {
            let j = SymJson {
                addr: format!("{:#x}", s.addr),
                name: s.name,
                kind: s.kind.to_string(),
                module: s.module,
                exported,
            };
            emit(out, format_args!("{}", serde_json::to_string(&j)?))?;
        } else {
            let m = s.module.map(|m| format!(" [{m}]")).unwrap_or_default();
            let e = if exported { " exported" } else { "" };
            emit(
                out,
                format_args!("{:#x} {} {}{m}{e}", s.addr, s.kind, s.name),
            )?;
        }
    }
    Ok(code(!found.is_empty()))
}

fn list_modules(ks: &Ksyms) -> String {
    let v: Vec<&str> = ks.modules().collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[derive(Serialize)]
struct StatsJson<'a> {
    source: &'a str,
    symbols: usize,
    exported: usize,
    absolute: usize,
    mapping: usize,
    skipped_lines: usize,
    address_digits: u8,
    types: std::collections::BTreeMap<String, usize>,
    regions: Vec<RegionJson<'a>>,
}

#[derive(Serialize)]
struct RegionJson<'a> {
    module: &'a str,
    symbols: usize,
    first: Option<String>,
    last: Option<String>,
}

pub(super) fn stats(ks: &Ksyms, json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let st = ks.stats();
    if json {
        let j = StatsJson {
            source: ks.source(),
            symbols: st.symbols,
            exported: st.exported,
            absolute: st.absolute,
            mapping: st.mapping,
            skipped_lines: st.skipped_lines,
            address_digits: ks.address_digits(),
            types: st
                .per_type
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            regions: st
                .regions
                .iter()
                .map(|r| RegionJson {
                    module: &r.module,
                    symbols: r.symbols,
                    first: r.range.map(|(lo, _)| format!("{lo:#x}")),
                    last: r.range.map(|(_, hi)| format!("{hi:#x}")),
                })
                .collect(),
        };
        emit(out, format_args!("{}", serde_json::to_string(&j)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    emit(out, format_args!("source:    {}", ks.source()))?;
    emit(
        out,
        format_args!(
            "symbols:   {} ({} exported, {} absolute, {} mapping; {} malformed lines skipped)",
            st.symbols, st.exported, st.absolute, st.mapping, st.skipped_lines
        ),
    )?;
    let types: Vec<String> = st
        .per_type
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    emit(out, format_args!("types:     {}", types.join(", ")))?;
    emit(out, format_args!("regions:   {}", st.regions.len()))?;
    let w = st.regions.iter().map(|r| r.module.len()).max().unwrap_or(0);
    let digits = ks.address_digits() as usize;
    for r in &st.regions {
        let range = match r.range {
            Some((lo, hi)) => format!("0x{lo:0digits$x}-0x{hi:0digits$x}"),
            None => "(no code or data symbol)".into(),
        };
        emit(
            out,
            format_args!("  {:<w$}  {:>7}  {range}", r.module, r.symbols),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

//! `kpeek sym QUERY...`: one answer per query, in input order.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use ksyms::{Ksyms, Resolved, SymExpr, Symbol};
use serde::Serialize;

use super::{code, emit, stdin_queries};

/// What a query asks.
enum Query<'a> {
    Addr(u64),
    Expr(SymExpr<'a>),
    Name(&'a str),
    Bad(String),
}

fn classify(q: &str) -> Query<'_> {
    if let Some(hex) = q.strip_prefix("0x").or_else(|| q.strip_prefix("0X")) {
        return match u64::from_str_radix(hex, 16) {
            Ok(a) if !hex.starts_with('+') => Query::Addr(a),
            _ => Query::Bad(format!(
                "bad address {q:?}: expected 0x followed by 1 to 16 hex digits"
            )),
        };
    }
    if q.contains('+') {
        return match SymExpr::parse(q) {
            Some(e) => Query::Expr(e),
            None => Query::Bad(format!(
                "bad symbol expression {q:?}: expected name+0xoff[/0xsize] [module]"
            )),
        };
    }
    if q.chars().any(char::is_whitespace) {
        return Query::Bad(format!("bad name {q:?}: symbol names have no blanks"));
    }
    Query::Name(q)
}

#[derive(Serialize)]
struct AddrJson<'a> {
    query: &'a str,
    addr: String,
    name: Option<&'a str>,
    offset: Option<u64>,
    size: Option<u64>,
    module: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<String>,
    exported: Option<bool>,
}

#[derive(Serialize)]
struct NameJson<'a> {
    query: &'a str,
    matches: Vec<MatchJson<'a>>,
}

#[derive(Serialize)]
struct MatchJson<'a> {
    addr: String,
    #[serde(rename = "type")]
    kind: String,
    module: Option<&'a str>,
    exported: bool,
}

#[derive(Serialize)]
struct ExprJson<'a> {
    query: &'a str,
    matches: Vec<ExprMatchJson<'a>>,
}

#[derive(Serialize)]
struct ExprMatchJson<'a> {
    addr: String,
    name: &'a str,
    offset: u64,
    size: Option<u64>,
    module: Option<&'a str>,
    #[serde(rename = "type")]
    kind: String,
    exported: bool,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    query: &'a str,
    error: &'a str,
}

fn addr_json<'a>(ks: &Ksyms, query: &'a str, addr: u64, r: Option<&Resolved<'a>>) -> AddrJson<'a> {
    AddrJson {
        query,
        addr: format!("{addr:#x}"),
        name: r.map(|r| r.symbol.name),
        offset: r.map(|r| r.offset),
        size: r.and_then(|r| r.size),
        module: r.and_then(|r| r.symbol.module),
        kind: r.map(|r| r.symbol.kind.to_string()),
        exported: r.map(|r| ks.is_exported(&r.symbol)),
    }
}

fn match_line(s: &Symbol<'_>, exported: bool) -> String {
    let mut l = format!("{:#x} {}", s.addr, s.kind);
    if let Some(m) = s.module {
        l.push_str(&format!(" [{m}]"));
    }
    if exported {
        l.push_str(" exported");
    }
    l
}

pub(super) fn run(
    ks: &Ksyms,
    args: &[String],
    json: bool,
    stdin: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let mut queries = Vec::new();
    for a in args {
        if a == "-" {
            queries.extend(stdin_queries(stdin)?);
        } else {
            queries.push(a.clone());
        }
    }
    let mut answered = true;
    let mut bad = false;
    for q in &queries {
        match classify(q) {
            Query::Bad(why) => {
                bad = true;
                if json {
                    emit(
                        out,
                        format_args!(
                            "{}",
                            serde_json::to_string(&ErrorJson {
                                query: q,
                                error: &why
                            })?
                        ),
                    )?;
                } else {
                    crate::errln!("kpeek: {why}");
                }
            }
            Query::Addr(a) => {
                let r = ks.lookup(a);
                answered &= r.is_some();
                if json {
                    let j = addr_json(ks, q, a, r.as_ref());
                    emit(out, format_args!("{}", serde_json::to_string(&j)?))?;
                } else {
                    match r {
                        Some(r) => emit(out, format_args!("{q}  {r}"))?,
                        None => emit(out, format_args!("{q}  (no symbol)"))?,
                    }
                }
            }
            Query::Name(n) => {
                let found = ks.find(n);
                answered &= !found.is_empty();
                if json {
                    let matches = found
                        .iter()
                        .map(|s| MatchJson {
                            addr: format!("{:#x}", s.addr),
                            kind: s.kind.to_string(),
                            module: s.module,
                            exported: ks.is_exported(s),
                        })
                        .collect();
                    let j = NameJson { query: q, matches };
                    emit(out, format_args!("{}", serde_json::to_string(&j)?))?;
                } else if found.is_empty() {
                    emit(out, format_args!("{q}  (not found)"))?;
                } else {
                    for s in &found {
                        emit(
                            out,
                            format_args!("{q}  {}", match_line(s, ks.is_exported(s))),
                        )?;
                    }
                }
            }
            Query::Expr(e) => {
                let found = ks.resolve_expr(&e);
                answered &= !found.is_empty();
                if json {
                    let matches = found
                        .iter()
                        .map(|r| ExprMatchJson {
                            addr: format!("{:#x}", r.addr),
                            name: r.symbol.name,
                            offset: r.offset,
                            size: r.size,
                            module: r.symbol.module,
                            kind: r.symbol.kind.to_string(),
                            exported: ks.is_exported(&r.symbol),
                        })
                        .collect();
                    let j = ExprJson { query: q, matches };
                    emit(out, format_args!("{}", serde_json::to_string(&j)?))?;
                } else if found.is_empty() {
                    emit(out, format_args!("{q}  (not found)"))?;
                } else {
                    for r in &found {
                        emit(out, format_args!("{q}  {:#x}", r.addr))?;
                    }
                }
            }
        }
    }
    if bad {
        return Ok(ExitCode::from(2));
    }
    Ok(code(answered))
}

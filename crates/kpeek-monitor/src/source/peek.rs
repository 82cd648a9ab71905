//! Kernel and module variables through kpeek-peek: one metric per expression (`jiffies`,
//! `plain_counter:reads`, `runqueues@all.nr_running` with a per-CPU breakdown).
//!
//! A peek session holds `Rc`s, so the source is built in its own thread
//! ([`crate::source::Spawn::Build`]).

use std::sync::Arc;

use kpeek_peek::session::{Options, Session};
use kpeek_peek::value::Value;
use kpeek_peek::via::bpf::Bpf;
use kpeek_peek::via::kmod::Kmod;
use kpeek_peek::via::{Backend, Kcore};

use crate::model::{Kind, MetricDesc, Reading};

use super::{Source, SourceError, Spawn};

/// The expressions, their descs, the session and the backend that reads memory.
pub struct PeekSource {
    name: String,
    exprs: Vec<String>,
    descs: Vec<Arc<MetricDesc>>,
    session: Session,
    backend: Box<dyn Backend>,
}

/// Check every expression's syntax now (a typo is bad input), then build the source in its
/// thread: types loaded, the first backend that opens (kpeek.ko, BPF, /proc/kcore).
pub fn spawn(name: &str, exprs: &[String], kind: Kind) -> Result<Spawn, String> {
    for e in exprs {
        kpeek_peek::expr::Expr::parse(e).map_err(|err| format!("peek {e:?}: {err}"))?;
    }
    let (name, exprs) = (name.to_owned(), exprs.to_vec());
    Ok(Spawn::Build {
        name: name.clone(),
        build: Box::new(move || {
            let session = Session::new(Options::default(), Box::new(ksyms::Ksyms::load_live))
                .map_err(|e| SourceError::Other(format!("peek: loading types: {e}")))?;
            let backend = open_backend().map_err(SourceError::Other)?;
            let descs = exprs
                .iter()
                .map(|e| {
                    Arc::new(
                        MetricDesc::new(&name, "value", kind, "a kernel variable (kpeek peek)")
                            .label("expr", e),
                    )
                })
                .collect();
            Ok(Box::new(PeekSource {
                name,
                exprs,
                descs,
                session,
                backend,
            }) as Box<dyn Source>)
        }),
    })
}

fn open_backend() -> Result<Box<dyn Backend>, String> {
    let mut why = Vec::new();
    match Kmod::open() {
        Ok(b) => return Ok(Box::new(b)),
        Err(e) => why.push(format!("kpeek.ko: {e}")),
    }
    match Bpf::open() {
        Ok(b) => return Ok(Box::new(b)),
        Err(e) => why.push(format!("bpf: {e}")),
    }
    match Kcore::open() {
        Ok(b) => return Ok(Box::new(b)),
        Err(e) => why.push(format!("kcore: {e}")),
    }
    Err(format!("peek: no backend opens: {}", why.join("; ")))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) if f.is_finite() => Some(*f),
        v => v.as_number().map(|n| n as f64),
    }
}

impl Source for PeekSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn privileged(&self) -> bool {
        true
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        let mut out = Vec::with_capacity(self.exprs.len());
        let mut errors = Vec::new();
        for (e, d) in self.exprs.iter().zip(&self.descs) {
            let a = match self.session.eval(e, self.backend.as_ref()) {
                Ok(a) => a,
                Err(err) => {
                    errors.push(format!("{e}: {err}"));
                    continue;
                }
            };
            let reading = match &a.value {
                Value::PerCpu(cpus) => {
                    let per: Vec<(i32, u64)> = cpus
                        .iter()
                        .filter_map(|(c, v)| Some((*c as i32, v.as_number()?.try_into().ok()?)))
                        .collect();
                    let total: u64 = per.iter().map(|p| p.1).sum();
                    Reading {
                        per_cpu: per,
                        ..Reading::int(d.clone(), total)
                    }
                }
                v => match (v.as_number().and_then(|n| u64::try_from(n).ok()), number(v)) {
                    (Some(u), _) => Reading::int(d.clone(), u),
                    (None, Some(x)) => Reading::new(d.clone(), x),
                    (None, None) => {
                        errors.push(format!("{e}: {} is not a number", a.ty));
                        continue;
                    }
                },
            };
            out.push(reading);
        }
        if out.is_empty() && !errors.is_empty() {
            return Err(SourceError::Other(format!("peek: {}", errors.join("; "))));
        }
        Ok(out)
    }
}

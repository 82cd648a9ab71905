//! Kernel and module variables through kpeek-peek: one metric per expression (`jiffies`,
//! `plain_counter:reads`, `runqueues@all.nr_running` with a per-CPU breakdown).
//!
//! Each expression is planned once, as `kpeek peek --watch` does (symbol, type and the offsets of
//! the steps through no pointer resolved; a fixed integer read with one backend call and no
//! allocation): a refresh re-reads only pointers and values. An expression that cannot be
//! planned yet (its module not loaded) is tried again at the next refresh, and one whose reading
//! fails is planned again (the module may have been reloaded elsewhere).
//!
//! A peek session holds `Rc`s, so the source is built in its own thread
//! ([`crate::source::Spawn::Build`]).

use std::sync::Arc;

use kpeek_peek::plan::Plan;
use kpeek_peek::session::{Options, Session};
use kpeek_peek::value::Value;
use kpeek_peek::via::{Backend, open_first};

use crate::model::{Kind, MetricDesc, Reading};

use super::{Source, SourceError, Spawn};

/// The expressions, their plans and descs, the session and the backend that reads memory.
pub struct PeekSource {
    name: String,
    exprs: Vec<String>,
    /// Each expression's plan, once it could be made.
    plans: Vec<Option<Plan>>,
    descs: Vec<Arc<MetricDesc>>,
    session: Session,
    backend: Box<dyn Backend>,
}

/// Why a peek source could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeekError {
    /// An expression does not parse (bad input, found before any thread starts).
    #[error("peek {expr:?}: {source}")]
    Expr {
        /// The expression as given.
        expr: String,
        /// Where and why it does not parse.
        #[source]
        source: kpeek_peek::expr::ParseError,
    },
    /// The running kernel's types (BTF) could not be loaded.
    #[error("peek: loading types: {0}")]
    Types(#[source] kpeek_peek::Error),
    /// No expression gave a reading: why, for each that failed.
    #[error("peek: {}", join(errors))]
    Reads {
        /// The expressions that failed, in order.
        errors: Vec<ExprError>,
    },
    /// None of kpeek.ko, BPF and /proc/kcore could be opened (on one line: an error row).
    #[error("peek: no backend opens: {}", one_line(refusals))]
    NoBackend {
        /// Why each backend did not open, in the order tried.
        refusals: Vec<kpeek_peek::Error>,
    },
}

fn one_line(refusals: &[kpeek_peek::Error]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn join(errors: &[ExprError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why one expression of a peek source gave no reading.
#[derive(Debug, thiserror::Error)]
#[error("{expr}: {fault}")]
#[non_exhaustive]
pub struct ExprError {
    /// The expression as given.
    pub expr: String,
    /// What failed.
    pub fault: ExprFault,
}

/// What failed in planning or reading an expression.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExprFault {
    /// Planning or reading it failed (an unknown name, unreadable memory...).
    #[error(transparent)]
    Peek(kpeek_peek::Error),
    /// A fixed integer read that is not a number.
    #[error("not a number")]
    NotANumber,
    /// A value of a type that is not a number.
    #[error("{ty} is not a number")]
    TypeNotANumber {
        /// The value's type.
        ty: String,
    },
}

/// Check every expression's syntax now (a typo is bad input), then build the source in its
/// thread: types loaded, the first backend that opens (kpeek.ko, BPF, /proc/kcore).
///
/// # Errors
///
/// [`PeekError::Expr`] for an expression that does not parse. What fails in the thread
/// (types, backends) is the source's error at every read instead.
pub fn spawn(name: &str, exprs: &[String], kind: Kind) -> Result<Spawn, PeekError> {
    for e in exprs {
        kpeek_peek::expr::Expr::parse(e).map_err(|source| PeekError::Expr {
            expr: e.clone(),
            source,
        })?;
    }
    let (name, exprs) = (name.to_owned(), exprs.to_vec());
    Ok(Spawn::Build {
        name: name.clone(),
        build: Box::new(move || {
            let mut session = Session::new(Options::default(), Box::new(ksyms::Ksyms::load_live))
                .map_err(PeekError::Types)?;
            let backend = open_backend()?;
            // What cannot be planned now is tried again at each refresh (and reported there).
            let plans: Vec<Option<Plan>> = exprs
                .iter()
                .map(|e| session.plan(e, backend.as_ref()).ok())
                .collect();
            let descs = exprs
                .iter()
                .zip(&plans)
                .map(|(e, plan)| {
                    Arc::new(MetricDesc {
                        width: counter_width(kind, plan.as_ref()),
                        ..MetricDesc::new(&name, "value", kind, "a kernel variable (kpeek peek)")
                            .label("expr", e)
                    })
                })
                .collect();
            Ok(Box::new(PeekSource {
                name,
                exprs,
                plans,
                descs,
                session,
                backend,
            }) as Box<dyn Source>)
        }),
    })
}

/// The bits a counter wraps at: its type's, when the expression is an unsigned integer
/// narrower than 64 bits (`unsigned int` counters wrap at 2^32; the rate then sees an
/// increase, not a reset). Unknown until the expression is planned.
fn counter_width(kind: Kind, plan: Option<&Plan>) -> Option<u8> {
    let leaf = plan?.int_leaf()?;
    (kind == Kind::Counter && !leaf.signed && leaf.size < 8).then(|| (leaf.size * 8) as u8)
}

/// The first of kpeek.ko, BPF and /proc/kcore that opens (`kpeek peek --via auto`).
fn open_backend() -> Result<Box<dyn Backend>, PeekError> {
    open_first().map_err(|refusals| PeekError::NoBackend { refusals })
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
        let fail = |expr: &str, fault| ExprError {
            expr: expr.to_owned(),
            fault,
        };
        let mut out = Vec::with_capacity(self.exprs.len());
        let mut errors = Vec::new();
        for ((e, d), plan) in self.exprs.iter().zip(&self.descs).zip(&mut self.plans) {
            let backend = self.backend.as_ref();
            if plan.is_none() {
                match self.session.plan(e, backend) {
                    Ok(p) => *plan = Some(p),
                    Err(err) => {
                        errors.push(fail(e, ExprFault::Peek(err)));
                        continue;
                    }
                }
            }
            let p = plan.as_ref().expect("planned above");
            // A fixed integer: one read, no allocation.
            if let Some(leaf) = p.int_leaf() {
                match leaf.read(backend, e) {
                    Ok(v) => match (
                        v.as_number().and_then(|n| u64::try_from(n).ok()),
                        number(&v),
                    ) {
                        (Some(u), _) => out.push(Reading::int(d.clone(), u)),
                        (None, Some(x)) => out.push(Reading::new(d.clone(), x)),
                        (None, None) => errors.push(fail(e, ExprFault::NotANumber)),
                    },
                    Err(err) => {
                        errors.push(fail(e, ExprFault::Peek(err)));
                        *plan = None;
                    }
                }
                continue;
            }
            let a = match self.session.read_plan(p, backend) {
                Ok(a) => a,
                Err(err) => {
                    errors.push(fail(e, ExprFault::Peek(err)));
                    *plan = None;
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
                        errors.push(fail(e, ExprFault::TypeNotANumber { ty: a.ty.clone() }));
                        continue;
                    }
                },
            };
            out.push(reading);
        }
        if out.is_empty() && !errors.is_empty() {
            return Err(SourceError::Peek(Box::new(PeekError::Reads { errors })));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the running kernel (BPF here: no kpeek.ko, no /proc/kcore), as root: a fixed
    /// integer (`runqueues@cpuN.cpu`, read through its plan's one-read path), a per-CPU
    /// selection (`@all`, through the general plan) and an unknown name, which hides neither
    /// (planned again at each refresh) and, alone, is the refresh's error.
    #[test]
    #[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
    fn planned_readings_of_the_running_kernel() {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata("/proc/self").unwrap().uid(),
            0,
            "this test reads kernel memory: run it as root"
        );
        let exprs: Vec<String> = [
            "runqueues@cpu0.cpu",
            "runqueues@all.cpu",
            "no_such_var_kpeek",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let Spawn::Build { build, .. } = spawn("peek", &exprs, Kind::Gauge).unwrap() else {
            panic!("a peek source is built in its thread");
        };
        let mut src = build().unwrap_or_else(|e| panic!("building the peek source: {e:?}"));
        let cpus = kpeek_peek::percpu::possible_cpus().unwrap();
        for round in 0..3 {
            let err = match src.read() {
                Ok(r) => {
                    assert_eq!(r.len(), 2, "round {round}: two readings");
                    assert_eq!(r[0].value, 0.0, "round {round}: runqueues@cpu0.cpu");
                    let per: Vec<i32> = r[1].per_cpu.iter().map(|p| p.0).collect();
                    let want: Vec<i32> = cpus.iter().map(|c| *c as i32).collect();
                    assert_eq!(per, want, "round {round}: one value per possible CPU");
                    assert!(
                        r[1].per_cpu.iter().all(|(c, v)| *v == *c as u64),
                        "round {round}: each CPU's run queue says its own number: {:?}",
                        r[1].per_cpu
                    );
                    continue;
                }
                Err(e) => e,
            };
            panic!("round {round}: the known expressions must read: {err:?}");
        }
        // Counters declare their type's width: `nr_running` is an unsigned int, `nr_switches`
        // a u64.
        let counters = [
            "runqueues@cpu0.nr_running".to_owned(),
            "runqueues@cpu0.nr_switches".to_owned(),
        ];
        let Spawn::Build { build: b, .. } = spawn("peek", &counters, Kind::Counter).unwrap() else {
            panic!("a peek source is built in its thread");
        };
        let r = b().unwrap_or_else(|e| panic!("{e:?}")).read().unwrap();
        assert_eq!((r[0].desc.width, r[1].desc.width), (Some(32), None));
        let Spawn::Build { build, .. } = spawn("peek", &exprs[2..], Kind::Gauge).unwrap() else {
            panic!("a peek source is built in its thread");
        };
        let mut src = build().unwrap_or_else(|e| panic!("building the peek source: {e:?}"));
        match src.read() {
            Err(SourceError::Peek(p)) => match *p {
                PeekError::Reads { ref errors } => {
                    assert_eq!(errors.len(), 1, "{p}");
                    assert_eq!(errors[0].expr, "no_such_var_kpeek");
                    assert!(matches!(errors[0].fault, ExprFault::Peek(_)), "{p:?}");
                    assert!(
                        p.to_string().starts_with("peek: no_such_var_kpeek: "),
                        "{p}"
                    );
                }
                ref other => panic!("an unknown name alone: {other}"),
            },
            other => panic!("an unknown name alone: {:?}", other.map(|r| r.len())),
        }
    }
}

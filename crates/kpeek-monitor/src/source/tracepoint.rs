//! Tracepoint hit counts per CPU through perf counting mode (what `kpeek trace stat` uses): the
//! kernel applies the filter and increments a counter; nothing is recorded.

use std::sync::Arc;

use kpeek_trace::record::RecordError;
use kpeek_trace::stat::Counter;
use kpeek_trace::tracefs::{EventName, Tracefs};

use crate::model::{Kind, MetricDesc, Reading};

use super::{Source, SourceError};

/// Counts of a set of tracepoints, one metric `events{event="sys:name"}` each, with per-CPU
/// values.
pub struct TracepointSource {
    name: String,
    events: Vec<EventName>,
    filter: Option<String>,
    counter: Option<Counter>,
    /// Why the events could not be opened (tracefs missing, permission), shown until they can.
    pending: Option<Arc<RecordError>>,
    /// The events as asked for.
    specs: Vec<String>,
    descs: Vec<Arc<MetricDesc>>,
}

impl TracepointSource {
    /// Resolve `specs` (`sys:name`, a unique bare name or a glob) and open counters with
    /// `filter`. A spec that matches no event or a filter the kernel rejects is an error (bad
    /// input); a missing tracefs or a permission problem is not: the source reports it at every
    /// read until it goes away.
    pub fn new(name: &str, specs: &[String], filter: Option<&str>) -> Result<Self, RecordError> {
        let mut s = TracepointSource {
            name: name.to_owned(),
            events: Vec::new(),
            filter: filter.map(str::to_owned),
            counter: None,
            pending: None,
            specs: specs.to_vec(),
            descs: Vec::new(),
        };
        match Tracefs::discover() {
            Ok(tfs) => {
                s.events = kpeek_trace::record::resolve_events(&tfs, specs)?;
                match s.open(&tfs) {
                    Ok(()) => {}
                    Err(e @ (RecordError::BadFilter { .. } | RecordError::BadOption(_))) => {
                        return Err(e);
                    }
                    Err(e) => s.pending = Some(Arc::new(e)),
                }
            }
            Err(e) => {
                s.pending = Some(Arc::new(RecordError::from_tracefs(e)));
            }
        }
        Ok(s)
    }

    fn open(&mut self, tfs: &Tracefs) -> Result<(), RecordError> {
        let c = Counter::open(tfs, &self.events, self.filter.as_deref(), None)?;
        c.enable()?;
        self.descs = self
            .events
            .iter()
            .map(|e| {
                let mut d = MetricDesc::new(
                    &self.name,
                    "events",
                    Kind::Counter,
                    "tracepoint hits (perf counting mode)",
                )
                .label("event", &e.to_string());
                if let Some(f) = &self.filter {
                    d = d.label("filter", f);
                }
                Arc::new(d)
            })
            .collect();
        self.counter = Some(c);
        self.pending = None;
        Ok(())
    }

    /// The events counted.
    pub fn events(&self) -> &[EventName] {
        &self.events
    }
}

impl Source for TracepointSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        if self.counter.is_none() {
            if self.events.is_empty() {
                let tfs = Tracefs::discover().map_err(RecordError::from_tracefs);
                match tfs {
                    Err(e) => return Err(SourceError::Trace(e)),
                    Ok(_) => {
                        return Err(self.pending.clone().map_or(
                            SourceError::NotOpen {
                                what: "tracepoints (no events resolved)",
                            },
                            |source| SourceError::Unopened {
                                events: self.specs.clone(),
                                source,
                            },
                        ));
                    }
                }
            }
            let tfs = Tracefs::discover()
                .map_err(RecordError::from_tracefs)
                .map_err(SourceError::Trace)?;
            self.open(&tfs).map_err(SourceError::Trace)?;
        }
        let Some(c) = &self.counter else {
            return Err(SourceError::NotOpen {
                what: "tracepoints",
            });
        };
        let rep = c.report(0.0).map_err(SourceError::Trace)?;
        Ok(rep
            .events
            .iter()
            .zip(&self.descs)
            .map(|(e, d)| Reading {
                per_cpu: e.per_cpu.iter().map(|c| (c.cpu, c.count)).collect(),
                ..Reading::int(d.clone(), e.total)
            })
            .collect())
    }
}

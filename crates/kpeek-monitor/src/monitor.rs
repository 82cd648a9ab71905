//! The monitor's state: every series with its rates, and every source's last status. Fed one
//! round of [`Outcome`]s at a time (live from a [`crate::collect::Collector`], or from a
//! recording), it keeps what every output needs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::collect::Outcome;
use crate::model::{Kind, MetricDesc, Reading};
use crate::rate::{SeriesId, Store};

/// One series and its state.
#[derive(Clone, Debug)]
pub struct Row {
    /// What the series is.
    pub desc: Arc<MetricDesc>,
    /// Its rates, averages and history: in [`Monitor::series`].
    pub id: SeriesId,
    /// The last value.
    pub value: f64,
    /// The last value as an exact integer, when the source gave one.
    pub exact: Option<u64>,
    /// The rate since the previous reading (counters).
    pub rate: Option<f64>,
    /// A reset was seen at the last reading.
    pub reset: bool,
    /// Per CPU: (cpu, last value, series).
    pub per_cpu: Vec<(i32, u64, SeriesId)>,
    /// The round this row was last read in.
    seen: u64,
}

impl Row {
    /// The value as text: exact when the source gave an integer, else the float's shortest
    /// form (as the exposition formats spell it).
    pub fn value_text(&self) -> String {
        match self.exact {
            Some(v) => v.to_string(),
            None => crate::expo::number(self.value),
        }
    }

    /// The per-CPU values and rates (rates of counters only; `None` for a gauge), from the
    /// monitor's `store`.
    pub fn cpu_rates(&self, store: &Store) -> Vec<(i32, u64, Option<f64>)> {
        let counter = self.desc.kind == Kind::Counter;
        self.per_cpu
            .iter()
            .map(|&(c, v, s)| (c, v, store.last_history(s).filter(|_| counter)))
            .collect()
    }
}

/// A source's status after the last round.
#[derive(Clone, Debug, Serialize)]
pub struct SourceStatus {
    /// The source's name.
    pub source: String,
    /// Did the source's last read succeed?
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// How long the read took, seconds.
    pub duration_s: f64,
    /// Series it gave.
    pub series: usize,
}

/// Rounds a gone series is remembered for, so its return shows as a reset.
const GONE_ROUNDS: u64 = 3600;

/// Every series and source.
#[derive(Default)]
pub struct Monitor {
    rows: Vec<Row>,
    /// Every row's series (and its per-CPU ones).
    store: Store,
    /// Row by the address of its desc: sources reuse their `Arc`s, so this hit is the common
    /// case and hashes one word. Each key is the address of the `Arc` the row holds, so it
    /// cannot be reused by another desc while in the map.
    by_ptr: HashMap<usize, usize>,
    /// Row by the desc's content: for a source that made a new `Arc` for the same metric.
    index: HashMap<Arc<MetricDesc>, usize>,
    status: Vec<SourceStatus>,
    round: u64,
    /// Series that went away (their source answered without them), by the round they went: one
    /// that comes back is a new instance (a module reloaded, a counter re-created), so its first
    /// reading is a reset. Forgotten after [`GONE_ROUNDS`].
    gone: HashMap<Arc<MetricDesc>, u64>,
    /// Per source, the row of each of its readings in the last round, by position: sources
    /// give their readings in the same order every round, so the row of reading `i` is found
    /// by one pointer comparison, without hashing.
    slots: HashMap<String, Vec<usize>>,
    /// Bumped whenever a row is added or removed (see [`Monitor::layout`]).
    layout: u64,
    /// Rows read so far this round.
    seen_now: usize,
    /// Monotonic seconds and Unix seconds of the last round.
    pub t: f64,
    /// Unix seconds of the last round.
    pub wall: f64,
}

impl Monitor {
    /// An empty monitor, before its first round.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one round of outcomes read at monotonic time `t` and Unix time `wall` (seconds).
    pub fn ingest(&mut self, t: f64, wall: f64, outcomes: Vec<Outcome>) {
        self.round += 1;
        self.store.begin(t);
        self.t = t;
        self.wall = wall;
        self.status.clear();
        let mut failed: Vec<String> = Vec::new();
        for o in outcomes {
            let took = o.took.as_secs_f64();
            match o.result {
                Ok(readings) => {
                    self.status.push(SourceStatus {
                        source: o.source.clone(),
                        ok: true,
                        error: None,
                        duration_s: took,
                        series: readings.len(),
                    });
                    let mut slots = self.slots.remove(&o.source).unwrap_or_default();
                    slots.truncate(readings.len());
                    for (pos, r) in readings.into_iter().enumerate() {
                        let hint = slots.get(pos).copied();
                        let i = self.take(wall, r, hint);
                        match slots.get_mut(pos) {
                            Some(s) => *s = i,
                            None => slots.push(i),
                        }
                    }
                    self.slots.insert(o.source, slots);
                }
                Err(e) => {
                    failed.push(o.source.clone());
                    self.status.push(SourceStatus {
                        source: o.source,
                        ok: false,
                        error: Some(e.to_string()),
                        duration_s: took,
                        series: 0,
                    });
                }
            }
        }
        // Series of a source that answered but no longer shows them are gone; those of a source
        // that failed are kept (stale) so their history survives a blip.
        let round = self.round;
        let before = self.rows.len();
        let gone = &mut self.gone;
        let store = &mut self.store;
        // Every row read this round (the common case): nothing to drop, no pass over the rows.
        let all_seen = self.seen_now == before;
        self.seen_now = 0;
        if !all_seen {
            self.rows.retain(|r| {
                let keep = r.seen == round || failed.iter().any(|f| *f == r.desc.source);
                if !keep {
                    gone.insert(r.desc.clone(), round);
                    store.remove(r.id);
                    for &(_, _, s) in &r.per_cpu {
                        store.remove(s);
                    }
                }
                keep
            });
        }
        if round.is_multiple_of(64) {
            self.gone
                .retain(|_, &mut went| round.saturating_sub(went) <= GONE_ROUNDS);
        }
        if self.rows.len() != before {
            // Row indexes moved: the positional hints are stale.
            self.slots.clear();
            self.layout += 1;
            self.index = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.desc.clone(), i))
                .collect();
            self.by_ptr = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| (Arc::as_ptr(&r.desc) as usize, i))
                .collect();
        }
    }

    /// Take one reading; `hint` is the row the reading at this position was last round.
    /// Returns the reading's row.
    fn take(&mut self, wall: f64, r: Reading, hint: Option<usize>) -> usize {
        let counter = r.desc.kind == Kind::Counter;
        let ptr = Arc::as_ptr(&r.desc) as usize;
        let hinted = hint.filter(|&i| {
            self.rows
                .get(i)
                .is_some_and(|row| Arc::as_ptr(&row.desc) as usize == ptr)
        });
        let found = match hinted.or_else(|| self.by_ptr.get(&ptr).copied()) {
            Some(i) => Some(i),
            None => self.index.get(&r.desc).copied().inspect(|&i| {
                // The same metric in a new Arc: the row now holds (and is found by) that one.
                self.by_ptr
                    .remove(&(Arc::as_ptr(&self.rows[i].desc) as usize));
                self.rows[i].desc = r.desc.clone();
                self.by_ptr.insert(ptr, i);
            }),
        };
        let mut returned = false;
        let i = match found {
            Some(i) => i,
            None => {
                returned = self.gone.remove(&r.desc).is_some();
                let id = self.store.add(counter, r.desc.width, wall);
                self.rows.push(Row {
                    desc: r.desc.clone(),
                    id,
                    value: r.value,
                    exact: r.exact,
                    rate: None,
                    reset: false,
                    per_cpu: Vec::new(),
                    seen: 0,
                });
                self.index.insert(r.desc.clone(), self.rows.len() - 1);
                self.by_ptr.insert(ptr, self.rows.len() - 1);
                self.layout += 1;
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[i];
        if row.seen == self.round {
            // The same series twice in one round (a source bug): keep the first.
            return i;
        }
        let up = self.store.update(row.id, r.value, r.epoch, wall);
        row.value = r.value;
        row.exact = r.exact;
        row.rate = up.rate;
        row.reset = up.reset || returned;
        row.seen = self.round;
        self.seen_now += 1;
        if !r.per_cpu.is_empty() {
            if row.per_cpu.len() != r.per_cpu.len()
                || row.per_cpu.iter().zip(&r.per_cpu).any(|(a, b)| a.0 != b.0)
            {
                for &(_, _, s) in &row.per_cpu {
                    self.store.remove(s);
                }
                let store = &mut self.store;
                row.per_cpu = r
                    .per_cpu
                    .iter()
                    .map(|&(c, _)| (c, 0, store.add(counter, None, wall)))
                    .collect();
            }
            for ((_, v, s), &(_, nv)) in row.per_cpu.iter_mut().zip(&r.per_cpu) {
                self.store.update(*s, nv as f64, r.epoch, wall);
                *v = nv;
            }
        }
        i
    }

    /// Every series, in the order first seen.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The rates, averages and history of every row's series (by [`Row::id`]).
    pub fn series(&self) -> &Store {
        &self.store
    }

    /// A row's 1 s / 10 s / 60 s averages.
    pub fn averages(&self, r: &Row) -> [Option<f64>; 3] {
        self.store.averages(r.id)
    }

    /// Every source's status after the last round.
    pub fn status(&self) -> &[SourceStatus] {
        &self.status
    }

    /// Changes whenever a row is added or removed, and only then: a view that orders rows by
    /// what does not change (name, labels) re-sorts only when this does.
    pub fn layout(&self) -> u64 {
        self.layout
    }

    /// Rounds taken.
    pub fn rounds(&self) -> u64 {
        self.round
    }
}

/// A helper for tests and replays: an [`Outcome`] from readings.
pub fn outcome(source: &str, readings: Vec<Reading>, took: Duration) -> Outcome {
    Outcome {
        source: source.to_owned(),
        result: Ok(readings),
        took,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str) -> Arc<MetricDesc> {
        Arc::new(MetricDesc::new("s", name, Kind::Counter, ""))
    }

    #[test]
    fn rows_rates_and_vanishing_series() {
        let (a, b) = (desc("a"), desc("b"));
        let mut m = Monitor::new();
        let r = |d: &Arc<MetricDesc>, v: f64| Reading::new(d.clone(), v);
        m.ingest(
            0.0,
            0.0,
            vec![outcome("s", vec![r(&a, 1.0), r(&b, 5.0)], Duration::ZERO)],
        );
        m.ingest(
            2.0,
            0.0,
            vec![outcome("s", vec![r(&a, 11.0), r(&b, 5.0)], Duration::ZERO)],
        );
        assert_eq!(m.rows()[0].rate, Some(5.0));
        assert_eq!(m.rows()[1].rate, Some(0.0));
        // b disappears from a healthy source: gone.
        m.ingest(
            3.0,
            0.0,
            vec![outcome("s", vec![r(&a, 12.0)], Duration::ZERO)],
        );
        assert_eq!(m.rows().len(), 1);
        // The source fails: a stays, with an error status.
        m.ingest(
            4.0,
            0.0,
            vec![Outcome {
                source: "s".into(),
                result: Err(crate::collect::ReadError::Recorded("gone".into())),
                took: Duration::ZERO,
            }],
        );
        assert_eq!(m.rows().len(), 1);
        assert!(!m.status()[0].ok);
        // It comes back lower: a reset, not a negative rate.
        m.ingest(
            5.0,
            9.0,
            vec![outcome("s", vec![r(&a, 2.0)], Duration::ZERO)],
        );
        assert!(m.rows()[0].reset);
        assert_eq!(m.rows()[0].rate, None);
        assert_eq!(m.series().created(m.rows()[0].id), 9.0);
    }

    #[test]
    fn a_series_that_comes_back_after_it_went_is_a_reset() {
        // A module reload seen between two reads: the source answers without the series (its
        // module is being removed), then with it again, counted from zero.
        let (a, b) = (desc("a"), desc("b"));
        let r = |d: &Arc<MetricDesc>, v| Reading::new(d.clone(), v);
        let mut m = Monitor::new();
        let both = |v| vec![outcome("s", vec![r(&a, v), r(&b, 1.0)], Duration::ZERO)];
        m.ingest(0.0, 0.0, both(7.0));
        m.ingest(1.0, 0.0, both(7.0));
        assert!(!m.rows()[0].reset);
        m.ingest(
            2.0,
            0.0,
            vec![outcome("s", vec![r(&b, 1.0)], Duration::ZERO)],
        );
        assert_eq!(m.rows().len(), 1);
        // b stays: only the one that returned is a reset, and only at its first reading.
        m.ingest(3.0, 0.0, both(2.0));
        let row = m.rows().iter().find(|x| x.desc == a).unwrap();
        assert!(row.reset);
        assert_eq!(row.rate, None);
        assert!(!m.rows()[0].reset);
        m.ingest(4.0, 0.0, both(3.0));
        let row = m.rows().iter().find(|x| x.desc == a).unwrap();
        assert!(!row.reset);
        assert_eq!(row.rate, Some(1.0));
        // A series never seen before is new, not a reset.
        let c = desc("c");
        m.ingest(
            5.0,
            0.0,
            vec![outcome("s", vec![r(&c, 4.0)], Duration::ZERO)],
        );
        assert!(!m.rows()[0].reset);
    }

    #[test]
    fn the_layout_changes_only_when_rows_come_or_go() {
        let (a, b) = (desc("a"), desc("b"));
        let r = |d: &Arc<MetricDesc>, v| Reading::new(d.clone(), v);
        let mut m = Monitor::new();
        let both = |v| vec![outcome("s", vec![r(&a, v), r(&b, v)], Duration::ZERO)];
        m.ingest(0.0, 0.0, both(1.0));
        let l = m.layout();
        for t in 1..5 {
            m.ingest(t as f64, 0.0, both(t as f64));
            assert_eq!(m.layout(), l);
        }
        m.ingest(
            6.0,
            0.0,
            vec![outcome("s", vec![r(&b, 9.0)], Duration::ZERO)],
        );
        assert_ne!(m.layout(), l);
        assert_eq!(m.rows()[0].rate, Some(2.5));
    }

    #[test]
    fn a_new_arc_for_the_same_metric_is_the_same_series() {
        let mut m = Monitor::new();
        for (t, v) in [(0.0, 1.0), (1.0, 3.0), (2.0, 6.0)] {
            // A fresh Arc every round, as a source that does not intern would make.
            let r = Reading::new(desc("a"), v);
            m.ingest(t, 0.0, vec![outcome("s", vec![r], Duration::ZERO)]);
        }
        assert_eq!(m.rows().len(), 1);
        assert_eq!(m.rows()[0].rate, Some(3.0));
    }

    #[test]
    fn per_cpu_rates() {
        let a = desc("a");
        let mut m = Monitor::new();
        let mk = |v: u64| Reading {
            desc: a.clone(),
            value: (v * 2) as f64,
            per_cpu: vec![(0, v), (1, v)],
            exact: None,
            epoch: 0,
        };
        m.ingest(0.0, 0.0, vec![outcome("s", vec![mk(0)], Duration::ZERO)]);
        m.ingest(1.0, 0.0, vec![outcome("s", vec![mk(10)], Duration::ZERO)]);
        assert_eq!(
            m.rows()[0].cpu_rates(m.series()),
            vec![(0, 10, Some(10.0)), (1, 10, Some(10.0))]
        );
    }
}

//! The order of a table of series (what `kpeek top` shows): filtered by name or labels, sorted
//! by a column. Work is done only when something it depends on changed: the filter and the
//! name/labels order are recomputed when rows come or go ([`Monitor::layout`]) or the user
//! changes them; only a sort by a changing number (value, rate, average) is redone every round.

use std::sync::Arc;

use crate::model::MetricDesc;
use crate::monitor::{Monitor, Row};
use crate::rate::Store;

/// What the rows are sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SortBy {
    /// Source, name, then labels.
    Name,
    /// Labels.
    Labels,
    /// The last value.
    Value,
    /// The rate since the previous reading.
    Rate,
    /// The 10 s average.
    Avg10,
}

impl SortBy {
    /// Does the order follow numbers that change every round?
    fn numeric(self) -> bool {
        matches!(self, SortBy::Value | SortBy::Rate | SortBy::Avg10)
    }

    fn key(self, r: &Row, store: &Store) -> f64 {
        match self {
            SortBy::Value => r.value,
            SortBy::Rate => r.rate.unwrap_or(f64::NEG_INFINITY),
            _ => store.average(r.id, 10.0).unwrap_or(f64::NEG_INFINITY),
        }
    }
}

/// A filtered, sorted view of a [`Monitor`]'s rows, kept across rounds.
#[derive(Debug)]
pub struct Order {
    sort: SortBy,
    descending: bool,
    filter: String,
    /// The (layout, filter) the filtered set was made for.
    made_for: Option<(u64, String)>,
    /// Rows the filter keeps, in the order of `sort` (for `Name`/`Labels`) or of the last
    /// numeric sort.
    view: Vec<usize>,
    /// Is `view` in the order of the current `sort`/`descending` for this layout?
    sorted: bool,
    /// (key, row) scratch for numeric sorts, reused.
    keys: Vec<(f64, usize)>,
}

impl Default for Order {
    fn default() -> Self {
        Order::new()
    }
}

impl Order {
    /// By name, ascending, no filter.
    pub fn new() -> Self {
        Order {
            sort: SortBy::Name,
            descending: false,
            filter: String::new(),
            made_for: None,
            view: Vec::new(),
            sorted: false,
            keys: Vec::new(),
        }
    }

    /// Sort by `by`, descending or not.
    pub fn set_sort(&mut self, by: SortBy, descending: bool) {
        if (by, descending) != (self.sort, self.descending) {
            self.sort = by;
            self.descending = descending;
            self.sorted = false;
        }
    }

    /// Keep only rows whose `source:name` or labels (`k=v,...`) contain `filter` (ignoring
    /// case); empty keeps all.
    pub fn set_filter(&mut self, filter: &str) {
        let f = filter.to_lowercase();
        if f != self.filter {
            self.filter = f;
        }
    }

    /// The rows to show for `m`'s last round, as indexes into [`Monitor::rows`].
    pub fn refresh(&mut self, m: &Monitor) -> &[usize] {
        let rows = m.rows();
        let current = self
            .made_for
            .as_ref()
            .is_some_and(|(l, f)| *l == m.layout() && *f == self.filter);
        if !current {
            let f = &self.filter;
            self.view.clear();
            self.view.extend((0..rows.len()).filter(|&i| {
                f.is_empty() || {
                    let d = &rows[i].desc;
                    format!("{}:{}", d.source, d.name)
                        .to_lowercase()
                        .contains(f)
                        || d.labels_text().to_lowercase().contains(f)
                }
            }));
            self.made_for = Some((m.layout(), self.filter.clone()));
            self.sorted = false;
        }
        if self.sort.numeric() {
            let by = self.sort;
            self.keys.clear();
            self.keys
                .extend(self.view.iter().map(|&i| (by.key(&rows[i], m.series()), i)));
            // Ties (and NaNs) by row, so equal keys keep a stable order across rounds.
            self.keys
                .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            if self.descending {
                self.keys.reverse();
            }
            self.view.clear();
            self.view.extend(self.keys.iter().map(|k| k.1));
        } else if !self.sorted {
            let by_name = self.sort == SortBy::Name;
            let desc = |i: usize| -> &MetricDesc { &rows[i].desc };
            self.view.sort_unstable_by(|&a, &b| {
                let (x, y) = (desc(a), desc(b));
                let o = if by_name {
                    (&x.source, &x.name, &x.labels).cmp(&(&y.source, &y.name, &y.labels))
                } else {
                    x.labels.cmp(&y.labels)
                };
                o.then(a.cmp(&b))
            });
            if self.descending {
                self.view.reverse();
            }
        }
        self.sorted = true;
        &self.view
    }

    /// The rows of the last [`Order::refresh`].
    pub fn view(&self) -> &[usize] {
        &self.view
    }

    /// Where the series `desc` is in the last view.
    pub fn position(&self, m: &Monitor, desc: &Arc<MetricDesc>) -> Option<usize> {
        let rows = m.rows();
        self.view
            .iter()
            .position(|&i| Arc::ptr_eq(&rows[i].desc, desc))
            .or_else(|| self.view.iter().position(|&i| rows[i].desc == *desc))
    }
}

/// The first `n` rows of `view` as plain text, one line each, with what a row of `kpeek top`
/// shows (name, labels, value, rate, 10 s average, a sparkline of the last 16 rates): the
/// per-refresh work of a screen, for plain-text views and for benchmarks of the monitor.
pub fn screen_text(m: &Monitor, view: &[usize], n: usize, out: &mut String) {
    use std::fmt::Write;
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    out.clear();
    let rows = m.rows();
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"));
    for &i in view.iter().take(n) {
        let r = &rows[i];
        let _ = write!(
            out,
            "{}:{} {} {:>18} {:>14} {:>12} ",
            r.desc.source,
            r.desc.name,
            r.desc.labels_text(),
            r.value_text(),
            if r.reset {
                "reset".to_owned()
            } else {
                num(r.rate)
            },
            num(m.series().average(r.id, 10.0)),
        );
        let h: Vec<f64> = m.series().history(r.id).collect();
        let max = h.iter().copied().fold(0.0f64, f64::max);
        for &v in h.iter().skip(h.len().saturating_sub(16)) {
            let b = if max > 0.0 && v.is_finite() {
                (v / max * 7.0).round()
            } else {
                0.0
            };
            out.push(BARS[b.clamp(0.0, 7.0) as usize]);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Reading};
    use crate::monitor::outcome;
    use std::time::Duration;

    fn round(m: &mut Monitor, t: f64, vals: &[(&Arc<MetricDesc>, f64)]) {
        let r = vals.iter().map(|(d, v)| Reading::new((*d).clone(), *v));
        m.ingest(t, 0.0, vec![outcome("s", r.collect(), Duration::ZERO)]);
    }

    #[test]
    fn sorts_filters_and_follows_new_rows() {
        let d =
            |n: &str, l: &str| Arc::new(MetricDesc::new("s", n, Kind::Counter, "").label("k", l));
        let (b, a, c) = (d("b", "x"), d("a", "z"), d("c", "y"));
        let mut m = Monitor::new();
        round(&mut m, 0.0, &[(&b, 1.0), (&a, 1.0)]);
        round(&mut m, 1.0, &[(&b, 11.0), (&a, 4.0)]);
        let mut o = Order::new();
        assert_eq!(o.refresh(&m), &[1, 0]);
        o.set_sort(SortBy::Rate, true);
        assert_eq!(o.refresh(&m), &[0, 1]);
        // Rates change: the numeric order follows without any other change.
        round(&mut m, 2.0, &[(&b, 12.0), (&a, 14.0)]);
        assert_eq!(o.refresh(&m), &[1, 0]);
        o.set_sort(SortBy::Labels, false);
        assert_eq!(o.refresh(&m), &[0, 1]);
        // A new row appears in its place.
        round(&mut m, 3.0, &[(&b, 12.0), (&a, 14.0), (&c, 0.0)]);
        assert_eq!(o.refresh(&m), &[0, 2, 1]);
        o.set_filter("K=Y");
        assert_eq!(o.refresh(&m), &[2]);
        o.set_filter("s:");
        o.set_sort(SortBy::Name, true);
        assert_eq!(o.refresh(&m), &[2, 0, 1]);
        assert_eq!(o.position(&m, &a), Some(2));
        // A row gone: indexes move, the view follows.
        round(&mut m, 4.0, &[(&c, 0.0), (&a, 15.0)]);
        o.set_sort(SortBy::Name, false);
        let v: Vec<&str> = o
            .refresh(&m)
            .iter()
            .map(|&i| m.rows()[i].desc.name.as_str())
            .collect();
        assert_eq!(v, ["a", "c"]);
        let mut text = String::new();
        screen_text(&m, o.view(), 1, &mut text);
        assert!(text.starts_with("s:a k=z "), "{text}");
        assert_eq!(text.lines().count(), 1);
    }
}

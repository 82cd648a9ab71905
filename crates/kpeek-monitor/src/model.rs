//! The metric model: what a metric is (source, name, labels, kind, unit) and one reading of it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How a metric's value behaves over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// Only goes up (until a reset); its rate is what matters.
    Counter,
    /// Goes up and down; its value is what matters.
    Gauge,
}

impl Kind {
    /// The name Prometheus and OpenMetrics use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// What a metric is. Shared (`Arc`) between readings: a source builds it once per metric.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetricDesc {
    /// The source's name (`mod`, `tracepoint`, `vmstat`, ...): the second word of the exported
    /// name.
    pub source: String,
    /// The metric's name within its source.
    pub name: String,
    /// Labels, in a fixed order.
    pub labels: Vec<(String, String)>,
    /// Counter or gauge.
    pub kind: Kind,
    /// The unit (`bytes`, `seconds`, ...), empty when the value is a plain count.
    pub unit: String,
    /// One line of help.
    pub help: String,
    /// For counters narrower than 64 bits: the width, so a wrap is told from a reset.
    pub width: Option<u8>,
}

impl MetricDesc {
    /// A counter or gauge with no labels, no unit and no declared width.
    pub fn new(source: &str, name: &str, kind: Kind, help: &str) -> Self {
        MetricDesc {
            source: source.to_owned(),
            name: name.to_owned(),
            labels: Vec::new(),
            kind,
            unit: String::new(),
            help: help.to_owned(),
            width: None,
        }
    }

    /// Add a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Set the unit.
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = unit.to_owned();
        self
    }

    /// The key that identifies the series within its source: `name{k="v",...}`.
    pub fn key(&self) -> String {
        let mut s = self.name.clone();
        if !self.labels.is_empty() {
            s.push('{');
            for (i, (k, v)) in self.labels.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(k);
                s.push_str("=\"");
                s.push_str(v);
                s.push('"');
            }
            s.push('}');
        }
        s
    }

    /// The labels as `k=v,k=v` (for tables).
    pub fn labels_text(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for MetricDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.key())
    }
}

/// One value of one metric, as a source read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// What the value is of.
    pub desc: Arc<MetricDesc>,
    /// The value (counters: an integer count; gauges may be fractional).
    pub value: f64,
    /// Per-CPU values (counters that the kernel keeps per CPU), `(cpu, value)`.
    pub per_cpu: Vec<(i32, u64)>,
    /// The value as an exact integer, for counters wider than an f64's 53-bit mantissa
    /// (kpeek.ko's u64 counters): outputs print this one.
    pub exact: Option<u64>,
    /// The epoch the value belongs to (kpeek.ko's generation, a reload counter): a change is a
    /// reset even when the value did not go down.
    pub epoch: u64,
}

impl Reading {
    /// A reading with no per-CPU breakdown, epoch 0.
    pub fn new(desc: Arc<MetricDesc>, value: f64) -> Self {
        Reading {
            desc,
            value,
            per_cpu: Vec::new(),
            exact: None,
            epoch: 0,
        }
    }

    /// An integer reading, kept exact.
    pub fn int(desc: Arc<MetricDesc>, value: u64) -> Self {
        Reading {
            exact: Some(value),
            ..Reading::new(desc, value as f64)
        }
    }
}

/// Interns [`MetricDesc`]s by key so a source builds each one once, not on every read.
#[derive(Debug, Default)]
pub struct DescCache {
    map: std::collections::HashMap<String, Arc<MetricDesc>>,
}

impl DescCache {
    /// The shared desc for `key`, made by `make` the first time.
    pub fn get(&mut self, key: &str, make: impl FnOnce() -> MetricDesc) -> Arc<MetricDesc> {
        if let Some(d) = self.map.get(key) {
            return d.clone();
        }
        let d = Arc::new(make());
        self.map.insert(key.to_owned(), d.clone());
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_labels() {
        let d = MetricDesc::new("netdev", "receive", Kind::Counter, "h")
            .label("device", "eth0")
            .label("x", "y")
            .unit("bytes");
        assert_eq!(d.key(), "receive{device=\"eth0\",x=\"y\"}");
        assert_eq!(d.labels_text(), "device=eth0,x=y");
        assert_eq!(d.to_string(), "netdev:receive{device=\"eth0\",x=\"y\"}");
        let mut c = DescCache::default();
        let a = c.get("k", || d.clone());
        let b = c.get("k", || unreachable!());
        assert!(Arc::ptr_eq(&a, &b));
    }
}

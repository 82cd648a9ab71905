//! Text and JSON output of `kpeek bpf count`.

use std::io::Write;
use std::time::Duration;

use kpeek_bpf::count::{Entry, HIST_SLOTS, KeyValue, Snapshot};
use serde_json::{Value, json};

/// What to print.
pub struct Style {
    pub json: bool,
    pub top: Option<usize>,
    pub hist: Option<String>,
    pub linear: Option<u64>,
    pub sum: Option<String>,
}

pub struct Printer {
    style: Style,
    keys: Vec<String>,
    ksyms: Option<ksyms::Ksyms>,
}

/// A histogram slot's bounds: `lo..hi` (`None`: unbounded), as numbers.
pub fn bucket_bounds(slot: usize, linear: Option<u64>) -> (Option<i128>, Option<i128>) {
    match linear {
        None => match slot {
            0 => (None, Some(0)),
            1 => (Some(0), Some(1)),
            s => {
                let lo = 1i128 << (s - 2);
                (Some(lo), Some(lo * 2))
            }
        },
        Some(step) => {
            let step = i128::from(step);
            match slot {
                0 => (None, Some(0)),
                s if s == HIST_SLOTS - 1 => (Some((s as i128 - 1) * step), None),
                s => (Some((s as i128 - 1) * step), Some(s as i128 * step)),
            }
        }
    }
}

fn short(v: i128) -> String {
    const UNITS: [(i128, &str); 6] = [
        (1 << 60, "E"),
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (u, s) in UNITS {
        if v >= u && v % u == 0 {
            return format!("{}{s}", v / u);
        }
    }
    v.to_string()
}

/// bpftrace's bucket labels: `(..., 0)`, `[0]`, `[1]`, `[2, 4)`, `[4, 8)`, ...
pub fn bucket_label(slot: usize, linear: Option<u64>) -> String {
    match (bucket_bounds(slot, linear), linear) {
        ((None, Some(hi)), _) => format!("(..., {})", short(hi)),
        ((Some(lo), Some(hi)), None) if hi == lo + 1 => format!("[{}]", short(lo)),
        ((Some(lo), Some(hi)), _) => format!("[{}, {})", short(lo), short(hi)),
        ((Some(lo), None), _) => format!("[{}, ...)", short(lo)),
        _ => String::new(),
    }
}

impl Printer {
    pub fn new(style: Style, keys: Vec<String>, stacks: bool) -> anyhow::Result<Printer> {
        let ksyms = if stacks {
            Some(
                ksyms::Ksyms::load_live()
                    .map_err(|e| anyhow::anyhow!("loading /proc/kallsyms for kstack: {e}"))?,
            )
        } else {
            None
        };
        Ok(Printer { style, keys, ksyms })
    }

    fn frames(&self, ips: &[u64]) -> Vec<String> {
        ips.iter()
            .map(|&ip| match self.ksyms.as_ref().and_then(|k| k.lookup(ip)) {
                Some(r) => r.to_string(),
                None => format!("{ip:#x}"),
            })
            .collect()
    }

    fn key_json(&self, k: &KeyValue) -> Value {
        match k {
            KeyValue::Int(v) => json!(v),
            KeyValue::UInt(v) => json!(v),
            KeyValue::Str(s) | KeyValue::Event(s) => json!(s),
            KeyValue::Stack(ips) => json!(self.frames(ips)),
        }
    }

    fn key_text(&self, k: &KeyValue) -> String {
        match k {
            KeyValue::Int(v) => v.to_string(),
            KeyValue::UInt(v) => v.to_string(),
            KeyValue::Str(s) | KeyValue::Event(s) => s.clone(),
            KeyValue::Stack(ips) if ips.is_empty() => "(no stack)".into(),
            KeyValue::Stack(ips) => format!("\n    {}\n", self.frames(ips).join("\n    ")),
        }
    }

    fn sorted<'a>(&self, snap: &'a Snapshot) -> Vec<&'a Entry> {
        let mut v: Vec<&Entry> = snap.entries.iter().collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        if let Some(n) = self.style.top {
            v.truncate(n);
        }
        v
    }

    /// Print one interval (`interval` = its number) or the final totals (`None`).
    pub fn print(
        &mut self,
        o: &mut impl Write,
        snap: &Snapshot,
        interval: Option<u64>,
        elapsed: Duration,
    ) -> std::io::Result<()> {
        let entries = self.sorted(snap);
        let lost = snap.full + snap.lost + snap.missed;
        if self.style.json {
            let list: Vec<Value> = entries
                .iter()
                .map(|e| {
                    let mut key = serde_json::Map::new();
                    for (n, k) in self.keys.iter().zip(&e.key) {
                        key.insert(n.clone(), self.key_json(k));
                    }
                    let mut obj = json!({"key": key, "count": e.count});
                    if self.style.sum.is_some() {
                        obj["sum"] = json!(e.sum);
                    }
                    if self.style.hist.is_some() {
                        obj["hist"] = json!(
                            e.hist
                                .iter()
                                .enumerate()
                                .filter(|(_, c)| **c > 0)
                                .map(|(i, c)| {
                                    let (lo, hi) = bucket_bounds(i, self.style.linear);
                                    json!({"bucket": bucket_label(i, self.style.linear),
                                           "min": lo.map(|v| v as i64), "max": hi.map(|v| v as i64), "count": c})
                                })
                                .collect::<Vec<_>>()
                        );
                    }
                    obj
                })
                .collect();
            let total: u64 = snap.entries.iter().map(|e| e.count).sum();
            let mut obj = json!({
                "entries": list,
                "total": total,
                "keys": snap.entries.len(),
                "lost": lost,
                "map_full": snap.full,
                "lost_keys": snap.lost,
                "missed_runs": snap.missed,
                "read_errors": snap.read_errors,
                "elapsed_s": elapsed.as_secs_f64(),
            });
            match interval {
                Some(i) => obj["interval"] = json!(i),
                None => obj["final"] = json!(true),
            }
            return writeln!(o, "{obj}");
        }
        match interval {
            Some(i) => writeln!(o, "--- interval {i} ({:.1}s)", elapsed.as_secs_f64())?,
            None => writeln!(o, "--- total ({:.1}s)", elapsed.as_secs_f64())?,
        }
        if self.style.hist.is_some() {
            for e in &entries {
                self.print_hist(o, e)?;
            }
        } else {
            let mut rows: Vec<Vec<String>> = Vec::new();
            let mut head: Vec<String> = self.keys.iter().map(|k| k.to_uppercase()).collect();
            head.push("COUNT".into());
            if let Some(s) = &self.style.sum {
                head.push(format!("SUM({s})"));
            }
            for e in &entries {
                let mut r: Vec<String> = e.key.iter().map(|k| self.key_text(k)).collect();
                r.push(e.count.to_string());
                if self.style.sum.is_some() {
                    r.push(e.sum.to_string());
                }
                rows.push(r);
            }
            let widths: Vec<usize> = (0..head.len())
                .map(|c| {
                    rows.iter()
                        .map(|r| r[c].lines().map(str::len).max().unwrap_or(0))
                        .chain([head[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |o: &mut dyn Write, r: &[String]| -> std::io::Result<()> {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(i, (c, w))| {
                        if i >= self.keys.len() {
                            format!("{c:>w$}")
                        } else {
                            format!("{c:<w$}")
                        }
                    })
                    .collect();
                writeln!(o, "{}", cells.join("  ").trim_end())
            };
            line(o, &head)?;
            for r in &rows {
                line(o, r)?;
            }
        }
        if lost > 0 || snap.read_errors > 0 {
            writeln!(
                o,
                "LOST {lost} events (map full: {}, keys lost: {}, runs missed by the kernel: {}); unreadable fields: {}",
                snap.full, snap.lost, snap.missed, snap.read_errors
            )?;
        }
        Ok(())
    }

    fn print_hist(&self, o: &mut impl Write, e: &Entry) -> std::io::Result<()> {
        let key: Vec<String> = self
            .keys
            .iter()
            .zip(&e.key)
            .map(|(n, k)| format!("{n}={}", self.key_text(k)))
            .collect();
        let name = self.style.hist.as_deref().unwrap_or("");
        if key.is_empty() {
            writeln!(o, "@{name}:")?;
        } else {
            writeln!(o, "@{name}[{}]:", key.join(", "))?;
        }
        let used: Vec<usize> = (0..e.hist.len()).filter(|&i| e.hist[i] > 0).collect();
        let (Some(&first), Some(&last)) = (used.first(), used.last()) else {
            return writeln!(o);
        };
        let max = e.hist.iter().copied().max().unwrap_or(1).max(1);
        for i in first..=last {
            let c = e.hist[i];
            let bar = "@".repeat((c * 52 / max) as usize);
            writeln!(
                o,
                "{:<20}{c:>8} |{bar:<52}|",
                bucket_label(i, self.style.linear)
            )?;
        }
        writeln!(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_like_bpftrace() {
        assert_eq!(bucket_label(0, None), "(..., 0)");
        assert_eq!(bucket_label(1, None), "[0]");
        assert_eq!(bucket_label(2, None), "[1]");
        assert_eq!(bucket_label(3, None), "[2, 4)");
        assert_eq!(bucket_label(12, None), "[1K, 2K)");
        assert_eq!(bucket_label(1, Some(10)), "[0, 10)");
        assert_eq!(bucket_label(65, Some(10)), "[640, ...)");
    }
}

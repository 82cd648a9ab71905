//! Exposition: Prometheus text format 0.0.4 and OpenMetrics 1.0, chosen by the `Accept`
//! header. Names are `kpeek_<source>_<name>_<unit>`; counters get `_total` (and `_created` in
//! OpenMetrics); every family has HELP and TYPE (and UNIT in OpenMetrics).

use std::collections::HashMap;
use std::fmt::Write;

use crate::model::Kind;
use crate::monitor::{Monitor, Row};

/// A text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Choose by an `Accept` header: OpenMetrics when it is accepted with a quality at least
    /// that of plain text, else the Prometheus format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let mut om: Option<f64> = None;
        let mut text: f64 = 0.0;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0;
            for p in it {
                if let Some((k, v)) = p.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            match mt.as_str() {
                "application/openmetrics-text" => om = Some(om.unwrap_or(0.0).max(q)),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        match om {
            Some(q) if q > 0.0 && q >= text => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

/// What to expose.
#[derive(Clone, Debug)]
pub struct Options {
    /// Prometheus or OpenMetrics text.
    pub format: Format,
    /// Only these sources (`collect[]`); empty: all.
    pub collect: Vec<String>,
    /// At most this many series (the scrape's own metrics not counted).
    pub max_series: usize,
    /// Series dropped by the cap in earlier scrapes.
    pub dropped_before: u64,
}

/// Make a name valid: `[a-zA-Z_:][a-zA-Z0-9_:]*` (`label` excludes `:`).
pub fn sanitize(s: &str, label: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        let ok = c.is_ascii_alphabetic()
            || c == '_'
            || (c == ':' && !label)
            || (i > 0 && c.is_ascii_digit());
        out.push(if ok { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The family name of a row: `kpeek_<source>_<name>[_<unit>]` (without `_total`).
pub fn family_name(row: &Row) -> String {
    let d = &row.desc;
    let mut n = sanitize(&format!("kpeek_{}_{}", d.source, d.name), false);
    if !d.unit.is_empty() {
        let u = sanitize(&d.unit, false);
        if !n.ends_with(&format!("_{u}")) {
            n.push('_');
            n.push_str(&u);
        }
    }
    // A counter's samples add `_total` themselves.
    if d.kind == Kind::Counter
        && let Some(stripped) = n.strip_suffix("_total")
    {
        n = stripped.to_owned();
    }
    n
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str, om: bool) -> String {
    let mut s = String::new();
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '"' if om => s.push_str("\\\""),
            c => s.push(c),
        }
    }
    s
}

/// A sample value as the formats spell it.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn labels(row: &Row, out: &mut String) {
    if row.desc.labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in row.desc.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&sanitize(k, true));
        out.push_str("=\"");
        escape_label(v, out);
        out.push('"');
    }
    out.push('}');
}

/// Render `m`; returns the text and how many series the cap dropped in this scrape.
pub fn render(m: &Monitor, o: &Options) -> (String, u64) {
    let om = o.format == Format::OpenMetrics;
    // Families in first-seen order, each with its rows.
    let mut order: Vec<(String, Kind, &Row, Vec<&Row>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut kept = 0usize;
    let mut dropped = 0u64;
    for row in m.rows() {
        if !o.collect.is_empty() && !o.collect.iter().any(|c| *c == row.desc.source) {
            continue;
        }
        if kept >= o.max_series {
            dropped += 1;
            continue;
        }
        let name = family_name(row);
        match at.get(&name) {
            Some(&i) if order[i].1 == row.desc.kind => order[i].3.push(row),
            Some(_) => {
                // The same name with another type cannot be exposed.
                dropped += 1;
                continue;
            }
            None => {
                at.insert(name.clone(), order.len());
                order.push((name, row.desc.kind, row, vec![row]));
            }
        }
        kept += 1;
    }
    let mut s = String::with_capacity(kept * 96 + 1024);
    for (name, kind, first, rows) in &order {
        let d = &first.desc;
        let counter = *kind == Kind::Counter;
        let tname = if counter && !om {
            format!("{name}_total")
        } else {
            name.clone()
        };
        let _ = writeln!(s, "# HELP {tname} {}", escape_help(&d.help, om));
        let _ = writeln!(s, "# TYPE {tname} {}", kind.name());
        if om && !d.unit.is_empty() {
            let _ = writeln!(s, "# UNIT {tname} {}", sanitize(&d.unit, false));
        }
        for r in rows {
            s.push_str(name);
            if counter {
                s.push_str("_total");
            }
            labels(r, &mut s);
            s.push(' ');
            s.push_str(&r.value_text());
            s.push('\n');
            if counter && om {
                s.push_str(name);
                s.push_str("_created");
                labels(r, &mut s);
                s.push(' ');
                s.push_str(&number(m.series().created(r.id)));
                s.push('\n');
            }
        }
    }
    // The scrape's own metrics.
    let sources: Vec<_> = m
        .status()
        .iter()
        .filter(|st| o.collect.is_empty() || o.collect.contains(&st.source))
        .collect();
    let gauge = |s: &mut String, name: &str, help: &str, unit: &str| {
        let _ = writeln!(s, "# HELP {name} {help}");
        let _ = writeln!(s, "# TYPE {name} gauge");
        if om && !unit.is_empty() {
            let _ = writeln!(s, "# UNIT {name} {unit}");
        }
    };
    gauge(
        &mut s,
        "kpeek_scrape_source_duration_seconds",
        "How long reading the source took.",
        "seconds",
    );
    for st in &sources {
        let mut l = String::new();
        escape_label(&st.source, &mut l);
        let _ = writeln!(
            s,
            "kpeek_scrape_source_duration_seconds{{source=\"{l}\"}} {}",
            number(st.duration_s)
        );
    }
    gauge(
        &mut s,
        "kpeek_scrape_source_success",
        "1 if the source was read, 0 if it failed or timed out.",
        "",
    );
    for st in &sources {
        let mut l = String::new();
        escape_label(&st.source, &mut l);
        let _ = writeln!(
            s,
            "kpeek_scrape_source_success{{source=\"{l}\"}} {}",
            u8::from(st.ok)
        );
    }
    let total = o.dropped_before + dropped;
    let dname = "kpeek_scrape_series_dropped";
    let help = "Series left out because of the series cap or a name clash.";
    if om {
        let _ = writeln!(s, "# HELP {dname} {help}\n# TYPE {dname} counter");
        let _ = writeln!(s, "{dname}_total {total}");
    } else {
        let _ = writeln!(
            s,
            "# HELP {dname}_total {help}\n# TYPE {dname}_total counter"
        );
        let _ = writeln!(s, "{dname}_total {total}");
    }
    if om {
        s.push_str("# EOF\n");
    }
    (s, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MetricDesc, Reading};
    use crate::monitor::outcome;
    use std::sync::Arc;
    use std::time::Duration;

    fn mon() -> Monitor {
        let c = Arc::new(
            MetricDesc::new("netdev", "receive", Kind::Counter, "rx \"bytes\"\\")
                .label("device", "e\"th\n0")
                .unit("bytes"),
        );
        let g = Arc::new(MetricDesc::new(
            "vmstat",
            "nr_free_pages",
            Kind::Gauge,
            "free",
        ));
        let mut m = Monitor::new();
        m.ingest(
            0.0,
            1700000000.5,
            vec![
                outcome(
                    "netdev",
                    vec![Reading::new(c, 10.0)],
                    Duration::from_millis(2),
                ),
                outcome("vmstat", vec![Reading::new(g, 0.5)], Duration::ZERO),
            ],
        );
        m
    }

    fn opts(format: Format) -> Options {
        Options {
            format,
            collect: vec![],
            max_series: 100,
            dropped_before: 0,
        }
    }

    #[test]
    fn prometheus_text() {
        let (s, d) = render(&mon(), &opts(Format::Prometheus));
        assert_eq!(d, 0);
        assert!(
            s.contains("# TYPE kpeek_netdev_receive_bytes_total counter\n"),
            "{s}"
        );
        assert!(s.contains("kpeek_netdev_receive_bytes_total{device=\"e\\\"th\\n0\"} 10\n"));
        assert!(s.contains("# HELP kpeek_netdev_receive_bytes_total rx \"bytes\"\\\\\n"));
        assert!(s.contains("kpeek_vmstat_nr_free_pages 0.5\n"));
        assert!(s.contains("kpeek_scrape_source_success{source=\"netdev\"} 1\n"));
        assert!(!s.contains("# EOF") && !s.contains("_created"));
    }

    #[test]
    fn openmetrics_text() {
        let (s, _) = render(&mon(), &opts(Format::OpenMetrics));
        assert!(s.contains("# TYPE kpeek_netdev_receive_bytes counter\n# UNIT kpeek_netdev_receive_bytes bytes\n"), "{s}");
        assert!(
            s.contains("kpeek_netdev_receive_bytes_created{device=\"e\\\"th\\n0\"} 1700000000.5\n")
        );
        assert!(s.ends_with("# EOF\n"));
    }

    #[test]
    fn cap_and_collect() {
        let mut o = opts(Format::Prometheus);
        o.max_series = 1;
        o.dropped_before = 5;
        let (s, d) = render(&mon(), &o);
        assert_eq!(d, 1);
        assert!(s.contains("kpeek_scrape_series_dropped_total 6\n"));
        assert!(!s.contains("nr_free_pages"));
        let mut o = opts(Format::Prometheus);
        o.collect = vec!["vmstat".into()];
        let (s, _) = render(&mon(), &o);
        assert!(!s.contains("netdev_receive") && s.contains("nr_free_pages"));
        assert!(!s.contains("source=\"netdev\""));
    }

    #[test]
    fn negotiation() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Prometheus
        );
    }

    #[test]
    fn u64_counters_stay_exact() {
        let d = Arc::new(MetricDesc::new("mod", "counter", Kind::Counter, "h"));
        let mut m = Monitor::new();
        m.ingest(
            0.0,
            0.0,
            vec![outcome(
                "mod",
                vec![Reading::int(d, u64::MAX)],
                Duration::ZERO,
            )],
        );
        let (s, _) = render(&m, &opts(Format::Prometheus));
        assert!(
            s.contains("kpeek_mod_counter_total 18446744073709551615\n"),
            "{s}"
        );
    }

    #[test]
    fn names() {
        assert_eq!(sanitize("a-b.c", false), "a_b_c");
        assert_eq!(sanitize("9x", true), "_x");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }
}

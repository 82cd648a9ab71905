//! `kpeek mod listen`: the generic netlink `events` multicast group.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kpeek_client::notify::{Listener, Notification, NotificationKind};

#[derive(clap::Args)]
pub struct ListenArgs {
    /// One JSON object per notification per line.
    #[arg(long)]
    json: bool,
    /// Stop after N notifications.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long (10s, 500ms, 2m).
    #[arg(long, value_name = "D", value_parser = crate::cli::duration::parse_duration)]
    duration: Option<Duration>,
}

/// One notification as a text line: `counter_created app/hits id=12`.
pub fn event_line(e: &Notification) -> String {
    let mut s = e.event.name().to_owned();
    match (&e.group, &e.counter) {
        (Some(g), Some(c)) => s.push_str(&format!(" {g}/{c}")),
        (Some(g), None) => s.push_str(&format!(" {g}")),
        _ => {}
    }
    for (k, v) in [
        ("id", e.id),
        ("group_id", e.group_id),
        ("value", e.value),
        ("threshold", e.threshold),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" {k}={v}"));
        }
    }
    if e.event == NotificationKind::Overrun {
        s.push_str(" (socket buffer full: notifications were dropped)");
    }
    if let Some(r) = e.raw_event {
        s.push_str(&format!(" event={r}"));
    }
    s
}

pub fn listen(a: ListenArgs) -> anyhow::Result<ExitCode> {
    let mut l = Listener::connect()?;
    let stop = crate::cli::signal::stop_flag();
    crate::errln!("kpeek: listening to the \"events\" group of generic netlink family \"kpeek\"");
    let start = Instant::now();
    let mut n = 0u64;
    let mut out = io::stdout().lock();
    loop {
        let left = a.duration.map(|d| d.saturating_sub(start.elapsed()));
        if left == Some(Duration::ZERO) || stop.load(Ordering::Relaxed) {
            break;
        }
        let wait = left.map_or(Duration::from_millis(500), |l| {
            l.min(Duration::from_millis(500))
        });
        let Some(e) = l.next(Some(wait))? else {
            continue;
        };
        if a.json {
            writeln!(out, "{}", serde_json::to_string(&e)?)?;
        } else {
            writeln!(out, "{}", event_line(&e))?;
        }
        out.flush()?;
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            break;
        }
    }
    if l.overruns() + l.malformed() > 0 {
        crate::errln!(
            "kpeek: {} socket overruns (notifications lost), {} malformed notifications",
            l.overruns(),
            l.malformed()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines() {
        let e = Notification {
            event: NotificationKind::Threshold,
            raw_event: None,
            group: Some("g".into()),
            counter: Some("c".into()),
            id: Some(3),
            group_id: None,
            value: Some(10),
            threshold: Some(8),
        };
        assert_eq!(event_line(&e), "threshold g/c id=3 value=10 threshold=8");
    }
}

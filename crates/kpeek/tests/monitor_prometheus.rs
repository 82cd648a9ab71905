//! A real Prometheus server (Debian package `prometheus`) scrapes `kpeek serve` over loopback.
//! Prometheus asks for OpenMetrics first, so a successful scrape (`up == 1`) means its own
//! OpenMetrics parser accepted kpeek's output; through its HTTP API, `rate()` of a tracepoint
//! counter matches a generator's known rate within 10%. Needs root (tracepoints).

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::monitor::{Serve, free_port, generated_now, generated_rate, getpgid_generator, http};
use serde_json::Value;

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn query(port: u16, q: &str) -> Value {
    let enc: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let (code, _, body) = http(
        port,
        &format!("GET /api/v1/query?query={enc} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(code, 200, "{body}");
    // Prometheus may answer chunked; the JSON object sits between the first '{' and last '}'.
    let (a, b) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    serde_json::from_str(&body[a..=b]).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn scalar(v: &Value) -> Option<f64> {
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn prometheus_scrapes_and_rate_matches_the_generator() {
    assert!(common::is_root(), "tracepoints need root");
    let stop = Arc::new(AtomicBool::new(false));
    let (tid, gen_thread) = getpgid_generator(1000, stop.clone());
    let filter = format!("common_pid == {tid}");
    let kp = Serve::start(&[
        "--tracepoint",
        "syscalls:sys_enter_getpgid",
        "--filter",
        &filter,
        "--source",
        "stat",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  \
             - job_name: kpeek\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            kp.port
        ),
    )
    .unwrap();
    let pport = free_port();
    let prom = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus, installed by scripts/setup)"),
    );
    let start = Instant::now();
    let mut up = None;
    let mut rate = None;
    // What the generator made, sampled every second: the known rate over rate()'s window.
    let mut made: Vec<(Instant, u64)> = vec![generated_now()];
    let mut known = None;
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(1));
        made.push(generated_now());
        if std::net::TcpStream::connect(("127.0.0.1", pport)).is_err() {
            continue;
        }
        up = scalar(&query(pport, "up{job=\"kpeek\"}"));
        let r = query(
            pport,
            "rate(kpeek_tracepoint_events_total{event=\"syscalls:sys_enter_getpgid\"}[10s])",
        );
        rate = scalar(&r);
        let now = *made.last().unwrap();
        known = made
            .iter()
            .rev()
            .find(|s| now.0.duration_since(s.0) >= Duration::from_secs(10))
            .map(|&s| generated_rate(s, now));
        if up == Some(1.0)
            && rate.is_some()
            && known.is_some()
            && start.elapsed() > Duration::from_secs(16)
        {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    gen_thread.join().unwrap();
    let scraped_format = query(pport, "scrape_samples_scraped{job=\"kpeek\"}");
    drop(prom);
    assert_eq!(up, Some(1.0), "Prometheus could not scrape kpeek serve");
    assert!(scalar(&scraped_format).unwrap_or(0.0) > 5.0);
    let rate = rate.expect("no rate() from Prometheus");
    let known = known.expect("no generator samples");
    assert!(
        (rate - known).abs() <= known * 0.1,
        "rate() {rate}/s, the generator made {known}/s over the last 10 s (aiming at 1000/s)"
    );
}

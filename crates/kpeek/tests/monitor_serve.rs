//! `kpeek serve` through the binary, over loopback: both formats (Prometheus text checked by
//! `promtool check metrics`), collect[], the series cap, bad requests, slow clients, the
//! concurrent-request cap, dropped capabilities, TLS + basic auth, and bad start-up input.
//! Needs root (tracepoints), promtool (Debian `prometheus`), openssl and curl.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::monitor::{BIN, Serve, free_port, http};

const OM: &str = "Accept: application/openmetrics-text; version=1.0.0\r\n";

/// Parse `text` with the OpenMetrics parser of the Python client library (strict: it raises on
/// anything the specification forbids): the number of metric families, or its complaint.
fn openmetrics_check(text: &str) -> Result<usize, String> {
    const SCRIPT: &str = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
        print(len(list(p(sys.stdin.read()))))\n";
    // The system's interpreter, where Debian installs the library (not a user's pyenv).
    let mut py = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 (python3-prometheus-client is installed by scripts/setup)");
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named"),
        "python3-prometheus-client missing: {stderr}"
    );
    if !out.status.success() {
        return Err(format!("OpenMetrics parser: {stderr}"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn formats_names_and_promtool() {
    // promtool's lint also judges names: the kernel's `nr_sec_page_table_pages` trips its
    // "abbreviated units" heuristic, so vmstat is limited to names it has no opinion on.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("k.toml");
    std::fs::write(
        &cfg,
        "[[source]]\ntype = \"vmstat\"\nmetrics = [\"pg*\", \"nr_free_pages\"]\n\
         [[source]]\ntype = \"netdev\"\n[[source]]\ntype = \"pressure\"\n\
         [[source]]\ntype = \"stat\"\n",
    )
    .unwrap();
    let s = Serve::start(&[
        "-c",
        cfg.to_str().unwrap(),
        "--tracepoint",
        "sched:sched_switch",
    ]);
    let (code, head, prom) = s.get("/metrics", "");
    assert_eq!(code, 200);
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(prom.contains("# TYPE kpeek_tracepoint_events_total counter\n"));
    assert!(prom.contains("kpeek_tracepoint_events_total{event=\"sched:sched_switch\"} "));
    assert!(prom.contains("# TYPE kpeek_vmstat_nr_free_pages gauge\n"));
    assert!(prom.contains("kpeek_scrape_source_success{source=\"vmstat\"} 1\n"));
    assert!(prom.contains("kpeek_scrape_source_duration_seconds{source=\"tracepoint\"} "));
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus, installed by scripts/setup)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(prom.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (code, head, om) = s.get("/metrics", OM);
    assert_eq!(code, 200);
    assert!(
        head.contains("application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE kpeek_tracepoint_events counter\n"));
    assert!(om.contains("kpeek_tracepoint_events_created{event=\"sched:sched_switch\"} "));
    assert!(om.contains("# UNIT kpeek_scrape_source_duration_seconds seconds\n"));
    // The OpenMetrics reference parser (the Python client's, Debian `python3-prometheus-client`)
    // accepts the whole exposition, and refuses it cut short (so the check can fail).
    let families = openmetrics_check(&om).unwrap_or_else(|e| panic!("{e}\n{om}"));
    assert!(families >= 5, "{families} families");
    let cut = om.trim_end_matches("# EOF\n");
    assert!(openmetrics_check(cut).is_err(), "no # EOF accepted");

    let (code, _, only) = s.get("/metrics?collect%5B%5D=tracepoint", "");
    assert_eq!(code, 200);
    assert!(!only.contains("kpeek_vmstat_") && only.contains("kpeek_tracepoint_"));
    let (code, _, body) = s.get("/metrics?collect[]=nope", "");
    assert_eq!(code, 400);
    assert!(body.contains("nope") && body.contains("vmstat"), "{body}");
}

#[test]
fn series_cap_counts_what_it_drops() {
    let s = Serve::start(&["--source", "vmstat", "--max-series", "5"]);
    let (_, _, a) = s.get("/metrics", "");
    let samples = a.lines().filter(|l| l.starts_with("kpeek_vmstat_")).count();
    assert_eq!(samples, 5);
    let dropped = |t: &str| -> u64 {
        t.lines()
            .find_map(|l| l.strip_prefix("kpeek_scrape_series_dropped_total "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let d1 = dropped(&a);
    assert!(d1 > 50, "vmstat has over 50 more series: {d1}");
    let (_, _, b) = s.get("/metrics", "");
    assert_eq!(dropped(&b), 2 * d1, "a counter across scrapes");
}

#[test]
fn bad_requests_and_slow_clients() {
    let s = Serve::start(&[
        "--source",
        "stat",
        "--request-timeout",
        "1s",
        "--max-requests",
        "2",
    ]);
    let (code, _, _) = http(s.port, "\x16\x03\x01garbage\r\n\r\n");
    assert_eq!(code, 400);
    let (code, _, _) = http(s.port, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(code, 405);
    let (code, _, _) = s.get("/nothing", "");
    assert_eq!(code, 404);
    let big = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    let (code, _, _) = http(s.port, &big);
    assert_eq!(code, 431);

    // Two clients that connect and send nothing take both request slots...
    let mut idle1 = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let mut idle2 = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    idle2.write_all(b"GET /met").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // ...so a third is turned away at once, not queued.
    let t = Instant::now();
    let (code, _, _) = s.get("/metrics", "");
    assert_eq!(code, 503);
    assert!(t.elapsed() < Duration::from_secs(1));
    // The idle ones get 408 after the request timeout and the slots free up.
    for c in [&mut idle1, &mut idle2] {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = String::new();
        c.read_to_string(&mut buf).unwrap();
        assert!(buf.starts_with("HTTP/1.1 408"), "{buf}");
    }
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, _) = s.get("/metrics", "");
    assert_eq!(code, 200);
}

#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn drops_every_capability_after_opening_sources() {
    assert!(common::is_root(), "this test checks what root gives up");
    let s = Serve::start(&["--tracepoint", "sched:sched_switch"]);
    // It answers only once the sources are open and the capabilities gone.
    let (code, _, _) = s.get("/metrics", "");
    assert_eq!(code, 200);
    // Capabilities are per thread: every thread (main, sources, connections) has none.
    let tasks = std::fs::read_dir(format!("/proc/{}/task", s.child.id())).unwrap();
    let mut threads = 0;
    for t in tasks {
        // A connection thread may end between the listing and the read.
        let Ok(status) = std::fs::read_to_string(t.unwrap().path().join("status")) else {
            continue;
        };
        let name = status.lines().next().unwrap().to_owned();
        for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"] {
            let line = status.lines().find(|l| l.starts_with(set)).unwrap();
            assert!(line.ends_with("0000000000000000"), "{name}: {line}");
        }
        assert!(status.contains("NoNewPrivs:\t1"), "{name}");
        threads += 1;
    }
    assert!(threads >= 2, "the main thread and the source's");
    // The perf counters opened before still count.
    let (_, _, a) = s.get("/metrics", "");
    let v = |t: &str| -> u64 {
        t.lines()
            .find_map(|l| {
                l.strip_prefix("kpeek_tracepoint_events_total{event=\"sched:sched_switch\"} ")
            })
            .unwrap()
            .parse()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(300));
    let (_, _, b) = s.get("/metrics", "");
    assert!(v(&b) > v(&a));
}

#[test]
#[ignore = "needs root: drops privileges (runs as nobody, or without capabilities); ./test-all runs it (cargo test -- --include-ignored)"]
fn privileged_sources_keep_only_what_reading_takes() {
    assert!(common::is_root(), "this test checks what root gives up");
    let s = Serve::start(&["--peek", "runqueues@all.nr_running", "--source", "stat"]);
    let (code, _, a) = s.get("/metrics", "");
    assert_eq!(code, 200);
    // The peek source still reads after the drop.
    assert!(
        a.contains("kpeek_peek_value{expr=\"runqueues@all.nr_running\"} "),
        "{a}"
    );
    assert!(
        a.contains("kpeek_scrape_source_success{source=\"peek\"} 1"),
        "{a}"
    );
    // CAP_SYS_RAWIO 17, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39: the most any thread keeps.
    let allowed: u64 = (1 << 17) | (1 << 21) | (1 << 38) | (1 << 39);
    let mut zero = 0;
    for t in std::fs::read_dir(format!("/proc/{}/task", s.child.id())).unwrap() {
        let Ok(status) = std::fs::read_to_string(t.unwrap().path().join("status")) else {
            continue;
        };
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:\t"))
            .map(|h| u64::from_str_radix(h, 16).unwrap())
            .unwrap();
        assert_eq!(eff & !allowed, 0, "a thread kept {eff:#x}");
        zero += usize::from(eff == 0);
    }
    assert!(zero >= 2, "the main and the stat threads have none");
}

#[test]
fn tls_and_basic_auth_from_a_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
        ])
        .current_dir(d)
        .output()
        .expect("openssl");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let hash = bcrypt::hash("s3cret", 5).unwrap();
    let web = d.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\nbasic_auth_users:\n  prom: '{hash}'\n"
        ),
    )
    .unwrap();
    let s = Serve::start(&["--source", "stat", "--web-config", web.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/metrics", s.port);
    let cacert = d.join("c.pem");
    let curl = |user: Option<&str>| {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&cacert);
        if let Some(u) = user {
            c.args(["-u", u]);
        }
        let out = c.arg(&url).output().expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl(Some("prom:s3cret")), "200");
    assert_eq!(curl(Some("prom:wrong")), "401");
    assert_eq!(curl(None), "401");
    // Plain HTTP to the TLS port gets no metrics.
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(!String::from_utf8_lossy(&buf).contains("kpeek_"));
}

#[test]
fn bad_start_up_input_exits_2() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN).arg("serve").args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Port in use.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (code, err) = run(&["--source", "stat", "--listen", &addr]);
    assert_eq!(code, Some(2));
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
    // Bad web-config files.
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("w.yml");
    let port = format!("127.0.0.1:{}", free_port());
    for (text, want) in [
        ("basic_auth_users:\n  prom: hunter2\n", "not a bcrypt hash"),
        (
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope.key\n",
            "nope.pem",
        ),
        (
            "tls_server_config:\n  cert_file: x\n",
            "both cert_file and key_file",
        ),
        ("tls_config:\n  x: 1\n", "tls_config"),
        ("basic_auth_users: [\n", "line"),
    ] {
        std::fs::write(&web, text).unwrap();
        let (code, err) = run(&["--listen", &port, "--web-config", web.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(err.contains(want) && err.contains("w.yml"), "{text}: {err}");
    }
    let (code, err) = run(&["--listen", "nowhere"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--listen"), "{err}");
}

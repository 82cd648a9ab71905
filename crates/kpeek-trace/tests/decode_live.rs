//! Field decoding checked against the kernel's own text rendering of the same events.
//!
//! In a private tracefs instance (own buffer and enables, so concurrent tests are not
//! disturbed), enable a few events, drive a known workload, stop, then read the same buffer
//! twice: as the kernel's `trace` text, and as raw pages from `per_cpu/cpuN/trace_pipe_raw`
//! parsed and decoded by kpeek. Each CPU's events must match one to one: name, timestamp, pid,
//! and every field the text shows as `key=value`.
//!
//! Needs root and the live tracefs (the VM and CI have both); fails loudly otherwise.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::Command;

use kpeek_trace::format::EventFormat;
use kpeek_trace::tracefs::instance::parse_pages;
use kpeek_trace::tracefs::{EventName, Tracefs};
use kpeek_trace::value::Value;

const GETPPID_CALLS: usize = 50;
const EXECS: usize = 3;
const UDP_SIZES: [usize; 5] = [1, 56, 100, 1000, 1400];

/// One line of the `trace` file.
#[derive(Debug)]
struct TextEvent {
    pid: i64,
    cpu: usize,
    ts_us: u64,
    name: String,
    payload: String,
}

fn parse_text(trace: &str) -> Vec<TextEvent> {
    let mut out = Vec::new();
    for line in trace.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        assert!(!line.contains("LOST"), "the instance lost events: {line}");
        // "   comm-pid  [001] d..2.  1234.567890: name: payload"
        let open = line
            .find("] ")
            .and_then(|c| line[..c].rfind(" ["))
            .unwrap_or_else(|| panic!("no [cpu] in {line:?}"));
        let task = line[..open].trim();
        let pid = task
            .rsplit_once('-')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {line:?}"));
        let close = open + line[open..].find(']').unwrap();
        let cpu = line[open + 2..close]
            .parse()
            .unwrap_or_else(|_| panic!("bad cpu in {line:?}"));
        let rest = &line[close + 1..];
        // Flags are optional; the timestamp is the token ending with ':' that parses as s.us.
        let mut rest_iter = rest.splitn(2, ": ");
        let head = rest_iter.next().unwrap();
        let after = rest_iter
            .next()
            .unwrap_or_else(|| panic!("no event in {line:?}"));
        let ts = head.split_whitespace().last().unwrap();
        let (s, us) = ts
            .split_once('.')
            .unwrap_or_else(|| panic!("bad ts in {line:?}"));
        let ts_us = s.parse::<u64>().unwrap() * 1_000_000 + us.parse::<u64>().unwrap();
        let (name, payload) = after
            .split_once(": ")
            .unwrap_or((after.trim_end_matches(':'), ""));
        out.push(TextEvent {
            pid,
            cpu,
            ts_us,
            name: name.to_string(),
            payload: payload.to_string(),
        });
    }
    out
}

/// The integer after `key=` in the payload, if it is one.
fn int_after(payload: &str, key: &str) -> Option<i128> {
    let pat = format!("{key}=");
    let start = payload
        .match_indices(&pat)
        .find(|(i, _)| *i == 0 || payload.as_bytes()[i - 1] == b' ')?
        .0
        + pat.len();
    let tok: String = payload[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',')
        .collect();
    match tok.strip_prefix("0x") {
        Some(h) => i128::from_str_radix(h, 16).ok(),
        None => tok.parse().ok(),
    }
}

/// Stale instances from killed runs (their pid is gone) are removed first.
fn remove_stale_instances(fs: &Tracefs) {
    let Ok(rd) = std::fs::read_dir(fs.root().join("instances")) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("kpeek-test-")
            .and_then(|r| r.split('-').next())
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::write(e.path().join("events/enable"), "0");
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn decoded_fields_match_the_kernels_text() {
    let fs = Tracefs::discover_or_mount()
        .unwrap_or_else(|e| panic!("this test needs the live tracefs (run as root): {e}"));
    remove_stale_instances(&fs);
    let inst = fs
        .create_instance(&format!("kpeek-test-{}-decode", std::process::id()))
        .unwrap_or_else(|e| panic!("cannot create a tracefs instance: {e}"));
    inst.set_tracing_on(false).unwrap();
    inst.set_buffer_size_kb(2048).unwrap();

    let events: Vec<EventName> = [
        "sched:sched_switch",
        "sched:sched_process_exec",
        "sched:sched_process_fork",
        "sched:sched_process_exit",
        "sched:sched_wakeup",
        "syscalls:sys_enter_getppid",
        "net:netif_receive_skb",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut formats: HashMap<u16, EventFormat> = HashMap::new();
    for ev in events.iter().chain([&EventName::new("ftrace", "print")]) {
        let f = fs.format(ev).unwrap();
        formats.insert(f.id as u16, f);
    }
    for ev in &events {
        inst.set_event(ev, true).unwrap();
    }

    // The workload.
    let tid = gettid();
    let marker = format!("kpeek-marker-{}", std::process::id());
    inst.set_tracing_on(true).unwrap();
    for _ in 0..GETPPID_CALLS {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }
    let mut children = Vec::new();
    for _ in 0..EXECS {
        let child = Command::new("/bin/true").spawn().expect("spawn /bin/true");
        children.push(child);
    }
    let child_pids: Vec<i64> = children.iter().map(|c| i64::from(c.id())).collect();
    for mut c in children {
        c.wait().unwrap();
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in UDP_SIZES {
        tx.send_to(&vec![b'k'; n], rx.local_addr().unwrap())
            .unwrap();
    }
    inst.mark(&marker).unwrap();
    inst.set_tracing_on(false).unwrap();

    // Same buffer, two readings: the kernel's text, then the raw pages (which consume it).
    let text = parse_text(&inst.trace_text().unwrap());
    let layout = fs.page_layout().unwrap();
    let mut raw_by_cpu: HashMap<usize, Vec<(u64, Vec<u8>)>> = HashMap::new();
    for cpu in inst.cpus().unwrap() {
        let pages = inst.read_raw_pages(cpu, &layout).unwrap();
        for page in parse_pages(&layout, &pages).unwrap() {
            assert_eq!(page.missed, None, "cpu {cpu} lost events");
            for ev in page.events {
                raw_by_cpu
                    .entry(cpu)
                    .or_default()
                    .push((ev.ts, ev.data.to_vec()));
            }
        }
    }
    drop(inst);

    let mut compared_fields = 0;
    let mut getppid_ours = 0;
    let mut execs_ours = Vec::new();
    let mut lo_lens = Vec::new();
    let mut marker_seen = false;
    let mut per_cpu_text: HashMap<usize, Vec<&TextEvent>> = HashMap::new();
    for t in &text {
        per_cpu_text.entry(t.cpu).or_default().push(t);
    }
    let total_raw: usize = raw_by_cpu.values().map(Vec::len).sum();
    assert_eq!(
        total_raw,
        text.len(),
        "raw and text readings differ in event count"
    );
    for (cpu, texts) in &per_cpu_text {
        let raws = raw_by_cpu.get(cpu).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            raws.len(),
            texts.len(),
            "cpu {cpu}: raw and text event counts differ"
        );
        for ((ts, raw), t) in raws.iter().zip(texts) {
            let ctx = format!("cpu {cpu} text {t:?}");
            let common_type = u16::from_ne_bytes([raw[0], raw[1]]);
            let f = formats
                .get(&common_type)
                .unwrap_or_else(|| panic!("unknown common_type {common_type} ({ctx})"));
            // The text names most events by name; ftrace's print is `tracing_mark_write`,
            // and syscall entries print as a call, `sys_getppid()`.
            if f.name.name == "print" {
                assert_eq!(t.name, "tracing_mark_write", "{ctx}");
            } else if let Some(call) = f.name.name.strip_prefix("sys_enter_") {
                assert!(t.name.starts_with(&format!("sys_{call}(")), "{ctx}");
            } else {
                assert_eq!(t.name, f.name.name, "{ctx}");
            }
            // The text rounds to the nearest microsecond (ns2usecs adds 500).
            assert_eq!((ts + 500) / 1000, t.ts_us, "timestamp ({ctx})");
            let common: HashMap<&str, Value> = f.decode_common(raw).unwrap().into_iter().collect();
            assert_eq!(common["common_pid"], Value::I64(t.pid), "{ctx}");
            assert_eq!(common["common_type"], Value::U64(u64::from(common_type)));
            let fields = f
                .decode(raw)
                .unwrap_or_else(|e| panic!("decode failed: {e} ({ctx})"));
            let map: HashMap<&str, &Value> = fields.iter().map(|(k, v)| (*k, v)).collect();
            // Generic: every `field=value` the text shows agrees with the decoded value.
            for (name, v) in &fields {
                match v {
                    Value::Str(s) if t.payload.contains(&format!("{name}=")) => {
                        assert!(
                            t.payload.contains(&format!("{name}={s}")),
                            "{name}={s:?} ({ctx})"
                        );
                        compared_fields += 1;
                    }
                    Value::I64(_) | Value::U64(_) => {
                        if let Some(n) = int_after(&t.payload, name) {
                            let got = match v {
                                Value::I64(x) => i128::from(*x),
                                Value::U64(x) => i128::from(*x),
                                _ => unreachable!(),
                            };
                            assert_eq!(got, n, "{name} ({ctx})");
                            compared_fields += 1;
                        }
                    }
                    _ => {}
                }
            }
            match f.name.name.as_str() {
                "sys_enter_getppid" if t.pid == tid => getppid_ours += 1,
                "sched_process_exec" => {
                    let pid = map["pid"].as_i64().unwrap();
                    if child_pids.contains(&pid) {
                        let file = map["filename"].as_str().unwrap();
                        assert!(file.ends_with("/true"), "{file} ({ctx})");
                        execs_ours.push(pid);
                    }
                }
                "netif_receive_skb" => {
                    // The text names the device `dev=`; kpeek decodes the `name` data_loc.
                    let dev = map["name"].as_str().unwrap();
                    assert!(t.payload.starts_with(&format!("dev={dev} ")), "{ctx}");
                    if dev == "lo" {
                        lo_lens.push(map["len"].as_u64().unwrap() as usize);
                    }
                }
                "print" => {
                    let buf = map["buf"].as_str().unwrap();
                    assert_eq!(buf.trim_end(), t.payload.trim_end(), "{ctx}");
                    if buf.trim_end() == marker {
                        marker_seen = true;
                    }
                }
                "sched_switch" => {
                    for k in ["prev_pid", "next_pid", "prev_prio", "next_prio"] {
                        assert!(int_after(&t.payload, k).is_some(), "{k} missing ({ctx})");
                    }
                }
                _ => {}
            }
        }
    }
    eprintln!(
        "{} events on {} CPUs matched the trace text; {compared_fields} field values compared",
        text.len(),
        per_cpu_text.len()
    );
    assert_eq!(
        getppid_ours, GETPPID_CALLS,
        "getppid events from this thread"
    );
    execs_ours.sort_unstable();
    let mut want = child_pids.clone();
    want.sort_unstable();
    assert_eq!(execs_ours, want, "exec events of our children");
    for n in UDP_SIZES {
        // IPv4 (20) + UDP (8) headers: skb->len after the Ethernet header is pulled.
        assert!(
            lo_lens.contains(&(n + 28)),
            "no lo packet of len {} in {lo_lens:?}",
            n + 28
        );
    }
    assert!(marker_seen, "trace_marker event not found");
    assert!(
        compared_fields >= 60,
        "only {compared_fields} field values compared"
    );
}

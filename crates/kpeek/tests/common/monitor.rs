//! Helpers for the monitor tests: a free loopback port, a `kpeek serve` child, raw HTTP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_kpeek");

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `kpeek serve` on a free port, killed on drop.
pub struct Serve {
    pub child: Child,
    pub port: u16,
}

impl Serve {
    /// Start `kpeek serve --listen 127.0.0.1:PORT ARGS...` and wait until it answers.
    pub fn start(args: &[&str]) -> Serve {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(BIN)
            .args(["serve", "--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kpeek serve");
        let mut s = Serve { child, port };
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                let mut err = String::new();
                s.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("kpeek serve exited ({st}): {err}");
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "kpeek serve never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// GET `path` with extra header lines; returns (status, headers, body).
    pub fn get(&self, path: &str, headers: &str) -> (u16, String, String) {
        http(
            self.port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n"),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Send `raw` to the port, read to EOF; (status, head, body).
pub fn http(port: u16, raw: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, head.to_owned(), body.to_owned())
}

/// How many calls the generator has made so far (one generator per test process: nextest runs
/// each test in its own).
pub static GENERATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The generator's calls per second between two samples of [`GENERATED`].
pub fn generated_rate(a: (Instant, u64), b: (Instant, u64)) -> f64 {
    (b.1 - a.1) as f64 / b.0.duration_since(a.0).as_secs_f64()
}

/// Now and [`GENERATED`].
pub fn generated_now() -> (Instant, u64) {
    (
        Instant::now(),
        GENERATED.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// Make one system call: getpgid(0) for the tracepoint tests, getppid() for the BPF ones.
///
/// Different calls on purpose: a BPF program attached to a syscall tracepoint (as `kpeek bpf
/// count` attaches) that returns 0 keeps that hit from every perf event on the tracepoint, so a
/// BPF test running at the same time would take hits from a perf counter of the same syscall.
pub fn syscall(pgid: bool) {
    if pgid {
        // SAFETY: getpgid has no preconditions.
        unsafe { libc::getpgid(0) };
    } else {
        // SAFETY: getppid has no preconditions (a real system call in glibc).
        unsafe { libc::getppid() };
    }
}

/// A thread making `per_sec` getpgid(0) calls per second until `stop` (counted in
/// [`GENERATED`]: on a loaded machine it may fall behind); returns its tid.
pub fn getpgid_generator(
    per_sec: u32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (i32, std::thread::JoinHandle<u64>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let start = Instant::now();
        let mut done: u64 = 0;
        let tick = Duration::from_millis(10);
        let per_tick = u64::from(per_sec / 100);
        let mut n = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            n += 1;
            // Paced by absolute deadlines: a late tick is caught up by the next ones.
            let due = u64::from(n) * per_tick;
            while done < due {
                syscall(true);
                done += 1;
            }
            GENERATED.store(done, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep((start + tick * n).saturating_duration_since(Instant::now()));
        }
        done
    });
    (rx.recv().unwrap(), h)
}

/// A thread that makes exactly `n` calls (getpgid(0) with `pgid`, else getppid()), `per_sec` a
/// second, once `go` is sent; returns its tid, the go sender, and the handle (joins when the
/// calls are made).
pub fn syscall_burst(
    pgid: bool,
    n: u64,
    per_sec: u64,
) -> (
    i32,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::gettid() }).unwrap();
        go.recv().unwrap();
        let start = Instant::now();
        for i in 0..n {
            syscall(pgid);
            let due = start + Duration::from_secs_f64((i + 1) as f64 / per_sec as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    });
    (rx.recv().unwrap(), go_tx, h)
}

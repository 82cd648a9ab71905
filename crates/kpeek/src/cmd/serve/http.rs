//! The HTTP/1.1 side of `kpeek serve`: one thread per connection (at most `max_requests`; more
//! get 503), a deadline to send the request head, one request per connection.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kpeek_monitor::expo::{self, Format};

use super::State;

/// The largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Connections being turned away with 503 right now, and the most at once.
static REJECTING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const MAX_REJECTING: usize = 32;

/// Accept until SIGINT/SIGTERM.
pub fn serve(listener: TcpListener, state: Arc<State>) -> anyhow::Result<()> {
    let stop = crate::cli::signal::stop_flag();
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::Relaxed) {
        // Wait for a connection, waking every 100 ms to notice SIGINT/SIGTERM.
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for an fd the listener owns, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
        if ready <= 0 {
            continue;
        }
        let (stream, _) = match listener.accept() {
            Ok(c) => c,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // Out of descriptors and the like: say so, keep serving.
                crate::errln!("kpeek serve: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let _ = stream.set_nonblocking(false);
        let n = state.in_flight.fetch_add(1, Ordering::AcqRel);
        if n >= state.max_requests {
            state.in_flight.fetch_sub(1, Ordering::AcqRel);
            // Turned away at once, from a short-lived thread (bounded too) that also drains the
            // request so the client reads the 503 rather than a reset.
            if REJECTING.fetch_add(1, Ordering::AcqRel) < MAX_REJECTING {
                let spawned = std::thread::Builder::new()
                    .name("busy".into())
                    .spawn(move || {
                        let mut s = stream;
                        let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
                        let _ = respond(
                            &mut s,
                            503,
                            "text/plain",
                            b"too many concurrent requests\n",
                            &[("Retry-After", "1")],
                            false,
                        );
                        finish(&s);
                        REJECTING.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    REJECTING.fetch_sub(1, Ordering::AcqRel);
                }
            } else {
                REJECTING.fetch_sub(1, Ordering::AcqRel);
            }
            continue;
        }
        let st = state.clone();
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || {
                // Frees its request slot itself, before the lingering close.
                connection(stream, &st);
            });
        if spawned.is_err() {
            state.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
    Ok(())
}

fn connection(stream: TcpStream, st: &State) {
    let _ = stream.set_read_timeout(Some(st.request_timeout));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    match &st.web.tls {
        Some(cfg) => {
            let conn = match rustls::ServerConnection::new(cfg.clone()) {
                Ok(c) => c,
                Err(_) => {
                    st.in_flight.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            handle(&mut tls, st);
            tls.conn.send_close_notify();
            let _ = tls.flush();
            st.in_flight.fetch_sub(1, Ordering::AcqRel);
            finish(&tls.sock);
        }
        None => {
            let mut s = stream;
            handle(&mut s, st);
            st.in_flight.fetch_sub(1, Ordering::AcqRel);
            finish(&s);
        }
    }
}

/// Close politely: end our side, then read (briefly, boundedly) what the client still sends,
/// so closing with unread input does not reset the connection before the answer is read.
fn finish(s: &TcpStream) {
    let _ = s.shutdown(std::net::Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 4096];
    let mut left: usize = 256 * 1024;
    let mut r = s;
    while left > 0 {
        match r.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// Read the request head; `Ok(None)` when the peer closed before sending anything.
fn read_head(s: &mut impl Read, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if Instant::now() > deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
    }
}

fn handle(s: &mut (impl Read + Write), st: &State) {
    let deadline = Instant::now() + st.request_timeout;
    let head = match read_head(s, deadline) {
        Ok(Some(h)) => h,
        Ok(None) => return,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            let _ = respond(s, 408, "text/plain", b"request timeout\n", &[], false);
            return;
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            let _ = respond(
                s,
                431,
                "text/plain",
                b"request head too large\n",
                &[],
                false,
            );
            return;
        }
        Err(_) => return,
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            let _ = respond(
                s,
                400,
                "text/plain",
                b"malformed HTTP request\n",
                &[],
                false,
            );
            return;
        }
    }
    let method = req.method.unwrap_or("");
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let _ = respond(
            s,
            405,
            "text/plain",
            b"only GET and HEAD\n",
            &[("Allow", "GET, HEAD")],
            false,
        );
        return;
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    if let Some(users) = &st.web.users
        && !super::webconfig::authorized(users, header("Authorization"))
    {
        let _ = respond(
            s,
            401,
            "text/plain",
            b"unauthorized\n",
            &[("WWW-Authenticate", "Basic realm=\"kpeek\"")],
            head_only,
        );
        return;
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/metrics" => {
            let mut collect = Vec::new();
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                if k == "collect[]" {
                    if !st.sources.iter().any(|s| *s == v) {
                        let msg = format!(
                            "collect[]={v}: no such source (sources: {})\n",
                            st.sources.join(", ")
                        );
                        let _ = respond(s, 400, "text/plain", msg.as_bytes(), &[], head_only);
                        return;
                    }
                    collect.push(v.into_owned());
                }
            }
            let format = Format::negotiate(header("Accept"));
            let body = scrape(st, format, collect);
            let _ = respond(
                s,
                200,
                format.content_type(),
                body.as_bytes(),
                &[],
                head_only,
            );
        }
        "/" => {
            let body = "<html><head><title>kpeek</title></head><body><h1>kpeek serve</h1>\
                        <p><a href=\"/metrics\">metrics</a></p></body></html>\n";
            let _ = respond(
                s,
                200,
                "text/html; charset=utf-8",
                body.as_bytes(),
                &[],
                head_only,
            );
        }
        _ => {
            let _ = respond(
                s,
                404,
                "text/plain",
                b"not found; try /metrics\n",
                &[],
                head_only,
            );
        }
    }
}

/// Read every source now and render.
fn scrape(st: &State, format: Format, collect: Vec<String>) -> String {
    let mut guard = match st.engine.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let e = &mut *guard;
    if let Ok(Some((t, wall, o))) = e.feed.next() {
        e.monitor.ingest(t, wall, o);
    }
    let opts = expo::Options {
        format,
        collect,
        max_series: st.max_series,
        dropped_before: e.dropped,
    };
    let (body, dropped) = expo::render(&e.monitor, &opts);
    e.dropped += dropped;
    body
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn respond(
    s: &mut impl Write,
    code: u16,
    ctype: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    head_only: bool,
) -> io::Result<()> {
    let mut h = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(code),
        body.len()
    );
    for (k, v) in extra {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    s.write_all(h.as_bytes())?;
    if !head_only {
        s.write_all(body)?;
    }
    s.flush()
}

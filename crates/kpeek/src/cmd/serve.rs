//! `kpeek serve`: the monitor's metrics over HTTP for Prometheus (text 0.0.4) and OpenMetrics
//! 1.0 scrapers, with TLS and basic auth from an exporter-toolkit web-config file.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use kpeek_monitor::config;
use kpeek_monitor::monitor::Monitor;

use super::monitor::{Feed, SourceArgs, root};

mod caps;
mod http;
mod webconfig;

/// Serve the monitored metrics to Prometheus / OpenMetrics scrapers.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kpeek serve                                  # the default set on 127.0.0.1:9432
  kpeek serve --tracepoint 'net:*' --listen 127.0.0.1:9500
  kpeek serve -c kpeek.toml --web-config web.yml
  curl -s 'http://127.0.0.1:9432/metrics?collect[]=vmstat'

Names are kpeek_<source>_<name>_<unit> (counters end in _total). The format follows the
scraper's Accept header: OpenMetrics 1.0 when asked for, else the Prometheus text format 0.0.4.
Every scrape reads every source, each with --timeout; a slow or failing source shows up as
kpeek_scrape_source_success{source=\"...\"} 0 and never delays the others. As root, kpeek serve
drops every capability once its sources are open.")]
pub struct Args {
    #[command(flatten)]
    sources: SourceArgs,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9432")]
    listen: SocketAddr,
    /// Expose at most this many series per scrape (the rest are counted in
    /// kpeek_scrape_series_dropped_total).
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    max_series: usize,
    /// Requests served at the same time; more get 503.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    max_requests: u16,
    /// How long a client may take to send its request.
    #[arg(long, value_name = "D", default_value = "5s", value_parser = config::parse_duration)]
    request_timeout: Duration,
    /// TLS and basic auth, in the format of Prometheus's exporter-toolkit web-config file.
    #[arg(long, value_name = "FILE")]
    web_config: Option<PathBuf>,
    /// Keep capabilities after the sources are open (default: drop them all when root).
    #[arg(long)]
    keep_caps: bool,
}

/// What every connection shares.
pub struct State {
    engine: Mutex<Engine>,
    web: webconfig::WebConfig,
    max_series: usize,
    max_requests: usize,
    in_flight: AtomicUsize,
    request_timeout: Duration,
    sources: Vec<String>,
}

struct Engine {
    feed: Feed,
    monitor: Monitor,
    dropped: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let web = match &args.web_config {
        Some(p) => webconfig::WebConfig::load(p)?,
        None => webconfig::WebConfig::default(),
    };
    let root = root();
    let plan = args.sources.plan(&root)?;
    let sources: Vec<String> = plan.specs.iter().map(|s| s.name()).collect();
    let listener = TcpListener::bind(args.listen).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another process listens there; pick another with --listen)"
        } else {
            ""
        };
        anyhow::anyhow!("--listen {}: {e}{hint}", args.listen)
    })?;
    let mut feed = Feed::live(&plan, &root, None)?;
    // One round now: it opens what opens lazily (kpeek.ko's mapping), so capabilities can go.
    let mut monitor = Monitor::new();
    if let Some((t, wall, o)) = feed.next()? {
        monitor.ingest(t, wall, o);
    }
    if !args.keep_caps {
        // Capabilities are per thread: the sources' threads drop theirs too (connection threads
        // are started later, from this one, and inherit the empty sets).
        if let super::monitor::Feed::Live { collector, .. } = &feed {
            collector
                .in_each_thread(
                    |privileged| {
                        if privileged {
                            caps::drop_all_but(caps::READ_KERNEL)
                        } else {
                            caps::drop_all()
                        }
                        .map_err(Into::into)
                    },
                    Duration::from_secs(30),
                )
                .map_err(|e| anyhow::anyhow!("dropping capabilities: {e}"))?;
        }
        caps::drop_all().context("dropping capabilities")?;
    }
    let state = Arc::new(State {
        engine: Mutex::new(Engine {
            feed,
            monitor,
            dropped: 0,
        }),
        web,
        max_series: args.max_series,
        max_requests: usize::from(args.max_requests),
        in_flight: AtomicUsize::new(0),
        request_timeout: args.request_timeout,
        sources,
    });
    let local = listener.local_addr()?;
    crate::errln!(
        "kpeek serve: listening on {}://{local}/metrics",
        if state.web.tls.is_some() {
            "https"
        } else {
            "http"
        }
    );
    http::serve(listener, state)?;
    Ok(ExitCode::SUCCESS)
}

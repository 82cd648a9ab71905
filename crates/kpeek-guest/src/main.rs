//! `kpeek-guest`: test programs run inside the qemu guest by vmtest (stress, consistency,
//! errnos), built static and installed as `/bin/kpeek-guest` next to `/bin/kpeek`.
//!
//! Each subcommand drives kpeek.ko through `kpeek-client` and prints `PASS: name` /
//! `FAIL: name: why` lines for vmtest/guest/suite.sh; the exit code is 1 when anything failed,
//! 2 when the program could not run at all.

use std::process::ExitCode;

use clap::Parser;
use kpeek_client::SysRoot;

mod agree;
mod bench;
mod doc_examples;
mod errnos;
mod fuzz_ioctl;
mod fuzz_netlink;
mod fuzzstate;
mod genl;
mod load;
mod many;
mod monitor_bench;
mod perfring;
mod rawring;
mod report;
mod ring_bench;
mod ring_stress;
mod stress;
mod syscalls;
mod uapi;

use report::Report;

/// Guest-side test programs for kpeek.ko.
#[derive(Parser)]
#[command(name = "kpeek-guest")]
enum Cmd {
    /// Read every channel and compare: procfs = sysfs, configfs = the same groups in procfs,
    /// debugfs counts match; optional exact expectations.
    ChannelsAgree(agree::Args),
    /// Create many counters through configfs and check /proc/kpeek lists all of them, in
    /// creation order, for several read sizes and after lseek; then remove them.
    ProcfsMany(many::Args),
    /// Readers of procfs, sysfs and configfs against concurrent create/destroy through
    /// configfs: every line well-formed, stable counters always complete and in order.
    ProcfsStress(stress::Args),
    /// Send bad names and values to every write path (no user-space checks) and check the
    /// kernel's errno and kpeek-client's message for each.
    Errnos(errnos::Args),
    /// Event rings under load on every CPU (loopback UDP in softirq, context switches), one
    /// reader per CPU: no duplicate or reordered seq, every gap = the ring's lost counter.
    RingStress(ring_stress::Args),
    /// Random ioctls, reads and mmaps on /dev/kpeek (bad pointers, sizes, flags, names);
    /// as non-root every mutation must be refused and nothing may change.
    FuzzIoctl(fuzz_ioctl::Args),
    /// Random generic netlink messages to the kpeek family (attributes, nesting,
    /// truncation); as non-root every mutation must be refused and nothing may change.
    FuzzNetlink(fuzz_netlink::Args),
    /// The channel table: one snapshot of 16 and 1,000 counters through every channel
    /// (median, p99, ratio to the fastest), and kpeek's ring against a perf tracepoint ring.
    Bench(bench::Args),
    /// Run every `console guest` example of README.md and docs/ (embedded at build time) and
    /// compare its output with the page, with the host's matcher (kpeek-docex).
    DocExamples(doc_examples::Args),
    /// The monitor's cost per refresh (source read, model and rates, screen) over many counters
    /// through the mmap channel, against the bare mmap read of the same counters.
    MonitorBench(monitor_bench::Args),
}

fn main() -> ExitCode {
    let root = SysRoot::from_env();
    let report = Report::default();
    let res = match Cmd::parse() {
        Cmd::ChannelsAgree(a) => agree::run(&root, &report, a),
        Cmd::ProcfsMany(a) => many::run(&root, &report, a),
        Cmd::ProcfsStress(a) => stress::run(&root, &report, a),
        Cmd::Errnos(a) => errnos::run(&root, &report, a),
        Cmd::RingStress(a) => ring_stress::run(&report, a),
        Cmd::FuzzIoctl(a) => fuzz_ioctl::run(&root, &report, a),
        Cmd::FuzzNetlink(a) => fuzz_netlink::run(&root, &report, a),
        Cmd::Bench(a) => bench::run(&root, &report, a),
        Cmd::DocExamples(a) => doc_examples::run(&report, a),
        Cmd::MonitorBench(a) => monitor_bench::run(&root, &report, a),
    };
    if let Err(e) = res {
        println!("FAIL: kpeek-guest: {e:#}");
        return ExitCode::from(2);
    }
    eprintln!(
        "kpeek-guest: {} passed, {} failed",
        report.passed(),
        report.failed()
    );
    if report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

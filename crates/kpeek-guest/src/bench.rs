//! `bench`: what one snapshot of the same counters costs through each channel, and kpeek's
//! event ring against a perf tracepoint ring on the same workload.
//!
//! The counter set is created through configfs (so configfs can show it too): a group of 16
//! counters, measured while it is the only bench group, then a group of 1,000. A snapshot is
//! "the values of every counter of the set, checked against what was written": procfs reads
//! /proc/kpeek; sysfs and configfs open, read and close one file per counter, as `cat` would;
//! read() reads /dev/kpeek's binary snapshot; ioctl pages through KPEEK_IOC_GET_COUNTERS; mmap
//! reads the set's values under the mapping's seqcount (no system call; `mmap-full` copies every
//! slot with its names); netlink dumps KPEEK_CMD_GET_COUNTERS.
//! debugfs reads its `counters` file (the same lines as /proc/kpeek, root only).
//! Latencies are per snapshot: median and p99 of many, and the ratio of the median to the
//! fastest channel's.
//!
//! The ring part (kpeek's rings against perf's on the same workloads) is in `ring_bench`.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use kpeek_client::SysRoot;
use kpeek_client::configfs::Configfs;

use crate::genl::{GenlSock, Msg, resolve_family};
use crate::rawring::Dev;
use crate::report::Report;
use crate::ring_bench::{self, RingArgs, Workload};
use crate::syscalls::{self, Mapping};
use crate::uapi::{self, *};

#[derive(clap::Args)]
pub struct Args {
    /// Counter set sizes to measure (each a configfs group, created and removed by the bench).
    #[arg(long, value_delimiter = ',', default_value = "16,1000")]
    sizes: Vec<usize>,
    /// Time budget per channel and size, in milliseconds.
    #[arg(long, default_value_t = 400)]
    budget_ms: u64,
    /// Seconds of load for each ring run (0: skip the ring comparison).
    #[arg(long, default_value_t = 2)]
    ring_seconds: u64,
    /// Rounds of the ring comparison (each: untraced, kpeek and perf, order alternating).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Workloads of the ring comparison.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "udp,pingpong"
    )]
    ring_workloads: Vec<Workload>,
    /// Ring data bytes per CPU, for kpeek and perf alike.
    #[arg(long, default_value_t = 1 << 18)]
    ring_size: u32,
}

/// One channel's way of reading the set.
trait Channel {
    fn name(&self) -> &'static str;
    /// Fill `out` with the set's values, in counter-name order.
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()>;
    /// A note for the table.
    fn note(&self) -> &'static str {
        ""
    }
}

fn parse_dec(b: &[u8]) -> Option<u64> {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// A reusable read buffer: `data` stays at its full length (no zero-filling per snapshot),
/// `len` says how much of it the last read filled.
#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    len: usize,
}

impl Buf {
    fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// Read a whole file from offset 0 (until read returns 0), growing when full.
    fn pread_all(&mut self, f: &File) -> std::io::Result<()> {
        self.len = 0;
        loop {
            if self.data.len() - self.len < 4096 {
                self.data.resize((self.data.len() * 2).max(64 << 10), 0);
            }
            let n = f.read_at(&mut self.data[self.len..], self.len as u64)?;
            if n == 0 {
                return Ok(());
            }
            self.len += n;
        }
    }
}

/// `<group> <counter> <value>` lines: /proc/kpeek, and debugfs's `counters` file.
struct Lines {
    name: &'static str,
    f: File,
    buf: Buf,
    prefix: Vec<u8>,
}

impl Channel for Lines {
    fn name(&self) -> &'static str {
        self.name
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        self.buf.pread_all(&self.f)?;
        for line in self.buf.bytes().split(|&c| c == b'\n') {
            if line.starts_with(&self.prefix) {
                let v = line.rsplit(|&c| c == b' ').next().unwrap_or_default();
                out.push(
                    parse_dec(v).ok_or_else(|| anyhow::anyhow!("{} line {line:?}", self.name))?,
                );
            }
        }
        Ok(())
    }
}

/// One file per counter, opened, read and closed each time (sysfs, configfs).
struct PerFile {
    name: &'static str,
    paths: Vec<std::path::PathBuf>,
    buf: Vec<u8>,
}

impl Channel for PerFile {
    fn name(&self) -> &'static str {
        self.name
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        for p in &self.paths {
            self.buf.clear();
            File::open(p)
                .and_then(|mut f| f.read_to_end(&mut self.buf))
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            out.push(
                parse_dec(&self.buf)
                    .ok_or_else(|| anyhow::anyhow!("{}: {:?}", p.display(), self.buf))?,
            );
        }
        Ok(())
    }
}

/// The set's records in a buffer of kpeek_counter_rec: values of those in `group`, in order.
fn recs_values(recs: &[u8], group: &str, out: &mut Vec<u64>) {
    let g = group.as_bytes();
    for r in recs.chunks_exact(COUNTER_REC_SIZE) {
        let name = &r[rec::GROUP..rec::GROUP + NAME_LEN];
        if name.starts_with(g) && name[g.len()] == 0 {
            out.push(get_u64(r, rec::VALUE));
        }
    }
}

struct ReadDev {
    f: File,
    buf: Buf,
    group: String,
}

impl Channel for ReadDev {
    fn name(&self) -> &'static str {
        "read()"
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        // The snapshot says its own size: one read() at offset 0 takes it whole when the
        // buffer is large enough, no read to EOF needed.
        if self.buf.data.len() < 64 << 10 {
            self.buf.data.resize(64 << 10, 0);
        }
        let mut n = self.f.read_at(&mut self.buf.data, 0)?;
        anyhow::ensure!(
            n >= SNAP_HEADER_SIZE && get_u32(&self.buf.data, 0) == 0x4b50_534e,
            "/dev/kpeek read: no snapshot header"
        );
        let count = get_u32(&self.buf.data, 12) as usize;
        let total = SNAP_HEADER_SIZE + count * COUNTER_REC_SIZE;
        if total > self.buf.data.len() {
            self.buf.data.resize(total, 0);
        }
        while n < total {
            let k = self.f.read_at(&mut self.buf.data[n..total], n as u64)?;
            anyhow::ensure!(
                k > 0,
                "/dev/kpeek read: snapshot ends at {n} of {total} bytes"
            );
            n += k;
        }
        recs_values(&self.buf.data[SNAP_HEADER_SIZE..total], &self.group, out);
        Ok(())
    }
}

struct Ioctl {
    dev: Dev,
    recs: Vec<u8>,
    group: String,
}

impl Channel for Ioctl {
    fn name(&self) -> &'static str {
        "ioctl"
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        let cap = self.recs.len() / COUNTER_REC_SIZE;
        let mut start = 0u32;
        let gen0 = loop {
            let mut b = [0u8; COUNTERS_GET_SIZE];
            put_u32(&mut b, counters_get::SIZE, COUNTERS_GET_SIZE as u32);
            put_u64(&mut b, counters_get::RECS, self.recs.as_mut_ptr() as u64);
            put_u32(&mut b, counters_get::CAPACITY, cap as u32);
            put_u32(&mut b, counters_get::START, start);
            // SAFETY: b is the struct, recs holds `cap` records.
            unsafe { syscalls::ioctl(self.dev.fd(), IOC_GET_COUNTERS, b.as_mut_ptr() as u64) }
                .map_err(|e| anyhow::anyhow!("KPEEK_IOC_GET_COUNTERS: errno {e}"))?;
            let count = get_u32(&b, counters_get::COUNT) as usize;
            let total = get_u32(&b, counters_get::TOTAL);
            recs_values(&self.recs[..count * COUNTER_REC_SIZE], &self.group, out);
            start += count as u32;
            if count == 0 || start >= total {
                break get_u64(&b, counters_get::GENERATION);
            }
        };
        std::hint::black_box(gen0);
        Ok(())
    }
}

struct Mmap {
    _dev: Dev,
    map: Mapping,
    copy: Vec<u8>,
    group: String,
    /// Copy every slot (names too) rather than the set's values only.
    full: bool,
    /// The generation the slot indices below were resolved at, and the set's slot indices.
    resolved: Option<(u64, Vec<usize>)>,
}

impl Mmap {
    fn seq(&self) -> &std::sync::atomic::AtomicU32 {
        // SAFETY: the seq word of the mapped header, aligned.
        unsafe { &*(self.map.ptr().add(mmap_hdr::SEQ) as *const std::sync::atomic::AtomicU32) }
    }

    fn read_u64(&self, off: usize) -> u64 {
        // SAFETY: an aligned u64 inside the mapping; tearing is caught by the seqcount.
        unsafe { std::ptr::read_volatile(self.map.ptr().add(off) as *const u64) }
    }

    fn read_u32(&self, off: usize) -> u32 {
        // SAFETY: as read_u64.
        unsafe { std::ptr::read_volatile(self.map.ptr().add(off) as *const u32) }
    }

    /// Inside a seqcount section: the set's slot indices, by name.
    fn resolve(&mut self, count: usize) -> Vec<usize> {
        let n = MMAP_HEADER_SIZE + count * MMAP_SLOT_SIZE;
        self.copy.resize(n, 0);
        // SAFETY: n bytes are inside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(self.map.ptr(), self.copy.as_mut_ptr(), n) };
        let g = self.group.as_bytes();
        self.copy[MMAP_HEADER_SIZE..]
            .chunks_exact(MMAP_SLOT_SIZE)
            .enumerate()
            .filter(|(_, slot)| {
                let name = &slot[16..16 + NAME_LEN];
                name.starts_with(g) && name[g.len()] == 0
            })
            .map(|(i, _)| i)
            .collect()
    }
}

impl Channel for Mmap {
    fn name(&self) -> &'static str {
        if self.full { "mmap-full" } else { "mmap" }
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        let max = (self.map.len() - MMAP_HEADER_SIZE) / MMAP_SLOT_SIZE;
        let start = out.len();
        // Retry a torn copy for up to 2 s (time, not tries: how many spins a kernel write
        // section lasts depends on the machine), yielding the CPU after the first few spins.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        for attempt in 0u32.. {
            if attempt >= 64 {
                if std::time::Instant::now() > deadline {
                    break;
                }
                std::thread::yield_now();
            }
            let s = self.seq().load(Ordering::Acquire);
            if s & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            out.truncate(start);
            let count = (self.read_u32(mmap_hdr::COUNT) as usize).min(max);
            let generation = self.read_u64(mmap_hdr::GENERATION);
            if self.full || self.resolved.as_ref().is_none_or(|(g, _)| *g != generation) {
                let idx = self.resolve(count);
                fence(Ordering::Acquire);
                if self.seq().load(Ordering::Relaxed) != s {
                    continue;
                }
                for &i in &idx {
                    let slot = MMAP_HEADER_SIZE + i * MMAP_SLOT_SIZE;
                    out.push(get_u64(&self.copy, slot + 8));
                }
                self.resolved = Some((generation, idx));
                return Ok(());
            }
            // Names and slot order only change with the generation: read just the values.
            let idx = &self.resolved.as_ref().unwrap().1;
            for &i in idx {
                out.push(self.read_u64(MMAP_HEADER_SIZE + i * MMAP_SLOT_SIZE + 8));
            }
            fence(Ordering::Acquire);
            if self.seq().load(Ordering::Relaxed) == s {
                return Ok(());
            }
        }
        anyhow::bail!("counter mapping: no stable seqcount within 2 s")
    }
    fn note(&self) -> &'static str {
        if self.full {
            "no system call; copies every slot with its names"
        } else {
            "no system call; the set's values (names resolved once per generation)"
        }
    }
}

struct Netlink {
    sock: GenlSock,
    family: u16,
    group: String,
    seq: u32,
}

impl Channel for Netlink {
    fn name(&self) -> &'static str {
        "netlink"
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        self.seq += 1;
        let msg = Msg::new(
            self.family,
            1 | 0x300,
            self.seq,
            CMD_GET_COUNTERS,
            GENL_VERSION,
        )
        .finish();
        let replies = self.sock.request(&msg)?;
        for r in &replies {
            if let Some(e) = r.error.filter(|&e| e != 0) {
                anyhow::bail!("netlink dump: errno {e}");
            }
            let group = r.attrs.iter().find(|(t, _)| *t == A_GROUP);
            if group
                .is_some_and(|(_, v)| v.strip_suffix(b"\0").unwrap_or(v) == self.group.as_bytes())
                && let Some((_, v)) = r.attrs.iter().find(|(t, v)| *t == A_VALUE && v.len() == 8)
            {
                out.push(get_u64(v, 0));
            }
        }
        Ok(())
    }
}

/// A kpeek-client channel: `CounterSource::snapshot()` (every counter the channel shows, with
/// names, sorted), then the set's values picked out of it.
struct Client {
    src: Box<dyn kpeek_client::CounterSource>,
    group: String,
}

impl Channel for Client {
    fn name(&self) -> &'static str {
        self.src.channel().name()
    }
    fn snap(&mut self, out: &mut Vec<u64>) -> anyhow::Result<()> {
        let snap = self.src.snapshot()?;
        out.extend(
            snap.counters()
                .iter()
                .filter(|c| c.group == self.group)
                .map(|c| c.value),
        );
        Ok(())
    }
}

/// Median and p99 of the per-snapshot times, in nanoseconds, and how many were taken.
fn measure(
    ch: &mut dyn Channel,
    budget: Duration,
    want: &[u64],
) -> anyhow::Result<(f64, f64, usize)> {
    let mut out = Vec::with_capacity(want.len());
    ch.snap(&mut out)?;
    if out != want {
        anyhow::bail!(
            "{}: read {} values, {} differ from what was written",
            ch.name(),
            out.len(),
            out.iter().zip(want).filter(|(a, b)| a != b).count() + out.len().abs_diff(want.len())
        );
    }
    for _ in 0..5 {
        out.clear();
        ch.snap(&mut out)?;
    }
    let mut t = Vec::new();
    let start = Instant::now();
    while (start.elapsed() < budget || t.len() < 30) && t.len() < 20_000 {
        out.clear();
        let t0 = Instant::now();
        ch.snap(&mut out)?;
        t.push(t0.elapsed().as_nanos() as f64);
        std::hint::black_box(&out);
    }
    t.sort_by(f64::total_cmp);
    let pct = |p: f64| t[((t.len() - 1) as f64 * p).round() as usize];
    Ok((pct(0.5), pct(0.99), t.len()))
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The channels, opened for `group`.
fn open_channels(
    root: &SysRoot,
    group: &str,
    names: &[String],
) -> anyhow::Result<Vec<Box<dyn Channel>>> {
    let mut v: Vec<Box<dyn Channel>> = Vec::new();
    v.push(Box::new(Lines {
        name: "procfs",
        f: File::open(root.path(kpeek_abi::PROC_PATH))?,
        buf: Buf::default(),
        prefix: format!("{group} ").into_bytes(),
    }));
    let sys = root.path(kpeek_abi::SYSFS_DIR).join(group);
    v.push(Box::new(PerFile {
        name: "sysfs",
        paths: names.iter().map(|c| sys.join(c)).collect(),
        buf: Vec::new(),
    }));
    let cfs = root
        .path(kpeek_abi::CONFIGFS_DIR)
        .join("groups")
        .join(group);
    v.push(Box::new(PerFile {
        name: "configfs",
        paths: names.iter().map(|c| cfs.join(c).join("value")).collect(),
        buf: Vec::new(),
    }));
    let dbg = root.path(kpeek_abi::DEBUGFS_DIR).join("counters");
    v.push(Box::new(Lines {
        name: "debugfs",
        f: File::open(&dbg).map_err(|e| anyhow::anyhow!("{}: {e}", dbg.display()))?,
        buf: Buf::default(),
        prefix: format!("{group} ").into_bytes(),
    }));
    v.push(Box::new(ReadDev {
        f: File::open(root.path(uapi::DEV_PATH))?,
        buf: Buf::default(),
        group: group.to_owned(),
    }));
    let dev = Dev::open()?;
    let info = dev.info()?;
    v.push(Box::new(Ioctl {
        dev,
        recs: vec![0u8; (info.counters as usize + 64) * COUNTER_REC_SIZE],
        group: group.to_owned(),
    }));
    for full in [false, true] {
        let dev = Dev::open()?;
        let map = Mapping::new(
            info.mmap_counters_size as usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            Some(dev.fd()),
            MMAP_COUNTERS,
        )
        .map_err(|e| anyhow::anyhow!("mmap counters ({} bytes): {e}", info.mmap_counters_size))?;
        // Values written just before: make the mapping current once (not timed).
        // SAFETY: no argument.
        unsafe { syscalls::ioctl(dev.fd(), IOC_MMAP_SYNC, 0) }
            .map_err(|e| anyhow::anyhow!("KPEEK_IOC_MMAP_SYNC: errno {e}"))?;
        v.push(Box::new(Mmap {
            _dev: dev,
            map,
            copy: Vec::new(),
            group: group.to_owned(),
            full,
            resolved: None,
        }));
    }
    let mut sock = GenlSock::open()?;
    let family = resolve_family(&mut sock)?;
    v.push(Box::new(Netlink {
        sock,
        family,
        group: group.to_owned(),
        seq: 1000,
    }));
    Ok(v)
}

/// Create `group` with `n` counters (values 1000 + 7 i), returning names and values.
fn create_set(cfs: &Configfs, group: &str, n: usize) -> anyhow::Result<(Vec<String>, Vec<u64>)> {
    let _ = cfs.delete_group(group);
    cfs.create_group(group, Some("kpeek-guest bench counter set"))?;
    let mut names = Vec::new();
    let mut vals = Vec::new();
    for i in 0..n {
        let c = format!("c{i:04}");
        cfs.create_counter(group, &c, None)?;
        let v = 1000 + 7 * i as u64;
        cfs.set_value(group, &c, v)?;
        names.push(c);
        vals.push(v);
    }
    Ok((names, vals))
}

/// Delete a bench group with all its counters.
fn delete_set(cfs: &Configfs, group: &str, names: &[String]) {
    for c in names {
        let _ = cfs.delete_counter(group, c);
    }
    let _ = cfs.delete_group(group);
}

struct Row {
    size: usize,
    channel: &'static str,
    median: f64,
    p99: f64,
    n: usize,
    note: &'static str,
}

/// One table of rows per set size, each with its ratio to that size's fastest channel; the note
/// column only when some row has a note.
fn print_table(title: &str, rows: &[Row], sizes: &[usize]) {
    let notes = rows.iter().any(|x| !x.note.is_empty());
    println!("\nbench: {title}");
    println!(
        "{:>8}  {:<9} {:>10} {:>10} {:>9} {:>7}{}",
        "counters",
        "channel",
        "median",
        "p99",
        "x fastest",
        "samples",
        if notes { "  note" } else { "" }
    );
    for &n in sizes {
        let fastest = rows
            .iter()
            .filter(|x| x.size == n)
            .map(|x| x.median)
            .fold(f64::INFINITY, f64::min);
        for x in rows.iter().filter(|x| x.size == n) {
            println!(
                "{:>8}  {:<9} {:>10} {:>10} {:>9.1} {:>7}{}",
                x.size,
                x.channel,
                fmt_ns(x.median),
                fmt_ns(x.p99),
                x.median / fastest,
                x.n,
                if notes {
                    format!("  {}", x.note)
                } else {
                    String::new()
                }
            );
        }
    }
}

pub fn run(root: &SysRoot, r: &Report, a: Args) -> anyhow::Result<()> {
    let cfs = Configfs::new(root);
    let budget = Duration::from_millis(a.budget_ms);
    let mut rows: Vec<Row> = Vec::new();
    let mut failures = Vec::new();
    let mut client_rows: Vec<Row> = Vec::new();
    for &n in &a.sizes {
        let group = format!("bench{n}");
        let (names, vals) = create_set(&cfs, &group, n)?;
        let res = (|| -> anyhow::Result<()> {
            for mut ch in open_channels(root, &group, &names)? {
                match measure(ch.as_mut(), budget, &vals) {
                    Ok((median, p99, k)) => rows.push(Row {
                        size: n,
                        channel: ch.name(),
                        median,
                        p99,
                        n: k,
                        note: ch.note(),
                    }),
                    Err(e) => failures.push(format!("{n} counters, {}: {e:#}", ch.name())),
                }
            }
            for c in kpeek_client::Channel::ALL {
                let mut ch = Client {
                    src: c.open(root),
                    group: group.clone(),
                };
                match measure(&mut ch, budget, &vals) {
                    Ok((median, p99, k)) => client_rows.push(Row {
                        size: n,
                        channel: c.name(),
                        median,
                        p99,
                        n: k,
                        note: "",
                    }),
                    Err(e) => failures.push(format!("{n} counters, kpeek-client {c}: {e:#}")),
                }
            }
            Ok(())
        })();
        delete_set(&cfs, &group, &names);
        res?;
    }

    print_table(
        "one snapshot of the same counter set through each channel (guest, TCG)",
        &rows,
        &a.sizes,
    );
    print_table(
        "the same through kpeek-client (CounterSource::snapshot: every counter the channel shows, names and values, sorted)",
        &client_rows,
        &a.sizes,
    );
    r.check(
        "bench: every channel returned the written values of every set",
        failures.is_empty(),
        || failures.join("; "),
    );
    let largest = a.sizes.iter().copied().max().unwrap_or(0);
    let med = |ch: &str| {
        rows.iter()
            .find(|x| x.size == largest && x.channel == ch)
            .map(|x| x.median)
    };
    if let (Some(p), Some(m)) = (med("procfs"), med("mmap")) {
        let ratio = p / m;
        println!(
            "bench: {largest} counters: mmap snapshot {ratio:.0}x faster than procfs (a figure, not a check)"
        );
    } else {
        r.fail(
            "bench: mmap vs procfs",
            &format!("no procfs or mmap measurement of the {largest}-counter set"),
        );
    }

    if a.ring_seconds > 0 {
        ring_bench::run(
            r,
            &RingArgs {
                secs: a.ring_seconds,
                rounds: a.rounds,
                ring_size: a.ring_size,
                workloads: a.ring_workloads.clone(),
            },
        );
    }
    Ok(())
}

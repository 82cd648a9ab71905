//! `fuzz-ioctl`: random ioctls (and some reads and mmaps) on /dev/kpeek through raw system
//! calls: valid and invalid command numbers, struct sizes, flags, reserved fields, names and ids,
//! and argument pointers that are NULL, unmapped, kernel addresses, non-canonical, misaligned, or
//! a struct cut short by an inaccessible page.
//!
//! Checked per call: a known command with an unreadable argument fails with EFAULT; an unknown
//! command fails with ENOTTY; no errno outside the plausible set (no kernel-internal values);
//! as non-root, no mutating command ever succeeds, and well-formed mutations get EPERM.
//! Checked after the run: the module still answers KPEEK_IOC_INFO, and as non-root nothing
//! changed (counters, generation, probes). The harness checks dmesg for oopses and WARNs.
//!
//! Every pointer the kernel may write through lies in a private arena, so the fuzzer cannot
//! corrupt itself. The seed is printed first: `--seed N` replays a run exactly.

use std::os::fd::RawFd;

use kpeek_client::SysRoot;

mod args;
mod reads;

use crate::fuzzstate::{FuzzArgs, State, Tally, errno_name, plausible_errno};
use crate::report::Report;
use crate::syscalls::{self, Mapping, Rng};
use crate::uapi::{self, *};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: FuzzArgs,
    /// As root, at most this many probe attach/detach transitions (each one patches kernel
    /// text through text_poke_bp; attached probes then write into rings whose headers the
    /// fuzzer scribbles on). No limit by default. (Under multi-threaded TCG the 6.12 guest
    /// died three times of an int3 Oops at a static-branch site just after a text_poke_bp;
    /// vmtest runs single-threaded TCG, see the README.)
    #[arg(long)]
    max_probe_toggles: Option<u64>,
}

/// Kernel-side addresses, non-canonical and unmappable ones: any access must EFAULT.
const BAD_PTRS: [u64; 10] = [
    0,
    1,
    0x1000,
    0xffff_8880_0000_0000,
    0xffff_ffff_8100_0000,
    0xffff_ffff_ff60_0000,
    0x0000_8000_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 7,
];

/// Command types the VFS itself handles for any file (do_vfs_ioctl: FIONBIO, FIFREEZE, FICLONE,
/// FS_IOC_*, FIGETBSZ ...): never sent, so that a random command cannot freeze a filesystem.
const VFS_TYPES: [u32; 6] = [0x00, 0x15, 0x54, 0x58, 0x66, 0x94];

/// Where the argument points.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ptr {
    /// Readable and writable for the whole struct.
    Good,
    /// Readable and writable, not 8-byte aligned.
    Misaligned,
    /// Starts readable, ends in an inaccessible page before the struct's end.
    Short,
    /// Nothing readable at all.
    Bad,
}

/// The arena: `GOOD` read-write pages, then inaccessible pages.
struct Arena {
    map: Mapping,
    good: usize,
}

impl Arena {
    fn new() -> anyhow::Result<Self> {
        let ps = syscalls::page_size();
        let map = Mapping::anon(6 * ps)?;
        map.protect(4 * ps, 2 * ps, libc::PROT_NONE)?;
        Ok(Arena { map, good: 4 * ps })
    }

    fn base(&self) -> u64 {
        self.map.addr()
    }

    fn end_good(&self) -> u64 {
        self.base() + self.good as u64
    }

    fn none_page(&self) -> u64 {
        self.end_good() + 64
    }

    /// Whether the kernel writing records from `p` on cannot touch this process's memory:
    /// inside the arena (it ends in inaccessible pages), below any mapping, or not a user
    /// address at all.
    fn safe_target(&self, p: u64) -> bool {
        let arena = self.base()..self.base() + self.map.len() as u64;
        arena.contains(&p) || !(0x10000..0x0000_8000_0000_0000).contains(&p)
    }

    /// The arena's writable bytes.
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the first `good` bytes are mapped read-write and owned by the arena.
        unsafe { std::slice::from_raw_parts_mut(self.map.ptr(), self.good) }
    }
}

struct Fuzzer<'a> {
    fd: RawFd,
    rng: Rng,
    arena: Arena,
    root: bool,
    /// Counter and group ids seen at start and created since.
    counter_ids: Vec<u64>,
    group_ids: Vec<u64>,
    created_groups: Vec<u64>,
    /// Per command name: result tally.
    tallies: std::collections::BTreeMap<&'static str, Tally>,
    problems: Vec<String>,
    nproblems: u64,
    mutations_refused: u64,
    /// Corrupted GET_COUNTERS recs pointers that pointed at this process (replaced).
    redirected: u64,
    /// Whether each probe (index = KPEEK_PROBE_*) is attached, and the transitions so far.
    probe_on: [bool; PROBE_MAX as usize + 1],
    probe_toggles: u64,
    max_probe_toggles: Option<u64>,
    r: &'a Report,
}

impl Fuzzer<'_> {
    fn problem(&mut self, i: u64, what: String) {
        self.nproblems += 1;
        if self.problems.len() < 8 {
            self.problems.push(format!("call {i}: {what}"));
        }
    }

    fn tally(&mut self, name: &'static str, r: Result<i32, i32>) {
        self.tallies.entry(name).or_default().add(r);
    }

    fn name(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        match r.below(10) {
            0 => Vec::new(),
            1 => b"info".to_vec(),
            2 => b"reset".to_vec(),
            3 => vec![b'a'; 32 + r.below(8) as usize], // unterminated / too long
            4 => {
                let mut v = vec![0u8; 1 + r.below(31) as usize];
                r.fill(&mut v);
                v
            }
            5 => b"fz/../x".to_vec(),
            6 => "fz\u{e9}".as_bytes().to_vec(),
            _ => format!("fz{}", r.below(40)).into_bytes(),
        }
    }

    fn put_raw_name(b: &mut [u8], off: usize, name: &[u8]) {
        let n = name.len().min(NAME_LEN);
        b[off..off + NAME_LEN].fill(0);
        b[off..off + n].copy_from_slice(&name[..n]);
    }

    fn some_id(&mut self, groups: bool) -> u64 {
        let pool = if groups {
            &self.group_ids
        } else {
            &self.counter_ids
        };
        if !pool.is_empty() && !self.rng.one_in(4) {
            return *self.rng.pick(pool);
        }
        match self.rng.below(4) {
            0 => 0,
            1 => u64::MAX,
            2 => self.rng.below(5000),
            _ => self.rng.u64(),
        }
    }

    fn one_ioctl(&mut self, i: u64) {
        let (cmd, size, mutating, name, kind) = match self.rng.below(20) {
            // An unknown command number of ours: ENOTTY.
            0 => {
                let nr = IOC_NR_MAX + 1 + self.rng.below(0xff - IOC_NR_MAX as u64) as u32;
                let dir = self.rng.below(4) as u32;
                let size = self.rng.below(0x4000) as u32;
                (
                    ioc(dir, IOC_MAGIC, nr, size),
                    size as usize,
                    false,
                    "unknown-nr",
                    1,
                )
            }
            // A known number with a wrong size or direction: ENOTTY (or EINVAL).
            1 => {
                let (c, s, m, _) = *self.rng.pick(&uapi::IOCTLS);
                let nr = c & 0xff;
                let mut dir = self.rng.below(4) as u32;
                let mut sz = match self.rng.below(3) {
                    0 => s as u32 + 8,
                    1 => (s as u32).saturating_sub(8),
                    _ => self.rng.below(0x4000) as u32,
                };
                if ioc(dir, IOC_MAGIC, nr, sz) == c {
                    dir ^= 1;
                    sz ^= 8;
                }
                (
                    ioc(dir, IOC_MAGIC, nr, sz),
                    s.max(sz as usize),
                    m,
                    "wrong-encoding",
                    2,
                )
            }
            // Another driver's or subsystem's command: ENOTTY.
            2 => {
                let mut c = self.rng.u32();
                while (c >> 8) & 0xff == IOC_MAGIC || VFS_TYPES.contains(&((c >> 8) & 0xff)) {
                    c = self.rng.u32();
                }
                let size = ((c >> 16) & 0x3fff) as usize;
                (c, size, false, "foreign", 3)
            }
            _ => {
                let (c, s, m, n) = *self.rng.pick(&uapi::IOCTLS);
                (c, s, m, n, 0)
            }
        };

        // The struct: well-formed, or corrupted.
        let len = size.clamp(8, 4096);
        let mut buf = vec![0u8; len];
        let mut well_formed_mutation = kind == 0 && mutating;
        if kind == 0 {
            self.fill_struct(cmd, &mut buf[..size.min(len)]);
            if self.rng.one_in(4) {
                self.corrupt(&mut buf);
                well_formed_mutation = false;
            }
        } else {
            self.rng.fill(&mut buf);
        }
        // Bounded attach/detach transitions (see --max-probe-toggles): past the budget, a
        // PROBE_SET keeps each probe's current state.
        let toggle_probe = if cmd == IOC_PROBE_SET && kind == 0 {
            let p = get_u32(&buf, probe::PROBE) as usize;
            let flags = get_u32(&buf, probe::FLAGS);
            match self.probe_on.get(p) {
                Some(&on) if (flags & PROBE_F_ENABLE != 0) != on => {
                    if self
                        .max_probe_toggles
                        .is_some_and(|m| self.probe_toggles >= m)
                    {
                        put_u32(&mut buf, probe::FLAGS, flags ^ PROBE_F_ENABLE);
                        None
                    } else {
                        Some(p)
                    }
                }
                _ => None,
            }
        } else {
            None
        };

        // Where it goes.
        let ptr_kind = if cmd == IOC_MMAP_SYNC {
            Ptr::Good
        } else {
            match self.rng.below(25) {
                0..=15 => Ptr::Good,
                16..=18 => Ptr::Misaligned,
                19..=21 if size > 1 => Ptr::Short,
                _ => Ptr::Bad,
            }
        };
        let (arg, at) = match ptr_kind {
            Ptr::Good => (self.arena.base(), 0usize),
            Ptr::Misaligned => {
                let o = 1 + self.rng.below(7) as usize;
                (self.arena.base() + o as u64, o)
            }
            Ptr::Short => {
                let cut = 1 + self.rng.below(size as u64 - 1) as usize;
                let at = self.arena.good - cut;
                (self.arena.base() + at as u64, at)
            }
            Ptr::Bad => {
                let p = if self.rng.one_in(3) {
                    self.arena.none_page()
                } else {
                    *self.rng.pick(&BAD_PTRS)
                };
                (p, usize::MAX)
            }
        };
        // GET_COUNTERS carries a pointer the kernel writes through: whatever corruption did to
        // it, it must point into the arena or somewhere no user memory is (else the kernel
        // would write records over this process, as a real bug would).
        if cmd & 0xffff == IOC_GET_COUNTERS & 0xffff && buf.len() >= counters_get::RECS + 8 {
            let recs = get_u64(&buf, counters_get::RECS);
            if !self.arena.safe_target(recs) {
                self.redirected += 1;
                let p = *self.rng.pick(&BAD_PTRS);
                put_u64(&mut buf, counters_get::RECS, p);
            }
        }
        if at != usize::MAX {
            let room = self.arena.good - at;
            let n = len.min(room);
            self.arena.bytes()[at..at + n].copy_from_slice(&buf[..n]);
        }
        let arg = if cmd == IOC_MMAP_SYNC && self.rng.one_in(2) {
            // It takes no argument: any value must do (but none that points at our memory).
            *self.rng.pick(&BAD_PTRS)
        } else {
            arg
        };

        // SAFETY: every pointer is in the arena or not accessible at all, and GET_COUNTERS's
        // recs pointer likewise; the arena is only ever read back as bytes.
        let res = unsafe { syscalls::ioctl(self.fd, cmd, arg) };
        self.tally(name, res);

        // Remember what root created, to destroy it (and fuzz ids that exist).
        if let (Ok(_), true) = (res, cmd == IOC_CREATE && ptr_kind != Ptr::Bad) {
            let id = get_u64(&self.arena.bytes()[at..], create::ID);
            let target = get_u32(&buf, create::TARGET);
            if target == TARGET_GROUP {
                self.group_ids.push(id);
                self.created_groups.push(id);
            } else {
                self.counter_ids.push(id);
            }
        }
        if let (Ok(_), Some(p)) = (res, toggle_probe) {
            self.probe_on[p] = !self.probe_on[p];
            self.probe_toggles += 1;
        }
        if let (Ok(_), true) = (res, cmd == IOC_DESTROY) {
            let id = get_u64(&buf, 8);
            self.created_groups.retain(|&g| g != id);
        }

        // Judge the result.
        let errno = res.err();
        if let Some(e) = errno
            && !plausible_errno(e)
        {
            self.problem(i, format!("{name} {cmd:#x}: implausible errno {e}"));
        }
        match kind {
            1 | 3 if errno != Some(libc::ENOTTY) => self.problem(
                i,
                format!("{name} command {cmd:#x}: {}, want ENOTTY", errno_name(res)),
            ),
            2 if !matches!(errno, Some(libc::ENOTTY | libc::EINVAL)) => self.problem(
                i,
                format!("{name} command {cmd:#x}: {}, want ENOTTY", errno_name(res)),
            ),
            _ => {}
        }
        if kind == 0 && ptr_kind == Ptr::Bad && size > 0 {
            let ok = errno == Some(libc::EFAULT)
                || (!self.root && mutating && errno == Some(libc::EPERM));
            if !ok {
                self.problem(
                    i,
                    format!(
                        "{name} with pointer {arg:#x}: {}, want EFAULT",
                        errno_name(res)
                    ),
                );
            }
        }
        if kind == 0 && ptr_kind == Ptr::Short && res.is_ok() {
            self.problem(
                i,
                format!("{name} with a struct cut short by an unmapped page succeeded"),
            );
        }
        if !self.root && mutating {
            // The driver checks CAP_SYS_ADMIN before it reads the argument
            // (abi-v2-changes.md), so a known mutating command gets EPERM whatever it carries.
            match errno {
                None => self.problem(i, format!("non-root {name} succeeded")),
                Some(libc::EPERM) => self.mutations_refused += 1,
                Some(_) if kind != 0 => self.mutations_refused += 1,
                Some(_) => {
                    self.mutations_refused += 1;
                    let what = if well_formed_mutation {
                        "well-formed"
                    } else {
                        "malformed"
                    };
                    self.problem(
                        i,
                        format!("non-root {what} {name}: {}, want EPERM", errno_name(res)),
                    )
                }
            }
        }
        // Root: keep the number of fuzz groups small (max_groups is a shared cap).
        if self.root && self.created_groups.len() > 32 {
            self.destroy_created();
        }
    }

    fn destroy_created(&mut self) {
        for id in std::mem::take(&mut self.created_groups) {
            let mut b = [0u8; DESTROY_SIZE];
            put_u32(&mut b, 0, DESTROY_SIZE as u32);
            put_u32(&mut b, 4, TARGET_GROUP);
            put_u64(&mut b, 8, id);
            // SAFETY: b has the size the command encodes.
            let _ = unsafe { syscalls::ioctl(self.fd, IOC_DESTROY, b.as_mut_ptr() as u64) };
            self.group_ids.retain(|&g| g != id);
        }
    }

    /// Root: detach every probe the fuzzer may have attached, free the rings.
    fn disable_probes(&mut self) -> Vec<String> {
        let mut errs = Vec::new();
        for p in 1..=PROBE_MAX {
            let mut b = [0u8; PROBE_CONFIG_SIZE];
            put_u32(&mut b, probe::SIZE, PROBE_CONFIG_SIZE as u32);
            put_u32(&mut b, probe::PROBE, p);
            // SAFETY: b has the size the command encodes.
            let r = unsafe { syscalls::ioctl(self.fd, IOC_PROBE_SET, b.as_mut_ptr() as u64) };
            if let Err(e) = r {
                errs.push(format!("probe {p}: {}", errno_name(Err(e))));
            }
        }
        // And free the rings (nothing of ours is mapped any more).
        let mut b = [0u8; RING_CONFIG_SIZE];
        put_u32(&mut b, 0, RING_CONFIG_SIZE as u32);
        // SAFETY: b has the size the command encodes.
        if let Err(e) = unsafe { syscalls::ioctl(self.fd, IOC_RING_SETUP, b.as_mut_ptr() as u64) } {
            errs.push(format!("freeing the rings: {}", errno_name(Err(e))));
        }
        errs
    }
}

/// Which probes are attached now (PROBE_GET's flags), index = KPEEK_PROBE_*.
fn probes_attached(fd: RawFd) -> [bool; PROBE_MAX as usize + 1] {
    let mut on = [false; PROBE_MAX as usize + 1];
    for (p, slot) in on.iter_mut().enumerate().skip(1) {
        let mut b = [0u8; PROBE_CONFIG_SIZE];
        put_u32(&mut b, probe::SIZE, PROBE_CONFIG_SIZE as u32);
        put_u32(&mut b, probe::PROBE, p as u32);
        // SAFETY: b has the size the command encodes.
        if unsafe { syscalls::ioctl(fd, IOC_PROBE_GET, b.as_mut_ptr() as u64) }.is_ok() {
            *slot = get_u32(&b, probe::FLAGS) & PROBE_F_ENABLE != 0;
        }
    }
    on
}

/// Every counter's and group's id, through KPEEK_IOC_GET_COUNTERS.
pub fn list_ids(fd: RawFd) -> anyhow::Result<(Vec<u64>, Vec<u64>)> {
    let cap = 4096usize;
    let mut recs = vec![0u8; cap * COUNTER_REC_SIZE];
    let (mut counters, mut groups) = (Vec::new(), Vec::new());
    let mut start = 0u32;
    loop {
        let mut b = [0u8; COUNTERS_GET_SIZE];
        put_u32(&mut b, counters_get::SIZE, COUNTERS_GET_SIZE as u32);
        put_u64(&mut b, counters_get::RECS, recs.as_mut_ptr() as u64);
        put_u32(&mut b, counters_get::CAPACITY, cap as u32);
        put_u32(&mut b, counters_get::START, start);
        // SAFETY: b is the struct; recs holds `cap` records.
        unsafe { syscalls::ioctl(fd, IOC_GET_COUNTERS, b.as_mut_ptr() as u64) }
            .map_err(|e| anyhow::anyhow!("KPEEK_IOC_GET_COUNTERS: {}", errno_name(Err(e))))?;
        let count = get_u32(&b, counters_get::COUNT) as usize;
        let total = get_u32(&b, counters_get::TOTAL);
        for r in recs.chunks(COUNTER_REC_SIZE).take(count) {
            counters.push(get_u64(r, rec::ID));
            let g = get_u64(r, rec::GROUP_ID);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        start += count as u32;
        if count == 0 || start >= total {
            break;
        }
    }
    Ok((counters, groups))
}

/// The well-formed mutations that a non-root caller must see refused with EPERM.
fn nonroot_exact_checks(fd: RawFd, r: &Report, counters: &[u64], groups: &[u64]) {
    let mut cases: Vec<(&str, u32, Vec<u8>)> = Vec::new();
    let mut b = vec![0u8; RESET_SIZE];
    put_u32(&mut b, 0, RESET_SIZE as u32);
    cases.push(("RESET all", IOC_RESET, b.clone()));
    if let Some(&c) = counters.first() {
        put_u32(&mut b, 4, TARGET_COUNTER);
        put_u64(&mut b, 8, c);
        cases.push(("RESET counter", IOC_RESET, b.clone()));
    }
    let mut b = vec![0u8; CREATE_SIZE];
    put_u32(&mut b, 0, CREATE_SIZE as u32);
    put_u32(&mut b, create::TARGET, TARGET_GROUP);
    put_name(&mut b, create::GROUP, NAME_LEN, "fz_nonroot");
    cases.push(("CREATE group", IOC_CREATE, b));
    if let Some(&g) = groups.first() {
        let mut b = vec![0u8; DESTROY_SIZE];
        put_u32(&mut b, 0, DESTROY_SIZE as u32);
        put_u32(&mut b, 4, TARGET_GROUP);
        put_u64(&mut b, 8, g);
        cases.push(("DESTROY group", IOC_DESTROY, b));
    }
    let mut b = vec![0u8; PROBE_CONFIG_SIZE];
    put_u32(&mut b, 0, PROBE_CONFIG_SIZE as u32);
    put_u32(&mut b, probe::PROBE, PROBE_SCHED_SWITCH);
    put_u32(&mut b, probe::FLAGS, PROBE_F_ENABLE);
    cases.push(("PROBE_SET enable", IOC_PROBE_SET, b));
    let mut b = vec![0u8; RING_CONFIG_SIZE];
    put_u32(&mut b, 0, RING_CONFIG_SIZE as u32);
    put_u32(&mut b, 8, 1 << 16);
    cases.push(("RING_SETUP", IOC_RING_SETUP, b));
    let mut bad = Vec::new();
    for (name, cmd, mut b) in cases {
        // SAFETY: b has the size the command encodes.
        let res = unsafe { syscalls::ioctl(fd, cmd, b.as_mut_ptr() as u64) };
        if res != Err(libc::EPERM) {
            bad.push(format!("{name}: {}", errno_name(res)));
        }
    }
    r.check(
        "non-root: every well-formed mutating ioctl gets EPERM",
        bad.is_empty(),
        || bad.join(", "),
    );
}

pub fn run(root: &SysRoot, r: &Report, a: Args) -> anyhow::Result<()> {
    let seed = a.common.seed.unwrap_or_else(syscalls::clock_seed);
    println!(
        "fuzz-ioctl: seed {seed} ({} calls; replay with --seed {seed})",
        a.common.calls
    );
    let dev = syscalls::open(uapi::DEV_PATH, libc::O_RDWR)
        .or_else(|_| syscalls::open(uapi::DEV_PATH, libc::O_RDONLY))
        .map_err(|e| anyhow::anyhow!("open {}: {e}", uapi::DEV_PATH))?;
    let fd = syscalls::raw(&dev);
    if let Some(uid) = a.common.drop_uid {
        syscalls::drop_privileges(uid)?;
    }
    let is_root = syscalls::geteuid() == 0;
    let who = if is_root {
        "root".to_owned()
    } else {
        format!("uid {}", syscalls::geteuid())
    };
    let before = State::capture(root, Some(fd), &a.common.volatile_group)?;
    let (counter_ids, group_ids) = list_ids(fd)?;
    if !is_root {
        nonroot_exact_checks(fd, r, &counter_ids, &group_ids);
    }

    let mut f = Fuzzer {
        fd,
        rng: Rng::new(seed),
        arena: Arena::new()?,
        root: is_root,
        counter_ids,
        group_ids,
        created_groups: Vec::new(),
        tallies: Default::default(),
        problems: Vec::new(),
        nproblems: 0,
        mutations_refused: 0,
        redirected: 0,
        probe_on: probes_attached(fd),
        probe_toggles: 0,
        max_probe_toggles: a.max_probe_toggles,
        r,
    };
    let t0 = std::time::Instant::now();
    for i in 0..a.common.calls {
        match f.rng.below(100) {
            0..=5 => f.one_read(i),
            6 => f.one_mmap(i),
            _ => f.one_ioctl(i),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cleanup = if is_root {
        f.destroy_created();
        f.disable_probes()
    } else {
        Vec::new()
    };
    for (name, t) in &f.tallies {
        println!("fuzz-ioctl: {name}: {}", t.line());
    }
    let total: u64 = f.tallies.values().flat_map(|t| t.0.values()).sum();
    println!(
        "fuzz-ioctl: {total} calls as {who} in {secs:.1}s ({:.0}/s), seed {seed}; {} probe attach/detach transitions; {} corrupted recs pointers into this process replaced by bad ones",
        total as f64 / secs,
        f.probe_toggles,
        f.redirected
    );
    let (problems, n) = (std::mem::take(&mut f.problems), f.nproblems);
    let refused = f.mutations_refused;
    f.r.check(
        &format!("fuzz-ioctl as {who}: {total} calls, every errno as specified (seed {seed})"),
        n == 0 && total >= a.common.calls,
        || format!("{n} unexpected results: {}", problems.join("; ")),
    );

    // The module still answers.
    let mut b = [0u8; INFO_SIZE];
    put_u32(&mut b, 0, INFO_SIZE as u32);
    // SAFETY: b has the size the command encodes.
    let res = unsafe { syscalls::ioctl(fd, IOC_INFO, b.as_mut_ptr() as u64) };
    r.check(
        &format!("fuzz-ioctl as {who}: KPEEK_IOC_INFO still answers"),
        res.is_ok(),
        || errno_name(res),
    );
    if is_root {
        r.check(
            "fuzz-ioctl: fuzz groups destroyed, probes detached and rings freed afterwards",
            cleanup.is_empty(),
            || cleanup.join(", "),
        );
    } else {
        let after = State::capture(root, Some(fd), &a.common.volatile_group)?;
        let d = before.diff(&after);
        r.check(
            &format!(
                "fuzz-ioctl as {who}: {refused} mutating calls refused, module state unchanged"
            ),
            d.is_empty() && refused > 0,
            || format!("{} refused; changes: {}", refused, d.join("; ")),
        );
    }
    Ok(())
}

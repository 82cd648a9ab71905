//! The arguments `fuzz-ioctl` passes: well-formed-looking structs per command, and the one
//! change that makes such a struct invalid.

use super::*;

impl Fuzzer<'_> {
    /// Fill a well-formed-looking struct for `cmd` (size right, flags and reserved zero) into
    /// `b`, with random but meaningful contents.
    pub(super) fn fill_struct(&mut self, cmd: u32, b: &mut [u8]) {
        b.fill(0);
        if b.len() >= 4 {
            put_u32(b, 0, b.len() as u32);
        }
        match cmd {
            IOC_GET_COUNTER => {
                let id = self.some_id(false);
                put_u64(b, 8, id);
            }
            IOC_GET_COUNTERS => {
                // recs: somewhere in the arena (never outside: the kernel writes there), or bad.
                let recs = match self.rng.below(6) {
                    0 => *self.rng.pick(&BAD_PTRS),
                    1 => self.arena.end_good() - self.rng.below(200),
                    2 => self.arena.none_page(),
                    _ => self.arena.base() + 1024 + self.rng.below(64),
                };
                put_u64(b, counters_get::RECS, recs);
                let cap = match self.rng.below(4) {
                    0 => self.rng.interesting_u32(),
                    _ => self.rng.below(40) as u32,
                };
                put_u32(b, counters_get::CAPACITY, cap);
                let start = match self.rng.below(3) {
                    0 => self.rng.interesting_u32(),
                    _ => self.rng.below(20) as u32,
                };
                put_u32(b, counters_get::START, start);
            }
            IOC_RESET | IOC_DESTROY => {
                let target = match self.rng.below(8) {
                    0 => self.rng.interesting_u32(),
                    t => t as u32 % 3,
                };
                put_u32(b, 4, target);
                let id = if target == TARGET_ALL && !self.rng.one_in(4) {
                    0
                } else {
                    self.some_id(target == TARGET_GROUP)
                };
                // As root, destroy only what the fuzzer created (or refused kinds): other
                // tests' and the API's objects stay.
                let id = if cmd == IOC_DESTROY
                    && self.root
                    && !self.created_groups.contains(&id)
                    && !self.rng.one_in(3)
                {
                    self.created_groups.first().copied().unwrap_or(id)
                } else {
                    id
                };
                put_u64(b, 8, id);
            }
            IOC_CREATE => {
                let target = match self.rng.below(8) {
                    0 => self.rng.interesting_u32(),
                    t => 1 + t as u32 % 2,
                };
                put_u32(b, create::TARGET, target);
                let g = self.name();
                Self::put_raw_name(b, create::GROUP, &g);
                if target == TARGET_COUNTER {
                    let c = self.name();
                    Self::put_raw_name(b, create::COUNTER, &c);
                }
            }
            IOC_PROBE_SET | IOC_PROBE_GET if self.rng.one_in(2) => {
                // A configuration the kernel accepts (so probes really attach, fire and write
                // into the rings while the rest of the fuzzing goes on).
                let p = 1 + self.rng.below(PROBE_MAX as u64) as u32;
                put_u32(b, probe::PROBE, p);
                let flags = *self.rng.pick(&[
                    0,
                    PROBE_F_ENABLE,
                    PROBE_F_ENABLE | PROBE_F_RING,
                    PROBE_F_ENABLE | PROBE_F_RING,
                ]);
                put_u32(b, probe::FLAGS, flags);
                let allowed = match p {
                    PROBE_NETIF_RECEIVE_SKB => FILTER_DEV | FILTER_MINLEN,
                    PROBE_SCHED_SWITCH => FILTER_PID,
                    _ => FILTER_PID | FILTER_MINLEN,
                };
                let filter = self.rng.u32() & allowed;
                put_u32(b, probe::FILTER, filter);
                if filter & FILTER_PID != 0 {
                    let pid = *self.rng.pick(&[1, std::process::id(), 0x7fff_ffff]);
                    put_u32(b, probe::PID, pid);
                }
                if filter & FILTER_MINLEN != 0 {
                    let min = self.rng.below(2000) as u32;
                    put_u32(b, probe::MIN_LEN, min);
                }
                if filter & FILTER_DEV != 0 {
                    put_name(
                        b,
                        probe::DEV,
                        16,
                        if self.rng.one_in(2) { "lo" } else { "eth9" },
                    );
                }
            }
            IOC_PROBE_SET | IOC_PROBE_GET => {
                let p = match self.rng.below(8) {
                    0 => self.rng.interesting_u32(),
                    p => p as u32 % (PROBE_MAX + 2),
                };
                put_u32(b, probe::PROBE, p);
                let flags = match self.rng.below(6) {
                    0 => self.rng.interesting_u32(),
                    f => (f as u32 - 1) & 3,
                };
                put_u32(b, probe::FLAGS, flags);
                let filter = match self.rng.below(5) {
                    0 => self.rng.interesting_u32(),
                    f => (f as u32 - 1) & 7,
                };
                put_u32(b, probe::FILTER, filter);
                put_u32(b, probe::PID, self.rng.interesting_u32());
                put_u32(b, probe::MIN_LEN, self.rng.interesting_u32());
                let dev: &[u8] = match self.rng.below(5) {
                    0 => b"lo",
                    1 => b"",
                    2 => b"0123456789abcdef", // 16 bytes, no NUL
                    3 => b"eth0",
                    _ => b"lo\0junk",
                };
                b[probe::DEV..probe::DEV + 16].fill(0);
                b[probe::DEV..probe::DEV + dev.len()].copy_from_slice(dev);
            }
            IOC_RING_SETUP => {
                let size = if self.rng.one_in(2000) {
                    1 << 24
                } else {
                    match self.rng.below(8) {
                        0 => self.rng.interesting_u32(),
                        1 => 4095,
                        2 => 3 << 12,
                        3 => 1 << 25,
                        _ => 1 << (12 + self.rng.below(5)),
                    }
                };
                put_u32(b, 8, size);
                put_u32(b, 12, self.rng.interesting_u32() % 100_000);
            }
            IOC_RING_CONSUME => {
                let cpu = match self.rng.below(6) {
                    0 => self.rng.interesting_u32(),
                    c => c as u32 - 1,
                };
                put_u32(b, 4, cpu);
                // A hostile consumer: any tail, aligned or not, inside the data or not.
                let tail = match self.rng.below(4) {
                    0 => self.rng.interesting_u32(),
                    1 => self.rng.below(1 << 24) as u32,
                    _ => (self.rng.below(1 << 16) as u32) & !7,
                };
                put_u32(b, 8, tail);
            }
            _ => {}
        }
    }

    /// One random change that makes a well-formed struct invalid (or random bytes).
    pub(super) fn corrupt(&mut self, b: &mut [u8]) {
        if b.is_empty() {
            return;
        }
        match self.rng.below(5) {
            0 => self.rng.fill(b),
            1 if b.len() >= 4 => {
                let s = self.rng.interesting_u32();
                put_u32(b, 0, s)
            }
            2 if b.len() >= 8 => {
                let f = self.rng.interesting_u32() | 1;
                put_u32(b, 4, f)
            }
            _ => {
                let i = self.rng.below(b.len() as u64) as usize;
                b[i] = self.rng.u32() as u8;
            }
        }
    }
}

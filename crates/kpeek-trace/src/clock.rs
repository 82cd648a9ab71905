//! Time: the perf clock (`CLOCK_MONOTONIC`) and its offset to wall-clock time.

/// Wall-clock time from the perf clock (`CLOCK_MONOTONIC`): the offset measured at start.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    /// `CLOCK_REALTIME - CLOCK_MONOTONIC` in ns.
    pub offset_ns: i128,
}

/// `clock_gettime(clock)` in ns.
pub fn clock_ns(clock: rustix::time::ClockId) -> u64 {
    let ts = rustix::time::clock_gettime(clock);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl WallClock {
    /// Measure the offset, bracketing the realtime read by two monotonic reads.
    pub fn measure() -> WallClock {
        let m1 = clock_ns(rustix::time::ClockId::Monotonic);
        let r = clock_ns(rustix::time::ClockId::Realtime);
        let m2 = clock_ns(rustix::time::ClockId::Monotonic);
        let m = (m1 as i128 + m2 as i128) / 2;
        WallClock {
            offset_ns: r as i128 - m,
        }
    }

    /// Nanoseconds since the Unix epoch of a perf timestamp.
    pub fn wall_ns(&self, perf_ns: u64) -> i128 {
        perf_ns as i128 + self.offset_ns
    }
}

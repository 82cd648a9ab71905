//! Rates from successive readings: monotonic timestamps, resets (a decrease or an epoch change
//! is a reset, never a negative or huge rate), wraps of declared widths, and 1 s / 10 s / 60 s
//! averages.

use std::collections::VecDeque;

/// The averaging windows, in seconds.
pub const WINDOWS: [f64; 3] = [1.0, 10.0, 60.0];

/// How many recent per-refresh rates a series keeps for sparklines and charts.
pub const HISTORY: usize = 120;

/// What one update found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    /// The rate since the previous reading (per second); `None` on the first reading and on a
    /// reset.
    pub rate: Option<f64>,
    /// The counter went back (or its epoch changed): the rate restarts from here.
    pub reset: bool,
    /// The counter passed its declared width and was unwrapped.
    pub wrapped: bool,
}

/// Readings kept at full resolution: those of the last this many seconds (the 1 s average).
const RECENT: f64 = WINDOWS[0];
/// Older readings (for the 10 s and 60 s averages) are kept at most this often, so a series
/// holds a bounded number of them whatever the refresh rate (about 120 at 10 Hz, not 600).
const COARSE_STEP: f64 = 0.5;

/// The state of one series between readings.
///
/// Averages are differences of a running sum: for counters the accumulated increase (resets
/// and wraps excluded), for gauges the time integral of the value (trapezoids), so an average
/// over any window is one subtraction and one division, whatever the refresh rate.
#[derive(Clone, Debug)]
pub struct Series {
    counter: bool,
    width: Option<u8>,
    last: Option<(f64, f64, u64)>,
    /// (time, running sum) of the readings, oldest first, covering the longest window: every
    /// reading of the last [`RECENT`] seconds; older ones at most one per [`COARSE_STEP`].
    window: VecDeque<(f64, f64)>,
    /// How many of `window`'s first entries are older than [`RECENT`] (already thinned).
    aged: usize,
    acc: f64,
    /// Recent per-refresh rates (counters) or values (gauges), oldest first.
    pub history: VecDeque<f64>,
    /// Resets seen.
    pub resets: u64,
    /// Wall-clock time (Unix seconds) the series was first seen or last reset: `_created`.
    pub created: f64,
}

impl Series {
    /// A series for a counter (`counter`) or a gauge, with an optional declared bit width.
    pub fn new(counter: bool, width: Option<u8>, created: f64) -> Self {
        Series {
            counter,
            width: width.filter(|w| (1..64).contains(w)),
            last: None,
            window: VecDeque::new(),
            aged: 0,
            acc: 0.0,
            history: VecDeque::new(),
            resets: 0,
            created,
        }
    }

    /// Take a reading at monotonic time `t` (seconds) of `value` in `epoch`; `wall` is the
    /// Unix time, used for `created` on a reset.
    pub fn update(&mut self, t: f64, value: f64, epoch: u64, wall: f64) -> Update {
        let mut up = Update {
            rate: None,
            reset: false,
            wrapped: false,
        };
        if !self.counter {
            if let Some((lt, lv, _)) = self.last
                && t > lt
            {
                self.acc += (lv + value) / 2.0 * (t - lt);
            }
            self.push_window(t);
            self.push_history(value);
            self.last = Some((t, value, epoch));
            return up;
        }
        if let Some((lt, lv, le)) = self.last {
            let dt = t - lt;
            let mut delta = value - lv;
            if le != epoch {
                up.reset = true;
            } else if delta < 0.0 {
                match self.width {
                    Some(w) if lv < 2f64.powi(w.into()) && value < 2f64.powi(w.into()) => {
                        delta += 2f64.powi(w.into());
                        up.wrapped = true;
                    }
                    _ => up.reset = true,
                }
            }
            if up.reset {
                self.resets += 1;
                self.created = wall;
            } else if dt > 0.0 {
                self.acc += delta;
                up.rate = Some(delta / dt);
            }
        }
        self.last = Some((t, value, epoch));
        self.push_window(t);
        if let Some(r) = up.rate {
            self.push_history(r);
        }
        up
    }

    fn push_window(&mut self, t: f64) {
        self.window.push_back((t, self.acc));
        // Readings that aged past RECENT are kept only COARSE_STEP apart.
        while let Some(&(at, _)) = self.window.get(self.aged) {
            if t - at <= RECENT + 1e-9 {
                break;
            }
            let spaced = self.aged == 0
                || self
                    .window
                    .get(self.aged - 1)
                    .is_some_and(|&(pt, _)| at - pt >= COARSE_STEP);
            if spaced {
                self.aged += 1;
            } else {
                self.window.remove(self.aged);
            }
        }
        let keep = WINDOWS[WINDOWS.len() - 1] + 1.0;
        while self.aged > 1 && self.window.front().is_some_and(|&(ft, _)| t - ft > keep) {
            self.window.pop_front();
            self.aged -= 1;
        }
    }

    fn push_history(&mut self, v: f64) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(v);
    }

    /// The average rate (counters) or time-weighted value (gauges) over the last `secs`
    /// seconds, from the oldest kept reading inside it (a window over 1 s starts within half a
    /// second of its length); `None` until two readings span some time (a gauge's single
    /// reading is its own average).
    pub fn average(&self, secs: f64) -> Option<f64> {
        let &(t, v) = self.window.back()?;
        let from = self
            .window
            .get(self.window.partition_point(|&(ft, _)| t - ft > secs + 1e-9))
            .copied()?;
        let dt = t - from.0;
        if dt > 0.0 {
            Some((v - from.1) / dt)
        } else if self.counter {
            None
        } else {
            self.value()
        }
    }

    /// The last value read.
    pub fn value(&self) -> Option<f64> {
        self.last.map(|l| l.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rates_and_resets() {
        let mut s = Series::new(true, None, 0.0);
        assert_eq!(s.update(0.0, 100.0, 1, 0.0).rate, None);
        assert_eq!(s.update(1.0, 150.0, 1, 0.0).rate, Some(50.0));
        let u = s.update(2.0, 10.0, 1, 7.0);
        assert!(u.reset && u.rate.is_none());
        assert_eq!(s.created, 7.0);
        assert_eq!(s.update(3.0, 30.0, 1, 0.0).rate, Some(20.0));
        // Epoch change: a reset even though the value went up.
        let u = s.update(4.0, 1000.0, 2, 0.0);
        assert!(u.reset && u.rate.is_none());
        assert_eq!(s.resets, 2);
        // The average excludes the reset jumps: 50 over 1 s, then 20 over 1 s, over 4 s total.
        assert_eq!(s.average(60.0), Some(70.0 / 4.0));
        assert_eq!(s.average(1.0), Some(0.0));
    }

    #[test]
    fn u32_wraps() {
        let mut s = Series::new(true, Some(32), 0.0);
        s.update(0.0, f64::from(u32::MAX - 9), 0, 0.0);
        let u = s.update(1.0, 10.0, 0, 0.0);
        assert!(u.wrapped && !u.reset);
        assert_eq!(u.rate, Some(20.0));
        // A value beyond the declared width cannot be a wrap: reset.
        let u = s.update(2.0, 2f64.powi(40), 0, 0.0);
        assert!(!u.reset);
        let u = s.update(3.0, 5.0, 0, 0.0);
        assert!(u.reset);
    }

    #[test]
    fn old_readings_are_thinned_and_the_averages_stay_right() {
        // 10 Hz for two minutes, 50/s for the first 100 s, then 10/s.
        let mut s = Series::new(true, None, 0.0);
        let mut v = 0.0;
        for i in 0..=1200 {
            let t = f64::from(i) / 10.0;
            s.update(t, v, 0, 0.0);
            v += if t < 100.0 { 5.0 } else { 1.0 };
            // Bounded: ~10 recent readings plus one per half second over 61 s.
            assert!(s.window.len() <= 11 + 124, "{} at {t}", s.window.len());
        }
        let near = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-6;
        assert!(near(s.average(1.0), 10.0));
        assert!(near(s.average(10.0), 10.0));
        // The last 60 s: 40 s at 50/s and 20 s at 10/s, from a reading at most 0.5 s late.
        let a60 = s.average(60.0).unwrap();
        assert!((a60 - 2200.0 / 60.0).abs() < 0.5, "{a60}");
    }

    #[test]
    fn gauges_average_values() {
        let mut s = Series::new(false, None, 0.0);
        for (t, v) in [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)] {
            assert_eq!(s.update(t, v, 0, 0.0).rate, None);
        }
        assert_eq!(s.average(1.0), Some(4.0));
        assert_eq!(s.average(60.0), Some(3.0));
        assert_eq!(s.value(), Some(5.0));
    }

    proptest! {
        /// Whatever the readings, a counter's rate is never negative and never larger than the
        /// largest increase seen over the shortest interval.
        #[test]
        fn rates_never_negative(vals in proptest::collection::vec((0u64..1 << 40, 0u64..3), 1..60),
                                width in proptest::option::of(8u8..64)) {
            let mut s = Series::new(true, width, 0.0);
            let mut last: Option<u64> = None;
            for (i, (v, e)) in vals.iter().enumerate() {
                let u = s.update(i as f64, *v as f64, *e, 0.0);
                if let Some(r) = u.rate {
                    prop_assert!(r >= 0.0);
                    let bound = width.map_or(0.0, |w| 2f64.powi(w.into()));
                    prop_assert!(r <= (1u64 << 40) as f64 + bound);
                }
                last = Some(*v);
                for w in WINDOWS {
                    if let Some(a) = s.average(w) { prop_assert!(a >= 0.0); }
                }
            }
            prop_assert_eq!(s.value(), last.map(|v| v as f64));
        }
    }
}

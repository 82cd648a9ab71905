//! Rates from successive readings: monotonic timestamps, resets (a decrease or an epoch change
//! is a reset, never a negative or huge rate), wraps of declared widths, and 1 s / 10 s / 60 s
//! averages.
//!
//! Every series lives in one [`Store`], laid out for the round the monitor works in: each
//! series' scalar state is one entry of one array (indexed by [`SeriesId`]), and the readings
//! kept for the averages and the sparkline history are columns, one per round, holding that
//! round's number of every series. A round thus writes its state array and two columns front to
//! back, without following a pointer per series; round times are kept once, not per series.

use std::collections::VecDeque;

/// The averaging windows, in seconds.
pub const WINDOWS: [f64; 3] = [1.0, 10.0, 60.0];

/// How many recent rounds of per-refresh rates a series keeps for sparklines and charts.
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

/// Rounds kept at full resolution: those of the last this many seconds (the 1 s average).
const RECENT: f64 = WINDOWS[0];
/// Older rounds (for the 10 s and 60 s averages) are kept at most this often, so the store
/// holds a bounded number of them whatever the refresh rate (about 120 at 10 Hz, not 600).
const COARSE_STEP: f64 = 0.5;

/// A series' place in its [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesId(u32);

impl SeriesId {
    fn ix(self) -> usize {
        self.0 as usize
    }
}

/// One series' state between readings.
#[derive(Clone, Copy, Debug)]
struct State {
    /// Time, value and epoch of the last reading; `t` is NaN before the first.
    last_t: f64,
    last_v: f64,
    epoch: u64,
    /// The running sum the averages are differences of (see [`Store`]).
    acc: f64,
    /// The last value put into the history (NaN: none yet).
    last_hist: f64,
    /// The first round of this series: columns of earlier rounds at its index belonged to a
    /// series that had the index before.
    born: u64,
    counter: bool,
    /// Declared width in bits, 0 for none.
    width: u8,
}

/// One round's number of every series (NaN: the series was not read in that round).
#[derive(Clone, Debug)]
struct Column {
    t: f64,
    round: u64,
    vals: Vec<f64>,
}

impl Column {
    fn get(&self, id: SeriesId, born: u64) -> Option<f64> {
        if self.round < born {
            return None;
        }
        self.vals.get(id.ix()).copied().filter(|v| !v.is_nan())
    }
}

/// Every series and its state.
///
/// Averages are differences of a running sum: for counters the accumulated increase (resets
/// and wraps excluded), for gauges the time integral of the value (trapezoids), so an average
/// over any window is one subtraction and one division, whatever the refresh rate.
///
/// ```
/// use kpeek_monitor::rate::Store;
/// let mut s = Store::new();
/// s.begin(0.0);
/// let id = s.add(true, None, 0.0);
/// s.update(id, 100.0, 0, 0.0);
/// s.begin(2.0);
/// assert_eq!(s.update(id, 150.0, 0, 0.0).rate, Some(25.0));
/// assert_eq!(s.average(id, 60.0), Some(25.0));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Store {
    state: Vec<State>,
    /// Resets seen, per series.
    resets: Vec<u64>,
    /// Wall-clock time (Unix seconds) each series was first seen or last reset: `_created`.
    created: Vec<f64>,
    /// Indexes of removed series, for reuse.
    free: Vec<u32>,
    /// The running sums of every round of the longest window, oldest first: every round of the
    /// last [`RECENT`] seconds; older ones at most one per [`COARSE_STEP`].
    window: VecDeque<Column>,
    /// How many of `window`'s first columns are older than [`RECENT`] (already thinned).
    aged: usize,
    /// Per-refresh rates (counters) or values (gauges) of the last [`HISTORY`] rounds.
    hist: VecDeque<Column>,
    /// Columns dropped, kept for reuse.
    spare: Vec<Vec<f64>>,
    round: u64,
    t: f64,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start a round at monotonic time `t` (seconds): every update until the next `begin` is a
    /// reading taken at `t`.
    pub fn begin(&mut self, t: f64) {
        self.round += 1;
        self.t = t;
        let n = self.state.len();
        let col = self.column(n, t);
        self.window.push_back(col);
        // Rounds that aged past RECENT are kept only COARSE_STEP apart.
        while let Some(at) = self.window.get(self.aged).map(|c| c.t) {
            if t - at <= RECENT + 1e-9 {
                break;
            }
            let spaced = self.aged == 0
                || self
                    .window
                    .get(self.aged - 1)
                    // The same tolerance as above: rounds COARSE_STEP apart by the clock
                    // must not be thinned because their f64 difference falls a hair short.
                    .is_some_and(|p| at - p.t >= COARSE_STEP - 1e-9);
            if spaced {
                self.aged += 1;
            } else if let Some(c) = self.window.remove(self.aged) {
                self.spare.push(c.vals);
            }
        }
        let keep = WINDOWS[WINDOWS.len() - 1] + 1.0;
        while self.aged > 1 && self.window.front().is_some_and(|f| t - f.t > keep) {
            if let Some(c) = self.window.pop_front() {
                self.spare.push(c.vals);
            }
            self.aged -= 1;
        }
        if self.hist.len() == HISTORY
            && let Some(c) = self.hist.pop_front()
        {
            self.spare.push(c.vals);
        }
        let col = self.column(n, t);
        self.hist.push_back(col);
    }

    /// An empty column (every value NaN) for `n` series, reusing a dropped one.
    fn column(&mut self, n: usize, t: f64) -> Column {
        let mut vals = self.spare.pop().unwrap_or_default();
        vals.clear();
        vals.resize(n, f64::NAN);
        Column {
            t,
            round: self.round,
            vals,
        }
    }

    /// A new series for a counter (`counter`) or a gauge, with an optional declared bit width,
    /// first seen at Unix time `created`.
    pub fn add(&mut self, counter: bool, width: Option<u8>, created: f64) -> SeriesId {
        let st = State {
            last_t: f64::NAN,
            last_v: 0.0,
            epoch: 0,
            acc: 0.0,
            last_hist: f64::NAN,
            born: self.round,
            counter,
            width: width.filter(|w| (1..64).contains(w)).unwrap_or(0),
        };
        match self.free.pop() {
            Some(i) => {
                let ix = i as usize;
                self.state[ix] = st;
                self.resets[ix] = 0;
                self.created[ix] = created;
                SeriesId(i)
            }
            None => {
                self.state.push(st);
                self.resets.push(0);
                self.created.push(created);
                SeriesId(u32::try_from(self.state.len() - 1).expect("fewer than 2^32 series"))
            }
        }
    }

    /// Forget a series; its id may be given to a new one.
    pub fn remove(&mut self, id: SeriesId) {
        self.free.push(id.0);
    }

    /// Take a reading of `value` in `epoch` at the current round's time; `wall` is the Unix
    /// time, used for `created` on a reset.
    pub fn update(&mut self, id: SeriesId, value: f64, epoch: u64, wall: f64) -> Update {
        let t = self.t;
        let ix = id.ix();
        let mut up = Update {
            rate: None,
            reset: false,
            wrapped: false,
        };
        let s = &mut self.state[ix];
        let had = !s.last_t.is_nan();
        let (lt, lv, le) = (s.last_t, s.last_v, s.epoch);
        let hist = if !s.counter {
            if had && t > lt {
                s.acc += (lv + value) / 2.0 * (t - lt);
            }
            Some(value)
        } else {
            if had {
                let dt = t - lt;
                let mut delta = value - lv;
                if le != epoch {
                    up.reset = true;
                } else if delta < 0.0 {
                    let span = 2f64.powi(s.width.into());
                    if s.width != 0 && lv < span && value < span {
                        delta += span;
                        up.wrapped = true;
                    } else {
                        up.reset = true;
                    }
                }
                if up.reset {
                    self.resets[ix] += 1;
                    self.created[ix] = wall;
                } else if dt > 0.0 {
                    s.acc += delta;
                    up.rate = Some(delta / dt);
                }
            }
            up.rate
        };
        s.last_t = t;
        s.last_v = value;
        s.epoch = epoch;
        let acc = s.acc;
        if let Some(h) = hist {
            s.last_hist = h;
            if let Some(c) = self.hist.back_mut() {
                put(&mut c.vals, ix, h);
            }
        }
        if let Some(c) = self.window.back_mut() {
            put(&mut c.vals, ix, acc);
        }
        up
    }

    /// The average rate (counters) or time-weighted value (gauges) over the last `secs`
    /// seconds before the series' last reading, from the oldest kept reading inside it (a
    /// window over 1 s starts within half a second of its length); `None` until two readings
    /// span some time (a gauge's single reading is its own average).
    ///
    /// Rounds are kept (and thinned) by their age now, so for a series not read in the latest
    /// rounds (its source failing) a window can start later than its length before the last
    /// reading: its average is then over the shorter span that is still kept.
    pub fn average(&self, id: SeriesId, secs: f64) -> Option<f64> {
        let s = self.state.get(id.ix())?;
        if s.last_t.is_nan() {
            return None;
        }
        let (t, v) = (s.last_t, s.acc);
        let start = self
            .window
            .partition_point(|c| t - c.t > secs + 1e-9)
            .max(self.window.partition_point(|c| c.round < s.born));
        let from = self
            .window
            .range(start..)
            .take_while(|c| c.t <= t)
            .find_map(|c| c.get(id, s.born).map(|a| (c.t, a)))
            .unwrap_or((t, v));
        let dt = t - from.0;
        if dt > 0.0 {
            Some((v - from.1) / dt)
        } else if s.counter {
            None
        } else {
            Some(s.last_v)
        }
    }

    /// The 1 s / 10 s / 60 s averages.
    pub fn averages(&self, id: SeriesId) -> [Option<f64>; 3] {
        WINDOWS.map(|w| self.average(id, w))
    }

    /// The last value read.
    pub fn value(&self, id: SeriesId) -> Option<f64> {
        self.state
            .get(id.ix())
            .filter(|s| !s.last_t.is_nan())
            .map(|s| s.last_v)
    }

    /// The per-refresh rates (counters) or values (gauges) of the last [`HISTORY`] rounds
    /// that gave one, oldest first.
    pub fn history(&self, id: SeriesId) -> impl DoubleEndedIterator<Item = f64> + '_ {
        let born = self.state.get(id.ix()).map_or(u64::MAX, |s| s.born);
        self.hist.iter().filter_map(move |c| c.get(id, born))
    }

    /// The last value [`Store::history`] got, however long ago.
    pub fn last_history(&self, id: SeriesId) -> Option<f64> {
        self.state
            .get(id.ix())
            .map(|s| s.last_hist)
            .filter(|v| !v.is_nan())
    }

    /// Resets seen.
    pub fn resets(&self, id: SeriesId) -> u64 {
        self.resets.get(id.ix()).copied().unwrap_or(0)
    }

    /// Wall-clock time (Unix seconds) the series was first seen or last reset.
    pub fn created(&self, id: SeriesId) -> f64 {
        self.created.get(id.ix()).copied().unwrap_or(0.0)
    }

    /// Rounds of readings kept for the averages (bounded whatever the refresh rate).
    pub fn kept_rounds(&self) -> usize {
        self.window.len()
    }
}

/// Set `vals[ix]`, growing the column for a series added after it was made.
fn put(vals: &mut Vec<f64>, ix: usize, v: f64) {
    if ix >= vals.len() {
        vals.resize(ix + 1, f64::NAN);
    }
    vals[ix] = v;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One series, one reading a round.
    struct One(Store, SeriesId);

    impl One {
        fn new(counter: bool, width: Option<u8>) -> Self {
            let mut s = Store::new();
            let id = s.add(counter, width, 0.0);
            One(s, id)
        }
        fn update(&mut self, t: f64, v: f64, epoch: u64, wall: f64) -> Update {
            self.0.begin(t);
            self.0.update(self.1, v, epoch, wall)
        }
        fn average(&self, secs: f64) -> Option<f64> {
            self.0.average(self.1, secs)
        }
    }

    #[test]
    fn rates_and_resets() {
        let mut s = One::new(true, None);
        assert_eq!(s.update(0.0, 100.0, 1, 0.0).rate, None);
        assert_eq!(s.update(1.0, 150.0, 1, 0.0).rate, Some(50.0));
        let u = s.update(2.0, 10.0, 1, 7.0);
        assert!(u.reset && u.rate.is_none());
        assert_eq!(s.0.created(s.1), 7.0);
        assert_eq!(s.update(3.0, 30.0, 1, 0.0).rate, Some(20.0));
        // Epoch change: a reset even though the value went up.
        let u = s.update(4.0, 1000.0, 2, 0.0);
        assert!(u.reset && u.rate.is_none());
        assert_eq!(s.0.resets(s.1), 2);
        // The average excludes the reset jumps: 50 over 1 s, then 20 over 1 s, over 4 s total.
        assert_eq!(s.average(60.0), Some(70.0 / 4.0));
        assert_eq!(s.average(1.0), Some(0.0));
        // The history holds the rates, not the resets.
        assert_eq!(s.0.history(s.1).collect::<Vec<_>>(), vec![50.0, 20.0]);
        assert_eq!(s.0.last_history(s.1), Some(20.0));
    }

    #[test]
    fn u32_wraps() {
        let mut s = One::new(true, Some(32));
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
        let mut s = One::new(true, None);
        let mut v = 0.0;
        for i in 0..=1200 {
            let t = f64::from(i) / 10.0;
            s.update(t, v, 0, 0.0);
            v += if t < 100.0 { 5.0 } else { 1.0 };
            // Bounded: ~10 recent rounds plus one per half second over 61 s.
            let kept = s.0.kept_rounds();
            assert!(kept <= 11 + 124, "{kept} rounds kept at {t}");
            assert!(s.0.history(s.1).count() <= HISTORY);
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
        let mut s = One::new(false, None);
        for (t, v) in [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)] {
            assert_eq!(s.update(t, v, 0, 0.0).rate, None);
        }
        assert_eq!(s.average(1.0), Some(4.0));
        assert_eq!(s.average(60.0), Some(3.0));
        assert_eq!(s.0.value(s.1), Some(5.0));
        assert_eq!(s.0.history(s.1).collect::<Vec<_>>(), vec![1.0, 3.0, 5.0]);
    }

    #[test]
    fn series_side_by_side_and_an_index_reused() {
        let mut s = Store::new();
        s.begin(0.0);
        let a = s.add(true, None, 0.0);
        let b = s.add(true, None, 0.0);
        s.update(a, 0.0, 0, 0.0);
        s.update(b, 0.0, 0, 0.0);
        s.begin(1.0);
        s.update(a, 10.0, 0, 0.0);
        s.update(b, 30.0, 0, 0.0);
        // b is not read for a round: its averages end at its last reading.
        s.begin(2.0);
        s.update(a, 20.0, 0, 0.0);
        assert_eq!(s.average(a, 60.0), Some(10.0));
        assert_eq!(s.average(b, 60.0), Some(30.0));
        assert_eq!(s.history(b).collect::<Vec<_>>(), vec![30.0]);
        // b goes; a new series takes its index and sees nothing of b's.
        s.remove(b);
        s.begin(3.0);
        let c = s.add(true, None, 5.0);
        assert_eq!(c, b);
        assert_eq!(s.created(c), 5.0);
        assert_eq!(s.value(c), None);
        assert_eq!(s.update(c, 100.0, 0, 0.0).rate, None);
        assert_eq!(s.average(c, 60.0), None);
        assert_eq!(s.history(c).count(), 0);
        s.begin(4.0);
        assert_eq!(s.update(c, 104.0, 0, 0.0).rate, Some(4.0));
        assert_eq!(s.average(c, 60.0), Some(4.0));
    }

    /// A case the property below found: rounds 0.5 s apart whose f64 times differ by a hair
    /// less (7.502 + 0.5) lost the gauge's only reading in the older one when it was thinned.
    #[test]
    fn rounds_half_a_second_apart_are_kept_despite_rounding() {
        let mut all = Store::new();
        let g = all.add(false, None, 0.0);
        let mut alone = One::new(false, None);
        let mut t = 0.0;
        let reads = [(7, 0.0), (11, 1.0)];
        let gaps = [
            2053, 635, 577, 700, 2205, 1332, 500, 500, 500, 500, 500, 500, 500,
        ];
        for (i, ms) in gaps.into_iter().enumerate() {
            t += f64::from(ms) / 1000.0;
            all.begin(t);
            if let Some(&(_, v)) = reads.iter().find(|&&(r, _)| r == i + 1) {
                assert_eq!(all.update(g, v, 0, t), alone.update(t, v, 0, t));
                for w in WINDOWS {
                    assert_eq!(all.average(g, w), alone.average(w), "window {w} at {t}");
                }
            }
        }
        assert_eq!(alone.average(10.0), Some(0.5));
    }

    proptest! {
        /// Series side by side in one store, each read in some rounds only, answer exactly as
        /// each would alone (a store of its own, read in the same rounds): sharing columns and
        /// round times changes nothing for a series read in the latest round. Rounds are at
        /// least half a second apart, so no round is thinned away in either store. (The
        /// averages of a series not read lately come from the rounds still kept: see
        /// [`Store::average`].)
        #[test]
        fn series_side_by_side_answer_as_alone(
            rounds in proptest::collection::vec(
                (500u32..3000, proptest::collection::vec(
                    proptest::option::of((0u64..1 << 20, 0u64..2)), 3)),
                1..80),
            kinds in proptest::collection::vec((any::<bool>(), proptest::option::of(8u8..24)), 3),
        ) {
            let mut all = Store::new();
            let ids: Vec<SeriesId> = kinds.iter().map(|&(c, w)| all.add(c, w, 0.0)).collect();
            let mut alone: Vec<One> = kinds.iter().map(|&(c, w)| One::new(c, w)).collect();
            let mut t = 0.0;
            for (ms, reads) in &rounds {
                t += f64::from(*ms) / 1000.0;
                all.begin(t);
                for (k, r) in reads.iter().enumerate() {
                    let Some((v, e)) = *r else { continue };
                    let a = all.update(ids[k], v as f64, e, t);
                    let b = alone[k].update(t, v as f64, e, t);
                    prop_assert_eq!(a, b, "series {} at {}", k, t);
                }
                for (k, one) in alone.iter().enumerate() {
                    let read_now = reads[k].is_some();
                    for w in WINDOWS.into_iter().filter(|_| read_now) {
                        prop_assert_eq!(all.average(ids[k], w), one.average(w),
                            "series {} window {} at {}", k, w, t);
                    }
                    prop_assert_eq!(all.value(ids[k]), one.0.value(one.1));
                    prop_assert_eq!(all.resets(ids[k]), one.0.resets(one.1));
                    prop_assert_eq!(all.last_history(ids[k]), one.0.last_history(one.1));
                }
            }
        }

        /// Whatever the readings, a counter's rate is never negative and never larger than the
        /// largest increase seen over the shortest interval.
        #[test]
        fn rates_never_negative(vals in proptest::collection::vec((0u64..1 << 40, 0u64..3), 1..60),
                                width in proptest::option::of(8u8..64)) {
            let mut s = One::new(true, width);
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
            prop_assert_eq!(s.0.value(s.1), last.map(|v| v as f64));
        }
    }
}

//! Records read from a perf ring: `PERF_RECORD_SAMPLE` in kpeek's layout, lost and throttle
//! notices. Parsing is bounds-checked: a short or malformed record becomes [`Record::Other`].

use perf_event_open_sys::bindings as sys;

use super::{record_type, sample};

/// One record from a ring.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    /// `PERF_RECORD_SAMPLE`: one tracepoint hit.
    Sample(Sample<'a>),
    /// `PERF_RECORD_LOST`: the kernel dropped `lost` records for event `id` (ring full).
    Lost {
        /// The event's perf id.
        id: u64,
        /// How many records.
        lost: u64,
        /// Perf clock nanoseconds.
        time: u64,
        /// The CPU.
        cpu: u32,
    },
    /// `PERF_RECORD_THROTTLE` / `UNTHROTTLE`: sampling was (un)throttled for event `id`.
    Throttle {
        /// The event's perf id.
        id: u64,
        /// Perf clock nanoseconds.
        time: u64,
        /// True for `PERF_RECORD_UNTHROTTLE`.
        unthrottle: bool,
    },
    /// Any other record type (or a sample too short to parse), kept so nothing is silent.
    Other {
        /// The record type.
        rtype: u32,
    },
}

/// A `PERF_RECORD_SAMPLE` in kpeek's layout: IDENTIFIER, TID, TIME, CPU, PERIOD, (CALLCHAIN), RAW.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    /// The perf id of the event that fired.
    pub id: u64,
    /// The process id.
    pub pid: u32,
    /// The thread id.
    pub tid: u32,
    /// Perf clock nanoseconds.
    pub time: u64,
    /// The CPU.
    pub cpu: u32,
    /// The hit's count (1 for most tracepoints; `__perf_count()` ones such as
    /// sched_stat_runtime carry an amount).
    pub period: u64,
    /// Kernel return addresses, native-endian u64s (with PERF_CONTEXT_* markers), raw bytes.
    pub callchain: &'a [u8],
    /// The tracepoint record: common fields first, as described by the format file.
    pub raw: &'a [u8],
}

impl Sample<'_> {
    /// Iterate the callchain's addresses, skipping the `PERF_CONTEXT_*` markers.
    pub fn callchain_ips(&self) -> impl Iterator<Item = u64> + '_ {
        const PERF_CONTEXT_MAX: u64 = sys::PERF_CONTEXT_MAX;
        self.callchain
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8-byte chunk")))
            .filter(|&ip| ip < PERF_CONTEXT_MAX)
    }
}

#[inline]
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

#[inline]
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl<'a> Record<'a> {
    /// Parse a whole record (`bytes` includes the 8-byte header).
    pub fn parse(rtype: u32, bytes: &'a [u8], sample_type: u64) -> Record<'a> {
        let parsed = match rtype {
            record_type::SAMPLE => Sample::parse(bytes, sample_type).map(Record::Sample),
            record_type::LOST => (|| {
                let id = u64_at(bytes, 8)?;
                let lost = u64_at(bytes, 16)?;
                let (time, cpu) = sample_id(bytes, 24, sample_type);
                Some(Record::Lost {
                    id,
                    lost,
                    time,
                    cpu,
                })
            })(),
            record_type::THROTTLE | record_type::UNTHROTTLE => (|| {
                Some(Record::Throttle {
                    time: u64_at(bytes, 8)?,
                    id: u64_at(bytes, 16)?,
                    unthrottle: rtype == record_type::UNTHROTTLE,
                })
            })(),
            _ => None,
        };
        parsed.unwrap_or(Record::Other { rtype })
    }
}

/// The `sample_id` trailer of a non-sample record (with `sample_id_all`): (time, cpu).
fn sample_id(b: &[u8], mut off: usize, sample_type: u64) -> (u64, u32) {
    let (mut time, mut cpu) = (0, u32::MAX);
    if sample_type & sample::TID != 0 {
        off += 8;
    }
    if sample_type & sample::TIME != 0 {
        time = u64_at(b, off).unwrap_or(0);
        off += 8;
    }
    if sample_type & sample::ID != 0 {
        off += 8;
    }
    if sample_type & sample::STREAM_ID != 0 {
        off += 8;
    }
    if sample_type & sample::CPU != 0 {
        cpu = u32_at(b, off).unwrap_or(u32::MAX);
    }
    (time, cpu)
}

impl<'a> Sample<'a> {
    /// Parse a sample record laid out by [`TracepointConfig::sample_type`](super::TracepointConfig::sample_type).
    #[inline]
    pub fn parse(b: &'a [u8], sample_type: u64) -> Option<Sample<'a>> {
        // IDENTIFIER(8) TID(4+4) TIME(8) CPU(4+4) [PERIOD(8)] after the 8-byte header.
        let id = u64_at(b, 8)?;
        let pid = u32_at(b, 16)?;
        let tid = u32_at(b, 20)?;
        let time = u64_at(b, 24)?;
        let cpu = u32_at(b, 32)?;
        let mut off = 40;
        let mut period = 1;
        if sample_type & sample::PERIOD != 0 {
            period = u64_at(b, off)?;
            off += 8;
        }
        let mut callchain: &[u8] = &[];
        if sample_type & sample::CALLCHAIN != 0 {
            let nr = u64_at(b, off)? as usize;
            let len = nr.checked_mul(8)?;
            callchain = b.get(off + 8..(off + 8).checked_add(len)?)?;
            off += 8 + len;
        }
        let raw_size = u32_at(b, off)? as usize;
        let raw = b.get(off + 4..(off + 4).checked_add(raw_size)?)?;
        Some(Sample {
            id,
            pid,
            tid,
            time,
            cpu,
            period,
            callchain,
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::TracepointConfig;

    fn sample_bytes(raw: &[u8], callchain: &[u64]) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b.extend(7u64.to_ne_bytes()); // identifier
        b.extend(10u32.to_ne_bytes());
        b.extend(11u32.to_ne_bytes());
        b.extend(123u64.to_ne_bytes());
        b.extend(1u32.to_ne_bytes());
        b.extend(0u32.to_ne_bytes());
        b.extend(5000u64.to_ne_bytes()); // period
        if !callchain.is_empty() {
            b.extend((callchain.len() as u64).to_ne_bytes());
            for ip in callchain {
                b.extend(ip.to_ne_bytes());
            }
        }
        b.extend((raw.len() as u32).to_ne_bytes());
        b.extend(raw);
        b
    }

    #[test]
    fn parses_samples_and_rejects_truncated_ones() {
        let b = sample_bytes(&[1, 2, 3, 4], &[]);
        let st = TracepointConfig {
            id: 1,
            sampling: true,
            callchain: false,
            wakeup_bytes: 0,
            inherit: false,
        }
        .sample_type();
        let s = Sample::parse(&b, st).unwrap();
        assert_eq!((s.id, s.pid, s.tid, s.time, s.cpu), (7, 10, 11, 123, 1));
        assert_eq!(s.period, 5000);
        assert_eq!(s.raw, &[1, 2, 3, 4]);
        for cut in 0..b.len() {
            assert!(Sample::parse(&b[..cut], st).is_none(), "cut at {cut}");
        }
        let b = sample_bytes(&[9], &[u64::MAX - 127, 0xffff_ffff_8100_0000]);
        let s = Sample::parse(&b, st | sample::CALLCHAIN).unwrap();
        assert_eq!(
            s.callchain_ips().collect::<Vec<_>>(),
            vec![0xffff_ffff_8100_0000]
        );
        assert_eq!(s.raw, &[9]);
    }

    proptest::proptest! {
        #[test]
        fn record_parse_never_panics(rtype in 0u32..16, bytes in proptest::collection::vec(0u8.., 0..200)) {
            let _ = Record::parse(rtype, &bytes, sample::IDENTIFIER | sample::TID | sample::TIME
                | sample::CPU | sample::CALLCHAIN | sample::RAW);
        }
    }
}

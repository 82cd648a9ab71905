//! Sequence numbers: every record carries its CPU's `seq`, which also advances for records the
//! kernel dropped, so gaps are exactly the lost records.

use serde::Serialize;

/// Counts kept by a ring reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RingStats {
    /// Records read.
    pub records: u64,
    /// Pad records skipped.
    pub pads: u64,
    /// Records missing according to seq gaps.
    pub seq_lost: u64,
    /// Records whose seq was not above the previous one (duplicate or reorder: a bug).
    pub seq_backwards: u64,
    /// Malformed records (the reader skipped to `head`).
    pub corrupt: u64,
}

/// Tracks one CPU's sequence numbers: gaps are lost records, anything else out of order is
/// counted as backwards.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    next: Option<u32>,
}

impl SeqTracker {
    /// Account `seq`; returns how many records were lost right before it.
    pub fn see(&mut self, seq: u32, stats: &mut RingStats) -> u64 {
        let lost = match self.next {
            None => 0,
            Some(n) => {
                let d = seq.wrapping_sub(n) as i32;
                if d < 0 {
                    stats.seq_backwards += 1;
                    return 0;
                }
                d as u64
            }
        };
        self.next = Some(seq.wrapping_add(1));
        stats.seq_lost += lost;
        lost
    }
}

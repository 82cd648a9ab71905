//! Every CPU's ring of one device, polled together.

use std::time::Duration;

use rustix::event::{PollFd, PollFlags, poll};

use crate::chardev::Device;
use crate::error::{Error, Result};

use super::{Ring, RingError, RingFault, RingItem, RingStats, SeqTracker};

/// Every CPU's ring plus the device to poll.
#[derive(Debug)]
pub struct RingSet {
    dev: Device,
    rings: Vec<Ring>,
}

impl RingSet {
    /// Map the ring of every CPU (`KPEEK_IOC_INFO` says how many and how large). Fails when the
    /// rings are not set up (`KPEEK_IOC_RING_SETUP`).
    pub fn open(dev: Device) -> Result<RingSet> {
        let info = dev.info()?;
        if info.ring_data_size == 0 {
            return Err(Error::kernel(
                "mapping the event rings",
                dev.path().to_path_buf(),
                19,
                Some(
                    "the rings are not set up (KPEEK_IOC_RING_SETUP; `kpeek mod events` does it)"
                        .into(),
                ),
            ));
        }
        let mut rings = Vec::new();
        for cpu in 0..info.nr_cpus {
            match Ring::map(&dev, cpu, info.ring_data_size) {
                Ok(r) => rings.push(r),
                // A possible but absent CPU has no ring.
                Err(e) if matches!(e.errno(), Some(6 | 19)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(RingSet { dev, rings })
    }

    /// The rings, by CPU.
    pub fn rings(&mut self) -> &mut [Ring] {
        &mut self.rings
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Sleep in `poll()` until a ring reaches its watermark or `timeout` passes; true when
    /// woken for data.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let ts = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let mut fds = [PollFd::new(&self.dev, PollFlags::IN)];
        match poll(&mut fds, ts.as_ref()) {
            // POLLERR: the rings were freed under us; waiting again would spin.
            Ok(n) if n > 0 && fds[0].revents().contains(PollFlags::ERR) => Err(Error::kernel(
                "poll",
                self.dev.path().to_path_buf(),
                19,
                Some(
                    "the event rings are gone (freed by KPEEK_IOC_RING_SETUP with size 0?)".into(),
                ),
            )),
            Ok(n) => Ok(n > 0 && fds[0].revents().contains(PollFlags::IN)),
            Err(rustix::io::Errno::INTR) => Ok(false),
            Err(e) => Err(Error::kernel(
                "poll",
                self.dev.path().to_path_buf(),
                e.raw_os_error(),
                None,
            )),
        }
    }

    /// Drain every ring once; items of all CPUs sorted by timestamp (lost markers stay right
    /// before the record that revealed them).
    pub fn drain(&mut self) -> (Vec<RingItem>, Vec<RingError>) {
        let mut items: Vec<(u64, RingItem)> = Vec::new();
        let mut errors = Vec::new();
        for ring in &mut self.rings {
            let mut pending_lost: Vec<RingItem> = Vec::new();
            for it in ring.records() {
                match it {
                    Ok(RingItem::Record(r)) => {
                        let ts = r.ts_ns;
                        items.extend(pending_lost.drain(..).map(|l| (ts, l)));
                        items.push((ts, RingItem::Record(r)));
                    }
                    Ok(lost) => pending_lost.push(lost),
                    Err(e) => errors.push(e),
                }
            }
            if let Some(errno) = ring.take_consume_error() {
                errors.push(RingError::new(
                    ring.cpu(),
                    ring.tail,
                    RingFault::ConsumeFailed { errno },
                ));
            }
        }
        items.sort_by_key(|(ts, _)| *ts);
        (items.into_iter().map(|(_, i)| i).collect(), errors)
    }

    /// Throw away every record already in the rings (written before this reader started) and
    /// restart the seq, loss and reader counts from here. Returns how many records were dropped.
    pub fn discard(&mut self) -> u64 {
        let mut n = 0;
        for ring in &mut self.rings {
            n += ring
                .records()
                .filter(|r| matches!(r, Ok(RingItem::Record(_))))
                .count() as u64;
            // A failed RING_CONSUME stays in the ring and shows at the next drain.
            ring.seq = SeqTracker::default();
            ring.stats = RingStats::default();
            ring.lost_at_open = ring.lost();
        }
        n
    }

    /// Sum of every ring's reader counts.
    pub fn stats(&self) -> RingStats {
        self.rings.iter().fold(RingStats::default(), |mut a, r| {
            let s = r.stats();
            a.records += s.records;
            a.pads += s.pads;
            a.seq_lost += s.seq_lost;
            a.seq_backwards += s.seq_backwards;
            a.corrupt += s.corrupt;
            a
        })
    }

    /// Sum of the kernel's `lost` counters since the rings were mapped.
    pub fn lost_since_open(&self) -> u64 {
        self.rings.iter().map(Ring::lost_since_open).sum()
    }
}

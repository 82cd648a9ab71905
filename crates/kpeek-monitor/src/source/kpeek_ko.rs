//! kpeek.ko's counters through kpeek-client: the `mmap` channel by default (no system call per
//! sample), any other channel on request.
//!
//! Resets: the module's generation (it changes when counters are created or destroyed) and the
//! number of times the mapping was (re)opened make up each reading's epoch, so a reload or a
//! change of the counter set shows as a reset, never as a negative rate.

use std::sync::Arc;

use kpeek_abi::dev::NameBuf;
use kpeek_client::mmap::CounterMap;
use kpeek_client::{Channel, SysRoot};

use crate::model::{DescCache, Kind, MetricDesc, Reading};

use super::{NameFilter, Source, SourceError};

/// kpeek.ko counters, one metric `counter{group,counter}` each.
pub struct KpeekSource {
    name: String,
    channel: Channel,
    root: SysRoot,
    filter: NameFilter,
    map: Option<CounterMap>,
    opens: u64,
    descs: DescCache,
    /// Per slot of the mapping at the last read: its id and names, and its desc (`None`:
    /// filtered out). The slots stay put between reads unless counters come or go, so a slot
    /// that matches needs no name decoding, filtering or lookup.
    slots: Vec<SlotDesc>,
    /// The epoch (mapping opened, generation) `slots` was last filled in.
    slots_epoch: Option<u64>,
}

struct SlotDesc {
    id: u64,
    group: NameBuf,
    counter: NameBuf,
    desc: Option<Arc<MetricDesc>>,
}

impl KpeekSource {
    /// Read through `channel` under `root`; `filter` matches `group/counter`.
    pub fn new(name: &str, channel: Channel, root: SysRoot, filter: NameFilter) -> Self {
        KpeekSource {
            name: name.to_owned(),
            channel,
            root,
            filter,
            map: None,
            opens: 0,
            descs: DescCache::default(),
            slots: Vec::new(),
            slots_epoch: None,
        }
    }

    /// Is kpeek.ko loaded under `root` (does `/proc/kpeek` exist)?
    pub fn loaded(root: &SysRoot) -> bool {
        root.path("/proc/kpeek").exists()
    }

    /// The desc of `group/counter`, `None` when the filter leaves it out.
    fn desc(&mut self, group: &str, counter: &str) -> Option<Arc<MetricDesc>> {
        let mut key = String::with_capacity(group.len() + counter.len() + 1);
        key.push_str(group);
        key.push('/');
        key.push_str(counter);
        if !self.filter.keeps(&key) {
            return None;
        }
        let source = &self.name;
        Some(self.descs.get(&key, || {
            MetricDesc::new(source, "counter", Kind::Counter, "kpeek.ko counter")
                .label("group", group)
                .label("counter", counter)
        }))
    }

    fn push(&mut self, group: &str, counter: &str, value: u64, epoch: u64, out: &mut Vec<Reading>) {
        if let Some(desc) = self.desc(group, counter) {
            out.push(Reading {
                epoch,
                ..Reading::int(desc, value)
            });
        }
    }
}

impl Source for KpeekSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        let mut out = Vec::new();
        if self.channel != Channel::Mmap {
            let snap = self
                .channel
                .open(&self.root)
                .snapshot()
                .map_err(SourceError::Kpeek)?;
            for c in snap.counters() {
                self.push(&c.group, &c.counter, c.value, 0, &mut out);
            }
            return Ok(out);
        }
        if self.map.is_none() {
            self.map = Some(CounterMap::open(&self.root).map_err(SourceError::Kpeek)?);
            self.opens += 1;
        }
        let Some(map) = &self.map else {
            return Err(SourceError::NotOpen {
                what: "counter mapping",
            });
        };
        let snap = match map.read() {
            Ok(s) => s,
            Err(e) => {
                self.map = None;
                return Err(SourceError::Kpeek(e));
            }
        };
        let epoch = (self.opens << 40) ^ snap.header.generation;
        out.reserve(snap.slots.len());
        self.slots.truncate(snap.slots.len());
        // Same mapping and generation: no counter was created or destroyed since the last
        // read, so a slot holding the same id holds the same counter (no name comparison).
        let same_set = self.slots_epoch == Some(epoch);
        for (i, s) in snap.slots.iter().enumerate() {
            let known = self.slots.get(i).filter(|k| {
                k.id == s.id && (same_set || (k.group == s.group && k.counter == s.counter))
            });
            let desc = match known {
                Some(k) => k.desc.clone(),
                None => {
                    let d = self.desc(kpeek_abi_cstr(&s.group), kpeek_abi_cstr(&s.counter));
                    let slot = SlotDesc {
                        id: s.id,
                        group: s.group,
                        counter: s.counter,
                        desc: d.clone(),
                    };
                    match self.slots.get_mut(i) {
                        Some(k) => *k = slot,
                        None => self.slots.push(slot),
                    }
                    d
                }
            };
            if let Some(desc) = desc {
                out.push(Reading {
                    epoch,
                    ..Reading::int(desc, s.value)
                });
            }
        }
        self.slots_epoch = Some(epoch);
        Ok(out)
    }
}

fn kpeek_abi_cstr(b: &[u8]) -> &str {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfs_channel_from_a_fake_tree() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("proc")).unwrap();
        std::fs::write(d.path().join("proc/kpeek"), "g a 5\ng b 7\n").unwrap();
        let root = SysRoot::new(d.path());
        assert!(KpeekSource::loaded(&root));
        let mut s = KpeekSource::new("mod", Channel::Procfs, root, NameFilter::default());
        match s.read() {
            Ok(r) => {
                assert_eq!(r.len(), 2);
                assert_eq!(r[1].value, 7.0);
                assert_eq!(r[1].desc.labels[1].1, "b");
            }
            // The fake file must follow /proc/kpeek's real format; show what it wanted.
            Err(e) => panic!("{e}"),
        }
        let mut m = KpeekSource::new(
            "mod",
            Channel::Mmap,
            SysRoot::new(d.path()),
            NameFilter::default(),
        );
        let e = m.read().unwrap_err().to_string();
        assert!(e.contains("kpeek.ko"), "{e}");
    }
}

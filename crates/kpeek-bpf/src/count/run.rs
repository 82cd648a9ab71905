//! A running count: maps, one program per event, tracepoint attachments, and snapshots.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};

use kpeek_trace::format::EventFormat;
use kpeek_trace::perf::{PerfEvent, TracepointConfig};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use super::codegen::{self, Maps, counter};
use super::plan::{self, HIST_SLOTS, HistKind, KeyLayout, Request, SlotKind};
use crate::error::{Error, Result, sys};
use crate::features::{self, Feature};
use crate::map;
use crate::prog::{ProgType, Program};

/// Depth of a kernel stack in the stack map (the kernel's PERF_MAX_STACK_DEPTH).
const STACK_DEPTH: usize = 127;

/// One part of a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    /// A signed integer field, or `pid`, `tid`, `cpu`.
    Int(i64),
    /// An unsigned integer field.
    UInt(u64),
    /// A string field, or `comm`.
    Str(String),
    /// The event's `system:name` (with several events).
    Event(String),
    /// Kernel return addresses, innermost first (empty: the stack could not be taken).
    Stack(Vec<u64>),
}

/// One key's totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key's parts, in the order asked for.
    pub key: Vec<KeyValue>,
    /// Hits counted.
    pub count: u64,
    /// The `--sum` total (0 without).
    pub sum: u64,
    /// [`HIST_SLOTS`] buckets (empty without a histogram).
    pub hist: Vec<u64>,
}

/// The state of every key at one moment, and what could not be counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every key's totals.
    pub entries: Vec<Entry>,
    /// New keys dropped because the map was full.
    pub full: u64,
    /// Keys added but not found again.
    pub lost: u64,
    /// Fields, strings or stacks that could not be read (counted with zero/empty values).
    pub read_errors: u64,
    /// Events the kernel did not run the program for (`recursion_misses`, Linux 5.12+).
    pub missed: u64,
}

impl Snapshot {
    /// What changed since `prev` (an earlier snapshot of the same count); keys with no new
    /// events are left out.
    pub fn since(&self, prev: &Snapshot) -> Snapshot {
        let old: HashMap<&Vec<KeyValue>, &Entry> =
            prev.entries.iter().map(|e| (&e.key, e)).collect();
        let entries = self
            .entries
            .iter()
            .filter_map(|e| {
                let Some(o) = old.get(&e.key) else {
                    return Some(e.clone());
                };
                (e.count != o.count).then(|| Entry {
                    key: e.key.clone(),
                    count: e.count.wrapping_sub(o.count),
                    sum: e.sum.wrapping_sub(o.sum),
                    hist: e
                        .hist
                        .iter()
                        .zip(&o.hist)
                        .map(|(a, b)| a.wrapping_sub(*b))
                        .collect(),
                })
            })
            .collect();
        Snapshot {
            entries,
            full: self.full - prev.full.min(self.full),
            lost: self.lost - prev.lost.min(self.lost),
            read_errors: self.read_errors - prev.read_errors.min(self.read_errors),
            missed: self.missed - prev.missed.min(self.missed),
        }
    }
}

/// Counting in the kernel: created by [`Counter::start`], read with [`Counter::snapshot`];
/// dropping it detaches and frees everything (all objects are fd-owned, none pinned).
pub struct Counter {
    layout: KeyLayout,
    events: Vec<String>,
    hist: bool,
    // Declaration order is drop order: detach first, then programs, then maps.
    attached: Vec<PerfEvent>,
    progs: Vec<Program>,
    agg: MapHandle,
    _zero: MapHandle,
    counters: MapHandle,
    stacks: Option<MapHandle>,
    _scratch: Option<MapHandle>,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("layout", &self.layout)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

fn attach(prog: &Program, tp_id: u32) -> Result<PerfEvent> {
    let cfg = TracepointConfig {
        id: u64::from(tp_id),
        sampling: false,
        callchain: false,
        wakeup_bytes: 0,
        inherit: false,
    };
    // One event on CPU 0 is enough: the program joins the tracepoint itself and runs on
    // every CPU (what libbpf does too).
    let ev =
        PerfEvent::tracepoint(&cfg, None, 0).map_err(|e| sys("perf_event_open (tracepoint)", e))?;
    // SAFETY: PERF_EVENT_IOC_SET_BPF takes a program fd by value; both fds are open.
    let r = unsafe {
        libc::ioctl(
            ev.as_fd().as_raw_fd(),
            PERF_EVENT_IOC_SET_BPF,
            prog.as_fd().as_raw_fd(),
        )
    };
    if r < 0 {
        return Err(sys(
            "attaching a BPF program to a tracepoint",
            std::io::Error::last_os_error(),
        ));
    }
    ev.enable().map_err(|e| sys("enabling a tracepoint", e))?;
    Ok(ev)
}

impl Counter {
    /// Plan, generate, load and attach one program per event in `formats`.
    pub fn start(formats: &[EventFormat], req: &Request, max_entries: u32) -> Result<Counter> {
        Counter::start_probed(formats, req, max_entries, &features::KernelProbe)
    }

    /// [`Counter::start`], with the kernel's features answered by `probe`: when the kernel
    /// refuses a map, the program or its attachment, a feature the probe says is missing is
    /// reported as [`Error::Unsupported`] instead of the refusal.
    ///
    /// The features are probed only then: each probe loads a program or makes a map, and a
    /// kernel that has them all (the usual case) should not pay for that before its first
    /// event.
    pub fn start_probed(
        formats: &[EventFormat],
        req: &Request,
        max_entries: u32,
        probe: &dyn features::Probe,
    ) -> Result<Counter> {
        let (layout, plans) = plan::plan(formats, req)?;
        let mut needs = vec![
            Feature::TracepointProgs,
            Feature::PercpuMaps,
            Feature::ProbeReadKernel,
        ];
        if layout.slots.iter().any(|s| s.kind == SlotKind::Stack) {
            needs.push(Feature::StackTraces);
        }
        match Counter::load(layout, plans, req, max_entries) {
            Err(e @ (Error::Sys { .. } | Error::Verifier { .. } | Error::MissingHelper { .. })) => {
                features::require(probe, &needs)?;
                Err(e)
            }
            r => r,
        }
    }

    /// Make the maps, load the programs and attach them.
    fn load(
        layout: KeyLayout,
        plans: Vec<plan::EventPlan>,
        req: &Request,
        max_entries: u32,
    ) -> Result<Counter> {
        let hist_kind = match req.linear {
            Some(step) if step > 0 => HistKind::Linear { step },
            Some(_) => {
                return Err(Error::CannotExpress {
                    what: "--linear 0: the step must be at least 1".into(),
                });
            }
            None => HistKind::Log2,
        };
        let hist = req.hist.is_some();
        let vsize = codegen::value_size(hist) as u32;
        let agg = map::create(
            MapType::PercpuHash,
            "kpeek_agg",
            layout.size as u32,
            vsize,
            max_entries,
        )?;
        let zero = map::create(MapType::Array, "kpeek_zero", 4, vsize, 1)?;
        let counters = map::create(MapType::PercpuArray, "kpeek_counters", 4, 8, counter::N)?;
        let stacks = if layout.slots.iter().any(|s| s.kind == SlotKind::Stack) {
            Some(map::create(
                MapType::StackTrace,
                "kpeek_stacks",
                4,
                (8 * STACK_DEPTH) as u32,
                max_entries,
            )?)
        } else {
            None
        };
        let scratch = if plans
            .iter()
            .any(|p| p.filter.as_ref().is_some_and(|c| c.needs_scratch()))
        {
            Some(map::create(
                MapType::PercpuArray,
                "kpeek_scratch",
                4,
                codegen::scratch_size() as u32,
                1,
            )?)
        } else {
            None
        };
        let maps = Maps {
            agg: agg.as_fd().as_raw_fd(),
            zero: zero.as_fd().as_raw_fd(),
            counters: counters.as_fd().as_raw_fd(),
            stacks: stacks.as_ref().map(|m| m.as_fd().as_raw_fd()),
            scratch: scratch.as_ref().map(|m| m.as_fd().as_raw_fd()),
        };
        let mut progs = Vec::new();
        for p in &plans {
            let insns = codegen::generate(p, &layout, maps, hist_kind)?;
            let short = p.event.rsplit(':').next().unwrap_or("count");
            let name = format!("kpk_{short}");
            progs.push(Program::load(ProgType::Tracepoint, &name, &insns)?);
        }
        let mut attached = Vec::new();
        for (p, prog) in plans.iter().zip(&progs) {
            attached.push(attach(prog, p.tp_id)?);
        }
        Ok(Counter {
            layout,
            events: plans.iter().map(|p| p.event.clone()).collect(),
            hist,
            attached,
            progs,
            agg,
            _zero: zero,
            counters,
            stacks,
            _scratch: scratch,
        })
    }

    /// Names of the key parts, in order.
    pub fn key_names(&self) -> Vec<String> {
        self.layout.slots.iter().map(|s| s.name.clone()).collect()
    }

    /// Whether keys hold kernel stacks (to symbolize).
    pub fn has_stacks(&self) -> bool {
        self.stacks.is_some()
    }

    /// Stop counting (detach from every tracepoint); the maps stay readable.
    pub fn detach(&mut self) {
        self.attached.clear();
    }

    /// Read every key and the loss counters.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let slots = 2 + if self.hist { HIST_SLOTS } else { 0 };
        let mut entries = Vec::new();
        for raw in self.agg.keys() {
            let Some(v) = map::percpu_sum(&self.agg, &raw, slots)? else {
                continue; // deleted meanwhile
            };
            entries.push(Entry {
                key: self.decode_key(&raw),
                count: v[0],
                sum: v[1],
                hist: v[2..].to_vec(),
            });
        }
        let c = |i: u32| -> Result<u64> {
            Ok(map::percpu_sum(&self.counters, &i.to_ne_bytes(), 1)?
                .map(|v| v[0])
                .unwrap_or(0))
        };
        let mut missed = 0;
        for p in &self.progs {
            let mut info = libbpf_sys::bpf_prog_info::default();
            let mut len = size_of::<libbpf_sys::bpf_prog_info>() as u32;
            // SAFETY: info is a valid, zeroed bpf_prog_info of `len` bytes; the kernel writes
            // at most len bytes and no pointer fields are set, so it follows no pointers.
            let r = unsafe {
                libbpf_sys::bpf_prog_get_info_by_fd(p.as_fd().as_raw_fd(), &mut info, &mut len)
            };
            if r == 0 {
                missed += info.recursion_misses;
            }
        }
        Ok(Snapshot {
            entries,
            full: c(counter::FULL)?,
            lost: c(counter::LOST)?,
            read_errors: c(counter::READ_ERR)?,
            missed,
        })
    }

    fn decode_key(&self, raw: &[u8]) -> Vec<KeyValue> {
        let u64_at = |off: usize| {
            raw.get(off..off + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_ne_bytes)
                .unwrap_or(0)
        };
        self.layout
            .slots
            .iter()
            .map(|s| match s.kind {
                SlotKind::Event => KeyValue::Event(
                    self.events
                        .get(u64_at(s.offset) as usize)
                        .cloned()
                        .unwrap_or_default(),
                ),
                SlotKind::Int { signed: true } => KeyValue::Int(u64_at(s.offset) as i64),
                SlotKind::Int { signed: false } => KeyValue::UInt(u64_at(s.offset)),
                SlotKind::Str { width } => {
                    let b = raw.get(s.offset..s.offset + width).unwrap_or_default();
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    KeyValue::Str(String::from_utf8_lossy(&b[..end]).into_owned())
                }
                SlotKind::Stack => KeyValue::Stack(self.stack(u64_at(s.offset) as i64)),
            })
            .collect()
    }

    fn stack(&self, id: i64) -> Vec<u64> {
        let (Some(m), Ok(id)) = (&self.stacks, u32::try_from(id)) else {
            return Vec::new();
        };
        match m.lookup(&id.to_ne_bytes(), MapFlags::ANY) {
            Ok(Some(v)) => v
                .chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .take_while(|&ip| ip != 0)
                .collect(),
            _ => Vec::new(),
        }
    }
}

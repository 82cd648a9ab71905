//! The two kernel primitives `kpeek doctor` tries instead of guessing from sysctls: creating a
//! BPF map and opening a perf tracepoint event. Both are closed at once.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use kpeek_trace::perf::{PerfEvent, TracepointConfig};

use super::facts::Probe;

/// `union bpf_attr` for `BPF_MAP_CREATE`: the fields up to `max_entries` matter, the rest must
/// be zero (the kernel checks that every byte past the fields it knows is zero).
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    rest: [u32; 28],
}

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_TYPE_ARRAY: u32 = 2;

/// Create (and close) a one-entry BPF array map: the BPF system call exists, is allowed for
/// this caller, and BPF memory can be charged.
pub fn bpf_map_create() -> Probe {
    let attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        ..Default::default()
    };
    // SAFETY: bpf(2) reads `size_of::<MapCreateAttr>()` bytes from `&attr`, a live, initialized
    // `#[repr(C)]` value of exactly that size; it writes nothing through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_CREATE,
            &attr as *const MapCreateAttr,
            std::mem::size_of::<MapCreateAttr>() as libc::c_uint,
        )
    };
    if ret < 0 {
        return Probe::Fails {
            error: io::Error::last_os_error().to_string(),
        };
    }
    // SAFETY: a non-negative return of BPF_MAP_CREATE is a new file descriptor that nothing
    // else owns; the OwnedFd closes it when dropped here.
    drop(unsafe { OwnedFd::from_raw_fd(ret as i32) });
    Probe::Works
}

/// Open `sched:sched_switch` (or, when absent, the first tracepoint found) on CPU 0 for every
/// process, in counting mode: what `kpeek trace record`/`stat` do per CPU.
pub fn perf_tracepoint(tracefs: &Path) -> Probe {
    let id = match tracepoint_id(tracefs) {
        Ok(id) => id,
        Err(e) => return Probe::NotProbed { why: e },
    };
    let config = TracepointConfig {
        id,
        sampling: false,
        callchain: false,
        wakeup_bytes: 0,
        inherit: false,
    };
    match PerfEvent::tracepoint(&config, None, 0) {
        Ok(_event) => Probe::Works,
        Err(e) => Probe::Fails {
            error: e.to_string(),
        },
    }
}

fn tracepoint_id(tracefs: &Path) -> Result<u64, String> {
    let events = tracefs.join("events");
    let read_id =
        |p: &Path| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    if let Some(id) = read_id(&events.join("sched/sched_switch/id")) {
        return Ok(id);
    }
    let systems =
        std::fs::read_dir(&events).map_err(|e| format!("cannot list {}: {e}", events.display()))?;
    for sys in systems.flatten() {
        let Ok(evs) = std::fs::read_dir(sys.path()) else {
            continue;
        };
        for ev in evs.flatten() {
            if let Some(id) = read_id(&ev.path().join("id")) {
                return Ok(id);
            }
        }
    }
    Err(format!("no tracepoint id under {}", events.display()))
}

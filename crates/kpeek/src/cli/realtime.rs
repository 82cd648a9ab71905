//! `--realtime PRIO`: run the reading thread under `SCHED_FIFO`, like `perf record -r`, so on a
//! busy machine the reader never waits behind other processes while rings fill.

use anyhow::{Context, bail};

/// Puts the calling thread under `SCHED_FIFO` at `prio` (1-99).
pub fn set_fifo_priority(prio: i32) -> anyhow::Result<()> {
    if !(1..=99).contains(&prio) {
        bail!("--realtime takes a SCHED_FIFO priority from 1 to 99, got {prio}");
    }
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: param is a valid, initialised sched_param that outlives the call; pid 0 is the
    // calling thread. The call only changes this thread's scheduling policy.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!("sched_setscheduler(SCHED_FIFO, {prio}) (needs root or CAP_SYS_NICE)")
        });
    }
    Ok(())
}

//! SIGINT and SIGTERM as a stop flag: long-running commands poll it and end cleanly (flushing
//! output and printing their summary) instead of being killed.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs (once) SIGINT and SIGTERM handlers that only set the returned flag, and returns it.
/// A second signal of the same kind while the flag is set ends the process at once, so a stuck
/// command can still be interrupted. Waits in `poll` return early with `EINTR` when a signal
/// arrives (the kernel never restarts `poll`).
pub fn stop_flag() -> &'static AtomicBool {
    STOP.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration fails only for forbidden signals, which these are not; without a
            // handler the default action (terminate) still applies.
            let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag));
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        flag
    })
}

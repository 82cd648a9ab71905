//! Process facts a session needs: a process's threads, whether it still runs, and enough
//! file descriptors.

use crate::error::RecordError;

/// One descriptor per event per CPU (per thread) adds up: raise the soft `RLIMIT_NOFILE`
/// towards the hard limit when needed, as perf does.
pub(crate) fn raise_fd_limit(needed: usize) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current.is_some_and(|cur| cur < needed as u64) {
        lim.current = Some(
            lim.maximum
                .map_or(needed as u64, |max| max.min(needed as u64)),
        );
        // Best effort: without it, opening fails later with an explained EMFILE.
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

/// Threads of a process, from `/proc/<pid>/task`.
pub(crate) fn threads_of(pid: i32) -> Result<Vec<i32>, RecordError> {
    let dir = format!("/proc/{pid}/task");
    let rd = std::fs::read_dir(&dir).map_err(|_| RecordError::NoProcess(pid))?;
    let mut tids: Vec<i32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    if tids.is_empty() {
        return Err(RecordError::NoProcess(pid));
    }
    Ok(tids)
}

/// Whether a process still runs (a zombie has made its last system call: it counts as gone).
pub(crate) fn process_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')', as comm may hold anything.
    match stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
    {
        Some('Z' | 'X' | 'x') | None => false,
        Some(_) => true,
    }
}

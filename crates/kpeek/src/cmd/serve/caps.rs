//! Dropping capabilities once the sources are open: the perf counters and the kpeek.ko mapping
//! stay usable through their open descriptors; nothing else needs privilege.

use caps::Capability;

/// What a source that reads kernel objects or memory at every read keeps (BPF maps and
/// programs by id, kernel variables through kpeek.ko, BPF or /proc/kcore).
pub const READ_KERNEL: &[Capability] = &[
    Capability::CAP_SYS_ADMIN,
    Capability::CAP_BPF,
    Capability::CAP_PERFMON,
    Capability::CAP_SYS_RAWIO,
];

/// Clear every capability set (effective, permitted, inheritable, ambient) and the bounding
/// set of the calling thread, and forbid gaining privileges again. A no-op for a thread that
/// has none.
pub fn drop_all() -> Result<(), caps::errors::CapsError> {
    drop_all_but(&[])
}

/// As [`drop_all`], but keep `keep` in the effective and permitted sets (those the thread has).
pub fn drop_all_but(keep: &[Capability]) -> Result<(), caps::errors::CapsError> {
    let have = caps::read(None, caps::CapSet::Permitted)?;
    if have.is_empty() {
        return Ok(());
    }
    for cap in caps::all() {
        if !keep.contains(&cap) {
            // Needs CAP_SETPCAP, which is dropped below.
            let _ = caps::drop(None, caps::CapSet::Bounding, cap);
        }
    }
    caps::clear(None, caps::CapSet::Ambient)?;
    caps::clear(None, caps::CapSet::Inheritable)?;
    let kept: caps::CapsHashSet = have.iter().copied().filter(|c| keep.contains(c)).collect();
    caps::set(None, caps::CapSet::Effective, &kept)?;
    caps::set(None, caps::CapSet::Permitted, &kept)?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes no pointers and only affects this
    // process.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r != 0 {
        return Err(caps::errors::CapsError::from(format!(
            "PR_SET_NO_NEW_PRIVS: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

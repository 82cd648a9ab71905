//! Dropping capabilities once the sources are open: the perf counters and the kpeek.ko mapping
//! stay usable through their open descriptors; nothing else needs privilege.

/// Clear every capability set (effective, permitted, inheritable, ambient) and the bounding
/// set, and forbid gaining privileges again. A no-op for a process that has none.
pub fn drop_all() -> Result<(), caps::errors::CapsError> {
    let have = caps::read(None, caps::CapSet::Permitted)?;
    if have.is_empty() {
        return Ok(());
    }
    for cap in caps::all() {
        // Needs CAP_SETPCAP, which is dropped last below.
        let _ = caps::drop(None, caps::CapSet::Bounding, cap);
    }
    caps::clear(None, caps::CapSet::Ambient)?;
    caps::clear(None, caps::CapSet::Inheritable)?;
    caps::clear(None, caps::CapSet::Effective)?;
    caps::clear(None, caps::CapSet::Permitted)?;
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

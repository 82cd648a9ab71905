//! What the scan keeps of a `__ksymtab_` line: where it lies, and hashes to find it again.

/// Where a `__ksymtab_<name>` line lies in the input (`<name>` is exported, when it is a
/// candidate): 20 bytes, not the line. A table has thousands of these lines and only the few
/// whose `<name>` is a candidate are wanted, known at the end: they are read again then
/// ([`Scan::into_table_text`](super::scan::Scan::into_table_text)) and checked byte for
/// byte, so a hash collision costs one read, never a wrong answer; a line read back with
/// another hash than the scanned one (a file changed in place meanwhile) sends the caller to
/// the full loader.
pub(super) struct Export {
    /// [`name_hash`] of `<name>`.
    pub(super) hash: u32,
    /// [`name_hash`] of the whole line.
    pub(super) line_hash: u32,
    /// Offset of the line in the input (inputs are under [`MAX_FILE`](super::MAX_FILE) bytes).
    pub(super) at: u32,
    pub(super) line_no: u32,
    /// The line's length, without its newline.
    pub(super) len: u16,
    pub(super) region: u16,
}

/// A hash of a name or a line, a word at a time (only compared, never kept beyond a scan).
pub(super) fn name_hash(name: &[u8]) -> u32 {
    let mut h = name.len() as u64;
    let mut words = name.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    (h >> 32) as u32 ^ h as u32
}

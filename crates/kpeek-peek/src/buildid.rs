//! The running kernel's build-id (the GNU build-id note of `/sys/kernel/notes`), to tell whether a
//! vmlinux with debug info (`--debuginfo`, Debian's `-dbg` package) is the running kernel's own
//! build: the DWARF of another build describes other layouts and addresses.

use std::path::Path;

/// Where the kernel publishes its ELF notes.
pub const KERNEL_NOTES: &str = "/sys/kernel/notes";

/// `NT_GNU_BUILD_ID`.
const NT_GNU_BUILD_ID: u32 = 3;

/// The GNU build-id in a sequence of ELF notes (`namesz`, `descsz`, `type`, name and
/// descriptor each padded to 4 bytes), or `None`. Never panics on malformed input.
pub fn parse_notes(mut b: &[u8]) -> Option<&[u8]> {
    let word = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let pad = |n: u32| -> Option<usize> { usize::try_from(n).ok()?.checked_add(3).map(|n| n & !3) };
    while b.len() >= 12 {
        let (namesz, descsz, kind) = (word(b, 0)?, word(b, 4)?, word(b, 8)?);
        let name_end = 12usize.checked_add(pad(namesz)?)?;
        let desc_len = usize::try_from(descsz).ok()?;
        let desc = b.get(name_end..name_end.checked_add(desc_len)?)?;
        let name = b.get(12..12 + usize::try_from(namesz).ok()?)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            return Some(desc);
        }
        b = b.get(name_end.checked_add(pad(descsz)?)?..)?;
    }
    None
}

/// Lower-case hex of a build-id.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why the running kernel's build-id cannot be told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunningError {
    /// [`KERNEL_NOTES`] cannot be read.
    #[error("{KERNEL_NOTES}: {0}")]
    Read(#[source] std::io::Error),
    /// [`KERNEL_NOTES`] has no build-id note.
    #[error("{KERNEL_NOTES} holds no GNU build-id note")]
    NoNote,
}

/// The running kernel's build-id.
pub fn running() -> Result<Vec<u8>, RunningError> {
    let notes = std::fs::read(Path::new(KERNEL_NOTES)).map_err(RunningError::Read)?;
    parse_notes(&notes)
        .map(<[u8]>::to_vec)
        .ok_or(RunningError::NoNote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend((name.len() as u32).to_le_bytes());
        v.extend((desc.len() as u32).to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(name);
        v.resize(v.len().next_multiple_of(4), 0);
        v.extend(desc);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    #[test]
    fn finds_the_build_id_among_other_notes() {
        let id: Vec<u8> = (1..=20).collect();
        let mut notes = note(b"Xen\0", 6, &[1, 2, 3, 4, 5]);
        notes.extend(note(b"Linux\0", NT_GNU_BUILD_ID, b"not GNU"));
        notes.extend(note(b"GNU\0", NT_GNU_BUILD_ID, &id));
        notes.extend(note(b"Linux\0", 0x100, &[0; 4]));
        assert_eq!(parse_notes(&notes), Some(&id[..]));
        assert_eq!(hex(&id[..3]), "010203");
        assert_eq!(parse_notes(&note(b"GNU\0", 1, &id)), None);
        assert_eq!(parse_notes(&[]), None);
    }

    #[test]
    fn this_kernel_has_one() {
        let id = running().expect("the running kernel's build-id");
        assert!(id.len() >= 8, "{}", hex(&id));
    }

    proptest! {
        #[test]
        fn never_panics_and_finds_a_written_id(
            junk in proptest::collection::vec(any::<u8>(), 0..64),
            id in proptest::collection::vec(any::<u8>(), 1..40),
            cut in any::<prop::sample::Index>(),
        ) {
            let _ = parse_notes(&junk);
            let mut notes = note(b"Linux\0", 6, &junk);
            notes.extend(note(b"GNU\0", NT_GNU_BUILD_ID, &id));
            prop_assert_eq!(parse_notes(&notes), Some(&id[..]));
            let _ = parse_notes(&notes[..cut.index(notes.len())]);
        }
    }
}

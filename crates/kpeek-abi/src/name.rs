//! The rules for group and counter names and for descriptions, exactly as kpeek.ko enforces them,
//! so user space can refuse a bad name with a clear message before asking the kernel.

use std::fmt;

/// What a name names; the reserved word differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A counter group (`/sys/kernel/kpeek/<group>`); `info` is reserved.
    Group,
    /// A counter inside a group (`/sys/kernel/kpeek/<group>/<counter>`); `reset` is reserved.
    Counter,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Group => "group",
            NameKind::Counter => "counter",
        })
    }
}

/// Why a name was refused; each variant names the rule and the errno the kernel would return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Zero bytes (kernel: `EINVAL`).
    #[error("{kind} name is empty: names are 1..{max} bytes of [A-Za-z0-9_]", max = crate::NAME_MAX)]
    Empty {
        /// Group or counter.
        kind: NameKind,
    },
    /// More than [`NAME_MAX`](crate::NAME_MAX) bytes (kernel: `ENAMETOOLONG`).
    #[error("{kind} name {name:?} is {len} bytes, longer than {max} bytes", max = crate::NAME_MAX)]
    TooLong {
        /// Group or counter.
        kind: NameKind,
        /// The name as given.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A byte outside `[A-Za-z0-9_]` (kernel: `EINVAL`).
    #[error("{kind} name {name:?} has {ch:?} at byte {pos}: names may only contain [A-Za-z0-9_]")]
    BadChar {
        /// Group or counter.
        kind: NameKind,
        /// The name as given.
        name: String,
        /// The first character not allowed.
        ch: char,
        /// Its byte offset.
        pos: usize,
    },
    /// The reserved word for this kind (kernel: `EINVAL`).
    #[error("{kind} name {name:?} is reserved (it is a control file in sysfs)")]
    Reserved {
        /// Group or counter.
        kind: NameKind,
        /// The name as given.
        name: String,
    },
}

impl NameError {
    /// The errno kpeek.ko returns for the same name.
    pub fn errno(&self) -> i32 {
        match self {
            NameError::TooLong { .. } => 36, // ENAMETOOLONG
            _ => 22,                         // EINVAL
        }
    }
}

/// True for the bytes a name may contain.
pub(crate) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Check `name` against kpeek.ko's rules, in the kernel's order: empty, too long, charset,
/// reserved.
pub fn validate_name(kind: NameKind, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if name.len() > crate::NAME_MAX {
        return Err(NameError::TooLong {
            kind,
            name: name.to_owned(),
            len: name.len(),
        });
    }
    if let Some((pos, ch)) = name
        .char_indices()
        .find(|&(_, c)| !c.is_ascii() || !is_name_byte(c as u8))
    {
        return Err(NameError::BadChar {
            kind,
            name: name.to_owned(),
            ch,
            pos,
        });
    }
    let reserved = match kind {
        NameKind::Group => crate::RESERVED_GROUP,
        NameKind::Counter => crate::RESERVED_COUNTER,
    };
    if name == reserved {
        return Err(NameError::Reserved {
            kind,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Why a description was refused (kernel: `EINVAL`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptionError {
    /// More than [`DESC_MAX`](crate::DESC_MAX) bytes.
    #[error("description is {len} bytes, longer than {max} bytes", max = crate::DESC_MAX)]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A byte that is not printable ASCII.
    #[error("description has {ch:?} at byte {pos}: only printable ASCII (space to '~') is allowed")]
    NotPrintable {
        /// The first character not allowed.
        ch: char,
        /// Its byte offset.
        pos: usize,
    },
}

/// Check a description: at most [`DESC_MAX`](crate::DESC_MAX) bytes of printable ASCII.
pub fn validate_description(text: &str) -> Result<(), DescriptionError> {
    if text.len() > crate::DESC_MAX {
        return Err(DescriptionError::TooLong { len: text.len() });
    }
    if let Some((pos, ch)) = text
        .char_indices()
        .find(|&(_, c)| !(' '..='~').contains(&c))
    {
        return Err(DescriptionError::NotPrintable { ch, pos });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_rule_and_nothing_else() {
        assert_eq!(validate_name(NameKind::Group, "kpeek_example"), Ok(()));
        assert_eq!(validate_name(NameKind::Counter, "A9_z"), Ok(()));
        assert_eq!(validate_name(NameKind::Group, &"x".repeat(31)), Ok(()));
        assert!(matches!(
            validate_name(NameKind::Group, &"x".repeat(32)),
            Err(NameError::TooLong { len: 32, .. })
        ));
        assert!(matches!(
            validate_name(NameKind::Counter, ""),
            Err(NameError::Empty { .. })
        ));
        assert!(matches!(
            validate_name(NameKind::Counter, "a-b"),
            Err(NameError::BadChar {
                ch: '-',
                pos: 1,
                ..
            })
        ));
        assert!(matches!(
            validate_name(NameKind::Group, "é"),
            Err(NameError::BadChar {
                ch: 'é',
                pos: 0,
                ..
            })
        ));
        assert!(matches!(
            validate_name(NameKind::Group, "info"),
            Err(NameError::Reserved { .. })
        ));
        assert_eq!(validate_name(NameKind::Counter, "info"), Ok(()));
        assert!(matches!(
            validate_name(NameKind::Counter, "reset"),
            Err(NameError::Reserved { .. })
        ));
        assert_eq!(validate_name(NameKind::Group, "reset"), Ok(()));
    }

    #[test]
    fn too_long_wins_over_bad_chars_like_the_kernel() {
        let e = validate_name(NameKind::Group, &"-".repeat(40)).unwrap_err();
        assert_eq!(e.errno(), 36);
        assert_eq!(
            e.to_string(),
            format!(
                "group name {:?} is 40 bytes, longer than 31 bytes",
                "-".repeat(40)
            )
        );
    }

    #[test]
    fn descriptions() {
        assert_eq!(validate_description(""), Ok(()));
        assert_eq!(validate_description("bytes written to /dev/x ~"), Ok(()));
        assert_eq!(validate_description(&"d".repeat(127)), Ok(()));
        assert_eq!(
            validate_description(&"d".repeat(128)),
            Err(DescriptionError::TooLong { len: 128 })
        );
        assert_eq!(
            validate_description("a\nb"),
            Err(DescriptionError::NotPrintable { ch: '\n', pos: 1 })
        );
    }

    proptest! {
        #[test]
        fn valid_names_pass(name in "[A-Za-z0-9_]{1,31}") {
            prop_assume!(name != "info");
            prop_assert_eq!(validate_name(NameKind::Group, &name), Ok(()));
        }

        #[test]
        fn verdict_matches_the_rule(name in "\\PC{0,40}", counter in any::<bool>()) {
            let kind = if counter { NameKind::Counter } else { NameKind::Group };
            let reserved = if counter { "reset" } else { "info" };
            let ok = !name.is_empty()
                && name.len() <= 31
                && name.bytes().all(is_name_byte)
                && name != reserved;
            let got = validate_name(kind, &name);
            prop_assert_eq!(got.is_ok(), ok, "{:?} -> {:?}", name, got);
            if let Err(e) = got {
                prop_assert_eq!(e.errno() == 36, name.len() > 31);
                prop_assert!(!e.to_string().is_empty());
            }
        }

        #[test]
        fn description_never_panics(text in "\\PC{0,200}") {
            let ok = text.len() <= 127 && text.bytes().all(|b| (0x20..=0x7e).contains(&b));
            prop_assert_eq!(validate_description(&text).is_ok(), ok);
        }
    }
}

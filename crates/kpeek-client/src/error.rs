//! Errors that say what to do next: load the module, mount the filesystem, become root, or fix
//! the name that broke a rule.

use std::fmt;
use std::io;
use std::path::PathBuf;

use kpeek_abi::{DescriptionError, NAME_MAX, NameError};

use crate::fault::{BinaryFault, TextFault};

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A change asked of kpeek.ko, named in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `mkdir groups/<group>`.
    CreateGroup {
        /// The group.
        group: String,
    },
    /// `rmdir groups/<group>`.
    DeleteGroup {
        /// The group.
        group: String,
    },
    /// `mkdir groups/<group>/<counter>`.
    CreateCounter {
        /// The group.
        group: String,
        /// The counter.
        counter: String,
    },
    /// `rmdir groups/<group>/<counter>`.
    DeleteCounter {
        /// The group.
        group: String,
        /// The counter.
        counter: String,
    },
    /// Write `<counter>/value`.
    SetValue {
        /// The group.
        group: String,
        /// The counter.
        counter: String,
    },
    /// Write a `description` attribute.
    SetDescription {
        /// The group.
        group: String,
        /// The counter, or none for the group's own description.
        counter: Option<String>,
    },
    /// Write `1` to `/sys/kernel/kpeek/<group>/reset`.
    ResetGroup {
        /// The group.
        group: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateGroup { group } => write!(f, "create group {group:?}"),
            Action::DeleteGroup { group } => write!(f, "delete group {group:?}"),
            Action::CreateCounter { group, counter } => {
                write!(f, "create counter {group}/{counter}")
            }
            Action::DeleteCounter { group, counter } => {
                write!(f, "delete counter {group}/{counter}")
            }
            Action::SetValue { group, counter } => write!(f, "set the value of {group}/{counter}"),
            Action::SetDescription {
                group,
                counter: None,
            } => {
                write!(f, "set the description of group {group:?}")
            }
            Action::SetDescription {
                group,
                counter: Some(c),
            } => {
                write!(f, "set the description of {group}/{c}")
            }
            Action::ResetGroup { group } => write!(f, "reset group {group:?}"),
        }
    }
}

impl Action {
    /// What kpeek.ko's rule is when it answers this action with `errno`.
    fn rule(&self, errno: i32) -> String {
        use rustix::io::Errno;
        let e = Errno::from_raw_os_error(errno);
        let name_rule = format!(
            "names are 1..{NAME_MAX} bytes of [A-Za-z0-9_]; a group may not be called \"info\", \
             a counter not \"reset\""
        );
        match (self, e) {
            (_, Errno::NAMETOOLONG) => format!("name longer than {NAME_MAX} bytes"),
            (Action::CreateGroup { .. } | Action::CreateCounter { .. }, Errno::INVAL) => {
                format!("invalid name: {name_rule}")
            }
            (Action::SetValue { .. }, Errno::INVAL) => {
                "invalid value: write a decimal number from 0 to 18446744073709551615".to_owned()
            }
            (Action::SetDescription { .. }, Errno::INVAL) => format!(
                "invalid description: at most {} bytes of printable ASCII",
                kpeek_abi::DESC_MAX
            ),
            (Action::ResetGroup { .. }, Errno::INVAL) => {
                "invalid reset request: write 1".to_owned()
            }
            (Action::CreateGroup { group }, Errno::EXIST) => {
                format!("group {group:?} already exists; modules and configfs share one name space")
            }
            (Action::CreateCounter { group, counter }, Errno::EXIST) => {
                format!("counter {group}/{counter} already exists")
            }
            (Action::CreateGroup { .. }, Errno::NOSPC) => {
                "too many groups: the max_groups cap is reached (module parameter; see `kpeek mod \
                 info`)"
                    .to_owned()
            }
            (Action::CreateCounter { .. }, Errno::NOSPC) => {
                "too many counters: the max_counters cap is reached (module parameter; see `kpeek \
                 mod info`)"
                    .to_owned()
            }
            (Action::DeleteGroup { group }, Errno::NOTEMPTY | Errno::BUSY) => {
                format!("group {group:?} still has counters or is in use")
            }
            (_, Errno::PERM | Errno::ACCESS | Errno::ROFS) => {
                "permission denied: changing kpeek.ko's counters needs root (CAP_SYS_ADMIN)"
                    .to_owned()
            }
            (_, e) => format!(
                "the kernel refused it: {}",
                io::Error::from_raw_os_error(e.raw_os_error())
            ),
        }
    }
}

/// The symbolic name of the errnos kpeek.ko documents.
fn errno_name(errno: i32) -> &'static str {
    use rustix::io::Errno;
    match Errno::from_raw_os_error(errno) {
        Errno::NAMETOOLONG => "ENAMETOOLONG",
        Errno::INVAL => "EINVAL",
        Errno::EXIST => "EEXIST",
        Errno::NOSPC => "ENOSPC",
        Errno::PERM => "EPERM",
        Errno::ACCESS => "EACCES",
        Errno::NOENT => "ENOENT",
        Errno::NOTEMPTY => "ENOTEMPTY",
        Errno::BUSY => "EBUSY",
        Errno::ROFS => "EROFS",
        Errno::NOTTY => "ENOTTY",
        Errno::FAULT => "EFAULT",
        Errno::AGAIN => "EAGAIN",
        Errno::NODEV => "ENODEV",
        Errno::NXIO => "ENXIO",
        Errno::OPNOTSUPP => "EOPNOTSUPP",
        Errno::RANGE => "ERANGE",
        Errno::MSGSIZE => "EMSGSIZE",
        _ => "errno",
    }
}

/// What kpeek.ko's char device and netlink family mean by an errno.
fn kernel_rule(errno: i32) -> String {
    use rustix::io::Errno;
    match Errno::from_raw_os_error(errno) {
        Errno::PERM | Errno::ACCESS => {
            "permission denied: this needs root (CAP_SYS_ADMIN, on every channel)".into()
        }
        Errno::NOTTY => "kpeek.ko does not know this request: is it another version than this \
                         kpeek (ABI mismatch)?"
            .into(),
        Errno::INVAL => "kpeek.ko rejected the arguments (size, flags, reserved fields or a value \
                         out of range)"
            .into(),
        Errno::NOENT => "no such group, counter or id".into(),
        Errno::EXIST => {
            "it already exists; modules, configfs and the API share one name space".into()
        }
        Errno::NOSPC => {
            "too many groups or counters: the max_groups/max_counters cap is reached".into()
        }
        Errno::NAMETOOLONG => format!("name longer than {NAME_MAX} bytes"),
        Errno::BUSY => {
            "busy: the event rings belong to another open /dev/kpeek, or the object is in use"
                .into()
        }
        Errno::FAULT => "the kernel could not access a buffer (bad pointer)".into(),
        Errno::NODEV | Errno::NXIO => {
            "not available on this device (rings not set up, or no such CPU)".into()
        }
        Errno::OPNOTSUPP => "not supported by this kernel or module build".into(),
        e => format!(
            "the kernel refused it: {}",
            io::Error::from_raw_os_error(e.raw_os_error())
        ),
    }
}

/// Everything that can go wrong talking to kpeek.ko.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The module's files are absent.
    #[error("kpeek.ko is not loaded (no {}): modprobe kpeek", path.display())]
    NotLoaded {
        /// The file or channel that is missing.
        path: PathBuf,
    },
    /// configfs or debugfs is not mounted (or, for configfs, not even built in or loaded).
    #[error("{fs} is not mounted at {}: {hint}", mountpoint.display())]
    NotMounted {
        /// `configfs` or `debugfs`.
        fs: &'static str,
        /// Where it should be.
        mountpoint: PathBuf,
        /// How to mount it.
        hint: &'static str,
    },
    /// The module is loaded and the filesystem mounted, but the module has no directory there.
    #[error("kpeek.ko is loaded but {} is missing: {why}", path.display())]
    NoChannelDir {
        /// The missing directory.
        path: PathBuf,
        /// Why it may be missing.
        why: &'static str,
    },
    /// Reading or writing needs privileges this process does not have.
    #[error("permission denied {op} {}: {why}", path.display())]
    PermissionDenied {
        /// What was being done (`reading`, `writing`...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Which privilege it needs.
        why: &'static str,
    },
    /// kpeek.ko refused a change; `rule` says which of its rules.
    #[error("cannot {action}: {rule} ({name} on {})", path.display(), name = errno_name(*errno))]
    Refused {
        /// What was asked.
        action: Action,
        /// The file the request went to.
        path: PathBuf,
        /// The errno the kernel returned.
        errno: i32,
        /// Which of kpeek.ko's rules that errno means here.
        rule: String,
    },
    /// A group that is not there (in this channel).
    #[error("no group {group:?} in {}{hint}", place.display())]
    NoSuchGroup {
        /// The group.
        group: String,
        /// Where it was looked for.
        place: PathBuf,
        /// Why it may be absent from this channel (may be empty).
        hint: &'static str,
    },
    /// A counter that is not there (in this channel).
    #[error("no counter {group}/{counter} in {}{hint}", place.display())]
    NoSuchCounter {
        /// The group.
        group: String,
        /// The counter.
        counter: String,
        /// Where it was looked for.
        place: PathBuf,
        /// Why it may be absent from this channel (may be empty).
        hint: &'static str,
    },
    /// A name that breaks kpeek.ko's rules, caught before asking the kernel.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A description that breaks kpeek.ko's rules, caught before asking the kernel.
    #[error("{0}")]
    Description(DescriptionError),
    /// A pseudo-file whose content does not follow the contract.
    #[error("{}:{line}: {fault}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line, 1-based (0: the whole file).
        line: usize,
        /// What is wrong with it.
        fault: TextFault,
    },
    /// The module speaks another ABI version.
    #[error(
        "kpeek.ko speaks ABI version {found} ({}), this kpeek speaks {expected}: use matching versions",
        path.display()
    )]
    AbiMismatch {
        /// Where the module said so.
        path: PathBuf,
        /// The module's version.
        found: u32,
        /// This crate's version ([`kpeek_abi::ABI_VERSION`]).
        expected: u32,
    },
    /// A binary structure (a `read()` snapshot, an ioctl answer, a mapping, a ring record, a
    /// netlink message) that does not follow the ABI.
    #[error("{}: at byte {offset}: {fault}", path.display())]
    Binary {
        /// The file or channel.
        path: PathBuf,
        /// The byte offset of what is wrong.
        offset: usize,
        /// What is wrong (boxed: errors stay small).
        fault: Box<BinaryFault>,
    },
    /// kpeek.ko refused a request on `/dev/kpeek` (ioctl, mmap, poll) or over netlink; `rule`
    /// says which of its rules (or the kernel's extended ACK message).
    #[error("{op} ({}): {rule} ({name})", path.display(), name = errno_name(*errno))]
    Kernel {
        /// The request (ioctl, command...).
        op: String,
        /// The file or channel.
        path: PathBuf,
        /// The errno the kernel returned.
        errno: i32,
        /// What it means here.
        rule: String,
    },
    /// The netlink socket failed, or a message could not be built or decoded (neli's error).
    #[error("netlink {}: {op}: {error}", path.display())]
    Netlink {
        /// What was being done.
        op: String,
        /// The channel.
        path: PathBuf,
        /// The error (shown in the message, so not a `source`).
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sysfs listing that kpeek.ko's removals overlapped every time it was taken (see
    /// [`crate::sysfs`]).
    #[error(
        "listing {}: no complete listing in {tries} tries: kpeek.ko removed entries during each \
         ({} kept changing)",
        path.display(),
        crate::sysfs::REMOVE_SEQ
    )]
    Unsettled {
        /// The directory.
        path: PathBuf,
        /// How many listings were taken.
        tries: u32,
    },
    /// Any other I/O failure.
    #[error("{op} {}: {error}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or channel.
        path: PathBuf,
        /// The error (shown in the message, so not a `source`).
        error: io::Error,
    },
}

impl From<DescriptionError> for Error {
    fn from(e: DescriptionError) -> Self {
        Error::Description(e)
    }
}

impl Error {
    /// The errno behind this error, when the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Refused { errno, .. } | Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }

    /// kpeek.ko answered `op` (an ioctl, mmap, netlink command) with `errno`; `hint` replaces
    /// the generic rule for that errno.
    pub(crate) fn kernel(op: &str, path: PathBuf, errno: i32, hint: Option<String>) -> Error {
        Error::Kernel {
            op: op.to_owned(),
            path,
            errno,
            rule: hint.unwrap_or_else(|| kernel_rule(errno)),
        }
    }

    /// kpeek.ko refused `action` on `path` with the OS error `err`.
    pub(crate) fn refused(action: Action, path: PathBuf, err: &io::Error) -> Error {
        let errno = err.raw_os_error().unwrap_or(0);
        let rule = action.rule(errno);
        Error::Refused {
            action,
            path,
            errno,
            rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(action: Action, errno: i32) -> String {
        Error::refused(action, "/p".into(), &io::Error::from_raw_os_error(errno)).to_string()
    }

    fn group(g: &str) -> Action {
        Action::CreateGroup { group: g.into() }
    }

    #[test]
    fn every_documented_errno_names_its_rule() {
        assert_eq!(
            refused(group("x"), 36),
            "cannot create group \"x\": name longer than 31 bytes (ENAMETOOLONG on /p)"
        );
        assert!(
            refused(group("x"), 22).contains("invalid name: names are 1..31 bytes of [A-Za-z0-9_]")
        );
        assert!(refused(group("x"), 17).contains("group \"x\" already exists"));
        assert!(refused(group("x"), 28).contains("max_groups cap is reached (module parameter"));
        let c = Action::CreateCounter {
            group: "g".into(),
            counter: "c".into(),
        };
        assert!(refused(c.clone(), 28).contains("max_counters cap"));
        assert!(refused(c, 17).contains("counter g/c already exists (EEXIST on /p)"));
        for errno in [1, 13] {
            assert!(refused(group("x"), errno).contains("needs root (CAP_SYS_ADMIN)"));
        }
        let set = Action::SetValue {
            group: "g".into(),
            counter: "c".into(),
        };
        assert!(refused(set, 22).contains("invalid value: write a decimal number"));
        let reset = Action::ResetGroup { group: "g".into() };
        assert!(refused(reset, 22).ends_with("invalid reset request: write 1 (EINVAL on /p)"));
        let other = refused(group("x"), 5);
        assert!(other.contains("the kernel refused it"), "{other}");
    }

    #[test]
    fn kernel_errors_name_the_rule() {
        let k = |errno, hint| Error::kernel("KPEEK_IOC_RESET", "/dev/kpeek".into(), errno, hint);
        assert_eq!(
            k(1, None).to_string(),
            "KPEEK_IOC_RESET (/dev/kpeek): permission denied: this needs root (CAP_SYS_ADMIN, on \
             every channel) (EPERM)"
        );
        assert!(k(25, None).to_string().contains("ABI mismatch)? (ENOTTY)"));
        assert!(
            k(2, None)
                .to_string()
                .contains("no such group, counter or id (ENOENT)")
        );
        assert!(
            k(16, None)
                .to_string()
                .contains("the event rings belong to another open /dev/kpeek")
        );
        assert!(
            k(22, Some("custom".into()))
                .to_string()
                .ends_with(": custom (EINVAL)")
        );
        assert_eq!(k(95, None).errno(), Some(95));
    }

    #[test]
    fn netlink_failures_keep_neli_s_error_and_say_what_was_done() {
        let e = Error::Netlink {
            op: "opening a generic netlink socket".into(),
            path: "generic netlink family \"kpeek\"".into(),
            error: Box::new(io::Error::from_raw_os_error(93)),
        };
        assert!(
            matches!(&e, Error::Netlink { error, .. } if error.downcast_ref::<io::Error>().is_some())
        );
        assert!(
            e.to_string().starts_with(
                "netlink generic netlink family \"kpeek\": opening a generic netlink socket: "
            ),
            "{e}"
        );
        // Shown in the message, so not a source: a `{:#}` chain prints it once.
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn not_loaded_says_how_to_load() {
        let e = Error::NotLoaded {
            path: "/proc/kpeek".into(),
        };
        assert_eq!(
            e.to_string(),
            "kpeek.ko is not loaded (no /proc/kpeek): modprobe kpeek"
        );
    }
}

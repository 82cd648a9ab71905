//! Gathering what `kpeek doctor` judges: files under a root (the running system, or a fake tree
//! in tests) and, on the running system only, probes of the kernel primitives themselves (a BPF
//! map, a perf tracepoint event), since a file cannot say whether a system call will succeed.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use kpeek_client::SysRoot;
use kpeek_trace::tracefs::{Tracefs, TracefsError};
use serde::Serialize;

/// The result of trying a kernel primitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Probe {
    /// The call succeeded.
    Works,
    /// The call failed with this error.
    Fails { error: String },
    /// Not tried (a fake root, or a prerequisite is missing).
    NotProbed { why: String },
}

/// Where tracefs is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TracefsState {
    Mounted { path: String },
    Denied { path: String },
    NotMounted,
}

/// What `/proc/kallsyms` shows this reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KallsymsState {
    /// Real addresses.
    Addresses,
    /// Every address read as zero: hidden from this reader.
    Hidden,
    Absent,
    Unreadable {
        error: String,
    },
}

/// A file that is opened and read: `/proc/kcore`, `/dev/kpeek`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Access {
    Readable,
    Absent,
    Denied { error: String },
}

/// kpeek.ko as the system shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KpeekKo {
    /// `/sys/module/kpeek` exists.
    pub loaded: bool,
    /// `/sys/kernel/kpeek/info`.
    pub abi_version: Option<u32>,
    /// `/dev/kpeek` opened read-only.
    pub dev: Access,
}

/// Everything the diagnosis looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
    /// Effective uid (`/proc/self/status`).
    pub euid: Option<u32>,
    /// Effective capability mask (`CapEff` of `/proc/self/status`).
    pub cap_eff: Option<u64>,
    pub tracefs: TracefsState,
    pub perf_event_paranoid: Option<i32>,
    pub kptr_restrict: Option<i32>,
    pub kallsyms: KallsymsState,
    /// `/sys/kernel/btf/vmlinux` exists.
    pub btf_vmlinux: bool,
    pub unprivileged_bpf_disabled: Option<i32>,
    /// `bpf(BPF_MAP_CREATE)` of a one-entry array.
    pub bpf_syscall: Probe,
    /// `perf_event_open` of a tracepoint on CPU 0, every process (what `kpeek trace` does).
    pub perf_tracepoint: Probe,
    pub kcore: Access,
    /// The active mode of `/sys/kernel/security/lockdown` (`none`, `integrity`,
    /// `confidentiality`); `None` when the file is absent.
    pub lockdown: Option<String>,
    /// `/proc/modules` exists (the kernel supports loadable modules).
    pub modules_supported: bool,
    pub modules_disabled: Option<i32>,
    pub kpeek_ko: KpeekKo,
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn read_int(path: &Path) -> Option<i32> {
    read_trimmed(path)?.parse().ok()
}

/// `key:\tvalue...` of a `/proc/<pid>/status`.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Open `path` and read its first bytes.
fn access(path: &Path) -> Access {
    let mut buf = [0u8; 8];
    match File::open(path).and_then(|mut f| f.read(&mut buf)) {
        Ok(_) => Access::Readable,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Access::Absent,
        Err(e) => Access::Denied {
            error: e.to_string(),
        },
    }
}

/// Read the start of kallsyms (256 KiB).
fn kallsyms(path: &Path) -> KallsymsState {
    let text = match File::open(path) {
        Ok(f) => {
            let mut s = String::new();
            match f.take(256 * 1024).read_to_string(&mut s) {
                Ok(_) => s,
                // Cut in the middle of a UTF-8 sequence cannot happen in kallsyms' ASCII.
                Err(e) => {
                    return KallsymsState::Unreadable {
                        error: e.to_string(),
                    };
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return KallsymsState::Absent,
        Err(e) => {
            return KallsymsState::Unreadable {
                error: e.to_string(),
            };
        }
    };
    kallsyms_text(&text)
}

/// What the first 4000 lines of a kallsyms text say: any non-zero address means addresses are
/// shown; all zero means hidden.
fn kallsyms_text(text: &str) -> KallsymsState {
    let mut any = false;
    for line in text.lines().take(4000) {
        let Some(addr) = line.split_whitespace().next() else {
            continue;
        };
        any = true;
        if addr.bytes().any(|b| b != b'0') {
            return KallsymsState::Addresses;
        }
    }
    if any {
        KallsymsState::Hidden
    } else {
        KallsymsState::Unreadable {
            error: "empty".to_string(),
        }
    }
}

/// The bracketed entry of `none [integrity] confidentiality`.
pub fn lockdown_mode(text: &str) -> Option<String> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_string())
}

fn tracefs(root: &SysRoot) -> TracefsState {
    let shown = |p: &Path| {
        let rel = p.strip_prefix(root.dir()).unwrap_or(p);
        Path::new("/").join(rel).display().to_string()
    };
    let candidates: Vec<PathBuf> = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .map(|p| root.path(p))
        .collect();
    match Tracefs::discover_in(candidates) {
        Ok(t) => TracefsState::Mounted {
            path: shown(t.root()),
        },
        Err(TracefsError::PermissionDenied { path }) => TracefsState::Denied { path: shown(&path) },
        Err(_) => TracefsState::NotMounted,
    }
}

/// Gather every fact under `root`; `probe_syscalls` tries the BPF and perf system calls (only
/// meaningful for the running system).
pub fn gather(root: &SysRoot, probe_syscalls: bool) -> Facts {
    let p = |abs: &str| root.path(abs);
    let status = std::fs::read_to_string(p("/proc/self/status")).unwrap_or_default();
    let euid = status_field(&status, "Uid")
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    let cap_eff = status_field(&status, "CapEff").and_then(|v| u64::from_str_radix(v, 16).ok());
    let tracefs = tracefs(root);
    let not_probed = || Probe::NotProbed {
        why: format!(
            "a fake root ({}) has no kernel to ask",
            root.dir().display()
        ),
    };
    let bpf_syscall = if probe_syscalls {
        super::probe::bpf_map_create()
    } else {
        not_probed()
    };
    let perf_tracepoint = if !probe_syscalls {
        not_probed()
    } else if let TracefsState::Mounted { path } = &tracefs {
        super::probe::perf_tracepoint(Path::new(path))
    } else {
        Probe::NotProbed {
            why: "tracefs is not usable (see tracefs), so no tracepoint id can be looked up"
                .to_string(),
        }
    };
    Facts {
        kernel: read_trimmed(&p("/proc/sys/kernel/osrelease")),
        euid,
        cap_eff,
        tracefs,
        perf_event_paranoid: read_int(&p("/proc/sys/kernel/perf_event_paranoid")),
        kptr_restrict: read_int(&p("/proc/sys/kernel/kptr_restrict")),
        kallsyms: kallsyms(&p("/proc/kallsyms")),
        btf_vmlinux: p("/sys/kernel/btf/vmlinux").is_file(),
        unprivileged_bpf_disabled: read_int(&p("/proc/sys/kernel/unprivileged_bpf_disabled")),
        bpf_syscall,
        perf_tracepoint,
        kcore: access(&p("/proc/kcore")),
        lockdown: std::fs::read_to_string(p("/sys/kernel/security/lockdown"))
            .ok()
            .and_then(|t| lockdown_mode(&t)),
        modules_supported: p("/proc/modules").exists(),
        modules_disabled: read_int(&p("/proc/sys/kernel/modules_disabled")),
        kpeek_ko: KpeekKo {
            loaded: p("/sys/module/kpeek").is_dir(),
            abi_version: read_trimmed(&p("/sys/kernel/kpeek/info")).and_then(|s| s.parse().ok()),
            dev: access(&p("/dev/kpeek")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lockdown_mode_finds_the_bracketed_one(
            modes in proptest::collection::vec("[a-z]{1,15}", 1..5),
            pick in any::<proptest::sample::Index>(),
        ) {
            let k = pick.index(modes.len());
            let text: Vec<String> = modes
                .iter()
                .enumerate()
                .map(|(i, m)| if i == k { format!("[{m}]") } else { m.clone() })
                .collect();
            prop_assert_eq!(lockdown_mode(&(text.join(" ") + "\n")), Some(modes[k].clone()));
        }

        #[test]
        fn parsers_take_any_text(text in "\\PC*") {
            let _ = lockdown_mode(&text);
            let _ = status_field(&text, "CapEff");
            let _ = kallsyms_text(&text);
        }

        #[test]
        fn kallsyms_hidden_only_when_every_address_is_zero(
            names in proptest::collection::vec("[a-z_]{1,20}", 1..50),
            shown in proptest::option::of(any::<proptest::sample::Index>()),
        ) {
            let shown_at = shown.map(|i| i.index(names.len()));
            let text: String = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let addr = if Some(i) == shown_at { "ffffffff81000000" } else { "0000000000000000" };
                    format!("{addr} T {n}\n")
                })
                .collect();
            let want = if shown_at.is_some() { KallsymsState::Addresses } else { KallsymsState::Hidden };
            prop_assert_eq!(kallsyms_text(&text), want);
        }
    }

    #[test]
    fn lockdown_mode_is_the_bracketed_word() {
        assert_eq!(
            lockdown_mode("none [integrity] confidentiality\n").as_deref(),
            Some("integrity")
        );
        assert_eq!(
            lockdown_mode("[none] integrity confidentiality").as_deref(),
            Some("none")
        );
        assert_eq!(lockdown_mode("none integrity"), None);
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tkpeek\nUid:\t1000\t0\t0\t0\nCapEff:\t000001ffffffffff\n";
        assert_eq!(status_field(s, "Uid"), Some("1000\t0\t0\t0"));
        assert_eq!(status_field(s, "CapEff"), Some("000001ffffffffff"));
        assert_eq!(status_field(s, "CapPrm"), None);
    }
}

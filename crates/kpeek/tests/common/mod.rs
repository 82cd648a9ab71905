//! Helpers shared by the CLI integration tests (each test binary uses a subset).
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether the tests run as root (the live-kernel tests need it).
pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Run the real `kpeek` binary as `nobody` (setpriv, util-linux) with `args`. Fails loudly when
/// not root or when setpriv itself fails, so a permission test can never pass by accident.
pub fn as_nobody(args: &[&str]) -> Output {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    assert!(
        is_root(),
        "this test runs kpeek as `nobody` through setpriv: run the suite as root"
    );
    // A copy of the binary that `nobody` can surely execute (the target dir may be private).
    let bin = assert_cmd::cargo::cargo_bin("kpeek");
    let dir = std::env::temp_dir().join(format!(
        "kpeek-nobody-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join("kpeek");
    std::fs::copy(&bin, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&copy)
        .args(args)
        .output()
        .expect("setpriv (util-linux) must be installed");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("setpriv:"),
        "setpriv failed (needs root and a nobody user): {err}"
    );
    out
}

pub mod monitor;

//! Puts the commit kpeek is built from into `kpeek --version` (`KPEEK_COMMIT`).
//!
//! In a source package (`cargo package`, crates.io) it reads the `.cargo_vcs_info.json` cargo
//! wrote into the package; in a git checkout it asks git; `$KPEEK_COMMIT` overrides both (for
//! distribution builds from a tarball). With none of them the version says "commit unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// `"git": {"sha1": "<40 hex>"}` in `.cargo_vcs_info.json`, without a JSON dependency.
fn vcs_info_sha(manifest_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest_dir.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    (sha.len() >= 12).then(|| sha[..12].to_string())
}

/// Rerun when `path` changes; a missing file would make cargo rerun on every build.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=KPEEK_COMMIT");
    watch(&manifest_dir.join(".cargo_vcs_info.json"));
    println!("cargo:rerun-if-changed=build.rs");
    let commit = if let Some(c) = std::env::var("KPEEK_COMMIT").ok().filter(|c| !c.is_empty()) {
        c
    } else if let Some(c) = vcs_info_sha(&manifest_dir) {
        c
    } else if let Some(c) = git(&manifest_dir, &["rev-parse", "--short=12", "HEAD"]) {
        // Rebuild when HEAD moves: HEAD itself, the branch it points to, packed refs.
        for (dir_arg, file) in [("--git-dir", "HEAD"), ("--git-common-dir", "packed-refs")] {
            if let Some(d) = git(&manifest_dir, &["rev-parse", dir_arg]) {
                watch(&manifest_dir.join(d).join(file));
            }
        }
        if let (Some(r), Some(d)) = (
            git(&manifest_dir, &["symbolic-ref", "-q", "HEAD"]),
            git(&manifest_dir, &["rev-parse", "--git-common-dir"]),
        ) {
            watch(&manifest_dir.join(d).join(r));
        }
        c
    } else {
        "unknown".to_string()
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap();
    println!("cargo:rustc-env=KPEEK_LONG_VERSION={version} (commit {commit})");
}

//! Every ```` ```console ```` example in README.md and docs/*.md, run: a documented command whose
//! output drifts from the program fails here.
//!
//! The grammar is `kpeek-docex`'s (shared with the guest's runner): `$ COMMAND` lines (a
//! trailing `\` continues the command on the next line), then the expected output, stdout and
//! stderr together; in expected lines `[..]` matches any text within the line, and a line `...`
//! matches any number of lines. Commands run under bash from the repository root, with the
//! `kpeek` under test first in `PATH` (in a directory every user can read, so
//! `setpriv --reuid=nobody kpeek` runs it too). Examples that need a live kernel run on this
//! machine, as root. ```` ```console guest ```` examples need kpeek.ko: `kpeek-guest
//! doc-examples` runs them in the qemu guest (vmtest/guest/92-docs.sh); here they are only parsed.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use kpeek_docex::{Example, Place, describe_mismatch, lines_match, parse};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ must exist")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Every example of README.md and docs/*.md, host and guest ones.
fn all_examples(root: &Path) -> Vec<Example> {
    let mut examples = Vec::new();
    for f in doc_files(root) {
        let text = fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.strip_prefix(root).unwrap().display().to_string();
        examples.extend(parse(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    examples
}

/// A copy of the kpeek under test in a directory every user may read.
fn bin_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kpeek-doc-examples-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join("kpeek");
    fs::copy(assert_cmd::cargo::cargo_bin("kpeek"), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn guest_examples_exist_and_parse() {
    // The guest runs them (vmtest/guest/92-docs.sh); here only that the pages still have them,
    // in the one grammar, so that a broken block fails on every machine.
    let n = all_examples(&repo_root())
        .iter()
        .filter(|e| e.place == Place::Guest)
        .count();
    assert!(n >= 10, "only {n} `console guest` examples found");
}

#[test]
#[ignore = "needs root and the live kernel: tracefs, perf events, BPF and kallsyms; ./test-all runs it (cargo test -- --include-ignored)"]
fn documented_examples_run_as_documented() {
    assert!(
        common::is_root(),
        "the documented examples read the live kernel: run the suite as root"
    );
    let root = repo_root();
    let examples: Vec<Example> = all_examples(&root)
        .into_iter()
        .filter(|e| e.place == Place::Host)
        .collect();
    assert!(
        examples.len() >= 20,
        "only {} examples found: the parser is broken",
        examples.len()
    );
    let bin = bin_dir();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    for ex in &examples {
        let out = Command::new("timeout")
            .args(["120", "bash", "-c"])
            .arg(format!("{{\n{}\n}} 2>&1", ex.command))
            .current_dir(&root)
            .env("PATH", &path)
            .env_remove("KPEEK_SYSROOT")
            .output()
            .expect("bash and timeout (coreutils) must be installed");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        if !lines_match(&ex.expected, &lines) {
            failures.push(describe_mismatch(ex, out.status.code(), &text));
        }
    }
    fs::remove_dir_all(&bin).unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} documented examples differ from the program:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
    eprintln!("{} documented examples ran as documented", examples.len());
}

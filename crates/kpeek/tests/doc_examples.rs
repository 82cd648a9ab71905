//! Every ```` ```console ```` example in README.md and docs/*.md, run: a documented command whose
//! output drifts from the program fails here.
//!
//! Format (as trycmd's): `$ COMMAND` lines (a trailing `\` continues the command on the next
//! line), then the expected output, stdout and stderr together. In expected lines `[..]` matches
//! any text within the line, and a line `...` matches any number of lines. Commands run under
//! bash from the repository root, with the `kpeek` under test first in `PATH` (in a directory
//! every user can read, so `setpriv --reuid=nobody kpeek` runs it too). Examples that need a live
//! kernel run on this machine, as root. Output shown from elsewhere (the qemu guest) is in
//! ```` ```text ```` blocks, which are not run.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Example {
    file: String,
    line: usize,
    command: String,
    expected: Vec<String>,
}

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

fn parse(file: &str, text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block = false;
    let mut continuing = false;
    for (i, line) in text.lines().enumerate() {
        if !in_block {
            in_block = line.trim_end() == "```console";
            continue;
        }
        if line.trim_end() == "```" {
            in_block = false;
            continuing = false;
            continue;
        }
        if continuing {
            let ex = out.last_mut().unwrap();
            ex.command.push('\n');
            ex.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Example {
                file: file.to_string(),
                line: i + 1,
                command: cmd.to_string(),
                expected: Vec::new(),
            });
            continuing = cmd.ends_with('\\');
        } else {
            let ex = out
                .last_mut()
                .unwrap_or_else(|| panic!("{file}:{}: output before any `$ ` command", i + 1));
            ex.expected.push(line.to_string());
        }
    }
    assert!(!in_block, "{file}: unterminated ```console block");
    out
}

/// `pat` with `[..]` wildcards against one line.
fn line_matches(pat: &str, line: &str) -> bool {
    let parts: Vec<&str> = pat.split("[..]").collect();
    if parts.len() == 1 {
        return pat == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Expected lines (with `...` lines) against the actual ones.
fn lines_match(pats: &[String], lines: &[&str]) -> bool {
    match pats.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p == "..." => (0..=lines.len()).any(|k| lines_match(rest, &lines[k..])),
        Some((p, rest)) => {
            !lines.is_empty() && line_matches(p, lines[0]) && lines_match(rest, &lines[1..])
        }
    }
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
fn wildcards() {
    assert!(line_matches("a [..] c", "a b c"));
    assert!(line_matches("[..]", ""));
    assert!(line_matches("x[..]y[..]z", "xAyByCz"));
    assert!(!line_matches("a [..] c", "a b d"));
    assert!(!line_matches("ab[..]ba", "aba"));
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&p(&["a", "...", "z"]), &["a", "b", "c", "z"]));
    assert!(lines_match(&p(&["a", "...", "z"]), &["a", "z"]));
    assert!(!lines_match(&p(&["a", "...", "z"]), &["a", "b"]));
    assert!(!lines_match(&p(&["a"]), &["a", "b"]));
}

#[test]
fn documented_examples_run_as_documented() {
    assert!(
        common::is_root(),
        "the documented examples read the live kernel: run the suite as root"
    );
    let root = repo_root();
    let mut examples = Vec::new();
    for f in doc_files(&root) {
        let text = fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.strip_prefix(&root).unwrap().display().to_string();
        examples.extend(parse(&name, &text));
    }
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
            failures.push(format!(
                "{}:{}: $ {}\n--- documented:\n{}\n--- actual (exit {}):\n{}",
                ex.file,
                ex.line,
                ex.command,
                ex.expected.join("\n"),
                out.status
                    .code()
                    .map_or("signal".to_string(), |c| c.to_string()),
                text.trim_end()
            ));
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

//! README.md and docs/ stay an entry point and a set of pages about the project: a short
//! README, links that resolve, no paths of one machine, benchmarks as dated entries in order.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn pages() -> Vec<PathBuf> {
    let r = root();
    let mut v = vec![r.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(r.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    v.extend(docs);
    v
}

#[test]
fn readme_is_short() {
    let n = fs::read_to_string(root().join("README.md"))
        .unwrap()
        .lines()
        .count();
    assert!(
        n <= 300,
        "README.md has {n} lines; the limit is 300 (move material into docs/)"
    );
}

#[test]
fn no_machine_paths_or_session_talk() {
    for p in pages() {
        let text = fs::read_to_string(&p).unwrap();
        for (i, line) in text.lines().enumerate() {
            // Spelled in pieces so that this file does not match what it looks for.
            for bad in [
                concat!("/wo", "rk/"),
                concat!("/ho", "me/"),
                concat!("this ", "session"),
                concat!("other ", "engineers"),
            ] {
                assert!(
                    !line.contains(bad),
                    "{}:{}: `{bad}` does not belong in the project's pages: {line}",
                    p.display(),
                    i + 1
                );
            }
        }
    }
}

/// `](target)` links that are relative paths.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if !target.contains("://") && !target.starts_with('#') && !target.starts_with("mailto:") {
            out.push(target.split('#').next().unwrap().to_string());
        }
    }
    out
}

#[test]
fn relative_links_resolve() {
    let mut broken = Vec::new();
    for p in pages() {
        let text = fs::read_to_string(&p).unwrap();
        for link in relative_links(&text) {
            if !p.parent().unwrap().join(&link).exists() {
                broken.push(format!("{} -> {link}", p.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to pages that do not exist:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn benchmark_entries_are_dated_and_in_order() {
    let text = fs::read_to_string(root().join("docs/benchmarks.md")).unwrap();
    let dates: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| {
            let (date, title) = h
                .split_once(" — ")
                .unwrap_or_else(|| panic!("entry heading without ` — `: {h}"));
            let ok = date.len() == 10
                && date.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            assert!(
                ok && !title.is_empty(),
                "entry heading is not `## YYYY-MM-DD — title`: {h}"
            );
            date
        })
        .collect();
    assert!(
        dates.len() >= 5,
        "docs/benchmarks.md has {} entries",
        dates.len()
    );
    assert!(
        dates.windows(2).all(|w| w[0] <= w[1]),
        "entries are appended in date order: {dates:?}"
    );
}

/// Every command example runs in a test (`console` on the host, `console guest` in the qemu
/// guest): a ```text block with a `$ ` line is an example that nobody runs. docs/benchmarks.md
/// is exempt: its entries record commands as they were run, with their output verbatim.
#[test]
fn command_examples_are_run() {
    let mut unrun = Vec::new();
    for p in pages() {
        if p.ends_with("docs/benchmarks.md") {
            continue;
        }
        let text = fs::read_to_string(&p).unwrap();
        let mut open: Option<(usize, bool)> = None; // (backticks, a text block)
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_end();
            let ticks = t.bytes().take_while(|&b| b == b'`').count();
            match open {
                None if ticks >= 3 => open = Some((ticks, t[ticks..].trim() == "text")),
                Some((n, _)) if ticks >= n && t[ticks..].trim().is_empty() => open = None,
                Some((_, true)) if line.starts_with("$ ") => {
                    unrun.push(format!("{}:{}: {line}", p.display(), i + 1))
                }
                _ => {}
            }
        }
    }
    assert!(
        unrun.is_empty(),
        "commands in ```text blocks are run by no test: make the block ```console (this \
         machine) or ```console guest (the qemu guest, kpeek.ko loaded), see docs/index.md:\n  {}",
        unrun.join("\n  ")
    );
}

//! The Rust mirror against the real header: compile a C program that prints every item of
//! `kpeek_abi::check::ITEMS` and compare, and make sure the table covers the whole header.
//!
//! Needs gcc and the kernel's `linux/types.h` (Debian: build-essential, linux-libc-dev; both
//! installed by scripts/setup). Without them the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use kpeek_abi::check::{ITEMS, Item, Value};

fn header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kmod/include/uapi")
}

fn c_program(items: &[Item]) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"kpeek.h\"\n\
         #define P_INT(e) printf(\"%llu\\n\", (unsigned long long)(e))\n\
         #define P_STR(e) printf(\"\\\"%s\\\"\\n\", (e))\n\
         int main(void)\n{\n",
    );
    for item in items {
        let mac = match item.rust {
            Value::Int(_) => "P_INT",
            Value::Str(_) => "P_STR",
        };
        c.push_str(&format!("\t{mac}({});\n", item.c_expr));
    }
    c.push_str("\treturn 0;\n}\n");
    c
}

/// Compile and run the checker for `items`; returns one line per mismatch.
fn mismatches(items: &[Item]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("abi.c");
    let bin = dir.path().join("abi");
    std::fs::write(&src, c_program(items)).unwrap();
    let out = Command::new("gcc")
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(header_dir())
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run gcc ({e}): install build-essential (scripts/setup)")
        });
    assert!(
        out.status.success(),
        "the C checker did not compile against kpeek.h (is linux-libc-dev installed?):\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c_program(items)
    );
    let out = Command::new(&bin).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), items.len(), "C printed:\n{stdout}");
    items
        .iter()
        .zip(&lines)
        .filter(|(item, c)| item.rust_text() != **c)
        .map(|(item, c)| {
            format!(
                "{}: C says {c}, Rust says {}",
                item.c_expr,
                item.rust_text()
            )
        })
        .collect()
}

#[test]
fn every_item_matches_the_c_header() {
    let bad = mismatches(ITEMS);
    assert!(bad.is_empty(), "ABI mismatches:\n{}", bad.join("\n"));
}

/// Every object-like `#define KPEEK_*` and every `struct kpeek_*` of the header has a row, so a
/// C-side addition without its Rust mirror fails here.
#[test]
fn the_table_covers_the_whole_header() {
    let header = std::fs::read_to_string(header_dir().join("kpeek.h")).unwrap();
    let mut missing = Vec::new();
    for line in header.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["#define", name, _, ..] = words[..]
            && name.starts_with("KPEEK_")
            && !name.contains('(')
            && !ITEMS.iter().any(|i| i.c_expr == name)
        {
            missing.push(name.to_owned());
        }
        if let ["struct", name, "{", ..] = words[..]
            && name.starts_with("kpeek_")
        {
            let size = format!("sizeof(struct {name})");
            if !ITEMS.iter().any(|i| i.c_expr == size) {
                missing.push(size);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "kpeek.h items with no row in kpeek_abi::check::ITEMS: {missing:?}"
    );
}

#[test]
fn the_checker_catches_a_wrong_value() {
    // The comparison itself must be able to fail: deliberately wrong rows are reported.
    let wrong = [
        Item {
            c_expr: "KPEEK_NAME_MAX",
            rust: Value::Int(32),
        },
        Item {
            c_expr: "KPEEK_PROC_PATH",
            rust: Value::Str("/proc/kpeek2"),
        },
        // A right row: only the wrong ones are reported.
        Item {
            c_expr: "KPEEK_NAME_MAX + 1",
            rust: Value::Int(32),
        },
    ];
    assert_eq!(
        mismatches(&wrong),
        [
            "KPEEK_NAME_MAX: C says 31, Rust says 32",
            "KPEEK_PROC_PATH: C says \"/proc/kpeek\", Rust says \"/proc/kpeek2\"",
        ]
    );
}

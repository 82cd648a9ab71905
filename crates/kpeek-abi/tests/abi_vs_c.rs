//! The Rust mirror against the real header: compile a C program that prints every item of
//! `abi_table::items()` and compare, and make sure the table covers the whole header.
//!
//! Needs gcc and the kernel's `linux/types.h` (Debian: build-essential, linux-libc-dev; both
//! installed by scripts/setup). Without them the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

mod abi_table;

use abi_table::{Item, Value, items};

fn header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kmod/include/uapi")
}

fn c_program(items: &[Item]) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/ioctl.h>\n#include \"kpeek.h\"\n\
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

/// kpeek.h alone is enough to use every macro it defines (the ioctl numbers need
/// <linux/ioctl.h>, which the header must include itself).
#[test]
fn the_header_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("alone.c");
    std::fs::write(
        &src,
        "#include \"kpeek.h\"\nunsigned long x = KPEEK_IOC_INFO + KPEEK_IOC_MMAP_SYNC;\n",
    )
    .unwrap();
    let out = Command::new("gcc")
        .args(["-std=gnu11", "-Wall", "-Werror", "-c", "-o"])
        .arg(dir.path().join("alone.o"))
        .arg("-I")
        .arg(header_dir())
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run gcc ({e}): install build-essential (scripts/setup)")
        });
    assert!(
        out.status.success(),
        "a program that includes only kpeek.h does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_item_matches_the_c_header() {
    let bad = mismatches(&items());
    assert!(bad.is_empty(), "ABI mismatches:\n{}", bad.join("\n"));
}

/// The C names a row must exist for: every `#define KPEEK_*` (function-like macros by their name
/// and `(`), every member of every `enum kpeek_*` (except the `__KPEEK_*_MAX` sentinels), and
/// `sizeof` of every `struct kpeek_*` plus `offsetof` of each of its fields.
fn header_names(header: &str) -> Vec<String> {
    let mut want = Vec::new();
    let mut in_struct: Option<String> = None;
    let mut in_enum = false;
    for raw in header.lines() {
        // Comments never hold declarations here; drop them (block comments inside a line too).
        let line = match raw.find("/*") {
            Some(i) => &raw[..i],
            None => raw,
        };
        let line = line.trim();
        if line.starts_with('*') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["#define", name, ..] = words[..]
            && name.starts_with("KPEEK_")
        {
            match name.find('(') {
                Some(i) => want.push(name[..=i].to_owned()),
                None if words.len() > 2 => want.push(name.to_owned()),
                None => {}
            }
            continue;
        }
        if let ["struct", name, "{", ..] = words[..]
            && name.starts_with("kpeek_")
        {
            want.push(format!("sizeof(struct {name})"));
            in_struct = Some(name.to_owned());
            continue;
        }
        if let ["enum", name, "{", ..] = words[..]
            && name.starts_with("kpeek_")
        {
            in_enum = true;
            continue;
        }
        if line.starts_with('}') {
            in_struct = None;
            in_enum = false;
            continue;
        }
        if in_enum {
            let member = line.trim_end_matches(',').split('=').next().unwrap().trim();
            if member.starts_with("KPEEK_") {
                want.push(member.to_owned());
            }
        } else if let Some(s) = &in_struct
            && let Some(decl) = line.strip_suffix(';')
        {
            // `type name;`, `type name[N + 1];`, `struct t name;`: the word before any `[`.
            let decl = decl.split('[').next().unwrap();
            let field = decl
                .split_whitespace()
                .last()
                .unwrap()
                .trim_start_matches('*');
            want.push(format!("offsetof(struct {s}, {field})"));
        }
    }
    want
}

/// Every name of [`header_names`] has a row, so a C-side addition without its Rust mirror fails
/// here.
#[test]
fn the_table_covers_the_whole_header() {
    let header = std::fs::read_to_string(header_dir().join("kpeek.h")).unwrap();
    let items = items();
    let missing: Vec<String> = header_names(&header)
        .into_iter()
        .filter(|n| {
            !items
                .iter()
                .any(|i| i.c_expr == n || (n.ends_with('(') && i.c_expr.starts_with(n.as_str())))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "kpeek.h items with no row in abi_table::items(): {missing:?}"
    );
}

#[test]
fn the_coverage_scan_sees_fields_enums_and_macros() {
    let h = "#define KPEEK_A 1\n#define KPEEK_F(x) ((x) + 1)\n/* a comment */\n\
             struct kpeek_s {\n\t__u32 a;\t/* c */\n\tchar b[KPEEK_A + 1];\n\tstruct kpeek_t t;\n};\n\
             enum kpeek_e {\n\tKPEEK_E_X,\n\tKPEEK_E_Y = 3,\n};\n";
    assert_eq!(
        header_names(h),
        [
            "KPEEK_A",
            "KPEEK_F(",
            "sizeof(struct kpeek_s)",
            "offsetof(struct kpeek_s, a)",
            "offsetof(struct kpeek_s, b)",
            "offsetof(struct kpeek_s, t)",
            "KPEEK_E_X",
            "KPEEK_E_Y",
        ]
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

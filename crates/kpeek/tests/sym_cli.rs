//! `kpeek sym` on fixture tables: output formats (insta snapshots), exit codes, errors.

use std::path::PathBuf;

use assert_cmd::Command;
use insta::assert_snapshot;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ksyms/tests/fixtures")
        .join(name);
    assert!(p.exists(), "fixture missing: {}", p.display());
    p.to_str().unwrap().to_string()
}

fn arm32() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/kallsyms/arm32-distro-with-modules.kallsyms");
    assert!(
        p.exists(),
        "shared fixture missing: {} (the repo expects ../shared/fixtures beside the workspace)",
        p.display()
    );
    p.to_str().unwrap().to_string()
}

/// Runs `kpeek sym --kallsyms FILE ARGS...` with `stdin`; returns (exit code, stdout, stderr).
fn sym(file: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["sym", "--kallsyms", file])
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap(), s(out.stdout), s(out.stderr))
}

fn ok(file: &str, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = sym(file, args, stdin);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(err, "");
    out
}

const QUERIES: &[&str] = &[
    "0xffffffff8110a0f4",
    "schedule",
    "do_work",
    "0xffffffffc0002010",
    "0xffffffffc0006100",
    "ext4_mount",
    "ext4_probe+0x10/0x100 [ext4]",
    "do_work+0x8",
];

#[test]
fn queries_text() {
    assert_snapshot!(ok(&fixture("modules-x86_64.kallsyms"), QUERIES, ""));
}

#[test]
fn queries_json() {
    let mut args = vec!["--json"];
    args.extend_from_slice(QUERIES);
    let out = ok(&fixture("modules-x86_64.kallsyms"), &args, "");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["query"].is_string(), "{line}");
    }
    assert_snapshot!(out);
}

#[test]
fn unanswered_queries_exit_1_and_keep_their_place() {
    let f = fixture("modules-x86_64.kallsyms");
    let (code, out, err) = sym(&f, &["0xffffffffc0003810", "schedule", "nosuch", "0x1"], "");
    assert_eq!((code, err.as_str()), (1, ""));
    assert_snapshot!(out);
    let (code, out, _) = sym(&f, &["--json", "0xffffffffc0003810", "nosuch"], "");
    assert_eq!(code, 1);
    assert_snapshot!("unanswered_json", out);
}

#[test]
fn stdin_queries_in_input_order() {
    let f = fixture("modules-x86_64.kallsyms");
    let out = ok(
        &f,
        &["_printk", "-", "_stext"],
        "0xffffffff8110a0f4\n\n  schedule  \nschedule+0x4\n",
    );
    assert_snapshot!(out);
}

#[test]
fn bad_queries_exit_2_but_others_are_answered() {
    let f = fixture("modules-x86_64.kallsyms");
    let (code, out, err) = sym(&f, &["0xzz", "schedule", "a+b", "0x"], "");
    assert_eq!(code, 2);
    assert_eq!(out, "schedule  0xffffffff8110a0d0 T exported\n");
    assert_snapshot!(err);
    let (code, out, _) = sym(&f, &["--json", "0x12345678123456789"], "");
    assert_eq!(code, 2);
    assert_snapshot!("bad_query_json", out);
}

#[test]
fn arm32_distro_table_with_modules() {
    let f = arm32();
    let out = ok(
        &f,
        &[
            "0xbf00ae90",
            "0xbf00aeec",
            "0xbf00b3d0",
            "0xc0100470",
            "0xc0882900",
            "printk",
            "cleanup_module",
            "scanarg+0x10",
        ],
        "",
    );
    assert_snapshot!(out);
    let (code, out, _) = sym(&f, &["--json", "0xbf00b3d4", "0xc04d324c"], "");
    assert_eq!(code, 1);
    assert_snapshot!("arm32_json", out);
}

#[test]
fn symbolize_oops() {
    let f = fixture("modules-x86_64.kallsyms");
    let oops = std::fs::read_to_string(fixture("oops-modules-x86_64.txt")).unwrap();
    assert_snapshot!("symbolize_append", ok(&f, &["symbolize"], &oops));
    assert_snapshot!(
        "symbolize_replace",
        ok(&f, &["symbolize", "--replace"], &oops)
    );
    assert_snapshot!("symbolize_json", ok(&f, &["--json", "symbolize"], &oops));
    // Nothing to symbolize: text passes through unchanged (exit 0); JSON finds nothing (exit 1).
    assert_eq!(
        ok(&f, &["symbolize"], "no addresses here\nnor 0x12\n"),
        "no addresses here\nnor 0x12\n"
    );
    assert_eq!(sym(&f, &["--json", "symbolize"], "none\n").0, 1);
    // Invalid UTF-8 in the stream does not stop it.
    let (code, out, _) = sym(
        &f,
        &["symbolize", "--replace"],
        "\u{fffd}0xffffffff8110a0f4\n",
    );
    assert_eq!((code, out.as_str()), (0, "\u{fffd}schedule+0x24/0xb0\n"));
}

#[test]
fn search_filters() {
    let f = fixture("modules-x86_64.kallsyms");
    assert_snapshot!("search_glob", ok(&f, &["search", "*do_work*"], ""));
    assert_snapshot!(
        "search_regex_module",
        ok(&f, &["search", "-E", "^ext4_", "--module", "ext4"], "")
    );
    assert_snapshot!(
        "search_type_core",
        ok(&f, &["search", "--type", "tT", "--module", "vmlinux"], "")
    );
    assert_snapshot!(
        "search_exported_json",
        ok(&f, &["--json", "search", "--exported"], "")
    );
    let (code, out, _) = sym(&f, &["search", "nothing*"], "");
    assert_eq!((code, out.as_str()), (1, ""));
    let (code, _, err) = sym(&f, &["search", "--module", "xfs"], "");
    assert_eq!(code, 2);
    assert_snapshot!("search_bad_module", err.replace(&f, "FILE"));
    let (code, _, err) = sym(&f, &["search", "-E", "("], "");
    assert_eq!(code, 2);
    assert!(err.starts_with("kpeek: bad regex `(`: "), "{err}");
    let (code, _, err) = sym(&f, &["search", "sched:[ab"], "");
    assert_eq!(code, 2);
    assert!(err.starts_with("kpeek: bad glob `sched:[ab`: "), "{err}");
    let (code, _, err) = sym(&f, &["search", "--type", "T1"], "");
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "kpeek: bad --type '1': type letters are A-Z and a-z, like nm prints them\n"
        )
    );
}

#[test]
fn stats() {
    let f = fixture("modules-x86_64.kallsyms");
    let out = ok(&f, &["stats"], "");
    assert_snapshot!("stats_text", out.replace(&f, "FIXTURE"));
    let out = ok(&f, &["--json", "stats"], "");
    assert_snapshot!("stats_json", out.replace(&f, "FIXTURE"));
    let a = arm32();
    let out = ok(&a, &["stats"], "");
    assert_snapshot!("stats_arm32", out.replace(&a, "FIXTURE"));
}

#[test]
fn table_errors_exit_2_with_file_and_line() {
    let bad = fixture("malformed.kallsyms");
    let (code, out, err) = sym(&bad, &["_text"], "");
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err.replace(&bad, "FILE"),
        "kpeek: FILE:3: address is not hexadecimal: \"ffffffff8100zz00 T broken\"\n"
    );
    let (code, out, err) = sym(&bad, &["--lenient", "_text"], "");
    assert_eq!((code, out.as_str()), (0, "_text  0xffffffff81000000 T\n"));
    assert_eq!(
        err.replace(&bad, "FILE"),
        "kpeek: FILE: skipped 1 malformed line(s) (first: line 3: address is not hexadecimal)\n"
    );
    let (code, _, err) = sym("/nonexistent/kallsyms", &["x"], "");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "kpeek: /nonexistent/kallsyms: No such file or directory (os error 2)\n"
    );
    let hidden = fixture("hidden.kallsyms");
    let (code, _, err) = sym(&hidden, &["schedule"], "");
    assert_eq!(code, 2);
    assert_snapshot!("hidden_fixture", err.replace(&hidden, "FILE"));
    let empty = std::env::temp_dir().join(format!("kpeek-empty-{}", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    let (code, _, err) = sym(empty.to_str().unwrap(), &["x"], "");
    std::fs::remove_file(&empty).unwrap();
    assert_eq!(code, 2);
    assert!(err.ends_with(": no symbols (empty file?)\n"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let f = fixture("modules-x86_64.kallsyms");
    let (code, _, err) = sym(&f, &[], "");
    assert_eq!(code, 2);
    assert!(err.contains("nothing to do"), "{err}");
    let (code, _, err) = sym(&f, &["--frobnicate"], "");
    assert_eq!(code, 2);
    assert!(err.contains("unexpected argument '--frobnicate'"), "{err}");
    // A query spelled like a subcommand goes after `--`.
    let (code, out, _) = sym(&f, &["--", "stats"], "");
    assert_eq!((code, out.as_str()), (1, "stats  (not found)\n"));
}

#[test]
fn help() {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(["sym", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

/// Address-only queries on a file take the one-pass path (`Ksyms::for_addresses`); adding a
/// name query forces the whole table. Both must print the same answers, text and JSON.
#[test]
fn address_only_queries_answer_like_the_whole_table() {
    for (f, addrs) in [
        (
            fixture("x86_64-6.12-modules.kallsyms"),
            vec![
                "0xffffffffc0236014",
                "0xffffffffc024e014",
                "0xffffffffc0252389",
                "0xffffffffc0236010",
                "0xffffffff81000000",
                "0x1",
            ],
        ),
        (
            arm32(),
            vec!["0xbf00ae90", "0xbf00b3d4", "0xc04d324c", "0xc0008000"],
        ),
    ] {
        for json in [false, true] {
            let mut fast: Vec<&str> = Vec::new();
            if json {
                fast.push("--json");
            }
            fast.extend(&addrs);
            let mut whole = fast.clone();
            whole.push("a_name_forces_the_whole_table");
            let (code_fast, out_fast, _) = sym(&f, &fast, "");
            let (_, out_whole, _) = sym(&f, &whole, "");
            let n = addrs.len();
            let head: Vec<&str> = out_whole.lines().take(n).collect();
            assert_eq!(
                out_fast.lines().collect::<Vec<_>>(),
                head,
                "{f} json={json}"
            );
            assert_eq!(code_fast, 1, "0x1 / the unmapped addresses have no symbol");
        }
    }
}

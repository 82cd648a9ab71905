//! What a packaged kpeek installs besides the binary: `--version` naming the commit, shell
//! completions that load, man pages that render.

use std::fs;
use std::path::PathBuf;
use std::process::Command as Std;

use assert_cmd::Command;

fn kpeek_out(args: &[&str]) -> String {
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kpeek {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kpeek-install-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn version_names_the_commit() {
    let v = kpeek_out(&["--version"]);
    let head = Std::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git must be installed: the suite runs in a git checkout");
    assert!(
        head.status.success(),
        "not a git checkout: {}",
        String::from_utf8_lossy(&head.stderr)
    );
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        v.trim(),
        format!(
            "kpeek {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )
    );
    // Subcommands say the same.
    assert_eq!(
        kpeek_out(&["sym", "--version"]).trim(),
        format!("kpeek-sym {}", v.trim().trim_start_matches("kpeek "))
    );
}

#[test]
fn bash_completion_loads_and_completes() {
    let d = temp_dir("bash");
    let script = d.join("kpeek.bash");
    fs::write(&script, kpeek_out(&["completions", "bash"])).unwrap();
    let out = Std::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p kpeek && COMP_WORDS=(kpeek do) COMP_CWORD=1 COMP_LINE='kpeek do' COMP_POINT=8 && _kpeek kpeek do kpeek && echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("-F _kpeek kpeek"), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .split(' ')
            .any(|w| w == "doctor"),
        "{stdout}"
    );
    fs::remove_dir_all(d).unwrap();
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let s = kpeek_out(&["completions", shell]);
        for sub in ["sym", "trace", "mod", "doctor", "completions"] {
            assert!(s.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(
            !s.contains("manpages"),
            "{shell} completion offers the hidden manpages command"
        );
    }
}

#[test]
fn unknown_shell_exits_2() {
    Command::cargo_bin("kpeek")
        .unwrap()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("tcsh"));
}

#[test]
fn man_pages_render() {
    let d = temp_dir("man");
    let out = Command::cargo_bin("kpeek")
        .unwrap()
        .arg("manpages")
        .arg(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<String> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for want in [
        "kpeek.1",
        "kpeek-sym.1",
        "kpeek-sym-search.1",
        "kpeek-trace-record.1",
        "kpeek-mod-counters.1",
        "kpeek-mod-group-create.1",
        "kpeek-doctor.1",
        "kpeek-completions.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "no {want} in {pages:?}");
    }
    assert!(
        !pages
            .iter()
            .any(|p| p.contains("manpages") || p.contains("help")),
        "{pages:?}"
    );
    for p in &pages {
        let out = Std::new("man")
            .arg("-l")
            .arg(d.join(p))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man (man-db) must be installed: scripts/setup installs it");
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "man -l {p}: {err}"
        );
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{p}:\n{text}"
        );
        let name = p.trim_end_matches(".1");
        assert!(text.contains(name), "{p} does not name {name}:\n{text}");
    }
    let top = Std::new("man")
        .arg("-l")
        .arg(d.join("kpeek.1"))
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(
        top.contains("kpeek-doctor(1)") || top.contains("doctor"),
        "{top}"
    );
    fs::remove_dir_all(d).unwrap();
}

//! `doc-examples`: every ```` ```console guest ```` example of README.md and docs/*.md (embedded
//! at build time), run here against the real module and compared with kpeek-docex's matcher, the
//! one the host's `doc_examples` test uses.
//!
//! Each block starts from the same state (`--before-each`, vmtest/guest/doc-state.sh); the
//! commands of one block run in order and share what they change. Every example is one PASS or
//! FAIL line; a failure prints the documented and the actual output above its FAIL line.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kpeek_docex::{Example, Place, describe_mismatch, lines_match, parse};

use crate::report::Report;

mod pages {
    include!(concat!(env!("OUT_DIR"), "/docs.rs"));
}

#[derive(clap::Args)]
pub struct Args {
    /// Shell command run (`sh -c`) before each block; a block whose set-up fails fails all its
    /// examples.
    #[arg(long, value_name = "CMD")]
    before_each: Option<String>,
    /// Seconds one command may take before it is killed and fails.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Fewer guest examples than this is a failure (a parser or a page lost them).
    #[arg(long, default_value_t = 10)]
    min_examples: usize,
    /// List the examples (page:line, command) without running them.
    #[arg(long)]
    list: bool,
}

/// Every guest example of the embedded pages, in page order.
fn guest_examples() -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for (name, text) in pages::DOCS {
        let examples = parse(name, text)?;
        out.extend(examples.into_iter().filter(|e| e.place == Place::Guest));
    }
    Ok(out)
}

/// Output (stdout and stderr together) and exit code of `sh -c CMD`, killed (with everything it
/// started) after `timeout`.
fn run_sh(cmd: &str, timeout: Duration) -> Result<(String, Option<i32>)> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{{\n{cmd}\n}} 2>&1"))
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start sh")?;
    let pgid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("piped");
    // The reader ends when every process of the command closed the pipe (background jobs too).
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut status = None;
    while Instant::now() < deadline {
        if status.is_none() {
            status = child.try_wait().context("waitpid")?;
        }
        if status.is_some() && reader.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let timed_out = status.is_none() || !reader.is_finished();
    if timed_out {
        // SAFETY: kill(2) with a process group id and a signal number; no memory is involved.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        if status.is_none() {
            status = Some(child.wait().context("waitpid")?);
        }
    }
    let buf = reader.join().unwrap_or_default();
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if timed_out {
        text.push_str(&format!(
            "\n[killed after {}s: still running]",
            timeout.as_secs()
        ));
    }
    Ok((text, status.and_then(|s| s.code())))
}

/// A one-line test name: page, line and the command's first line.
fn name(ex: &Example) -> String {
    let first = ex.command.lines().next().unwrap_or("");
    format!("docs {}:{}: {first}", ex.file, ex.line)
}

pub fn run(report: &Report, a: Args) -> Result<()> {
    let examples = guest_examples()?;
    if a.list {
        for ex in &examples {
            println!("{}:{}: $ {}", ex.file, ex.line, ex.command);
        }
        return Ok(());
    }
    if examples.len() < a.min_examples {
        bail!(
            "only {} `console guest` examples in the embedded pages (want at least {})",
            examples.len(),
            a.min_examples
        );
    }
    let timeout = Duration::from_secs(a.timeout);
    let mut block = None;
    let mut setup_failed = None;
    for ex in &examples {
        if block != Some((&ex.file, ex.block)) {
            block = Some((&ex.file, ex.block));
            setup_failed = None;
            if let Some(cmd) = &a.before_each {
                let (out, code) = run_sh(cmd, timeout)?;
                if code != Some(0) {
                    setup_failed = Some(format!(
                        "set-up `{cmd}` before the block at {}:{} exited {code:?}: {}",
                        ex.file,
                        ex.block,
                        out.trim_end()
                    ));
                }
            }
        }
        if let Some(why) = &setup_failed {
            report.fail(&name(ex), why);
            continue;
        }
        let (out, code) = run_sh(&ex.command, timeout)?;
        let lines: Vec<&str> = out.lines().collect();
        if lines_match(&ex.expected, &lines) {
            report.pass(&name(ex));
        } else {
            for l in describe_mismatch(ex, code, &out).lines() {
                println!("    | {l}");
            }
            report.fail(&name(ex), "the output differs from the page (above)");
        }
    }
    Ok(())
}

//! `kpeek completions SHELL` and the hidden `kpeek manpages DIR`: shell completions and man
//! pages generated from the clap definitions, so they always match the program.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap_complete::Shell;

/// Print a shell completion script for kpeek.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  source <(kpeek completions bash)                           this bash session
  kpeek completions bash > /etc/bash_completion.d/kpeek     every bash session (root)
  kpeek completions zsh > \"${fpath[1]}/_kpeek\"
  kpeek completions fish > ~/.config/fish/completions/kpeek.fish

The Debian package installs the bash, zsh and fish scripts already.")]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Write the completion script for `args.shell` to stdout.
pub fn run(args: Args, cli: clap::Command) -> anyhow::Result<ExitCode> {
    let mut cli = without_hidden(cli);
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cli, "kpeek", &mut out);
    out.flush().context("writing the completion script")?;
    Ok(ExitCode::SUCCESS)
}

/// `cli` without its hidden subcommands (`manpages`): clap_complete offers hidden subcommands
/// too, and clap has no way to remove one, so the top level is rebuilt from the visible ones.
fn without_hidden(cli: clap::Command) -> clap::Command {
    let mut top = clap::Command::new("kpeek")
        .args(cli.get_arguments().cloned())
        .subcommands(cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
        .subcommand_required(cli.is_subcommand_required_set())
        .propagate_version(cli.is_propagate_version_set());
    if cli.get_version().is_some() {
        top = top.version(env!("KPEEK_LONG_VERSION"));
    }
    if let Some(a) = cli.get_about() {
        top = top.about(a.clone());
    }
    if let Some(a) = cli.get_long_about() {
        top = top.long_about(a.clone());
    }
    top
}

/// Write kpeek's man pages (section 1) into a directory.
#[derive(clap::Args)]
pub struct ManArgs {
    /// The directory to write kpeek.1, kpeek-sym.1, ... into (created if missing).
    dir: PathBuf,
}

/// Write `kpeek.1` and one page per subcommand (`kpeek-sym.1`, `kpeek-trace-record.1`, ...).
pub fn run_man(args: ManArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut cli = without_hidden(cli);
    cli.build();
    let mut written = 0usize;
    write_page(&cli, &args.dir, &mut written)?;
    crate::errln!("kpeek: wrote {written} man pages to {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// One page for `cmd` named after its full path (`kpeek-mod-group-create.1`), then one for each
/// of its visible subcommands, recursively.
fn write_page(
    cmd: &clap::Command,
    dir: &std::path::Path,
    written: &mut usize,
) -> anyhow::Result<()> {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .render(&mut buf)
        .with_context(|| format!("rendering the man page of {name}"))?;
    std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_page(sub, dir, written)?;
    }
    Ok(())
}

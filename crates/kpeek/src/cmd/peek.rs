//! `kpeek peek`: read kernel and module variables by name, typed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kpeek_peek::print;
use kpeek_peek::via::Via;
use kpeek_peek::{Answer, Locate, Options, PerCpuMethod, Session};
use serde_json::json;

mod watch;

const AFTER_HELP: &str = "\
EXPR forms:
  jiffies                          a kernel variable
  plain_counter:reads              a variable of one module (static ones too)
  init_task.comm                   a member;  init_task.mm->mmap_base  through a pointer
  init_task.comm[0]                an element of an array (or of what a pointer points to)
  runqueues@cpu1.nr_running        a per-CPU variable on CPU 1
  runqueues@all.nr_running         ... on each possible CPU;  runqueues@sum.nr_switches  summed
  0xffffffff82a0c8c0 --as 'struct task_struct'
                                   an address, typed

Types come from the module's DWARF (its .ko through modules.dep, or --module-file), the
kernel's DWARF (--debuginfo), the kernel's BTF with kpeek's table of global variable types,
or --as; a symbol with none of these prints as raw bytes (said so).

Backends (--via): kpeek (kpeek.ko's peek ioctl, CAP_SYS_RAWIO), bpf (BPF_PROG_TEST_RUN, CAP_BPF
+ CAP_PERFMON), kcore (/proc/kcore, root). auto takes the first that opens; --json and -v say
which.

Exit codes: 0 every expression read; 2 bad input or nothing can read (each error names what and
where).

Examples:
  kpeek peek jiffies init_uts_ns.name.release
  kpeek peek --json 'runqueues@all.nr_running'
  kpeek peek plain_counter:reads --watch 1s --count 5
  kpeek peek --via bpf 'runqueues@cpu0.curr->comm'";

/// Read kernel and module variables by name, typed (debugger-style or JSON).
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Expressions: sym, mod:sym, sym.field, sym->field, sym[N], sym@cpuN/@all/@sum, 0xADDR.
    #[arg(value_name = "EXPR", required = true)]
    exprs: Vec<String>,
    /// Type of each expression's base (any C type the BTF or DWARF knows: u64, char[16],
    /// 'struct task_struct', 'struct rq *').
    #[arg(long = "as", value_name = "TYPE")]
    as_type: Option<String>,
    /// One JSON object per expression (per line): {"expr","type","value","via",...}.
    #[arg(long)]
    json: bool,
    /// How to read kernel memory.
    #[arg(long, value_enum, default_value = "auto")]
    via: ViaArg,
    /// DWARF of a module (its .ko), when modules.dep does not lead to it. Repeatable.
    #[arg(long, value_name = "M.ko")]
    module_file: Vec<PathBuf>,
    /// A vmlinux with debug info (DWARF) for the kernel's own variables.
    #[arg(long, value_name = "VMLINUX")]
    debuginfo: Option<PathBuf>,
    /// Read again every INTERVAL (e.g. 1s, 250ms, 2; 0: no pause) and print value and rate per
    /// second. The symbol, its type and the offsets of the steps through no pointer are
    /// resolved once; each reading re-reads only pointers and the value.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    watch: Option<Duration>,
    /// With --watch: stop after N readings.
    #[arg(long, value_name = "N", requires = "watch")]
    count: Option<u64>,
    /// Nested structs shown before printing {...}.
    #[arg(long, value_name = "N", default_value_t = 2)]
    depth: u32,
    /// Say which backend read (on stderr).
    #[arg(short, long)]
    verbose: bool,
    /// How to locate per-CPU areas: auto, offsets (__per_cpu_offset from kallsyms or kpeek.ko) or
    /// runqueues (each CPU's run queue through the task running there; bpf only). For checking
    /// one method against the other.
    #[arg(long, hide = true, value_parser = ["auto", "offsets", "runqueues"], default_value = "auto")]
    percpu_method: String,
    /// How to locate a module's variables: auto (kallsyms, then the kernel's look-up, then the
    /// module's .ko and /sys/module/MOD/sections), kallsyms (not the .ko), or sections (only
    /// the .ko and the loaded sections: to check one way against the other).
    #[arg(long, value_parser = ["auto", "kallsyms", "sections"], default_value = "auto")]
    locate: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ViaArg {
    Auto,
    Kpeek,
    Bpf,
    Kcore,
}

impl From<ViaArg> for Via {
    fn from(v: ViaArg) -> Via {
        match v {
            ViaArg::Auto => Via::Auto,
            ViaArg::Kpeek => Via::Kpeek,
            ViaArg::Bpf => Via::Bpf,
            ViaArg::Kcore => Via::Kcore,
        }
    }
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not an interval (e.g. 1s, 250ms, 2)"))?;
    let secs = match unit {
        "s" => v,
        "ms" => v / 1e3,
        "us" => v / 1e6,
        "m" => v * 60.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (s, ms, us, m)")),
    };
    if !(secs.is_finite() && (0.0..=86400.0).contains(&secs)) {
        return Err(format!("`{s}`: the interval must be 0 (no pause) to a day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = Options {
        as_type: args.as_type.clone(),
        depth: args.depth,
        module_files: args.module_file.clone(),
        debuginfo: args.debuginfo.clone(),
        percpu_method: match args.percpu_method.as_str() {
            "offsets" => PerCpuMethod::Offsets,
            "runqueues" => PerCpuMethod::Runqueues,
            _ => PerCpuMethod::Auto,
        },
        locate: match args.locate.as_str() {
            "kallsyms" => Locate::Kallsyms,
            "sections" => Locate::Sections,
            _ => Locate::Auto,
        },
        sysfs_root: None,
    };
    // Syntax first: a typo is reported before any backend is opened.
    for e in &args.exprs {
        kpeek_peek::expr::Expr::parse(e)?;
    }
    let mut session =
        Session::new(opts, Box::new(ksyms::Ksyms::load_live)).context("loading types")?;
    let backend = Via::from(args.via).open()?;
    if args.verbose {
        crate::errln!("kpeek: peek: reading via {}", backend.name());
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.watch {
        None => {
            let mut ok = true;
            for e in &args.exprs {
                match session.eval(e, backend.as_ref()) {
                    Ok(a) => {
                        if args.verbose {
                            say_located(&a);
                        }
                        emit(&mut out, &session, &a, args.json, None)?
                    }
                    Err(err) => {
                        out.flush()?;
                        crate::errln!("kpeek: peek: {err}");
                        ok = false;
                    }
                }
            }
            out.flush()?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Some(interval) => watch::watch(&mut session, backend.as_ref(), &args, interval, &mut out),
    }
}

/// The `-v` line saying how an expression's address was found.
pub(crate) fn say_located(a: &Answer) {
    match a.addr {
        Some(addr) => crate::errln!(
            "kpeek: peek: {}: at {addr:#x}, located by {}: {}",
            a.expr,
            a.located,
            a.located_how
        ),
        None => crate::errln!(
            "kpeek: peek: {}: located by {}: {}",
            a.expr,
            a.located,
            a.located_how
        ),
    }
}

fn emit(
    out: &mut impl Write,
    session: &Session,
    a: &Answer,
    as_json: bool,
    rate: Option<Option<f64>>,
) -> io::Result<()> {
    let result = if as_json {
        let mut j = json!({
            "expr": a.expr,
            "type": a.ty,
            "value": print::json(&a.value),
            "via": a.via,
            "type_from": a.type_from,
            "located": a.located,
        });
        if let Some(addr) = a.addr {
            j["addr"] = json!(format!("{addr:#x}"));
        }
        if let Some(r) = rate {
            j["rate"] = json!(r);
        }
        writeln!(out, "{j}")
    } else {
        if matches!(a.value, kpeek_peek::value::Value::Raw(_)) {
            // Untyped: say why, once per answer, beside the bytes.
            crate::errln!("kpeek: peek: {}: {}", a.expr, a.type_from);
        }
        let sym = |addr: u64| session.symbolize(addr);
        let text = print::text(&a.value, &sym);
        match rate {
            Some(Some(r)) => writeln!(out, "{} = {text}  ({r:+.1}/s)", a.expr),
            _ => writeln!(out, "{} = {text}", a.expr),
        }
    };
    match result {
        // `| head`: the reader went away.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("1h").unwrap_err().contains("unknown unit"));
        assert!(parse_interval("x").is_err());
    }
}

//! The bare loop of reads a backend can do at best, for comparison with `kpeek peek --watch 0`:
//! N reads of LEN bytes at ADDR through one opened backend, timed; prints reads per second.
//!
//! `read-loop bpf|kpeek|kcore ADDR LEN N` (used by `scripts/bench-peek-watch`)

use std::time::Instant;

use kpeek_peek::via::bpf::Bpf;
use kpeek_peek::via::kmod::Kmod;
use kpeek_peek::via::{Backend, Kcore};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: read-loop bpf|kpeek|kcore ADDR LEN N");
        std::process::exit(2);
    }
    let num = |s: &str| match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    let (Ok(addr), Ok(len), Ok(n)) = (num(&args[2]), num(&args[3]), num(&args[4])) else {
        eprintln!("read-loop: ADDR, LEN and N are numbers");
        std::process::exit(2);
    };
    let backend: Box<dyn Backend> = match args[1].as_str() {
        "bpf" => Box::new(Bpf::open().unwrap_or_else(|e| fail(&e))),
        "kpeek" => Box::new(Kmod::open().unwrap_or_else(|e| fail(&e))),
        "kcore" => Box::new(Kcore::open().unwrap_or_else(|e| fail(&e))),
        other => {
            eprintln!("read-loop: unknown backend {other}");
            std::process::exit(2);
        }
    };
    let mut buf = vec![0u8; len as usize];
    let t = Instant::now();
    for _ in 0..n {
        if let Err(e) = backend.read(addr, &mut buf) {
            fail(&e);
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} reads of {len} bytes via {}: {:.1} ms, {:.0} reads/s",
        n,
        args[1],
        s * 1e3,
        n as f64 / s
    );
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("read-loop: {e}");
    std::process::exit(1);
}

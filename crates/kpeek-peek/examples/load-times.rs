//! Milliseconds to load types: the running kernel's BTF (with its per-CPU variable table and a
//! first struct lookup) and, for each file given, its DWARF (a module's `.ko` or a vmlinux).
//!
//! For scale, the same run also times libbpf's `btf__parse` of the same BTF (libbpf parses and
//! indexes every type; kpeek maps the file and decodes types when asked for).
//!
//! `load-times [FILE.ko|VMLINUX]...` (used by `scripts/bench-peek`)

use std::path::Path;
use std::time::Instant;

use kpeek_peek::btf::BtfTypes;
use kpeek_peek::dwarf::DwarfTypes;
use kpeek_peek::types::TypeSource;

fn main() {
    let t = Instant::now();
    let btf = match BtfTypes::vmlinux() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("load-times: {e}");
            std::process::exit(2);
        }
    };
    let loaded = t.elapsed();
    let pc = btf.percpu_vars();
    let percpu = t.elapsed();
    let found = btf.find("struct", "task_struct").is_some();
    let all = t.elapsed();
    println!(
        "vmlinux BTF: open {:.2} ms, {} per-CPU variables {:.2} ms, struct task_struct {} {:.2} ms",
        loaded.as_secs_f64() * 1e3,
        pc.len(),
        percpu.as_secs_f64() * 1e3,
        if found { "found" } else { "MISSING" },
        all.as_secs_f64() * 1e3
    );
    let path = std::ffi::CString::new("/sys/kernel/btf/vmlinux").expect("no NUL");
    let t = Instant::now();
    // SAFETY: a NUL-terminated path; the result is checked for NULL and freed once.
    let parsed = unsafe { libbpf_sys::btf__parse(path.as_ptr(), std::ptr::null_mut()) };
    let libbpf = t.elapsed();
    if !parsed.is_null() {
        // SAFETY: `parsed` came from btf__parse and is not used after this.
        unsafe { libbpf_sys::btf__free(parsed) };
        println!(
            "vmlinux BTF through libbpf btf__parse: {:.2} ms (kpeek/libbpf: {:.2})",
            libbpf.as_secs_f64() * 1e3,
            all.as_secs_f64() / libbpf.as_secs_f64()
        );
    }
    for f in std::env::args().skip(1) {
        let t = Instant::now();
        match DwarfTypes::open(Path::new(&f)) {
            Ok(d) => println!(
                "DWARF of {f}: {} variables indexed in {:.2} ms",
                d.variables().count(),
                t.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => println!("DWARF of {f}: {e}"),
        }
    }
}

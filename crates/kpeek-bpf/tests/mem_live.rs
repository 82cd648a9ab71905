//! KernelMem against the running kernel: the calling thread's own task_struct read through BPF
//! must hold its name and thread id; faults must be errors; long reads must match short ones.

use kpeek_bpf::{Error, KernelMem, btf};

fn kallsyms_has(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let addr = it.next()?;
        let _ty = it.next()?;
        (it.next()? == name).then(|| u64::from_str_radix(addr, 16).ok())?
    })
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn current_task_holds_this_threads_comm_and_pid() {
    let name = c"kpk-memtest";
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) }, 0);
    let vmlinux = btf::vmlinux().expect("kernel BTF");
    let comm = btf::member_offset(&vmlinux, "task_struct", "comm").expect("task_struct.comm");
    let pid = btf::member_offset(&vmlinux, "task_struct", "pid").expect("task_struct.pid");

    let mut mem = KernelMem::open().expect("KernelMem::open");
    let task = mem.current_task().expect("current_task");
    assert!(
        task >= 0xffff_8000_0000_0000,
        "task address {task:#x} is not a kernel address"
    );
    let got = mem.read_vec(task + comm as u64, 16).expect("read comm");
    assert_eq!(&got[..12], b"kpk-memtest\0");
    let got = mem.read_vec(task + pid as u64, 4).expect("read pid");
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    assert_eq!(i32::from_ne_bytes(got.try_into().unwrap()), tid);
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn unmapped_addresses_are_fault_errors() {
    let mut mem = KernelMem::open().expect("KernelMem::open");
    for addr in [0u64, 0x10, 0xffff_ffff_ffff_f000] {
        match mem.read_vec(addr, 8) {
            Err(Error::Fault { addr: a, len, ret }) => {
                assert_eq!((a, len), (addr, 8));
                assert!(ret < 0, "fault return {ret}");
                let msg = Error::Fault { addr: a, len, ret }.to_string();
                assert!(msg.contains(&format!("{addr:#x}")), "{msg}");
            }
            other => panic!("read at {addr:#x}: expected a fault, got {other:?}"),
        }
    }
    // A fault does not poison later reads.
    let task = mem.current_task().unwrap();
    mem.read_vec(task, 8).expect("read after a fault");
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn long_reads_across_chunks_match_short_reads() {
    // Kernel text is mapped and does not change: read 3.5 chunks at once and piecewise.
    let start = kallsyms_has("_stext").expect("_stext in /proc/kallsyms");
    let len = kpeek_bpf::mem::CHUNK * 7 / 2;
    let mut mem = KernelMem::open().expect("KernelMem::open");
    let whole = mem.read_vec(start, len).expect("long read");
    let mut pieces = Vec::new();
    for off in (0..len).step_by(1000) {
        let n = 1000.min(len - off);
        pieces.extend(mem.read_vec(start + off as u64, n).expect("short read"));
    }
    assert_eq!(whole.len(), len);
    assert!(whole == pieces, "long and piecewise reads differ");
    assert!(
        whole.iter().any(|&b| b != 0),
        "kernel text read as all zeros"
    );
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn kernel_variables_resolve_when_kallsyms_has_them_and_say_why_not_otherwise() {
    let mut mem = KernelMem::open().expect("KernelMem::open");
    // init_task: a plain global; its address must be exactly kallsyms'. pahole puts only
    // per-CPU variables into BTF unless asked for all globals, so BTF may lack it.
    let in_btf = {
        let vmlinux = btf::vmlinux().expect("kernel BTF");
        vmlinux
            .type_by_name::<libbpf_rs::btf::types::Var<'_>>("init_task")
            .is_some()
    };
    match (in_btf, kallsyms_has("init_task"), mem.var_addr("init_task")) {
        (true, Some(want), Ok(got)) => assert_eq!(got, want),
        (true, None, Err(Error::Var { reason, .. })) => {
            assert!(reason.contains("CONFIG_KALLSYMS_ALL"), "{reason}");
        }
        (false, _, Err(Error::Var { reason, .. })) => {
            assert!(reason.contains("BTF"), "{reason}");
        }
        (b, k, r) => panic!("init_task: in BTF {b}, kallsyms {k:?}, but var_addr gave {r:?}"),
    }
    // runqueues: per-CPU; CPU 0's instance is a kernel address, a CPU past the last is an error.
    match (
        kallsyms_has("runqueues"),
        mem.percpu_var_addr("runqueues", 0),
    ) {
        (Some(_), Ok(addr)) => {
            assert!(addr >= 0xffff_8000_0000_0000, "{addr:#x}");
            assert!(matches!(
                mem.percpu_var_addr("runqueues", 1 << 20),
                Err(Error::Var { .. })
            ));
        }
        (None, Err(Error::Var { reason, .. })) => {
            assert!(reason.contains("runqueues"), "{reason}");
        }
        (k, r) => panic!("runqueues: kallsyms {k:?} but percpu_var_addr gave {r:?}"),
    }
    assert!(matches!(
        mem.var_addr("no_such_kernel_variable_kpeek"),
        Err(Error::Var { .. })
    ));
}

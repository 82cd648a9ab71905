//! Program loading on the running kernel: a verifier rejection carries the log's last lines.

use kpeek_bpf::Error;
use kpeek_bpf::asm::{Asm, R0, R1, R10, op};
use kpeek_bpf::prog::{ProgType, Program};

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn verifier_rejection_carries_the_logs_last_lines() {
    // `exit` with r0 never written.
    let mut a = Asm::new();
    a.exit();
    let err = Program::load(ProgType::Tracepoint, "kpk_bad", &a.finish().unwrap()).unwrap_err();
    match &err {
        Error::Verifier {
            name,
            log_tail,
            errno,
        } => {
            assert_eq!(name, "kpk_bad");
            assert_eq!(*errno, libc::EACCES);
            assert!(log_tail.contains("R0 !read_ok"), "{log_tail}");
            assert!(log_tail.lines().count() <= 12);
        }
        e => panic!("expected a verifier error, got {e:?}"),
    }
    assert!(err.to_string().contains("R0 !read_ok"), "{err}");

    // Reading the stack out of bounds.
    let mut a = Asm::new();
    a.ldx(op::DW, R0, R10, 8).exit();
    let err = Program::load(ProgType::Tracepoint, "kpk_bad2", &a.finish().unwrap()).unwrap_err();
    assert!(
        matches!(err, Error::Verifier { ref log_tail, .. } if log_tail.contains("invalid")),
        "{err}"
    );
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_valid_program_loads_and_test_runs() {
    let mut a = Asm::new();
    // r0 = ctx[0] + 1
    a.ldx(op::DW, R0, R1, 0).alu_imm(op::ADD, R0, 1).exit();
    let p = Program::load(ProgType::RawTracepoint, "kpk_ok", &a.finish().unwrap()).unwrap();
    assert_eq!(p.test_run(&41u64.to_ne_bytes(), None).unwrap(), 42);
    assert_eq!(p.test_run(&99u64.to_ne_bytes(), Some(0)).unwrap(), 100);
}

#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn a_helper_the_program_type_lacks_is_named() {
    // bpf_sys_bpf (166) exists only for syscall programs: a tracepoint program may not call it.
    let mut a = Asm::new();
    a.call(166).exit();
    match Program::load(ProgType::Tracepoint, "kpk_nohelp", &a.finish().unwrap()) {
        Err(Error::MissingHelper {
            helper,
            program,
            line,
        }) => {
            assert_eq!(
                (helper.as_str(), program.as_str()),
                ("bpf_sys_bpf", "kpk_nohelp")
            );
            assert!(line.contains("bpf_sys_bpf#166"), "{line}");
        }
        r => panic!("expected MissingHelper, got {r:?}"),
    }
}

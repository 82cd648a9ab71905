//! A small eBPF instruction assembler: opcodes, registers, labels for forward and backward jumps.
//!
//! Programs are assembled at run time, specialised to the keys and filter a user asked for; the
//! kernel's verifier checks them at load. [`Asm::finish`] resolves labels into jump offsets.

use std::fmt;

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    /// Opcode: class, size or source, and operation ([`op`]).
    pub code: u8,
    /// `dst_reg` in the low nibble, `src_reg` in the high nibble.
    pub regs: u8,
    /// Signed offset: of a memory access, or of a jump in instructions.
    pub off: i16,
    /// Immediate operand (a helper id for a call).
    pub imm: i32,
}

impl fmt::Debug for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{code {:#04x} dst r{} src r{} off {} imm {}}}",
            self.code,
            self.regs & 0xf,
            self.regs >> 4,
            self.off,
            self.imm
        )
    }
}

/// A register, r0..r10 (r10 is the read-only frame pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub u8);

/// r0: return value of helpers and of the program.
pub const R0: Reg = Reg(0);
/// r1: first argument (the program's context at entry).
pub const R1: Reg = Reg(1);
/// r2: argument to helpers, clobbered by calls.
pub const R2: Reg = Reg(2);
/// r3: argument to helpers, clobbered by calls.
pub const R3: Reg = Reg(3);
/// r4: argument to helpers, clobbered by calls.
pub const R4: Reg = Reg(4);
/// r5: argument to helpers, clobbered by calls.
pub const R5: Reg = Reg(5);
/// r6: callee-saved.
pub const R6: Reg = Reg(6);
/// r7: callee-saved.
pub const R7: Reg = Reg(7);
/// r8: callee-saved.
pub const R8: Reg = Reg(8);
/// r9: callee-saved.
pub const R9: Reg = Reg(9);
/// r10: the frame pointer (read-only).
pub const R10: Reg = Reg(10);

/// Instruction classes and fields (include/uapi/linux/bpf_common.h, bpf.h).
pub mod op {
    /// Class: load into a register from an immediate (`ld_imm64`).
    pub const LD: u8 = 0x00;
    /// Class: load from memory into a register.
    pub const LDX: u8 = 0x01;
    /// Class: store an immediate to memory.
    pub const ST: u8 = 0x02;
    /// Class: store a register to memory.
    pub const STX: u8 = 0x03;
    /// Class: 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// Class: 64-bit compare and jump, call, exit.
    pub const JMP: u8 = 0x05;
    /// Class: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;

    /// Size: 4 bytes.
    pub const W: u8 = 0x00;
    /// Size: 2 bytes.
    pub const H: u8 = 0x08;
    /// Size: 1 byte.
    pub const B: u8 = 0x10;
    /// Size: 8 bytes.
    pub const DW: u8 = 0x18;
    /// Mode: immediate.
    pub const IMM: u8 = 0x00;
    /// Mode: memory at a register plus offset.
    pub const MEM: u8 = 0x60;

    /// Source: the immediate.
    pub const K: u8 = 0x00;
    /// Source: the source register.
    pub const X: u8 = 0x08;

    /// `dst += src`.
    pub const ADD: u8 = 0x00;
    /// `dst -= src`.
    pub const SUB: u8 = 0x10;
    /// `dst *= src`.
    pub const MUL: u8 = 0x20;
    /// `dst /= src` (unsigned).
    pub const DIV: u8 = 0x30;
    /// `dst |= src`.
    pub const OR: u8 = 0x40;
    /// `dst &= src`.
    pub const AND: u8 = 0x50;
    /// `dst <<= src`.
    pub const LSH: u8 = 0x60;
    /// `dst >>= src` (logical).
    pub const RSH: u8 = 0x70;
    /// `dst = -dst`.
    pub const NEG: u8 = 0x80;
    /// `dst ^= src`.
    pub const XOR: u8 = 0xa0;
    /// `dst = src`.
    pub const MOV: u8 = 0xb0;
    /// `dst >>= src` (arithmetic).
    pub const ARSH: u8 = 0xc0;

    /// Jump always.
    pub const JA: u8 = 0x00;
    /// Jump if `dst == src`.
    pub const JEQ: u8 = 0x10;
    /// Jump if `dst > src` (unsigned).
    pub const JGT: u8 = 0x20;
    /// Jump if `dst >= src` (unsigned).
    pub const JGE: u8 = 0x30;
    /// Jump if `dst & src`.
    pub const JSET: u8 = 0x40;
    /// Jump if `dst != src`.
    pub const JNE: u8 = 0x50;
    /// Jump if `dst > src` (signed).
    pub const JSGT: u8 = 0x60;
    /// Jump if `dst >= src` (signed).
    pub const JSGE: u8 = 0x70;
    /// Call a helper.
    pub const CALL: u8 = 0x80;
    /// Return r0.
    pub const EXIT: u8 = 0x90;
    /// Jump if `dst < src` (unsigned).
    pub const JLT: u8 = 0xa0;
    /// Jump if `dst <= src` (unsigned).
    pub const JLE: u8 = 0xb0;
    /// Jump if `dst < src` (signed).
    pub const JSLT: u8 = 0xc0;
    /// Jump if `dst <= src` (signed).
    pub const JSLE: u8 = 0xd0;

    /// `src_reg` of `ld_imm64`: the immediate is a map fd.
    pub const PSEUDO_MAP_FD: u8 = 1;
    /// `src_reg` of `ld_imm64`: the immediate is a BTF id of a kernel VAR.
    pub const PSEUDO_BTF_ID: u8 = 3;
}

/// Helper function ids (enum bpf_func_id) kpeek uses, with the kernel that added them.
pub mod helper {
    /// `bpf_map_lookup_elem`.
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    /// `bpf_map_update_elem`.
    pub const MAP_UPDATE_ELEM: i32 = 2;
    /// `bpf_ktime_get_ns` (Linux 4.1).
    pub const KTIME_GET_NS: i32 = 5;
    /// `bpf_get_smp_processor_id`.
    pub const GET_SMP_PROCESSOR_ID: i32 = 8;
    /// `bpf_get_current_pid_tgid`.
    pub const GET_CURRENT_PID_TGID: i32 = 14;
    /// `bpf_get_current_comm`.
    pub const GET_CURRENT_COMM: i32 = 16;
    /// `bpf_get_stackid`.
    pub const GET_STACKID: i32 = 27;
    /// `bpf_get_current_task` (Linux 4.8).
    pub const GET_CURRENT_TASK: i32 = 35;
    /// `bpf_probe_read_kernel` (Linux 5.5).
    pub const PROBE_READ_KERNEL: i32 = 113;
    /// `bpf_probe_read_kernel_str` (Linux 5.5).
    pub const PROBE_READ_KERNEL_STR: i32 = 115;
    /// `bpf_per_cpu_ptr` (Linux 5.10).
    pub const PER_CPU_PTR: i32 = 153;
}

/// A jump target; bind it with [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// An assembly error: a label never bound, or a jump too far for the 16-bit offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsmError {
    /// A jump to a label that was never bound.
    #[error("label {0} used but never bound")]
    Unbound(usize),
    /// A jump too far for its 16-bit offset.
    #[error("jump from instruction {from} to {to} does not fit in 16 bits")]
    TooFar {
        /// The jump's instruction.
        from: usize,
        /// The label's instruction.
        to: usize,
    },
}

/// Builds a program instruction by instruction.
#[derive(Default, Debug)]
pub struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
}

fn regs(dst: Reg, src: Reg) -> u8 {
    (dst.0 & 0xf) | (src.0 << 4)
}

impl Asm {
    /// An empty program.
    pub fn new() -> Asm {
        Asm::default()
    }

    /// Instructions emitted so far.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// No instruction emitted yet?
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Emit `insn` as it is.
    pub fn raw(&mut self, insn: Insn) -> &mut Self {
        self.insns.push(insn);
        self
    }

    fn emit(&mut self, code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> &mut Self {
        self.raw(Insn {
            code,
            regs: regs(dst, src),
            off,
            imm,
        })
    }

    /// `dst = imm` (64-bit, sign-extended 32-bit immediate).
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.emit(op::ALU64 | op::MOV | op::K, dst, R0, 0, imm)
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.emit(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
    }

    /// 64-bit ALU with an immediate: `dst op= imm`.
    pub fn alu_imm(&mut self, alu: u8, dst: Reg, imm: i32) -> &mut Self {
        self.emit(op::ALU64 | alu | op::K, dst, R0, 0, imm)
    }

    /// 64-bit ALU with a register: `dst op= src`.
    pub fn alu(&mut self, alu: u8, dst: Reg, src: Reg) -> &mut Self {
        self.emit(op::ALU64 | alu | op::X, dst, src, 0, 0)
    }

    /// 32-bit ALU with an immediate (zero-extends the result).
    pub fn alu32_imm(&mut self, alu: u8, dst: Reg, imm: i32) -> &mut Self {
        self.emit(op::ALU | alu | op::K, dst, R0, 0, imm)
    }

    /// `dst = imm` as a full 64-bit constant (two instruction slots).
    pub fn ld_imm64(&mut self, dst: Reg, imm: u64) -> &mut Self {
        self.ld_imm64_pseudo(dst, 0, imm as u32 as i32, (imm >> 32) as u32 as i32)
    }

    /// `dst = map` (a map fd the kernel turns into the map's address).
    pub fn ld_map_fd(&mut self, dst: Reg, fd: i32) -> &mut Self {
        self.ld_imm64_pseudo(dst, op::PSEUDO_MAP_FD, fd, 0)
    }

    /// `dst = &var`: a kernel variable by its vmlinux BTF id (a per-CPU variable gives a
    /// per-CPU pointer for [`helper::PER_CPU_PTR`]). Needs the variable in kallsyms.
    pub fn ld_btf_var(&mut self, dst: Reg, btf_id: u32) -> &mut Self {
        self.ld_imm64_pseudo(dst, op::PSEUDO_BTF_ID, btf_id as i32, 0)
    }

    fn ld_imm64_pseudo(&mut self, dst: Reg, src: u8, lo: i32, hi: i32) -> &mut Self {
        self.emit(op::LD | op::DW | op::IMM, dst, Reg(src), 0, lo);
        self.emit(0, R0, R0, 0, hi)
    }

    /// `dst = *(size *)(src + off)`; `size` is one of [`op::B`], [`op::H`], [`op::W`], [`op::DW`].
    pub fn ldx(&mut self, size: u8, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.emit(op::LDX | op::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = src`.
    pub fn stx(&mut self, size: u8, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.emit(op::STX | op::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn st_imm(&mut self, size: u8, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.emit(op::ST | op::MEM | size, dst, R0, off, imm)
    }

    /// Call a helper ([`helper`]); arguments in r1..r5, result in r0, r1..r5 clobbered.
    pub fn call(&mut self, helper: i32) -> &mut Self {
        self.emit(op::JMP | op::CALL, R0, R0, 0, helper)
    }

    /// Return r0 from the program.
    pub fn exit(&mut self) -> &mut Self {
        self.emit(op::JMP | op::EXIT, R0, R0, 0, 0)
    }

    /// A fresh, unbound label.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Bind `label` to the next instruction.
    pub fn bind(&mut self, label: Label) -> &mut Self {
        self.labels[label.0] = Some(self.insns.len());
        self
    }

    /// `if dst <jmp> imm goto label` (64-bit compare).
    pub fn jmp_imm(&mut self, jmp: u8, dst: Reg, imm: i32, label: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.emit(op::JMP | jmp | op::K, dst, R0, 0, imm)
    }

    /// `if dst <jmp> src goto label` (64-bit compare).
    pub fn jmp_reg(&mut self, jmp: u8, dst: Reg, src: Reg, label: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.emit(op::JMP | jmp | op::X, dst, src, 0, 0)
    }

    /// `goto label`.
    pub fn ja(&mut self, label: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.emit(op::JMP | op::JA, R0, R0, 0, 0)
    }

    /// Resolve labels and return the program, without the instructions no path reaches.
    ///
    /// The verifier refuses a program with an unreachable instruction ("unreachable insn"), and
    /// a code generator may leave some behind: the retry branch of a glob segment that cannot
    /// fail (`*?*`), the rest of a test after a class that matches nothing (`[z-a]`). They are
    /// dropped here, every jump re-aimed, instead of every generator proving its branches live.
    pub fn finish(self) -> Result<Vec<Insn>, AsmError> {
        let n = self.insns.len();
        // Where each jump goes, as an instruction index (raw jumps keep their offsets).
        let mut target: Vec<Option<usize>> = self
            .insns
            .iter()
            .enumerate()
            .map(|(i, insn)| {
                is_jump(insn.code).then(|| (i as i64 + 1 + i64::from(insn.off)).max(0) as usize)
            })
            .collect();
        for &(at, label) in &self.fixups {
            target[at] = Some(self.labels[label.0].ok_or(AsmError::Unbound(label.0))?);
        }
        let mut live = vec![false; n];
        let mut todo = vec![0usize];
        while let Some(i) = todo.pop() {
            if i >= n || live[i] {
                continue;
            }
            live[i] = true;
            let code = self.insns[i].code;
            if code == op::LD | op::DW | op::IMM {
                // ld_imm64 takes two slots.
                if i + 1 < n {
                    live[i + 1] = true;
                }
                todo.push(i + 2);
                continue;
            }
            if code & 0x07 == op::JMP || code & 0x07 == JMP32 {
                match code & 0xf0 {
                    op::EXIT => continue,
                    op::CALL => {}
                    jmp => {
                        todo.extend(target[i]);
                        if jmp == op::JA {
                            continue;
                        }
                    }
                }
            }
            todo.push(i + 1);
        }
        // The new index of every old one (the end of the program included).
        let mut at = Vec::with_capacity(n + 1);
        let mut kept = 0usize;
        for &l in &live {
            at.push(kept);
            kept += usize::from(l);
        }
        at.push(kept);
        let mut out = Vec::with_capacity(kept);
        for (i, mut insn) in self.insns.into_iter().enumerate() {
            if !live[i] {
                continue;
            }
            if let Some(to) = target[i] {
                let (from, to) = (at[i], at[to.min(n)]);
                let off = to as i64 - from as i64 - 1;
                insn.off = i16::try_from(off).map_err(|_| AsmError::TooFar { from, to })?;
            }
            out.push(insn);
        }
        Ok(out)
    }
}

/// The 32-bit jump class (`BPF_JMP32`).
const JMP32: u8 = 0x06;

/// Whether `code` is a jump with a target (not a call or exit).
fn is_jump(code: u8) -> bool {
    let class = code & 0x07;
    (class == op::JMP || class == JMP32) && !matches!(code & 0xf0, op::CALL | op::EXIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_kernel() {
        let mut a = Asm::new();
        a.mov_imm(R0, 7).ld_imm64(R1, 0x1122_3344_5566_7788).exit();
        let p = a.finish().unwrap();
        // BPF_MOV64_IMM(BPF_REG_0, 7) = b7 00 0000 07000000
        assert_eq!(
            p[0],
            Insn {
                code: 0xb7,
                regs: 0,
                off: 0,
                imm: 7
            }
        );
        assert_eq!(p[1].code, 0x18);
        assert_eq!(p[1].regs, 1);
        assert_eq!(p[1].imm as u32, 0x5566_7788);
        assert_eq!(p[2].imm as u32, 0x1122_3344);
        assert_eq!(p[3].code, 0x95);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }

    #[test]
    fn resolves_forward_and_backward_jumps() {
        let mut a = Asm::new();
        let top = a.label();
        let end = a.label();
        a.bind(top)
            .jmp_imm(op::JEQ, R1, 0, end)
            .ja(top)
            .bind(end)
            .exit();
        let p = a.finish().unwrap();
        assert_eq!(p[0].off, 1);
        assert_eq!(p[1].off, -2);
    }

    #[test]
    fn unreachable_instructions_are_dropped_and_jumps_re_aimed() {
        // 0: if r1 == 0 goto end; 1: goto end; 2: r0 = 1 (dead); 3: goto 2 (dead);
        // end: r0 = 0; exit
        let mut a = Asm::new();
        let (end, dead) = (a.label(), a.label());
        a.jmp_imm(op::JEQ, R1, 0, end)
            .ja(end)
            .bind(dead)
            .mov_imm(R0, 1)
            .ja(dead)
            .bind(end)
            .mov_imm(R0, 0)
            .exit();
        let p = a.finish().unwrap();
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!((p[0].off, p[1].off), (1, 0));
        assert_eq!((p[2].code, p[2].imm), (op::ALU64 | op::MOV | op::K, 0));
        assert_eq!(p[3].code, op::JMP | op::EXIT);
    }

    #[test]
    fn both_slots_of_a_wide_load_stay() {
        let mut a = Asm::new();
        a.ld_imm64(R0, u64::MAX).exit().mov_imm(R0, 3);
        let p = a.finish().unwrap();
        assert_eq!(
            p.len(),
            3,
            "the dead mov after exit goes, ld_imm64's two slots stay"
        );
    }

    #[test]
    fn unbound_label_is_an_error() {
        let mut a = Asm::new();
        let l = a.label();
        a.ja(l);
        assert_eq!(a.finish(), Err(AsmError::Unbound(0)));
    }
}

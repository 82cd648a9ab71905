//! One event's tracepoint program: filter, key, then count/sum/histogram into a per-CPU hash.
//!
//! Registers: r6 = ctx (the raw record), r7 = value pointer, r8/r9 = scratch values; r0..r5
//! are clobbered by every helper call. Stack (below r10): key, string scratch, an 8-byte
//! temporary, the counter index.

use kpeek_filter::Op;

use super::plan::{
    Cond, EventPlan, HIST_SLOTS, HistKind, KeyLayout, MAX_STR, SlotKind, Source, StrLoc,
};
use crate::asm::{Asm, Label, R0, R1, R2, R3, R4, R6, R7, R8, R10, Reg, helper, op};

pub use super::strmatch::scratch_size;
use crate::error::Result;

/// Slots of the per-CPU counter map.
pub mod counter {
    /// A new key did not fit: the map is full.
    pub const FULL: u32 = 0;
    /// A key was added but could not be found again.
    pub const LOST: u32 = 1;
    /// A field or stack could not be read.
    pub const READ_ERR: u32 = 2;
    /// How many counters there are.
    pub const N: u32 = 3;
}

/// File descriptors of the maps a program refers to.
#[derive(Clone, Copy, Debug)]
pub struct Maps {
    /// The aggregation map: key → count, sum and histogram.
    pub agg: i32,
    /// A one-entry array holding a zeroed value, copied in for a new key.
    pub zero: i32,
    /// The per-CPU array of loss counters ([`counter`]).
    pub counters: i32,
    /// The stack map, when a key holds `kstack`.
    pub stacks: Option<i32>,
    /// A one-entry per-CPU array of [`scratch_size`] bytes, for glob filters.
    pub scratch: Option<i32>,
}

/// Value layout: count, sum, then [`HIST_SLOTS`] buckets when a histogram is asked for.
pub fn value_size(hist: bool) -> usize {
    8 * (2 + if hist { HIST_SLOTS } else { 0 })
}

pub(super) struct Gen<'a> {
    pub(super) a: Asm,
    pub(super) maps: Maps,
    key_off: i16,
    scratch_off: i16,
    tmp_off: i16,
    pub(super) idx_off: i16,
    plan: &'a EventPlan,
}

/// Assemble the program for one event.
pub fn generate(
    plan: &EventPlan,
    layout: &KeyLayout,
    maps: Maps,
    hist: HistKind,
) -> Result<Vec<crate::asm::Insn>> {
    let key_off = -(layout.size as i16);
    let scratch_off = key_off - MAX_STR as i16;
    let mut g = Gen {
        a: Asm::new(),
        maps,
        key_off,
        scratch_off,
        tmp_off: scratch_off - 8,
        idx_off: scratch_off - 16,
        plan,
    };
    let out = g.a.label();
    if plan.filter == Some(Cond::False) {
        // Nothing can match: a program that only lets the hit go on.
        g.a.mov_imm(R0, 1).exit();
        return Ok(g.a.finish()?);
    }
    g.a.mov(R6, R1);
    if let Some(c) = &plan.filter {
        let pass = g.a.label();
        g.cond(c, pass, out);
        g.a.bind(pass);
    }
    // Key: zero it, then fill each slot.
    for i in (0..layout.size).step_by(8) {
        g.a.st_imm(op::DW, R10, key_off + i as i16, 0);
    }
    for (slot, src) in layout.slots.iter().zip(&plan.keys) {
        let at = key_off + slot.offset as i16;
        match (slot.kind, src) {
            (SlotKind::Event, _) => {
                g.a.st_imm(op::DW, R10, at, plan.index as i32);
            }
            (SlotKind::Str { width }, Some(s)) => g.read_str(s, at, width.min(s.str_width())),
            (SlotKind::Stack, Some(_)) => g.stackid(at),
            (SlotKind::Int { .. }, Some(s)) => {
                g.load_int(s, R8);
                g.a.stx(op::DW, R10, at, R8);
            }
            _ => {}
        }
    }
    g.aggregate(out, hist);
    // 1: let the hit go on to the tracepoint's perf events (`perf stat`, `kpeek trace stat`);
    // 0 would hide it from them (perf_trace_run_bpf_submit, perf_call_bpf_enter).
    g.a.bind(out).mov_imm(R0, 1).exit();
    Ok(g.a.finish()?)
}

impl Gen<'_> {
    /// `counters[idx] += 1`.
    pub(super) fn bump(&mut self, idx: u32) {
        let skip = self.a.label();
        self.a
            .st_imm(op::W, R10, self.idx_off, idx as i32)
            .ld_map_fd(R1, self.maps.counters)
            .mov(R2, R10)
            .alu_imm(op::ADD, R2, self.idx_off as i32)
            .call(helper::MAP_LOOKUP_ELEM)
            .jmp_imm(op::JEQ, R0, 0, skip)
            .ldx(op::DW, R1, R0, 0)
            .alu_imm(op::ADD, R1, 1)
            .stx(op::DW, R0, 0, R1)
            .bind(skip);
    }

    /// `dst = value` for an integer source (sign-extended when signed). Clobbers r0..r5.
    fn load_int(&mut self, src: &Source, dst: Reg) {
        match *src {
            Source::Int {
                offset,
                bytes,
                signed,
            } => {
                let size = match bytes {
                    1 => op::B,
                    2 => op::H,
                    4 => op::W,
                    _ => op::DW,
                };
                let direct = offset >= 8
                    && offset % usize::from(bytes) == 0
                    && matches!(bytes, 1 | 2 | 4 | 8);
                if direct {
                    self.a.ldx(size, dst, R6, offset as i16);
                } else {
                    // Unaligned fields are not directly readable from a tracepoint
                    // context: copy them.
                    let ok = self.a.label();
                    let n = i32::from(bytes.min(8));
                    self.a
                        .st_imm(op::DW, R10, self.tmp_off, 0)
                        .mov(R1, R10)
                        .alu_imm(op::ADD, R1, self.tmp_off as i32)
                        .mov_imm(R2, n)
                        .mov(R3, R6)
                        .alu_imm(op::ADD, R3, offset as i32)
                        .call(helper::PROBE_READ_KERNEL)
                        .jmp_imm(op::JEQ, R0, 0, ok);
                    self.bump(super::codegen::counter::READ_ERR);
                    self.a.bind(ok).ldx(size, dst, R10, self.tmp_off);
                }
                if signed && bytes < 8 {
                    let sh = 64 - 8 * i32::from(bytes);
                    self.a.alu_imm(op::LSH, dst, sh).alu_imm(op::ARSH, dst, sh);
                }
            }
            Source::Pid => {
                self.a
                    .call(helper::GET_CURRENT_PID_TGID)
                    .mov(dst, R0)
                    .alu_imm(op::RSH, dst, 32);
            }
            Source::Tid => {
                self.a
                    .call(helper::GET_CURRENT_PID_TGID)
                    .mov(dst, R0)
                    .alu_imm(op::LSH, dst, 32)
                    .alu_imm(op::RSH, dst, 32);
            }
            Source::Cpu => {
                self.a.call(helper::GET_SMP_PROCESSOR_ID).mov(dst, R0);
            }
            _ => {
                self.a.mov_imm(dst, 0);
            }
        }
    }

    /// Read a string source into the (zeroed) stack bytes at `at`, at most `width` bytes
    /// with its NUL. Clobbers r0..r5.
    fn read_str(&mut self, src: &Source, at: i16, width: usize) {
        let ok = self.a.label();
        match *src {
            Source::Comm => {
                self.a
                    .mov(R1, R10)
                    .alu_imm(op::ADD, R1, at as i32)
                    .mov_imm(R2, width as i32)
                    .call(helper::GET_CURRENT_COMM);
            }
            Source::Str { offset, loc } => {
                self.str_addr(offset, loc);
                self.a
                    .mov(R1, R10)
                    .alu_imm(op::ADD, R1, at as i32)
                    .mov_imm(R2, width as i32)
                    .call(helper::PROBE_READ_KERNEL_STR);
            }
            _ => return,
        }
        self.a.jmp_imm(op::JSGE, R0, 0, ok);
        self.bump(counter::READ_ERR);
        self.a.bind(ok);
    }

    /// r3 = the address of a string field's bytes.
    pub(super) fn str_addr(&mut self, offset: usize, loc: StrLoc) {
        match loc {
            StrLoc::Inline { .. } => {
                self.a.mov(R3, R6).alu_imm(op::ADD, R3, offset as i32);
            }
            StrLoc::DataLoc | StrLoc::RelLoc => {
                // u32 at the field: low 16 bits are the data's offset.
                self.a
                    .ldx(op::W, R3, R6, offset as i16)
                    .alu_imm(op::AND, R3, 0xffff);
                if loc == StrLoc::RelLoc {
                    self.a.alu_imm(op::ADD, R3, offset as i32 + 4);
                }
                self.a.alu(op::ADD, R3, R6);
            }
        }
    }

    fn stackid(&mut self, at: i16) {
        let Some(fd) = self.maps.stacks else { return };
        let ok = self.a.label();
        self.a
            .mov(R1, R6)
            .ld_map_fd(R2, fd)
            .mov_imm(R3, 0)
            .call(helper::GET_STACKID)
            .stx(op::DW, R10, at, R0)
            .jmp_imm(op::JSGE, R0, 0, ok);
        self.bump(counter::READ_ERR);
        self.a.bind(ok);
    }

    /// Jump to `t` when `c` holds, else to `f`.
    fn cond(&mut self, c: &Cond, t: Label, f: Label) {
        match c {
            Cond::True => {
                self.a.ja(t);
            }
            Cond::False => {
                self.a.ja(f);
            }
            Cond::And(x, y) => {
                let mid = self.a.label();
                self.cond(x, mid, f);
                self.a.bind(mid);
                self.cond(y, t, f);
            }
            Cond::Or(x, y) => {
                let mid = self.a.label();
                self.cond(x, t, mid);
                self.a.bind(mid);
                self.cond(y, t, f);
            }
            Cond::Not(x) => self.cond(x, f, t),
            Cond::Glob { src, glob } => self.glob(src, glob, t, f),
            Cond::Int { src, op: o, value } => {
                self.load_int(src, R8);
                let signed = src.signed();
                let jmp = match (o, signed) {
                    (Op::Eq, _) => op::JEQ,
                    (Op::Ne, _) => op::JNE,
                    (Op::Lt, false) => op::JLT,
                    (Op::Le, false) => op::JLE,
                    (Op::Gt, false) => op::JGT,
                    (Op::Ge, false) => op::JGE,
                    (Op::Lt, true) => op::JSLT,
                    (Op::Le, true) => op::JSLE,
                    (Op::Gt, true) => op::JSGT,
                    (Op::Ge, true) => op::JSGE,
                    (Op::BitAnd, _) => op::JSET,
                    (Op::Glob, _) => op::JEQ,
                };
                let v = *value as u64;
                if let Ok(imm) = i32::try_from(*value) {
                    self.a.jmp_imm(jmp, R8, imm, t);
                } else {
                    self.a.ld_imm64(R2, v).jmp_reg(jmp, R8, R2, t);
                }
                self.a.ja(f);
            }
            Cond::Str {
                src,
                bytes,
                exact,
                negate,
            } => {
                let (yes, no) = if *negate { (f, t) } else { (t, f) };
                let width = src.str_width().min(MAX_STR);
                for i in (0..width.div_ceil(8) * 8).step_by(8) {
                    self.a.st_imm(op::DW, R10, self.scratch_off + i as i16, 0);
                }
                self.read_str(src, self.scratch_off, width);
                for (i, chunk) in bytes.chunks(8).enumerate() {
                    let mut word = [0u8; 8];
                    word[..chunk.len()].copy_from_slice(chunk);
                    self.a.ldx(op::DW, R1, R10, self.scratch_off + 8 * i as i16);
                    if !*exact && chunk.len() < 8 {
                        let mask = u64::MAX >> (8 * (8 - chunk.len()));
                        self.a.ld_imm64(R3, mask).alu(op::AND, R1, R3);
                    }
                    self.a
                        .ld_imm64(R2, u64::from_ne_bytes(word))
                        .jmp_reg(op::JNE, R1, R2, no);
                }
                self.a.ja(yes);
            }
        }
    }

    /// Find or create the key's value, then add to count, sum and histogram.
    fn aggregate(&mut self, out: Label, hist: HistKind) {
        let have = self.a.label();
        let again = self.a.label();
        let full = self.a.label();
        self.lookup_key();
        self.a.jmp_imm(op::JNE, R0, 0, have);
        // A new key: insert the all-zero value from the one-entry `zero` array.
        self.a
            .st_imm(op::W, R10, self.idx_off, 0)
            .ld_map_fd(R1, self.maps.zero)
            .mov(R2, R10)
            .alu_imm(op::ADD, R2, self.idx_off as i32)
            .call(helper::MAP_LOOKUP_ELEM)
            .jmp_imm(op::JEQ, R0, 0, out)
            .mov(R3, R0)
            .ld_map_fd(R1, self.maps.agg)
            .mov(R2, R10)
            .alu_imm(op::ADD, R2, self.key_off as i32)
            .mov_imm(R4, 1) // BPF_NOEXIST
            .call(helper::MAP_UPDATE_ELEM)
            .jmp_imm(op::JEQ, R0, 0, again)
            // Another CPU added the same key first.
            .jmp_imm(op::JEQ, R0, -libc::EEXIST, again)
            .ja(full);
        self.a.bind(again);
        self.lookup_key();
        self.a.jmp_imm(op::JNE, R0, 0, have);
        self.bump(counter::LOST);
        self.a.ja(out).bind(full);
        self.bump(counter::FULL);
        self.a.ja(out);

        self.a.bind(have).mov(R7, R0);
        self.a
            .ldx(op::DW, R1, R7, 0)
            .alu_imm(op::ADD, R1, 1)
            .stx(op::DW, R7, 0, R1);
        if let Some(s) = self.plan.sum.clone() {
            self.load_int(&s, R8);
            self.a
                .ldx(op::DW, R1, R7, 8)
                .alu(op::ADD, R1, R8)
                .stx(op::DW, R7, 8, R1);
        }
        if let Some(s) = self.plan.hist.clone() {
            self.load_int(&s, R8);
            self.bucket(s.signed(), hist);
            self.a
                .alu_imm(op::LSH, R8, 3)
                .mov(R1, R7)
                .alu(op::ADD, R1, R8)
                .ldx(op::DW, R2, R1, 16)
                .alu_imm(op::ADD, R2, 1)
                .stx(op::DW, R1, 16, R2);
        }
    }

    fn lookup_key(&mut self) {
        self.a
            .ld_map_fd(R1, self.maps.agg)
            .mov(R2, R10)
            .alu_imm(op::ADD, R2, self.key_off as i32)
            .call(helper::MAP_LOOKUP_ELEM);
    }

    /// r8 = the histogram slot of the value in r8, in 0..HIST_SLOTS.
    fn bucket(&mut self, signed: bool, hist: HistKind) {
        let done = self.a.label();
        let nonneg = self.a.label();
        if signed {
            self.a
                .jmp_imm(op::JSGE, R8, 0, nonneg)
                .mov_imm(R8, 0)
                .ja(done);
        }
        self.a.bind(nonneg);
        match hist {
            HistKind::Log2 => {
                let pos = self.a.label();
                self.a
                    .jmp_imm(op::JNE, R8, 0, pos)
                    .mov_imm(R8, 1)
                    .ja(done)
                    .bind(pos);
                self.a.mov_imm(R2, 0);
                for s in [32, 16, 8, 4, 2, 1] {
                    let skip = self.a.label();
                    self.a
                        .mov(R3, R8)
                        .alu_imm(op::RSH, R3, s)
                        .jmp_imm(op::JEQ, R3, 0, skip)
                        .mov(R8, R3)
                        .alu_imm(op::ADD, R2, s)
                        .bind(skip);
                }
                self.a.mov(R8, R2).alu_imm(op::ADD, R8, 2);
            }
            HistKind::Linear { step } => {
                let fits = self.a.label();
                if step > 1 {
                    if let Ok(imm) = i32::try_from(step) {
                        self.a.alu_imm(op::DIV, R8, imm);
                    } else {
                        self.a.ld_imm64(R2, step).alu(op::DIV, R8, R2);
                    }
                }
                let top = (HIST_SLOTS - 2) as i32;
                self.a
                    .jmp_imm(op::JLE, R8, top, fits)
                    .mov_imm(R8, top)
                    .bind(fits)
                    .alu_imm(op::ADD, R8, 1);
            }
        }
        // Bound for the verifier (never taken).
        let ok = self.a.label();
        self.a
            .bind(done)
            .jmp_imm(op::JLT, R8, HIST_SLOTS as i32, ok)
            .mov_imm(R8, 0)
            .bind(ok);
    }
}

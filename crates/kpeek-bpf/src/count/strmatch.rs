//! A `~` glob in BPF: the string is copied into a per-CPU scratch buffer, then matched in the
//! segment form of [`kpeek_filter::glob::Glob`] — the prefix at fixed offsets, each middle
//! segment searched left to right with a bounded loop, the suffix at the string's end.
//!
//! Registers: r7 = the scratch buffer, r8 = the string's length, r9 = the position reached;
//! r1..r3 are temporaries. The position is stored to and reloaded from the buffer before each
//! middle segment, so the verifier walks each segment's loop once (with an unknown start)
//! instead of once per position the previous segment could have ended at.

use kpeek_filter::glob::{Atom, Glob};

use super::codegen::{Gen, counter};
use super::plan::{GLOB_STR, Source};
use crate::asm::{Label, R0, R1, R2, R3, R7, R8, R9, R10, Reg, helper, op};

/// Bytes of the scratch map's value: the string, then the saved position.
pub fn scratch_size() -> usize {
    GLOB_STR + 8
}

/// Offset of the saved position in the scratch buffer.
const POS_SLOT: i16 = GLOB_STR as i16;

impl Gen<'_> {
    /// Jump to `t` when the string `src` matches `g` (never negated here), else to `f`.
    pub(super) fn glob(&mut self, src: &Source, g: &Glob, t: Label, f: Label) {
        let Some(fd) = self.maps.scratch else {
            // The plan asks for the scratch map whenever it has a glob: not reached.
            self.a.ja(f);
            return;
        };
        let (w, longer) = src.glob_width();
        let w = w as i32;
        self.a
            .st_imm(op::W, R10, self.idx_off, 0)
            .ld_map_fd(R1, fd)
            .mov(R2, R10)
            .alu_imm(op::ADD, R2, self.idx_off as i32)
            .call(helper::MAP_LOOKUP_ELEM)
            .jmp_imm(op::JEQ, R0, 0, f)
            .mov(R7, R0);
        match *src {
            Source::Comm => {
                // bpf_get_current_comm pads with NULs; the length is the first NUL's index.
                let done = self.a.label();
                self.a
                    .mov(R1, R7)
                    .mov_imm(R2, w)
                    .call(helper::GET_CURRENT_COMM)
                    .mov_imm(R8, 0);
                for i in 0..w - 1 {
                    self.a
                        .ldx(op::B, R1, R7, i as i16)
                        .jmp_imm(op::JEQ, R1, 0, done)
                        .mov_imm(R8, i + 1);
                }
                self.a.bind(done);
            }
            Source::Str { offset, loc } => {
                let ok = self.a.label();
                let whole = self.a.label();
                self.str_addr(offset, loc);
                self.a
                    .mov(R1, R7)
                    .mov_imm(R2, w)
                    .call(helper::PROBE_READ_KERNEL_STR)
                    .mov(R8, R0)
                    .jmp_imm(op::JSGT, R8, 0, ok);
                // Unreadable: counted, and matched as the empty string.
                self.bump(counter::READ_ERR);
                self.a.mov_imm(R8, 1).bind(ok);
                if longer {
                    // The buffer is full: the string may have been cut (counted).
                    self.a.jmp_imm(op::JNE, R8, w, whole);
                    self.bump(counter::READ_ERR);
                }
                self.a.bind(whole).alu_imm(op::SUB, R8, 1);
            }
            _ => {
                self.a.ja(f);
                return;
            }
        }
        // A bound the verifier can see (never taken: the length is below w).
        let bounded = self.a.label();
        self.a
            .jmp_imm(op::JLE, R8, w - 1, bounded)
            .mov_imm(R8, w - 1)
            .bind(bounded);
        let Some(star) = &g.star else {
            let m = g.prefix.len() as i32;
            self.a.jmp_imm(op::JNE, R8, m, f);
            self.atoms_at(R7, &g.prefix, f);
            self.a.ja(t);
            return;
        };
        let m0 = g.prefix.len() as i32;
        if m0 > 0 {
            self.a.jmp_imm(op::JLT, R8, m0, f);
            self.atoms_at(R7, &g.prefix, f);
        }
        self.a.mov_imm(R9, m0);
        for mid in &star.middles {
            let m = mid.len() as i32;
            let (top, next, found) = (self.a.label(), self.a.label(), self.a.label());
            self.a
                .stx(op::DW, R7, POS_SLOT, R9)
                .ldx(op::DW, R9, R7, POS_SLOT)
                .bind(top)
                .mov(R2, R9)
                .alu_imm(op::ADD, R2, m)
                .jmp_reg(op::JGT, R2, R8, f)
                .jmp_imm(op::JGT, R9, w - m, f)
                .mov(R3, R7)
                .alu(op::ADD, R3, R9);
            self.atoms_at(R3, mid, next);
            self.a
                .alu_imm(op::ADD, R9, m)
                .ja(found)
                .bind(next)
                .alu_imm(op::ADD, R9, 1)
                .ja(top)
                .bind(found);
        }
        let s = star.suffix.len() as i32;
        if s > 0 {
            // The suffix starts at length - s, not before the position reached.
            self.a
                .jmp_imm(op::JLT, R8, s, f)
                .mov(R3, R8)
                .alu_imm(op::SUB, R3, s)
                .jmp_reg(op::JLT, R3, R9, f)
                .jmp_imm(op::JGT, R3, w - s, f)
                .mov(R2, R7)
                .alu(op::ADD, R2, R3);
            self.atoms_at(R2, &star.suffix, f);
        }
        self.a.ja(t);
    }

    /// Test `atoms` against the bytes at `base[0..]`; jump to `fail` at the first mismatch.
    fn atoms_at(&mut self, base: Reg, atoms: &[Atom], fail: Label) {
        for (i, atom) in atoms.iter().enumerate() {
            if *atom == Atom::Any {
                continue; // any byte before the string's end (never NUL)
            }
            self.a.ldx(op::B, R1, base, i as i16);
            match atom {
                Atom::Byte(b) => {
                    self.a.jmp_imm(op::JNE, R1, i32::from(*b), fail);
                }
                Atom::Class { ranges, negated } => {
                    let hit = self.a.label();
                    let member = if *negated { fail } else { hit };
                    for &(lo, hi) in ranges {
                        if lo > hi {
                            continue; // an empty range
                        }
                        let skip = self.a.label();
                        self.a
                            .jmp_imm(op::JLT, R1, i32::from(lo), skip)
                            .jmp_imm(op::JLE, R1, i32::from(hi), member)
                            .bind(skip);
                    }
                    if !*negated {
                        self.a.ja(fail);
                    }
                    self.a.bind(hit);
                }
                Atom::Any => {}
            }
        }
    }
}

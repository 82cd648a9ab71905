//! Kernel type facts from BTF: member offsets of kernel structs (vmlinux BTF).

use std::ffi::OsStr;

use libbpf_rs::btf::types::{Composite, MemberAttr};
use libbpf_rs::btf::{Btf, BtfType, TypeId};

use crate::error::{Error, Result};

/// The kernel's own BTF (`/sys/kernel/btf/vmlinux`).
pub fn vmlinux() -> Result<Btf<'static>> {
    Btf::from_vmlinux().map_err(|_| Error::Unsupported {
        feature: "kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)",
        needs: "5.4",
    })
}

/// Byte offset of `member` in struct or union `ty` (searching anonymous members), e.g.
/// `member_offset(&btf, "task_struct", "comm")`. `None` when the type or member is absent or
/// the member is a bitfield not on a byte boundary.
pub fn member_offset(btf: &Btf<'_>, ty: &str, member: &str) -> Option<usize> {
    let t: BtfType<'_> = btf.type_by_name::<BtfType<'_>>(ty)?;
    find(btf, t.type_id(), member, 0)
}

fn find(btf: &Btf<'_>, id: TypeId, member: &str, base_bits: u64) -> Option<usize> {
    let t: BtfType<'_> = btf.type_by_id::<BtfType<'_>>(id)?.skip_mods_and_typedefs();
    let c = Composite::try_from(t).ok()?;
    for m in c.iter() {
        let bits = base_bits
            + match m.attr {
                MemberAttr::Normal { offset } => u64::from(offset),
                MemberAttr::BitField { offset, .. } => u64::from(offset),
            };
        match m.name {
            Some(n) if n == OsStr::new(member) => {
                return bits.is_multiple_of(8).then_some((bits / 8) as usize);
            }
            None | Some(_) if m.name.is_none_or(|n| n.is_empty()) => {
                if let Some(off) = find(btf, m.ty, member, bits) {
                    return Some(off);
                }
            }
            _ => {}
        }
    }
    None
}

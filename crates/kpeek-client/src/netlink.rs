//! The generic netlink family `kpeek` (kmod/kpeek_netlink.c), through neli: resolve the family,
//! get info, dump every counter (restarting when the kernel flags the dump `NLM_F_DUMP_INTR`),
//! get one counter, and the admin commands (reset, create, destroy, thresholds, probes).
//!
//! neli frames the messages, owns the socket and speaks to the generic netlink controller (its
//! typed `CtrlCmd`/`CtrlAttr` messages resolve the family and its `events` group). neli's
//! `NlRouter` is not used: it runs a thread and a second socket per connection, and its
//! multicast handle neither reports a receive-buffer overrun (`ENOBUFS` only reaches pending
//! requests) nor takes a timeout, both of which [`crate::notify`] needs. kpeek's own attributes
//! are decoded here by plain functions over `(type, bytes)` pairs ([`Attrs`]), which are tested
//! on any bytes. Kernel refusals come back as [`Error::Kernel`] carrying the errno and the
//! extended ACK message.

use std::path::PathBuf;

use kpeek_abi::genl::{GENL_MCGRP_EVENTS, GENL_NAME, GENL_VERSION, attr, cmd};
use kpeek_abi::{NameKind, validate_name};
use neli::consts::genl::{Cmd, CtrlAttr, CtrlAttrMcastGrp, CtrlCmd, Index, NlAttrType};
use neli::consts::nl::{GenlId, NlType, NlmF, Nlmsg, NlmsgerrAttr};
use neli::consts::socket::NlFamily;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder};
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;

use crate::error::{Error, Result};
use crate::fault::BinaryFault;

mod attr_error;
use crate::ioctl::{ProbeState, Target};
use crate::{Channel, CounterSource, CounterValue, Snapshot};
pub use attr_error::AttrError;

/// How often a dump restarts when the kernel flags it interrupted.
const DUMP_RETRIES: usize = 20;

/// What error messages call this channel.
pub(crate) fn place() -> PathBuf {
    PathBuf::from(format!("generic netlink family {GENL_NAME:?}"))
}

/// Walk netlink attributes in `bytes` (4-byte aligned TLVs); the type has its nested and
/// byte-order flags removed.
pub fn parse_attrs(bytes: &[u8]) -> std::result::Result<Vec<(u16, &[u8])>, AttrError> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let rest = &bytes[off..];
        if rest.len() < 4 {
            return Err(AttrError::Stray {
                offset: off,
                len: rest.len(),
            });
        }
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return Err(AttrError::BadLength {
                ty,
                offset: off,
                len,
                left: rest.len(),
            });
        }
        out.push((ty, &rest[4..len]));
        off += len.next_multiple_of(4);
    }
    Ok(out)
}

/// The attributes of one message, by type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(pub Vec<(u16, Vec<u8>)>);

impl Attrs {
    fn raw(&self, ty: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, v)| v.as_slice())
    }

    /// A u32 attribute, if present.
    pub fn u32(&self, ty: u16) -> std::result::Result<Option<u32>, AttrError> {
        self.raw(ty)
            .map(|b| {
                <[u8; 4]>::try_from(b)
                    .map(u32::from_ne_bytes)
                    .map_err(|_| AttrError::Size {
                        ty,
                        len: b.len(),
                        expected: 4,
                    })
            })
            .transpose()
    }

    /// A u64 attribute, if present.
    pub fn u64(&self, ty: u16) -> std::result::Result<Option<u64>, AttrError> {
        self.raw(ty)
            .map(|b| {
                <[u8; 8]>::try_from(b)
                    .map(u64::from_ne_bytes)
                    .map_err(|_| AttrError::Size {
                        ty,
                        len: b.len(),
                        expected: 8,
                    })
            })
            .transpose()
    }

    /// A string attribute (one trailing NUL allowed, none inside), if present.
    pub fn str(&self, ty: u16) -> std::result::Result<Option<String>, AttrError> {
        self.raw(ty)
            .map(|b| {
                let b = b.strip_suffix(&[0]).unwrap_or(b);
                if b.contains(&0) {
                    return Err(AttrError::NulInside { ty });
                }
                String::from_utf8(b.to_vec()).map_err(|_| AttrError::NotUtf8 { ty })
            })
            .transpose()
    }

    fn need<T>(
        &self,
        ty: u16,
        v: std::result::Result<Option<T>, AttrError>,
    ) -> std::result::Result<T, AttrError> {
        v?.ok_or(AttrError::Missing { ty })
    }

    /// A required u32.
    pub fn need_u32(&self, ty: u16) -> std::result::Result<u32, AttrError> {
        self.need(ty, self.u32(ty))
    }

    /// A required u64.
    pub fn need_u64(&self, ty: u16) -> std::result::Result<u64, AttrError> {
        self.need(ty, self.u64(ty))
    }

    /// A required string.
    pub fn need_str(&self, ty: u16) -> std::result::Result<String, AttrError> {
        self.need(ty, self.str(ty))
    }
}

/// `KPEEK_CMD_GET_INFO`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlInfo {
    /// The module's `KPEEK_ABI_VERSION`.
    pub abi_version: u32,
    /// Live groups.
    pub groups: u32,
    /// Live counters.
    pub counters: u32,
    /// +1 on every group or counter created or destroyed.
    pub generation: u64,
}

/// Decode `KPEEK_CMD_GET_INFO`'s attributes.
pub fn decode_info(a: &Attrs) -> std::result::Result<NlInfo, AttrError> {
    Ok(NlInfo {
        abi_version: a.need_u32(attr::ABI_VERSION)?,
        groups: a.need_u32(attr::GROUPS)?,
        counters: a.need_u32(attr::COUNTERS)?,
        generation: a.need_u64(attr::GENERATION)?,
    })
}

/// One counter as netlink reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlCounter {
    /// The counter's id.
    pub id: u64,
    /// Its group's id (absent from older modules).
    pub group_id: Option<u64>,
    /// Its group's name.
    pub group: String,
    /// Its name.
    pub counter: String,
    /// Its value, summed over the CPUs.
    pub value: u64,
}

/// Decode one counter message (GET_COUNTER reply or a dump part): ID, GROUP, COUNTER, VALUE
/// required, names valid.
pub fn decode_counter(a: &Attrs) -> std::result::Result<NlCounter, AttrError> {
    let c = NlCounter {
        id: a.need_u64(attr::ID)?,
        group_id: a.u64(attr::GROUP_ID)?,
        group: a.need_str(attr::GROUP)?,
        counter: a.need_str(attr::COUNTER)?,
        value: a.need_u64(attr::VALUE)?,
    };
    validate_name(NameKind::Group, &c.group)?;
    validate_name(NameKind::Counter, &c.counter)?;
    Ok(c)
}

/// One reply of a request: its attributes and whether the kernel flagged the dump interrupted.
struct Reply {
    parts: Vec<Attrs>,
    interrupted: bool,
}

/// A netlink socket bound to the `kpeek` family.
pub struct Netlink {
    sock: NlSocketHandle,
    family: u16,
    events_group: Option<u32>,
    seq: std::cell::Cell<u32>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("family", &self.family)
            .field("events_group", &self.events_group)
            .finish()
    }
}

fn sock_err(op: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Netlink {
        op: op.to_owned(),
        path: place(),
        error: Box::new(e),
    }
}

fn build_attrs(attrs: &[(u16, Vec<u8>)]) -> Result<GenlBuffer<u16, Buffer>> {
    let mut out = GenlBuffer::new();
    for (ty, v) in attrs {
        let a = NlattrBuilder::default()
            .nla_type(
                AttrTypeBuilder::default()
                    .nla_type(*ty)
                    .build()
                    .map_err(|e| sock_err("building an attribute", e))?,
            )
            .nla_payload(Buffer::from(v.clone()))
            .build()
            .map_err(|e| sock_err("building an attribute", e))?;
        out.push(a);
    }
    Ok(out)
}

/// A string attribute value as the kernel's `NLA_NUL_STRING`/`NLA_STRING` policies take it.
fn nul_str(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

impl Netlink {
    /// Open a socket and resolve the family (and its `events` group).
    pub fn connect() -> Result<Netlink> {
        let mut nl = Netlink::connect_unresolved()?;
        let (family, events_group) = nl.resolve_family(GENL_NAME, GENL_MCGRP_EVENTS)?;
        nl.family = family;
        nl.events_group = events_group;
        Ok(nl)
    }

    /// A generic netlink socket, no family resolved yet.
    fn connect_unresolved() -> Result<Netlink> {
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| sock_err("opening a generic netlink socket", e))?;
        // Extended ACKs say which attribute the kernel refused, and why.
        let _ = sock.enable_ext_ack(true);
        Ok(Netlink {
            sock,
            family: 0,
            events_group: None,
            seq: std::cell::Cell::new(1),
        })
    }

    /// Ask the generic netlink controller for a family's id and the id of one of its multicast
    /// groups (`None` when it has no such group): one `CTRL_CMD_GETFAMILY`, answered with neli's typed controller
    /// attributes (what `neli::router::synchronous::NlRouter::resolve_genl_family` and
    /// `resolve_nl_mcast_group` send, on this socket rather than on a router's own socket and
    /// thread, and in one round trip rather than two).
    fn resolve_family(&self, family: &str, group: &str) -> Result<(u16, Option<u32>)> {
        let op = &format!("resolving the generic netlink family {family:?}");
        let name = NlattrBuilder::default()
            .nla_type(
                AttrTypeBuilder::default()
                    .nla_type(CtrlAttr::FamilyName)
                    .build()
                    .map_err(|e| sock_err(op, e))?,
            )
            .nla_payload(family)
            .build()
            .map_err(|e| sock_err(op, e))?;
        let mut found: Option<(u16, Option<u32>)> = None;
        let genl = GenlmsghdrBuilder::default()
            .cmd(CtrlCmd::Getfamily)
            .version(2)
            .attrs(std::iter::once(name).collect())
            .build()
            .map_err(|e| sock_err(op, e))?;
        self.exchange(
            GenlId::Ctrl,
            genl,
            NlmF::empty(),
            op,
            |p: &Genlmsghdr<CtrlCmd, CtrlAttr>| {
                let attrs = p.attrs().get_attr_handle();
                let id = attrs
                    .get_attr_payload_as::<u16>(CtrlAttr::FamilyId)
                    .map_err(|e| Error::Binary {
                        path: place(),
                        offset: 0,
                        fault: Box::new(BinaryFault::NoFamilyId {
                            family: family.to_owned(),
                            source: Box::new(e),
                        }),
                    })?;
                // A family without multicast groups has no CTRL_ATTR_MCAST_GROUPS at all.
                let events = match attrs.get_nested_attributes::<Index>(CtrlAttr::McastGroups) {
                    Err(_) => None,
                    Ok(groups) => groups.iter().find_map(|g| {
                        let g = g.get_attr_handle::<CtrlAttrMcastGrp>().ok()?;
                        let name = g
                            .get_attr_payload_as_with_len_borrowed::<&str>(CtrlAttrMcastGrp::Name)
                            .ok()?;
                        (name.strip_suffix('\0') == Some(group))
                            .then(|| g.get_attr_payload_as::<u32>(CtrlAttrMcastGrp::Id).ok())
                            .flatten()
                    }),
                };
                found = Some((id, events));
                Ok(())
            },
        )
        .map_err(|e| match e.errno() {
            // ENOENT: no such family, kpeek.ko is not loaded.
            Some(2) => Error::NotLoaded { path: place() },
            _ => e,
        })?;
        found.ok_or_else(|| Error::NotLoaded { path: place() })
    }

    /// The family's numeric id.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// The `events` multicast group's id, when the family has it.
    pub fn events_group(&self) -> Option<u32> {
        self.events_group
    }

    pub(crate) fn socket(&self) -> &NlSocketHandle {
        &self.sock
    }

    /// Send one request and hand each payload of its answer to `each`, until the ACK (for a
    /// plain request) or NLMSG_DONE (for a dump). Returns whether the kernel flagged the dump
    /// interrupted (`NLM_F_DUMP_INTR`).
    fn exchange<T, C, A>(
        &self,
        family: T,
        genl: Genlmsghdr<C, A>,
        flags: NlmF,
        op: &str,
        mut each: impl FnMut(&Genlmsghdr<C, A>) -> Result<()>,
    ) -> Result<bool>
    where
        T: NlType,
        C: Cmd,
        A: NlAttrType,
    {
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        let dump = flags.contains(NlmF::DUMP);
        let flags = flags | NlmF::REQUEST | if dump { NlmF::empty() } else { NlmF::ACK };
        let msg = NlmsghdrBuilder::default()
            .nl_type(family)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_pid(self.sock.pid())
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .map_err(|e| sock_err(op, e))?;
        self.sock.send(&msg).map_err(|e| sock_err(op, e))?;
        let mut interrupted = false;
        loop {
            let (iter, _) = self
                .sock
                .recv::<T, Genlmsghdr<C, A>>()
                .map_err(|e| sock_err(op, e))?;
            for m in iter {
                let m: Nlmsghdr<T, Genlmsghdr<C, A>> = m.map_err(|e| sock_err(op, e))?;
                if *m.nl_seq() != seq {
                    continue; // a late answer to an earlier request
                }
                if m.nl_flags().contains(NlmF::DUMP_INTR) {
                    interrupted = true;
                }
                match m.nl_payload() {
                    NlPayload::Ack(_) => return Ok(interrupted),
                    NlPayload::Err(e) => {
                        return Err(kernel_error(op, -*e.error(), ext_ack_msg(e.ext_ack())));
                    }
                    NlPayload::DumpExtAck(e) => {
                        if *e.error() != 0 {
                            return Err(kernel_error(op, -*e.error(), ext_ack_msg(e.ext_ack())));
                        }
                        return Ok(interrupted);
                    }
                    NlPayload::Payload(p) => each(p)?,
                    NlPayload::Empty => {}
                }
                if u16::from(Nlmsg::Done) == (*m.nl_type()).into() {
                    return Ok(interrupted);
                }
            }
        }
    }

    /// Send one request to the `kpeek` family and collect its answer's attributes.
    fn kpeek(&self, command: u8, flags: NlmF, attrs: &[(u16, Vec<u8>)]) -> Result<Reply> {
        let mut parts = Vec::new();
        let op = cmd_name(command);
        let genl = GenlmsghdrBuilder::default()
            .cmd(command)
            .version(GENL_VERSION)
            .attrs(build_attrs(attrs)?)
            .build()
            .map_err(|e| sock_err(&op, e))?;
        let interrupted =
            self.exchange(self.family, genl, flags, &op, |p: &Genlmsghdr<u8, u16>| {
                parts.push(Attrs(
                    p.attrs()
                        .iter()
                        .map(|a| (*a.nla_type().nla_type(), a.nla_payload().as_ref().to_vec()))
                        .collect(),
                ));
                Ok(())
            })?;
        Ok(Reply { parts, interrupted })
    }

    fn decode<T>(request: &'static str, r: std::result::Result<T, AttrError>) -> Result<T> {
        r.map_err(|fault| Error::Binary {
            path: place(),
            offset: 0,
            fault: Box::new(BinaryFault::Attributes { request, fault }),
        })
    }

    /// `KPEEK_CMD_GET_INFO`; [`Error::AbiMismatch`] when the module speaks another ABI.
    pub fn info(&self) -> Result<NlInfo> {
        let r = self.kpeek(cmd::GET_INFO, NlmF::empty(), &[])?;
        let a = r.parts.first().cloned().unwrap_or_default();
        let info = Self::decode("KPEEK_CMD_GET_INFO", decode_info(&a))?;
        if info.abi_version != kpeek_abi::ABI_VERSION {
            return Err(Error::AbiMismatch {
                path: place(),
                found: info.abi_version,
                expected: kpeek_abi::ABI_VERSION,
            });
        }
        Ok(info)
    }

    /// Every counter: a `KPEEK_CMD_GET_COUNTERS` dump, restarted while the kernel marks it
    /// `NLM_F_DUMP_INTR` (a counter was created or destroyed mid-dump). Returns the counters and
    /// how many dumps were restarted.
    pub fn counters(&self) -> Result<(Vec<NlCounter>, usize)> {
        for restarts in 0..DUMP_RETRIES {
            let r = self.kpeek(cmd::GET_COUNTERS, NlmF::DUMP, &[])?;
            if r.interrupted {
                continue;
            }
            let out = r
                .parts
                .iter()
                .map(|a| Self::decode("KPEEK_CMD_GET_COUNTERS", decode_counter(a)))
                .collect::<Result<Vec<_>>>()?;
            return Ok((out, restarts));
        }
        Err(Error::kernel(
            "KPEEK_CMD_GET_COUNTERS dump",
            place(),
            11,
            Some(format!(
                "every one of {DUMP_RETRIES} dumps was interrupted by counter changes; try again"
            )),
        ))
    }

    /// `KPEEK_CMD_GET_COUNTER` by id.
    pub fn counter(&self, id: u64) -> Result<NlCounter> {
        let r = self.kpeek(
            cmd::GET_COUNTER,
            NlmF::empty(),
            &[(attr::ID, id.to_ne_bytes().to_vec())],
        )?;
        let a = r.parts.first().cloned().unwrap_or_default();
        Self::decode("KPEEK_CMD_GET_COUNTER", decode_counter(&a))
    }

    /// `KPEEK_CMD_GET_COUNTER` by names.
    pub fn counter_by_name(&self, group: &str, counter: &str) -> Result<NlCounter> {
        validate_name(NameKind::Group, group)?;
        validate_name(NameKind::Counter, counter)?;
        let r = self.kpeek(
            cmd::GET_COUNTER,
            NlmF::empty(),
            &[
                (attr::GROUP, nul_str(group)),
                (attr::COUNTER, nul_str(counter)),
            ],
        )?;
        let a = r.parts.first().cloned().unwrap_or_default();
        Self::decode("KPEEK_CMD_GET_COUNTER", decode_counter(&a))
    }

    /// `KPEEK_CMD_RESET` (admin).
    pub fn reset(&self, target: Target) -> Result<()> {
        let attrs = match target {
            Target::All => vec![],
            t => {
                let (tt, id) = t.raw();
                vec![
                    (attr::TARGET, tt.to_ne_bytes().to_vec()),
                    (attr::ID, id.to_ne_bytes().to_vec()),
                ]
            }
        };
        self.kpeek(cmd::RESET, NlmF::empty(), &attrs).map(|_| ())
    }

    fn create(&self, group: &str, counter: Option<&str>) -> Result<u64> {
        validate_name(NameKind::Group, group)?;
        let mut attrs = vec![(attr::GROUP, nul_str(group))];
        if let Some(c) = counter {
            validate_name(NameKind::Counter, c)?;
            attrs.push((attr::COUNTER, nul_str(c)));
        }
        let r = self.kpeek(cmd::CREATE, NlmF::empty(), &attrs)?;
        let a = r.parts.first().cloned().unwrap_or_default();
        Self::decode("KPEEK_CMD_CREATE", a.need_u64(attr::ID))
    }

    /// `KPEEK_CMD_CREATE` a group (admin); returns its id.
    pub fn create_group(&self, group: &str) -> Result<u64> {
        self.create(group, None)
    }

    /// `KPEEK_CMD_CREATE` a counter in a user-space group (admin); returns its id.
    pub fn create_counter(&self, group: &str, counter: &str) -> Result<u64> {
        self.create(group, Some(counter))
    }

    /// `KPEEK_CMD_DESTROY` (admin).
    pub fn destroy(&self, target: Target) -> Result<()> {
        let (tt, id) = target.raw();
        self.kpeek(
            cmd::DESTROY,
            NlmF::empty(),
            &[
                (attr::TARGET, tt.to_ne_bytes().to_vec()),
                (attr::ID, id.to_ne_bytes().to_vec()),
            ],
        )
        .map(|_| ())
    }

    /// `KPEEK_CMD_SET_THRESHOLD` (admin): notify the `events` group when counter `id` rises to
    /// `threshold` or above (0 clears).
    pub fn set_threshold(&self, id: u64, threshold: u64) -> Result<()> {
        self.kpeek(
            cmd::SET_THRESHOLD,
            NlmF::empty(),
            &[
                (attr::ID, id.to_ne_bytes().to_vec()),
                (attr::THRESHOLD, threshold.to_ne_bytes().to_vec()),
            ],
        )
        .map(|_| ())
    }

    /// `KPEEK_CMD_PROBE_SET` (admin).
    pub fn probe_set(&self, s: &ProbeState) -> Result<()> {
        let c = s.to_config();
        let mut attrs = vec![
            (attr::PROBE, c.probe.to_ne_bytes().to_vec()),
            (attr::PROBE_FLAGS, c.flags.to_ne_bytes().to_vec()),
        ];
        if let Some(d) = &s.filter.dev {
            attrs.push((attr::FILTER_DEV, nul_str(d)));
        }
        if let Some(p) = s.filter.pid {
            attrs.push((attr::FILTER_PID, p.to_ne_bytes().to_vec()));
        }
        if let Some(m) = s.filter.min_len {
            attrs.push((attr::FILTER_MINLEN, m.to_ne_bytes().to_vec()));
        }
        self.kpeek(cmd::PROBE_SET, NlmF::empty(), &attrs)
            .map(|_| ())
    }
}

fn cmd_name(c: u8) -> String {
    let n = match c {
        cmd::GET_INFO => "GET_INFO",
        cmd::GET_COUNTER => "GET_COUNTER",
        cmd::GET_COUNTERS => "GET_COUNTERS",
        cmd::RESET => "RESET",
        cmd::CREATE => "CREATE",
        cmd::DESTROY => "DESTROY",
        cmd::SET_THRESHOLD => "SET_THRESHOLD",
        cmd::PROBE_SET => "PROBE_SET",
        _ => return format!("command {c}"),
    };
    format!("KPEEK_CMD_{n}")
}

fn ext_ack_msg(ext: &GenlBuffer<NlmsgerrAttr, Buffer>) -> Option<String> {
    ext.iter()
        .find(|a| *a.nla_type().nla_type() == NlmsgerrAttr::Msg)
        .map(|a| {
            let b = a.nla_payload().as_ref();
            String::from_utf8_lossy(b.strip_suffix(&[0]).unwrap_or(b)).into_owned()
        })
}

fn kernel_error(op: &str, errno: i32, ext: Option<String>) -> Error {
    let mut e = Error::kernel(op, place(), errno, None);
    if let (Error::Kernel { rule, .. }, Some(m)) = (&mut e, ext) {
        rule.push_str(&format!("; the kernel says: {m}"));
    }
    e
}

/// The netlink channel: one dump per snapshot.
#[derive(Debug, Default)]
pub struct NetlinkSource;

impl NetlinkSource {
    /// The running kernel's family.
    pub fn new() -> Self {
        NetlinkSource
    }
}

impl CounterSource for NetlinkSource {
    fn channel(&self) -> Channel {
        Channel::Netlink
    }

    fn snapshot(&self) -> Result<Snapshot> {
        let nl = Netlink::connect()?;
        nl.info()?;
        let (counters, _) = nl.counters()?;
        Ok(Snapshot::new(
            counters
                .iter()
                .map(|c| CounterValue::new(&c.group, &c.counter, c.value))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests;

//! `fuzz-netlink`: random generic netlink messages to the `kpeek` family over a raw
//! NETLINK_GENERIC socket: random and valid commands, versions, flags (requests, dumps, acks),
//! attributes of random types, lengths and nesting, payloads of the wrong size, strings without
//! NUL or too long, truncated and overlong headers, several messages per datagram.
//!
//! Checked per reply: every error is a plausible errno; as non-root no mutating command is ever
//! acknowledged with success, and one with a well-formed header is refused with EPERM
//! (CAP_SYS_ADMIN, checked by kpeek's handlers) or, when its attributes break the command's
//! policy (checked first, by the genetlink core), EINVAL/ERANGE.
//! Checked after the run: the family still answers GET_INFO, and as non-root nothing changed
//! (counters, the generation, group and counter counts, and the probes when /dev/kpeek is
//! readable). The harness checks dmesg for oopses and WARNs. `--seed N` replays a run.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use kpeek_client::SysRoot;

use crate::fuzzstate::{FuzzArgs, State, Tally, errno_name, plausible_errno};
use crate::report::Report;
use crate::syscalls::{self, Rng};
use crate::uapi::{self, *};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: FuzzArgs,
    /// Print message number N of the run with `--seed` (hex) and exit, sending nothing: a
    /// reported message reproduced byte for byte. The family id is printed as 0xffff.
    #[arg(long, value_name = "N", requires = "seed")]
    dump: Option<u64>,
}

const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const GENL_ID_CTRL: u16 = 16;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLA_F_NESTED: u16 = 1 << 15;
const NETLINK_EXT_ACK: i32 = 11;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLM_F_ACK_TLVS: u16 = 0x200;

/// A generic netlink socket.
pub struct GenlSock {
    fd: OwnedFd,
    buf: Vec<u8>,
}

/// One message the kernel sent back.
#[derive(Debug)]
pub struct Reply {
    pub ty: u16,
    pub seq: u32,
    /// NLMSG_ERROR: 0 for an ack, else the (positive) errno.
    pub error: Option<i32>,
    /// NLMSG_ERROR carried an extended-ack message or attribute offset.
    pub extack: bool,
    /// The payload after the genl header, for data messages.
    pub attrs: Vec<(u16, Vec<u8>)>,
}

impl GenlSock {
    pub fn open() -> anyhow::Result<Self> {
        // SAFETY: plain socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            anyhow::bail!(
                "socket(NETLINK_GENERIC): {}",
                std::io::Error::last_os_error()
            );
        }
        // SAFETY: fd was just returned by socket.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let s = GenlSock {
            fd,
            buf: vec![0u8; 1 << 16],
        };
        let one: libc::c_int = 1;
        let big: libc::c_int = 1 << 20;
        // SAFETY: valid option values of the sizes passed. Failures are harmless (no extack
        // details, a smaller buffer).
        unsafe {
            libc::setsockopt(
                s.raw(),
                libc::SOL_NETLINK,
                NETLINK_EXT_ACK,
                (&one as *const libc::c_int).cast(),
                4,
            );
            libc::setsockopt(
                s.raw(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&big as *const libc::c_int).cast(),
                4,
            );
        }
        Ok(s)
    }

    fn raw(&self) -> RawFd {
        syscalls::raw(&self.fd)
    }

    /// Send one datagram to the kernel: Ok or the errno.
    pub fn send(&self, msg: &[u8]) -> Result<(), i32> {
        // SAFETY: a zeroed sockaddr_nl is the kernel's address (pid 0).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: msg and sa are valid for the lengths passed.
        let r = unsafe {
            libc::sendto(
                self.raw(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            Err(syscalls::errno())
        } else {
            Ok(())
        }
    }

    /// Every message queued for us now (replies are produced during sendmsg; each recv of a
    /// dump produces its next part).
    pub fn drain(&mut self, out: &mut Vec<Reply>) -> Result<(), i32> {
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.raw(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = syscalls::errno();
                return if e == libc::EAGAIN { Ok(()) } else { Err(e) };
            }
            parse_replies(&self.buf[..n as usize], out);
        }
    }

    /// Send a request and wait (up to 2 s) until its answer ends: an NLMSG_ERROR, an
    /// NLMSG_DONE, or a data message when no ack was asked.
    pub fn request(&mut self, msg: &[u8]) -> anyhow::Result<Vec<Reply>> {
        self.send(msg)
            .map_err(|e| anyhow::anyhow!("netlink send: {}", errno_name(Err(e))))?;
        let mut out = Vec::new();
        let t0 = std::time::Instant::now();
        loop {
            self.drain(&mut out)
                .map_err(|e| anyhow::anyhow!("netlink recv: {}", errno_name(Err(e))))?;
            if out
                .iter()
                .any(|r| r.ty == NLMSG_ERROR || r.ty == NLMSG_DONE)
            {
                return Ok(out);
            }
            if t0.elapsed().as_secs() >= 2 {
                anyhow::bail!("no netlink answer in 2 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Split a datagram into messages; malformed tails end the parse.
pub fn parse_replies(mut b: &[u8], out: &mut Vec<Reply>) {
    while b.len() >= NLMSG_HDRLEN {
        let len = get_u32(b, 0) as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            return;
        }
        let ty = get_u16(b, 4);
        let flags = get_u16(b, 6);
        let seq = get_u32(b, 8);
        let body = &b[NLMSG_HDRLEN..len];
        let mut r = Reply {
            ty,
            seq,
            error: None,
            extack: false,
            attrs: Vec::new(),
        };
        if ty == NLMSG_ERROR && body.len() >= 4 {
            r.error = Some(-(get_u32(body, 0) as i32));
            if flags & NLM_F_ACK_TLVS != 0 && body.len() >= 4 + NLMSG_HDRLEN {
                // The TLVs follow the echoed request header (and its payload unless capped).
                let echoed = get_u32(body, 4) as usize;
                let skip = if flags & 0x100 != 0 {
                    4 + NLMSG_HDRLEN
                } else {
                    4 + align4(echoed)
                };
                if skip <= body.len() {
                    r.extack = parse_attrs(&body[skip..])
                        .iter()
                        .any(|(t, _)| *t == NLMSGERR_ATTR_MSG || *t == NLMSGERR_ATTR_OFFS);
                }
            }
        } else if ty != NLMSG_DONE && body.len() >= GENL_HDRLEN {
            r.attrs = parse_attrs(&body[GENL_HDRLEN..]);
        }
        out.push(r);
        b = &b[align4(len).min(b.len())..];
    }
}

/// Top-level attributes: (type without flags, payload).
pub fn parse_attrs(mut b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = get_u16(b, 0) as usize;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((get_u16(b, 2) & 0x3fff, b[4..len].to_vec()));
        b = &b[align4(len).min(b.len())..];
    }
    out
}

/// A message builder.
pub struct Msg(Vec<u8>);

impl Msg {
    pub fn new(ty: u16, flags: u16, seq: u32, cmd: u8, version: u8) -> Self {
        let mut b = vec![0u8; NLMSG_HDRLEN + GENL_HDRLEN];
        put_u16(&mut b, 4, ty);
        put_u16(&mut b, 6, flags);
        put_u32(&mut b, 8, seq);
        b[16] = cmd;
        b[17] = version;
        Msg(b)
    }

    pub fn attr(mut self, ty: u16, payload: &[u8]) -> Self {
        self.put_attr(ty, payload);
        self
    }

    pub fn put_attr(&mut self, ty: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(align4(self.0.len()), 0);
    }

    /// The bytes with nlmsg_len filled in.
    pub fn finish(mut self) -> Vec<u8> {
        let n = self.0.len() as u32;
        put_u32(&mut self.0, 0, n);
        self.0
    }
}

/// The family id of `kpeek` (CTRL_CMD_GETFAMILY).
pub fn resolve_family(s: &mut GenlSock) -> anyhow::Result<u16> {
    let msg = Msg::new(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        1,
        CTRL_CMD_GETFAMILY,
        1,
    )
    .attr(CTRL_ATTR_FAMILY_NAME, b"kpeek\0")
    .finish();
    let replies = s.request(&msg)?;
    for r in &replies {
        if let Some((_, v)) = r.attrs.iter().find(|(t, _)| *t == CTRL_ATTR_FAMILY_ID)
            && v.len() >= 2
        {
            return Ok(get_u16(v, 0));
        }
        if let Some(e) = r.error.filter(|&e| e != 0) {
            anyhow::bail!(
                "generic netlink family {:?} not found ({}): is kpeek.ko loaded with netlink?",
                uapi::GENL_NAME,
                errno_name(Err(e))
            );
        }
    }
    anyhow::bail!(
        "CTRL_CMD_GETFAMILY {:?}: no family id in the reply",
        uapi::GENL_NAME
    )
}

/// GET_INFO through netlink: (attribute type, payload) pairs, for before/after comparison.
pub fn get_info(s: &mut GenlSock, family: u16) -> anyhow::Result<Vec<(u16, Vec<u8>)>> {
    let msg = Msg::new(
        family,
        NLM_F_REQUEST | NLM_F_ACK,
        2,
        CMD_GET_INFO,
        GENL_VERSION,
    )
    .finish();
    let replies = s.request(&msg)?;
    if let Some(e) = replies.iter().filter_map(|r| r.error).find(|&e| e != 0) {
        anyhow::bail!("KPEEK_CMD_GET_INFO: {}", errno_name(Err(e)));
    }
    let mut attrs: Vec<(u16, Vec<u8>)> = replies
        .into_iter()
        .flat_map(|r| r.attrs)
        .filter(|(t, _)| *t != A_PAD)
        .collect();
    attrs.sort();
    if attrs.is_empty() {
        anyhow::bail!("KPEEK_CMD_GET_INFO: empty answer");
    }
    Ok(attrs)
}

struct Sent {
    cmd: u8,
    flags: u16,
    to_family: bool,
    well_formed: bool,
    group_create: bool,
}

struct Fuzzer {
    rng: Rng,
    family: u16,
    root: bool,
    counter_ids: Vec<u64>,
    created_groups: Vec<u64>,
    problems: Vec<String>,
    nproblems: u64,
    refused: u64,
    extack_einval: (u64, u64),
    tally: Tally,
}

impl Fuzzer {
    fn new(seed: u64, family: u16, root: bool, counter_ids: Vec<u64>) -> Self {
        Fuzzer {
            rng: Rng::new(seed),
            family,
            root,
            counter_ids,
            created_groups: Vec::new(),
            problems: Vec::new(),
            nproblems: 0,
            refused: 0,
            extack_einval: (0, 0),
            tally: Tally::default(),
        }
    }

    fn problem(&mut self, what: String) {
        self.nproblems += 1;
        if self.problems.len() < 8 {
            self.problems.push(what);
        }
    }

    fn name(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        match r.below(9) {
            0 => Vec::new(),
            1 => b"info\0".to_vec(),
            2 => vec![b'n'; 32 + r.below(40) as usize], // too long, maybe unterminated
            3 => {
                let mut v = vec![0u8; r.below(40) as usize];
                r.fill(&mut v);
                v
            }
            4 => b"fz\0hidden\0".to_vec(),
            5 => b"fz".to_vec(), // no NUL
            _ => format!("fz{}\0", r.below(30)).into_bytes(),
        }
    }

    fn payload_for(&mut self, ty: u16) -> Vec<u8> {
        let r = &mut self.rng;
        if r.one_in(4) {
            let mut v = vec![0u8; r.below(72) as usize];
            r.fill(&mut v);
            return v;
        }
        match ty {
            A_GROUP | A_COUNTER => self.name(),
            A_FILTER_DEV => match r.below(4) {
                0 => b"lo\0".to_vec(),
                1 => b"0123456789abcdefXX\0".to_vec(),
                2 => b"\0".to_vec(),
                _ => b"eth0".to_vec(),
            },
            A_ID | A_GROUP_ID => {
                let id = if !self.counter_ids.is_empty() && !r.one_in(3) {
                    *r.pick(&self.counter_ids)
                } else {
                    r.u64()
                };
                id.to_ne_bytes().to_vec()
            }
            A_VALUE | A_THRESHOLD | A_GENERATION => match r.below(3) {
                0 => r.u64().to_ne_bytes().to_vec(),
                1 => 0u64.to_ne_bytes().to_vec(),
                _ => r.interesting_u32().to_ne_bytes().to_vec(), // wrong width
            },
            A_PROBE => (r.below(6) as u32).to_ne_bytes().to_vec(),
            A_PROBE_FLAGS | A_TARGET => match r.below(3) {
                0 => r.interesting_u32().to_ne_bytes().to_vec(),
                1 => (r.below(4) as u16).to_ne_bytes().to_vec(), // short
                _ => (r.below(4) as u32).to_ne_bytes().to_vec(),
            },
            _ => r.interesting_u32().to_ne_bytes().to_vec(),
        }
    }

    /// A random message; returns the datagram and what it meant.
    fn message(&mut self, seq: u32) -> (Vec<u8>, Sent) {
        let r = &mut self.rng;
        let (ty, to_family) = match r.below(100) {
            0..=89 => (self.family, true),
            90..=93 => (GENL_ID_CTRL, false),
            94..=96 => (r.below(16) as u16, false),
            _ => (0x7ff0, false),
        };
        let mut well_formed = true;
        let mut flags = NLM_F_REQUEST | NLM_F_ACK;
        if r.one_in(5) {
            flags |= NLM_F_DUMP;
            well_formed = false;
        }
        if r.one_in(20) {
            flags = r.u32() as u16;
            well_formed = false;
        }
        let cmd = if ty == GENL_ID_CTRL {
            *r.pick(&[CTRL_CMD_GETFAMILY, 10, 0, 200])
        } else if r.one_in(7) {
            well_formed = false;
            r.u32() as u8
        } else {
            r.below(CMD_MAX as u64 + 2) as u8
        };
        let version = if r.one_in(10) {
            r.u32() as u8
        } else {
            GENL_VERSION
        };
        let mut m = Msg::new(ty, flags, seq, cmd, version);
        if r.one_in(20) {
            m.0[18] = r.u32() as u8; // genl reserved
            well_formed = false;
        }
        let mut group_create = cmd == CMD_CREATE;
        let nattrs = self.rng.below(6);
        for _ in 0..nattrs {
            let aty = if self.rng.one_in(6) {
                self.rng.u32() as u16 & 0x3fff
            } else {
                self.rng.below(A_MAX as u64 + 3) as u16
            };
            if aty == A_COUNTER {
                group_create = false;
            }
            if self.rng.one_in(15) {
                // Nested: a few random attributes inside.
                let mut inner = Msg(Vec::new());
                for _ in 0..self.rng.below(4) {
                    let t = self.rng.below(A_MAX as u64 + 2) as u16;
                    let p = self.payload_for(t);
                    inner.put_attr(t, &p);
                }
                m.put_attr(aty | NLA_F_NESTED, &inner.0);
            } else {
                let p = self.payload_for(aty);
                m.put_attr(aty, &p);
            }
        }
        let mut b = m.finish();
        let r = &mut self.rng;
        match r.below(40) {
            0 => {
                // Truncated: cut anywhere, header included.
                let n = r.below(b.len() as u64) as usize;
                b.truncate(n);
                well_formed = false;
            }
            1 => {
                // nlmsg_len lies.
                let l = r.interesting_u32();
                put_u32(&mut b, 0, l);
                well_formed = false;
            }
            2 => {
                // Truncated inside the last attribute, nlmsg_len adjusted.
                let n = b
                    .len()
                    .saturating_sub(1 + r.below(6) as usize)
                    .max(NLMSG_HDRLEN);
                b.truncate(n);
                put_u32(&mut b, 0, n as u32);
                well_formed = false;
            }
            3 => {
                // Two messages in one datagram.
                let c = b.clone();
                b.extend_from_slice(&c);
            }
            _ => {}
        }
        (
            b,
            Sent {
                cmd,
                flags,
                to_family,
                well_formed: well_formed && version == GENL_VERSION && to_family,
                group_create: group_create && to_family,
            },
        )
    }

    fn judge(&mut self, i: u64, sent: &Sent, replies: &[Reply]) {
        let mutating = sent.to_family && MUTATING_CMDS.contains(&sent.cmd);
        for rep in replies {
            if let Some(e) = rep.error {
                self.tally.add(if e == 0 { Ok(0) } else { Err(e) });
                if e != 0 && !plausible_errno(e) {
                    self.problem(format!(
                        "message {i} cmd {}: implausible errno {e}",
                        sent.cmd
                    ));
                }
                if e == libc::EINVAL && sent.to_family {
                    self.extack_einval.1 += 1;
                    if rep.extack {
                        self.extack_einval.0 += 1;
                    }
                }
            }
        }
        // Without NLM_F_REQUEST the netlink core acks (error 0) without dispatching.
        if !mutating || sent.flags & NLM_F_REQUEST == 0 {
            return;
        }
        let acked_ok = replies.iter().any(|r| r.error == Some(0));
        let data = replies.iter().any(|r| r.ty == self.family);
        let errors: Vec<i32> = replies
            .iter()
            .filter_map(|r| r.error)
            .filter(|&e| e != 0)
            .collect();
        if self.root {
            if sent.group_create
                && let Some(id) = replies
                    .iter()
                    .flat_map(|r| &r.attrs)
                    .find(|(t, v)| *t == A_ID && v.len() == 8)
                    .map(|(_, v)| get_u64(v, 0))
            {
                self.created_groups.push(id);
            }
            return;
        }
        if acked_ok || data {
            self.problem(format!(
                "message {i}: non-root command {} (flags {:#x}) succeeded",
                sent.cmd, sent.flags
            ));
        } else if !errors.is_empty() {
            self.refused += 1;
            // The genetlink core validates the attributes against the command's policy
            // before kpeek's handler checks CAP_SYS_ADMIN: a well-formed header with
            // attributes the policy refuses gets EINVAL (or ERANGE), anything else EPERM.
            if sent.well_formed
                && errors
                    .iter()
                    .any(|&e| !matches!(e, libc::EPERM | libc::EINVAL | libc::ERANGE))
            {
                self.problem(format!(
                    "message {i}: non-root well-formed command {} (flags {:#x}): {}, want EPERM \
                     (or EINVAL/ERANGE from the policy)",
                    sent.cmd,
                    sent.flags,
                    errno_name(Err(errors[0]))
                ));
            }
        }
    }
}

fn destroy_groups(s: &mut GenlSock, family: u16, ids: &[u64]) -> Vec<String> {
    let mut errs = Vec::new();
    for &id in ids {
        let msg = Msg::new(
            family,
            NLM_F_REQUEST | NLM_F_ACK,
            3,
            CMD_DESTROY,
            GENL_VERSION,
        )
        .attr(A_TARGET, &TARGET_GROUP.to_ne_bytes())
        .attr(A_ID, &id.to_ne_bytes())
        .finish();
        match s.request(&msg) {
            Ok(r) => {
                if let Some(e) = r
                    .iter()
                    .filter_map(|r| r.error)
                    .find(|&e| e != 0 && e != libc::ENOENT)
                {
                    errs.push(format!("destroy group {id}: {}", errno_name(Err(e))));
                }
            }
            Err(e) => errs.push(format!("destroy group {id}: {e}")),
        }
    }
    errs
}

fn disable_probes(s: &mut GenlSock, family: u16) -> Vec<String> {
    let mut errs = Vec::new();
    for p in 1..=PROBE_MAX {
        let msg = Msg::new(
            family,
            NLM_F_REQUEST | NLM_F_ACK,
            4,
            CMD_PROBE_SET,
            GENL_VERSION,
        )
        .attr(A_PROBE, &p.to_ne_bytes())
        .attr(A_PROBE_FLAGS, &0u32.to_ne_bytes())
        .finish();
        match s.request(&msg) {
            Ok(r) => {
                if let Some(e) = r.iter().filter_map(|r| r.error).find(|&e| e != 0) {
                    errs.push(format!("probe {p}: {}", errno_name(Err(e))));
                }
            }
            Err(e) => errs.push(format!("probe {p}: {e}")),
        }
    }
    errs
}

/// Well-formed mutations a non-root caller must see refused with EPERM.
fn nonroot_exact_checks(s: &mut GenlSock, family: u16, r: &Report, counters: &[u64]) {
    let id = counters.first().copied().unwrap_or(1);
    let msgs: Vec<(&str, Msg)> = vec![
        (
            "RESET all",
            Msg::new(family, 5, 10, CMD_RESET, GENL_VERSION),
        ),
        (
            "RESET counter",
            Msg::new(family, 5, 11, CMD_RESET, GENL_VERSION).attr(A_ID, &id.to_ne_bytes()),
        ),
        (
            "CREATE group",
            Msg::new(family, 5, 12, CMD_CREATE, GENL_VERSION).attr(A_GROUP, b"fz_nonroot\0"),
        ),
        (
            "DESTROY counter",
            Msg::new(family, 5, 13, CMD_DESTROY, GENL_VERSION)
                .attr(A_TARGET, &TARGET_COUNTER.to_ne_bytes())
                .attr(A_ID, &id.to_ne_bytes()),
        ),
        (
            "SET_THRESHOLD",
            Msg::new(family, 5, 14, CMD_SET_THRESHOLD, GENL_VERSION)
                .attr(A_ID, &id.to_ne_bytes())
                .attr(A_THRESHOLD, &5u64.to_ne_bytes()),
        ),
        (
            "PROBE_SET",
            Msg::new(family, 5, 15, CMD_PROBE_SET, GENL_VERSION)
                .attr(A_PROBE, &PROBE_SCHED_SWITCH.to_ne_bytes())
                .attr(A_PROBE_FLAGS, &PROBE_F_ENABLE.to_ne_bytes()),
        ),
    ];
    let mut bad = Vec::new();
    for (name, m) in msgs {
        match s.request(&m.finish()) {
            Ok(rep) => {
                let e = rep.iter().find_map(|r| r.error);
                if e != Some(libc::EPERM) {
                    bad.push(format!(
                        "{name}: {}",
                        e.map_or("no error".into(), |e| errno_name(if e == 0 {
                            Ok(0)
                        } else {
                            Err(e)
                        }))
                    ));
                }
            }
            Err(e) => bad.push(format!("{name}: {e}")),
        }
    }
    r.check(
        "non-root: every well-formed mutating netlink command gets EPERM",
        bad.is_empty(),
        || bad.join(", "),
    );
}

pub fn run(root: &SysRoot, r: &Report, a: Args) -> anyhow::Result<()> {
    let seed = a.common.seed.unwrap_or_else(syscalls::clock_seed);
    println!(
        "fuzz-netlink: seed {seed} ({} messages; replay with --seed {seed})",
        a.common.calls
    );
    if let Some(n) = a.dump {
        let mut f = Fuzzer::new(seed, 0xffff, syscalls::geteuid() == 0, Vec::new());
        for i in 0..=n {
            let (msg, sent) = f.message(100 + i as u32);
            if i == n {
                let hex: Vec<String> = msg.iter().map(|b| format!("{b:02x}")).collect();
                println!(
                    "message {n}: cmd {} flags {:#x} well-formed {}: {}",
                    sent.cmd,
                    sent.flags,
                    sent.well_formed,
                    hex.join(" ")
                );
            }
        }
        return Ok(());
    }
    let mut s = GenlSock::open()?;
    // The device, when this user may read it, adds the probe configuration to the state check.
    let dev = syscalls::open(uapi::DEV_PATH, libc::O_RDONLY).ok();
    if let Some(uid) = a.common.drop_uid {
        syscalls::drop_privileges(uid)?;
    }
    let is_root = syscalls::geteuid() == 0;
    let who = if is_root {
        "root".to_owned()
    } else {
        format!("uid {}", syscalls::geteuid())
    };
    let family = resolve_family(&mut s)?;
    let info_before = get_info(&mut s, family)?;
    let before = State::capture(
        root,
        dev.as_ref().map(syscalls::raw),
        &a.common.volatile_group,
    )?;
    let counter_ids = match &dev {
        Some(d) => crate::fuzz_ioctl::list_ids(syscalls::raw(d))?.0,
        None => Vec::new(),
    };
    if !is_root {
        nonroot_exact_checks(&mut s, family, r, &counter_ids);
    }

    let mut f = Fuzzer::new(seed, family, is_root, counter_ids);
    let mut sends = Tally::default();
    let mut replies = Vec::new();
    let t0 = std::time::Instant::now();
    for i in 0..a.common.calls {
        let seq = 100 + i as u32;
        let (msg, sent) = f.message(seq);
        let res = s.send(&msg);
        sends.add(res.map(|()| 0));
        if let Err(e) = res
            && !plausible_errno(e)
        {
            f.problem(format!("message {i}: send: implausible errno {e}"));
        }
        replies.clear();
        if let Err(e) = s.drain(&mut replies) {
            // ENOBUFS: replies overran the socket (a huge dump); anything else is odd.
            if e != libc::ENOBUFS {
                f.problem(format!("message {i}: recv: {}", errno_name(Err(e))));
            }
        }
        // Replies to this message only (a datagram with two copies answers twice).
        let mine: Vec<Reply> = replies.drain(..).filter(|r| r.seq == seq).collect();
        f.judge(i, &sent, &mine);
        if is_root && f.created_groups.len() > 32 {
            let ids = std::mem::take(&mut f.created_groups);
            destroy_groups(&mut s, family, &ids);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut cleanup = Vec::new();
    if is_root {
        let ids = std::mem::take(&mut f.created_groups);
        cleanup.extend(destroy_groups(&mut s, family, &ids));
        cleanup.extend(disable_probes(&mut s, family));
    }
    println!("fuzz-netlink: sendto: {}", sends.line());
    println!("fuzz-netlink: acks/errors: {}", f.tally.line());
    println!(
        "fuzz-netlink: {} of {} EINVAL errors to kpeek carried an extended ack (message or offset)",
        f.extack_einval.0, f.extack_einval.1
    );
    let total: u64 = sends.0.values().sum();
    println!(
        "fuzz-netlink: {total} messages as {who} in {secs:.1}s ({:.0}/s), seed {seed}",
        total as f64 / secs
    );
    r.check(
        &format!(
            "fuzz-netlink as {who}: {total} messages, every answer as specified (seed {seed})"
        ),
        f.nproblems == 0 && total >= a.common.calls,
        || {
            format!(
                "{} unexpected results: {}",
                f.nproblems,
                f.problems.join("; ")
            )
        },
    );
    let info_after = get_info(&mut s, family);
    r.check(
        &format!("fuzz-netlink as {who}: GET_INFO still answers"),
        info_after.is_ok(),
        || format!("{:#}", info_after.as_ref().unwrap_err()),
    );
    if is_root {
        r.check(
            "fuzz-netlink: fuzz groups destroyed and probes detached afterwards",
            cleanup.is_empty(),
            || cleanup.join(", "),
        );
    } else {
        let after = State::capture(
            root,
            dev.as_ref().map(syscalls::raw),
            &a.common.volatile_group,
        )?;
        let mut d = before.diff(&after);
        if let Ok(ia) = &info_after
            && *ia != info_before
        {
            d.push("netlink GET_INFO (generation, counts) changed".into());
        }
        r.check(
            &format!(
                "fuzz-netlink as {who}: {} mutating messages refused, module state unchanged{}",
                f.refused,
                if dev.is_some() {
                    ""
                } else {
                    " (procfs and GET_INFO; /dev/kpeek not readable)"
                }
            ),
            d.is_empty() && f.refused > 0,
            || format!("{} refused; changes: {}", f.refused, d.join("; ")),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_parser_round_trip() {
        let m = Msg::new(30, NLM_F_REQUEST, 7, CMD_GET_COUNTER, 1)
            .attr(A_ID, &5u64.to_ne_bytes())
            .attr(A_GROUP, b"abc\0")
            .finish();
        assert_eq!(get_u32(&m, 0) as usize, m.len());
        assert_eq!(m.len() % 4, 0);
        let mut out = Vec::new();
        parse_replies(&m, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].ty, out[0].seq), (30, 7));
        assert_eq!(out[0].attrs[0], (A_ID, 5u64.to_ne_bytes().to_vec()));
        assert_eq!(out[0].attrs[1], (A_GROUP, b"abc\0".to_vec()));
        // A truncated datagram parses what is whole and stops.
        let mut out = Vec::new();
        parse_replies(&m[..m.len() - 2], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn fuzz_messages_are_reproducible() {
        let mk = || Fuzzer::new(99, 30, true, vec![1, 2]);
        let (mut a, mut b) = (mk(), mk());
        for i in 0..500 {
            assert_eq!(a.message(i).0, b.message(i).0);
        }
    }
}

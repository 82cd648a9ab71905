//! A generic netlink socket through raw system calls, and the messages on it: what
//! `fuzz-netlink` sends malformed and `bench` sends well-formed to kpeek.ko's family.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::fuzzstate::errno_name;
use crate::syscalls;
use crate::uapi::{self, *};

pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const GENL_HDRLEN: usize = 4;
pub(crate) const NLM_F_REQUEST: u16 = 1;
pub(crate) const NLM_F_ACK: u16 = 4;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const GENL_ID_CTRL: u16 = 16;
pub(crate) const CTRL_CMD_GETFAMILY: u8 = 3;
pub(crate) const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub(crate) const CTRL_ATTR_FAMILY_NAME: u16 = 2;
pub(crate) const NLA_F_NESTED: u16 = 1 << 15;
pub(crate) const NETLINK_EXT_ACK: i32 = 11;
pub(crate) const NLMSGERR_ATTR_MSG: u16 = 1;
pub(crate) const NLMSGERR_ATTR_OFFS: u16 = 2;
pub(crate) const NLM_F_ACK_TLVS: u16 = 0x200;

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

/// A message builder (its bytes so far are open: the fuzzer changes them).
pub struct Msg(pub(crate) Vec<u8>);

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

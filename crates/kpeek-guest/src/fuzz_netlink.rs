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

use kpeek_client::SysRoot;

use crate::fuzzstate::{FuzzArgs, State, Tally, errno_name, plausible_errno};
use crate::genl::*;
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

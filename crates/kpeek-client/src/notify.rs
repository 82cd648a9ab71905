//! The `events` multicast group of the generic netlink family `kpeek` (kmod/kpeek_netlink.c):
//! the kernel pushes a notification when a group or counter is created or removed, and when a
//! counter rises to a threshold user space set ([`crate::netlink::Netlink::set_threshold`]).
//!
//! [`Listener::next`] waits (with an optional timeout) and yields [`Notification`]s; when the
//! socket's receive buffer overflowed the kernel dropped notifications, which is reported as a
//! [`NotificationKind::Overrun`] item in place, never silently.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use kpeek_abi::genl::{attr, cmd, event};
use neli::consts::nl::NlmF;
use neli::err::SocketError;
use neli::genl::Genlmsghdr;
use neli::nl::NlPayload;
use neli::utils::Groups;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::netlink::{AttrError, Attrs, Netlink, place};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotificationKind {
    /// A group was created.
    GroupCreated,
    /// A group was removed.
    GroupRemoved,
    /// A counter was created.
    CounterCreated,
    /// A counter was removed.
    CounterRemoved,
    /// A counter rose to at least its threshold.
    Threshold,
    /// The socket buffer overflowed: the kernel dropped notifications (how many is unknown).
    Overrun,
    /// An event number this kpeek does not know (a newer module).
    Unknown,
}

impl NotificationKind {
    /// The name printed by `kpeek mod listen`.
    pub fn name(self) -> &'static str {
        match self {
            NotificationKind::GroupCreated => "group_created",
            NotificationKind::GroupRemoved => "group_removed",
            NotificationKind::CounterCreated => "counter_created",
            NotificationKind::CounterRemoved => "counter_removed",
            NotificationKind::Threshold => "threshold",
            NotificationKind::Overrun => "overrun",
            NotificationKind::Unknown => "unknown",
        }
    }
}

/// One notification; fields the event does not carry are `None` (and left out of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// What happened.
    pub event: NotificationKind,
    /// The event number, for [`NotificationKind::Unknown`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_event: Option<u32>,
    /// The group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// The counter's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The group's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u64>,
    /// The counter's value when it crossed its threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// The threshold it crossed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
}

impl Notification {
    fn overrun() -> Notification {
        Notification {
            event: NotificationKind::Overrun,
            raw_event: None,
            group: None,
            counter: None,
            id: None,
            group_id: None,
            value: None,
            threshold: None,
        }
    }
}

/// Decode a `KPEEK_CMD_EVENT` notification's attributes; the attributes each kind must carry
/// are required.
pub fn decode_notification(a: &Attrs) -> std::result::Result<Notification, AttrError> {
    let raw = a.need_u32(attr::EVENT)?;
    let kind = match raw {
        event::GROUP_CREATED => NotificationKind::GroupCreated,
        event::GROUP_REMOVED => NotificationKind::GroupRemoved,
        event::COUNTER_CREATED => NotificationKind::CounterCreated,
        event::COUNTER_REMOVED => NotificationKind::CounterRemoved,
        event::THRESHOLD => NotificationKind::Threshold,
        _ => NotificationKind::Unknown,
    };
    let e = Notification {
        event: kind,
        raw_event: (kind == NotificationKind::Unknown).then_some(raw),
        group: a.str(attr::GROUP)?,
        counter: a.str(attr::COUNTER)?,
        id: a.u64(attr::ID)?,
        group_id: a.u64(attr::GROUP_ID)?,
        value: a.u64(attr::VALUE)?,
        threshold: a.u64(attr::THRESHOLD)?,
    };
    match kind {
        NotificationKind::GroupCreated | NotificationKind::GroupRemoved => {
            a.need_str(attr::GROUP)?;
            a.need_u64(attr::GROUP_ID)?;
        }
        NotificationKind::CounterCreated | NotificationKind::CounterRemoved => {
            a.need_str(attr::GROUP)?;
            a.need_str(attr::COUNTER)?;
            a.need_u64(attr::ID)?;
        }
        NotificationKind::Threshold => {
            a.need_str(attr::GROUP)?;
            a.need_str(attr::COUNTER)?;
            a.need_u64(attr::ID)?;
            a.need_u64(attr::VALUE)?;
            a.need_u64(attr::THRESHOLD)?;
        }
        NotificationKind::Overrun | NotificationKind::Unknown => {}
    }
    Ok(e)
}

/// A socket subscribed to the `events` group.
#[derive(Debug)]
pub struct Listener {
    nl: Netlink,
    queue: VecDeque<Notification>,
    overruns: u64,
    malformed: u64,
}

impl Listener {
    /// Resolve the family and join its `events` group.
    pub fn connect() -> Result<Listener> {
        let nl = Netlink::connect()?;
        let group = nl.events_group().ok_or_else(|| Error::Binary {
            path: place(),
            offset: 0,
            fault: Box::new(crate::BinaryFault::NoEventsGroup),
        })?;
        nl.socket()
            .add_mcast_membership(Groups::new_groups(&[group]))
            .map_err(|e| Error::Io {
                op: "joining the events multicast group of",
                path: place(),
                error: std::io::Error::other(e.to_string()),
            })?;
        Ok(Listener {
            nl,
            queue: VecDeque::new(),
            overruns: 0,
            malformed: 0,
        })
    }

    /// Times the receive buffer overflowed (notifications lost).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Notifications that could not be decoded (skipped, counted).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    fn set_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: the socket's fd is open for as long as `self.nl` lives.
        let fd = unsafe { BorrowedFd::borrow_raw(self.nl.socket().as_raw_fd()) };
        // A zero timeout would mean "forever" to SO_RCVTIMEO.
        let t = timeout.map(|d| d.max(Duration::from_micros(1)));
        rustix::net::sockopt::set_socket_timeout(fd, rustix::net::sockopt::Timeout::Recv, t)
            .map_err(|e| Error::kernel("SO_RCVTIMEO", place(), e.raw_os_error(), None))
    }

    /// The next notification; `None` when `timeout` passed without one.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Option<Notification>> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(Some(e));
        }
        self.set_timeout(timeout)?;
        loop {
            let recv = self.nl.socket().recv::<u16, Genlmsghdr<u8, u16>>();
            let (iter, _) = match recv {
                Ok(x) => x,
                Err(SocketError::Io(e)) => match e.raw_os_error() {
                    Some(105) => {
                        // ENOBUFS: the kernel dropped notifications for this socket.
                        self.overruns += 1;
                        return Ok(Some(Notification::overrun()));
                    }
                    Some(11) | Some(4) => return Ok(None),
                    _ if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                    _ => {
                        return Err(Error::Io {
                            op: "receiving from",
                            path: place(),
                            error: std::io::Error::new(e.kind(), e.to_string()),
                        });
                    }
                },
                Err(e) => {
                    return Err(Error::Io {
                        op: "receiving from",
                        path: place(),
                        error: std::io::Error::other(e.to_string()),
                    });
                }
            };
            for m in iter {
                let Ok(m) = m else {
                    self.malformed += 1;
                    continue;
                };
                if *m.nl_type() != self.nl.family_id() || m.nl_flags().contains(NlmF::ACK) {
                    continue;
                }
                if let NlPayload::Payload(p) = m.nl_payload() {
                    if *p.cmd() != cmd::EVENT {
                        continue;
                    }
                    let a = Attrs(
                        p.attrs()
                            .iter()
                            .map(|a| (*a.nla_type().nla_type(), a.nla_payload().as_ref().to_vec()))
                            .collect(),
                    );
                    match decode_notification(&a) {
                        Ok(e) => self.queue.push_back(e),
                        Err(_) => self.malformed += 1,
                    }
                }
            }
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(pairs: &[(u16, Vec<u8>)]) -> Attrs {
        Attrs(pairs.to_vec())
    }

    #[test]
    fn decodes_each_event() {
        let e = decode_notification(&a(&[
            (attr::EVENT, event::COUNTER_CREATED.to_ne_bytes().to_vec()),
            (attr::ID, 9u64.to_ne_bytes().to_vec()),
            (attr::GROUP, b"g\0".to_vec()),
            (attr::COUNTER, b"c\0".to_vec()),
        ]))
        .unwrap();
        assert_eq!(e.event, NotificationKind::CounterCreated);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"counter_created","group":"g","counter":"c","id":9}"#
        );
        let t = decode_notification(&a(&[
            (attr::EVENT, event::THRESHOLD.to_ne_bytes().to_vec()),
            (attr::ID, 9u64.to_ne_bytes().to_vec()),
            (attr::GROUP, b"g\0".to_vec()),
            (attr::COUNTER, b"c\0".to_vec()),
            (attr::VALUE, 100u64.to_ne_bytes().to_vec()),
        ]))
        .unwrap_err();
        assert_eq!(t.to_string(), "KPEEK_A_THRESHOLD is missing");
        let u = decode_notification(&a(&[(attr::EVENT, 99u32.to_ne_bytes().to_vec())])).unwrap();
        assert_eq!(
            (u.event, u.raw_event),
            (NotificationKind::Unknown, Some(99))
        );
        assert_eq!(
            decode_notification(&a(&[])).unwrap_err().to_string(),
            "KPEEK_A_EVENT is missing"
        );
    }
}

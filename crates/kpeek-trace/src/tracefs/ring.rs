//! The ftrace ring-buffer page format, as read from `per_cpu/cpuN/trace_pipe_raw`.
//!
//! Each read of `trace_pipe_raw` returns whole sub-buffer pages. A page starts with the header
//! described by `events/header_page` (a u64 base timestamp, a `local_t` commit count whose top
//! bits flag missed events, then the data), followed by events in the compressed form described
//! by `events/header_event`: a u32 with `type_len:5, time_delta:27`, then:
//!
//! - `type_len` 1..=28: a payload of `type_len * 4` bytes;
//! - `type_len` 0: `array[0]` holds the length (+4), the payload follows it;
//! - 29 padding (the rest of the page when `time_delta` is 0), 30 time extend, 31 absolute
//!   time stamp.
//!
//! Everything is bounds-checked: a corrupt page is a [`RingError`], never a panic.

use crate::format::{FormatErrorKind, parse_field_line};

const PADDING: u32 = 29;
const TIME_EXTEND: u32 = 30;
const TIME_STAMP: u32 = 31;
const TS_SHIFT: u32 = 27;
/// The commit field's flags (kernel/trace/ring_buffer.c): events were lost before this page,
/// and their count is stored after the data.
const MISSED_EVENTS: u64 = 1 << 31;
const MISSED_STORED: u64 = 1 << 30;
const COMMIT_MASK: u64 = (1 << 27) - 1;

/// Where the page header's fields are, from `events/header_page`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLayout {
    /// Offset of the page's base timestamp.
    pub timestamp_offset: usize,
    /// Offset of the committed-bytes word.
    pub commit_offset: usize,
    /// 8 on 64-bit kernels (`local_t`), 4 on 32-bit.
    pub commit_size: usize,
    /// Offset of the first event.
    pub data_offset: usize,
    /// Bytes of data a page can hold (page size minus the header).
    pub data_size: usize,
}

impl Default for PageLayout {
    /// x86-64 with 4 KiB sub-buffers.
    fn default() -> Self {
        PageLayout {
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: 8,
            data_offset: 16,
            data_size: 4080,
        }
    }
}

/// A page or a page header that does not hold together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// `events/header_page` does not parse.
    #[error("header_page line {line}: {kind}")]
    Header {
        /// The line, 1-based.
        line: usize,
        /// What is wrong with it.
        kind: FormatErrorKind,
    },
    /// `events/header_page` lacks a field the page reader needs.
    #[error("header_page lacks the `{0}` field")]
    HeaderMissing(&'static str),
    /// A page shorter than its header.
    #[error("page of {len} bytes is shorter than its {need}-byte header")]
    ShortPage {
        /// The page's length.
        len: usize,
        /// The header's length.
        need: usize,
    },
    /// A page committing more data than it holds.
    #[error("page commits {commit} bytes of data but holds only {room}")]
    BadCommit {
        /// Bytes the header says are committed.
        commit: usize,
        /// Bytes the page has room for.
        room: usize,
    },
    /// An event reaching past the committed data.
    #[error("event at page offset {at} claims {len} bytes past the committed data")]
    EventOverrun {
        /// The event's offset in the page.
        at: usize,
        /// The length it claims.
        len: usize,
    },
}

impl PageLayout {
    /// Parse the text of `events/header_page`.
    pub fn parse(text: &str) -> Result<PageLayout, RingError> {
        let (mut ts, mut commit, mut data) = (None, None, None);
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            let f = parse_field_line(t).map_err(|kind| RingError::Header { line: i + 1, kind })?;
            match f.name.as_str() {
                "timestamp" => ts = Some(f),
                "commit" => commit = Some(f),
                "data" => data = Some(f),
                _ => {}
            }
        }
        let ts = ts.ok_or(RingError::HeaderMissing("timestamp"))?;
        let commit = commit.ok_or(RingError::HeaderMissing("commit"))?;
        let data = data.ok_or(RingError::HeaderMissing("data"))?;
        if ts.size != 8 || !matches!(commit.size, 4 | 8) {
            return Err(RingError::HeaderMissing("timestamp/commit of a known size"));
        }
        Ok(PageLayout {
            timestamp_offset: ts.offset,
            commit_offset: commit.offset,
            commit_size: commit.size,
            data_offset: data.offset,
            data_size: data.size,
        })
    }

    /// The size of a whole page (what one `trace_pipe_raw` read returns).
    pub fn page_size(&self) -> usize {
        self.data_offset + self.data_size
    }
}

/// One event from a page: its absolute timestamp (trace clock) and its payload, which starts
/// with the common fields and may end with alignment padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent<'p> {
    /// Absolute timestamp, trace clock.
    pub ts: u64,
    /// The payload.
    pub data: &'p [u8],
}

/// A parsed page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<'p> {
    /// The page's base timestamp.
    pub timestamp: u64,
    /// Events lost before this page: `None` if none, `Some(None)` if lost but not counted,
    /// `Some(Some(n))` when the kernel stored the count.
    pub missed: Option<Option<u64>>,
    /// The page's events, in order.
    pub events: Vec<RawEvent<'p>>,
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(s.try_into().ok()?))
}

fn read_uint(b: &[u8], at: usize, size: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(size)?)?;
    Some(match size {
        4 => u64::from(u32::from_ne_bytes(s.try_into().ok()?)),
        8 => u64::from_ne_bytes(s.try_into().ok()?),
        _ => return None,
    })
}

/// Split one page into events.
pub fn parse_page<'p>(layout: &PageLayout, page: &'p [u8]) -> Result<Page<'p>, RingError> {
    let need = layout.data_offset;
    let short = RingError::ShortPage {
        len: page.len(),
        need,
    };
    let timestamp = read_uint(page, layout.timestamp_offset, 8).ok_or(short.clone())?;
    let flags = read_uint(page, layout.commit_offset, layout.commit_size).ok_or(short.clone())?;
    if page.len() < need {
        return Err(short);
    }
    let commit = (flags & COMMIT_MASK) as usize;
    let data = &page[need..];
    if commit > data.len() {
        return Err(RingError::BadCommit {
            commit,
            room: data.len(),
        });
    }
    let missed = if flags & MISSED_EVENTS != 0 {
        Some(if flags & MISSED_STORED != 0 {
            read_uint(data, commit, layout.commit_size)
        } else {
            None
        })
    } else {
        None
    };
    let data = &data[..commit];

    let mut ts = timestamp;
    let mut events = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let Some(head) = read_u32(data, at) else {
            break;
        };
        let type_len = head & 0x1f;
        let delta = u64::from(head >> 5);
        let here = need + at;
        let overrun = |len: usize| RingError::EventOverrun { at: here, len };
        match type_len {
            PADDING => {
                if delta == 0 {
                    break; // the rest of the page is padding
                }
                let len = read_u32(data, at + 4).ok_or(overrun(8))? as usize;
                at = at.checked_add(4 + len).ok_or(overrun(len))?;
                if at > data.len() {
                    return Err(overrun(len));
                }
            }
            TIME_EXTEND => {
                let hi = u64::from(read_u32(data, at + 4).ok_or(overrun(8))?);
                ts = ts.wrapping_add((hi << TS_SHIFT) | delta);
                at += 8;
            }
            TIME_STAMP => {
                let hi = u64::from(read_u32(data, at + 4).ok_or(overrun(8))?);
                // The absolute stamp holds the low 59 bits; keep the page's top bits.
                let abs = (hi << TS_SHIFT) | delta;
                ts = (ts & !((1u64 << 59) - 1)) | abs;
                at += 8;
            }
            0 => {
                let len = read_u32(data, at + 4).ok_or(overrun(8))? as usize;
                let payload = len.checked_sub(4).ok_or(overrun(len))?;
                let start = at + 8;
                let end = start.checked_add(payload).ok_or(overrun(len))?;
                let body = data.get(start..end).ok_or(overrun(len))?;
                ts = ts.wrapping_add(delta);
                events.push(RawEvent { ts, data: body });
                at = end;
            }
            n => {
                let len = n as usize * 4;
                let start = at + 4;
                let body = data.get(start..start + len).ok_or(overrun(len))?;
                ts = ts.wrapping_add(delta);
                events.push(RawEvent { ts, data: body });
                at = start + len;
            }
        }
    }
    Ok(Page {
        timestamp,
        missed,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_PAGE: &str = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
";

    fn page(events: &[u8], flags: u64) -> Vec<u8> {
        let mut p = vec![0u8; 4096];
        p[0..8].copy_from_slice(&1000u64.to_ne_bytes());
        p[8..16].copy_from_slice(&(events.len() as u64 | flags).to_ne_bytes());
        p[16..16 + events.len()].copy_from_slice(events);
        p
    }

    fn head(type_len: u32, delta: u32) -> [u8; 4] {
        (type_len | (delta << 5)).to_ne_bytes()
    }

    #[test]
    fn layout_from_header_page() {
        let l = PageLayout::parse(HEADER_PAGE).unwrap();
        assert_eq!(l, PageLayout::default());
        assert_eq!(l.page_size(), 4096);
        assert!(matches!(
            PageLayout::parse("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"),
            Err(RingError::HeaderMissing("commit"))
        ));
    }

    #[test]
    fn events_and_time() {
        let mut ev = Vec::new();
        // A small event: 8 bytes, delta 5.
        ev.extend_from_slice(&head(2, 5));
        ev.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        // A time extend of (1 << 27) + 3.
        ev.extend_from_slice(&head(TIME_EXTEND, 3));
        ev.extend_from_slice(&1u32.to_ne_bytes());
        // A large event (type_len 0): 12 bytes of payload, delta 2.
        ev.extend_from_slice(&head(0, 2));
        ev.extend_from_slice(&16u32.to_ne_bytes());
        ev.extend_from_slice(&[9; 12]);
        // Padding with a length, then a last small event.
        ev.extend_from_slice(&head(PADDING, 1));
        ev.extend_from_slice(&4u32.to_ne_bytes());
        ev.extend_from_slice(&head(1, 0));
        ev.extend_from_slice(&[7; 4]);
        let p = page(&ev, 0);
        let l = PageLayout::default();
        let got = parse_page(&l, &p).unwrap();
        assert_eq!(got.missed, None);
        assert_eq!(got.events.len(), 3);
        assert_eq!(got.events[0].ts, 1005);
        assert_eq!(got.events[0].data, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(got.events[1].ts, 1005 + (1 << 27) + 3 + 2);
        assert_eq!(got.events[1].data, &[9; 12]);
        assert_eq!(got.events[2].data, &[7; 4]);

        let lost = page(&ev, MISSED_EVENTS);
        assert_eq!(parse_page(&l, &lost).unwrap().missed, Some(None));
    }

    #[test]
    fn corrupt_pages_are_errors() {
        let l = PageLayout::default();
        assert!(matches!(
            parse_page(&l, &[0; 10]),
            Err(RingError::ShortPage { .. })
        ));
        let mut p = page(&[], 0);
        p[8..16].copy_from_slice(&5000u64.to_ne_bytes());
        assert!(matches!(
            parse_page(&l, &p),
            Err(RingError::BadCommit { .. })
        ));
        let mut ev = Vec::new();
        ev.extend_from_slice(&head(0, 0));
        ev.extend_from_slice(&u32::MAX.to_ne_bytes());
        assert!(matches!(
            parse_page(&l, &page(&ev, 0)),
            Err(RingError::EventOverrun { .. })
        ));
        // Every prefix of a page and every corrupted word: no panic.
        let good = page(&[head(2, 1), [0; 4], [0; 4]].concat(), 0);
        for cut in 0..64 {
            let _ = parse_page(&l, &good[..cut]);
        }
        for i in 16..40 {
            let mut bad = good.clone();
            bad[i] = 0xff;
            let _ = parse_page(&l, &bad);
        }
    }
}

//! Tests of the ring reader: records, sequence tracking, and the protocol against a producer.

use super::*;
use kpeek_abi::mmap::{
    REC_NETIF_RECEIVE_SKB, REC_SCHED_SWITCH, RecHeader, RecNetif, RecSchedSwitch,
};
use proptest::prelude::*;

pub(crate) fn netif(seq: u32, dev: &str, len: u32) -> Vec<u8> {
    let r = RecNetif {
        hdr: RecHeader {
            ts_ns: 1000 + u64::from(seq),
            seq,
            ty: REC_NETIF_RECEIVE_SKB,
            len: size_of::<RecNetif>() as u16,
            cpu: 1,
            pid: 0,
        },
        dev: kpeek_abi::dev::to_cbuf(dev).unwrap(),
        len,
        protocol: 0x800,
        reserved: 0,
    };
    bytemuck::bytes_of(&r).to_vec()
}

#[test]
fn parses_each_record_type() {
    let b = netif(3, "lo", 84);
    let Parsed::Record(r, n) = parse_record(&b).unwrap() else {
        panic!()
    };
    assert_eq!(n, 48);
    assert_eq!((r.seq, r.cpu, r.ts_ns), (3, 1, 1003));
    assert_eq!(
        r.body,
        RecordBody::NetifReceiveSkb {
            dev: "lo".into(),
            len: 84,
            protocol: 0x800
        }
    );
    let s = RecSchedSwitch {
        hdr: RecHeader {
            ts_ns: 5,
            seq: 0,
            ty: REC_SCHED_SWITCH,
            len: 72,
            cpu: 0,
            pid: 9,
        },
        prev_comm: *b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        next_comm: *b"swapper/0\0\0\0\0\0\0\0",
        prev_pid: 9,
        next_pid: 0,
        prev_state: 1,
    };
    let Parsed::Record(r, 72) = parse_record(bytemuck::bytes_of(&s)).unwrap() else {
        panic!()
    };
    assert_eq!(r.body.name(), "sched_switch");
    let mut pad = vec![0u8; 64];
    pad[2] = 64;
    assert_eq!(parse_record(&pad).unwrap(), Parsed::Pad(64));
    // A pad needs only its type and length: 8 bytes left before the end.
    assert_eq!(
        parse_record(&[0, 0, 8, 0, 9, 9, 9, 9]).unwrap(),
        Parsed::Pad(8)
    );
    assert!(parse_record(&[0, 0, 16, 0, 9, 9, 9, 9]).is_err());
    // An unknown type keeps its payload.
    let mut u = netif(0, "x", 1);
    u[0] = 77;
    let Parsed::Record(r, 48) = parse_record(&u).unwrap() else {
        panic!()
    };
    assert!(matches!(r.body, RecordBody::Unknown { ty: 77, ref payload } if payload.len() == 24));
}

#[test]
fn rejects_bad_lengths() {
    let b = netif(3, "lo", 84);
    for (len, want) in [
        (0u16, "length 0"),
        (20, "length 20"),
        (44, "length 44"),
        (56, "length 56"),
        (40, "its type needs 48"),
    ] {
        let mut m = b.clone();
        m[2..4].copy_from_slice(&len.to_ne_bytes());
        let e = parse_record(&m).unwrap_err().to_string();
        assert!(e.contains(want), "{len}: {e}");
    }
    assert!(
        parse_record(&b[..10])
            .unwrap_err()
            .to_string()
            .contains("less than a 24-byte")
    );
}

#[test]
fn records_serialize_flat() {
    let Parsed::Record(r, _) = parse_record(&netif(3, "lo", 84)).unwrap() else {
        panic!()
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"ts_ns":1003,"seq":3,"cpu":1,"pid":0,"event":"netif_receive_skb","dev":"lo","len":84,"protocol":2048}"#
    );
}

#[test]
fn seq_gaps_are_lost_records() {
    let mut st = RingStats::default();
    let mut t = SeqTracker::default();
    assert_eq!(t.see(10, &mut st), 0);
    assert_eq!(t.see(11, &mut st), 0);
    assert_eq!(t.see(15, &mut st), 3);
    assert_eq!(t.see(15, &mut st), 0);
    assert_eq!(st.seq_backwards, 1);
    assert_eq!(t.see(16, &mut st), 0);
    // Wrapping at 2^32 is not a gap.
    let mut t = SeqTracker::default();
    t.see(u32::MAX, &mut st);
    assert_eq!(t.see(0, &mut st), 0);
    assert_eq!(st.seq_lost, 3);
}

/// The kernel's side of the protocol over an anonymous mapping laid out like a ring
/// mapping: writes records (with pads at the end), drops and counts what does not fit.
struct Producer {
    base: *mut u8,
    page: usize,
    size: u64,
    head: u64,
    seq: u32,
    lost: u64,
}

impl Producer {
    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: `off` is a field offset of the header page, which `fake_ring` mapped
        // read-write for the life of the test; the field is 8-aligned and the consumer reads it
        // only atomically.
        unsafe { AtomicU64::from_ptr(self.base.add(off).cast()) }
    }

    fn word32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: as in `word`, for a 4-aligned header field.
        unsafe { AtomicU32::from_ptr(self.base.add(off).cast()) }
    }

    fn write(&self, at: u64, bytes: &[u8]) {
        // SAFETY: `produce` keeps `at + bytes.len()` within the data area (it pads and wraps
        // before the end), and the consumer never reads bytes past the published head.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.base.add(self.page + at as usize),
                bytes.len(),
            )
        }
    }

    /// Produce one netif record of `len` bytes (>= 48); false when it was lost.
    fn produce(&mut self, len: usize) -> bool {
        let seq = self.seq;
        self.seq += 1;
        let tail = u64::from(
            self.word32(offset_of!(RingHeader, tail))
                .load(Ordering::Acquire),
        );
        let free = tail.wrapping_sub(self.head + 8) & (self.size - 1);
        let to_end = self.size - self.head;
        let need = if len as u64 > to_end {
            to_end + len as u64
        } else {
            len as u64
        };
        if need > free {
            self.lost += 1;
            self.word(offset_of!(RingHeader, lost))
                .store(self.lost, Ordering::Relaxed);
            return false;
        }
        if len as u64 > to_end {
            let mut pad = vec![0u8; to_end as usize];
            pad[2..4].copy_from_slice(&(to_end as u16).to_ne_bytes());
            self.write(self.head, &pad);
            self.head = 0;
        }
        let mut rec = netif(seq, "lo", len as u32);
        rec[2..4].copy_from_slice(&(len as u16).to_ne_bytes());
        rec.resize(len, 0xab);
        self.write(self.head, &rec);
        self.head = (self.head + len as u64) % self.size;
        self.word32(offset_of!(RingHeader, head))
            .store(self.head as u32, Ordering::Release);
        true
    }
}

/// A ring over anonymous memory plus its producer.
fn fake_ring(data_size: u32) -> (Ring, Producer) {
    let page = rustix::param::page_size();
    let len = page + data_size as usize;
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let p = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .unwrap()
    .cast::<u8>();
    let h = RingHeader {
        magic: RING_MAGIC,
        cpu: 1,
        data_offset: page as u32,
        data_size,
        ..bytemuck::Zeroable::zeroed()
    };
    // SAFETY: the mapping is at least a page long and writable; the header is smaller.
    unsafe {
        std::ptr::copy_nonoverlapping(bytemuck::bytes_of(&h).as_ptr(), p, size_of::<RingHeader>())
    };
    let ring = Ring {
        ptr: NonNull::new(p).unwrap(),
        map_len: len,
        data_off: page,
        size: data_size as usize,
        cpu: 1,
        tail: 0,
        published: 0,
        sink: TailSink::Header,
        consume_err: None,
        seq: SeqTracker::default(),
        stats: RingStats::default(),
        lost_at_open: 0,
    };
    let prod = Producer {
        base: p,
        page,
        size: u64::from(data_size),
        head: 0,
        seq: 0,
        lost: 0,
    };
    (ring, prod)
}

fn read_all(ring: &mut Ring) -> Vec<RingItem> {
    ring.records().map(|r| r.unwrap()).collect()
}

/// The protocol with a real concurrent producer: one thread produces records of varying
/// lengths (wrapping, padding, dropping when full) while this one reads. Every record comes
/// out whole and in order, exactly once; lost ones are accounted for.
#[test]
fn a_concurrent_producer_and_reader_agree() {
    struct SendProducer(Producer);
    // SAFETY: the producer's pointer is into a mapping that outlives the thread (the ring,
    // dropped after the join); the protocol shares it with the reader through atomics.
    unsafe impl Send for SendProducer {}

    const N: u32 = 100_000;
    let (mut ring, p) = fake_ring(8192);
    let p = SendProducer(p);
    let producer = std::thread::spawn(move || {
        let mut p = p;
        let mut lost = 0u64;
        for i in 0..N {
            if !p.0.produce(48 + 8 * (i % 9) as usize) {
                lost += 1;
            }
            if i % 64 == 0 {
                std::thread::yield_now();
            }
        }
        lost
    });
    let (mut records, mut reported_lost, mut next_seq) = (0u64, 0u64, 0u32);
    let mut take = |ring: &mut Ring| {
        for item in ring.records() {
            match item.expect("a torn or misframed record") {
                RingItem::Record(r) => {
                    assert!(r.seq >= next_seq, "seq {} after {next_seq}", r.seq);
                    next_seq = r.seq + 1;
                    records += 1;
                }
                RingItem::Lost { count, .. } => reported_lost += count,
            }
        }
    };
    while !producer.is_finished() {
        take(&mut ring);
    }
    let lost = producer.join().unwrap();
    take(&mut ring);
    assert_eq!(ring.pending(), 0);
    assert_eq!(
        records + lost,
        u64::from(N),
        "every record read once or counted lost"
    );
    assert!(
        reported_lost <= lost,
        "{reported_lost} reported lost, {lost} dropped"
    );
    assert_eq!(ring.lost(), lost);
    assert_eq!(ring.stats().seq_backwards, 0);
}

#[test]
fn wraps_with_pads_and_reports_lost_records_in_place() {
    let (mut ring, mut p) = fake_ring(4096);
    // 4096 / 72 = 56 records fill it up to 4032; the 8-byte slot stays empty.
    let written = (0..60).filter(|_| p.produce(72)).count();
    assert_eq!(written, 56);
    assert_eq!(ring.lost(), 4);
    let items = read_all(&mut ring);
    assert_eq!(items.len(), 56);
    assert_eq!(ring.pending(), 0);
    // After the reader published tail, the producer wraps with a pad (4096 - 4032 = 64).
    assert!(p.produce(72));
    assert!(p.produce(48));
    let items = read_all(&mut ring);
    assert_eq!(
        items
            .iter()
            .map(|i| match i {
                RingItem::Record(r) => format!("r{}", r.seq),
                RingItem::Lost { count, .. } => format!("lost{count}"),
            })
            .collect::<Vec<_>>(),
        ["lost4", "r60", "r61"]
    );
    let st = ring.stats();
    assert_eq!(
        (st.records, st.pads, st.seq_lost, st.seq_backwards),
        (58, 1, 4, 0)
    );
    assert_eq!(ring.lost_since_open(), st.seq_lost);
}

#[test]
fn a_corrupt_length_is_reported_and_skipped() {
    let (mut ring, mut p) = fake_ring(4096);
    p.produce(48);
    p.write(0, &[1, 0, 44, 0]);
    let got: Vec<_> = ring.records().collect();
    assert_eq!(got.len(), 1);
    let e = got[0].as_ref().unwrap_err();
    assert!(
        matches!(
            e.fault,
            RingFault::Record(BadRecord::BadLength { ty: 1, len: 44, .. })
        ),
        "{e:?}"
    );
    assert_eq!((e.cpu, e.offset), (1, 0));
    assert!(
        e.to_string()
            .starts_with("ring of CPU 1 at offset 0: record type 1 seq 0 has length 44"),
        "{e}"
    );
    assert_eq!(ring.stats().corrupt, 1);
    assert_eq!(ring.pending(), 0);
}

#[test]
fn a_head_outside_the_data_is_reported() {
    let (mut ring, p) = fake_ring(4096);
    for head in [4096u32, 12] {
        p.word32(offset_of!(RingHeader, head))
            .store(head, Ordering::Release);
        let got: Vec<_> = ring.records().collect();
        assert_eq!(got.len(), 1);
        let e = got[0].as_ref().unwrap_err();
        assert_eq!(
            e.fault,
            RingFault::HeadOutside {
                head: u64::from(head),
                size: 4096
            }
        );
        assert_eq!(
            e.to_string(),
            format!("ring of CPU 1 at offset 0: head {head} is outside the data")
        );
    }
    assert_eq!(ring.stats().corrupt, 2);
}

#[test]
fn a_header_that_is_not_this_rings_is_refused() {
    let good = SeenHeader {
        magic: RING_MAGIC,
        cpu: 2,
        data_offset: 4096,
        data_size: 8192,
        tail: 64,
    };
    assert_eq!(good.check(2, 4096, 8192), Ok(()));
    let e = SeenHeader { magic: 7, ..good }.check(2, 4096, 8192);
    assert_eq!(e, Err(RingFault::Magic { found: 7 }));
    assert!(
        e.unwrap_err()
            .to_string()
            .starts_with("magic 0x00000007, expected 0x")
    );
    let e = good.check(3, 4096, 8192).unwrap_err();
    assert!(
        matches!(
            e,
            RingFault::Header {
                cpu: 2,
                expected_cpu: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "header says cpu 2, data at 4096 size 8192; expected cpu 3, data at 4096 size 8192"
    );
    assert!(matches!(
        good.check(2, 16384, 8192),
        Err(RingFault::Header {
            data_offset: 4096,
            expected_offset: 16384,
            ..
        })
    ));
    for tail in [8192, 12] {
        assert_eq!(
            SeenHeader { tail, ..good }.check(2, 4096, 8192),
            Err(RingFault::TailOutside {
                tail: u64::from(tail),
                size: 8192
            })
        );
    }
}

#[test]
fn ring_faults_say_what_went_wrong() {
    let e = RingError::new(0, 8, RingFault::ConsumeFailed { errno: 22 });
    assert_eq!(e.fault, RingFault::ConsumeFailed { errno: 22 });
    assert!(
        e.to_string()
            .starts_with("ring of CPU 0 at offset 8: KPEEK_IOC_RING_CONSUME failed ("),
        "{e}"
    );
    assert!(
        e.to_string().ends_with("): the space read stays taken"),
        "{e}"
    );
    assert_eq!(
        RingFault::SizeNotPowerOfTwo { size: 3000 }.to_string(),
        "data size 3000 is not a power of two"
    );
    // A bad record keeps its own fault as the detail, not as a second message.
    let bad = BadRecord::NoPrefix { left: 4 };
    let f = RingFault::from(bad.clone());
    assert_eq!(f.to_string(), bad.to_string());
}

proptest! {
    #[test]
    fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_record(&b);
    }

    /// Any interleaving of produce and consume: every record arrives once, in order, and
    /// the lost markers add up to the producer's lost counter.
    #[test]
    fn reader_sees_every_record_once_and_every_loss(
        ops in proptest::collection::vec((0usize..6, any::<bool>()), 1..300))
    {
        let (mut ring, mut p) = fake_ring(4096);
        let mut want = Vec::new();
        let mut got = Vec::new();
        let mut lost_seen = 0;
        for (kind, consume) in ops {
            let len = [48, 56, 72, 120, 504, 1024][kind];
            if p.produce(len) {
                want.push(p.seq - 1);
            }
            if consume {
                for it in read_all(&mut ring) {
                    match it {
                        RingItem::Record(r) => got.push(r.seq),
                        RingItem::Lost { count, .. } => lost_seen += count,
                    }
                }
            }
        }
        for it in read_all(&mut ring) {
            match it {
                RingItem::Record(r) => got.push(r.seq),
                RingItem::Lost { count, .. } => lost_seen += count,
            }
        }
        prop_assert_eq!(&got, &want);
        // Losses after the last record read show up only in the kernel counter.
        let trailing = u64::from(p.seq) - 1 - u64::from(*want.last().unwrap_or(&0));
        let leading = u64::from(*want.first().unwrap_or(&0));
        prop_assert_eq!(lost_seen + trailing * u64::from(!want.is_empty()) + leading, p.lost);
        prop_assert_eq!(ring.stats().seq_backwards, 0);
        prop_assert_eq!(ring.stats().corrupt, 0);
    }

    #[test]
    fn never_panics_with_a_plausible_header(mut b in proptest::collection::vec(any::<u8>(), 24..200), ty in 0u16..5, len in 0u16..256) {
        b[0..2].copy_from_slice(&ty.to_ne_bytes());
        b[2..4].copy_from_slice(&len.to_ne_bytes());
        if let Ok(Parsed::Record(_, n)) | Ok(Parsed::Pad(n)) = parse_record(&b) {
            prop_assert!(n <= b.len() && n % 8 == 0);
        }
    }
}

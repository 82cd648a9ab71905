//! Ring tests over anonymous mappings laid out like the kernel's: the metadata page, then the
//! data pages; a test writes records where the kernel would.

use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::perf::{Record, TracepointConfig, record_type};

fn sample_type() -> u64 {
    TracepointConfig {
        id: 1,
        sampling: true,
        callchain: false,
        wakeup_bytes: 0,
        inherit: false,
    }
    .sample_type()
}

/// A private anonymous mapping of one metadata page and `pages` data pages.
fn anon_mapping(pages: usize) -> Mapping {
    use rustix::mm::{MapFlags, ProtFlags};
    let len = (1 + pages) * page_size();
    // SAFETY: a fresh private anonymous mapping at a kernel-chosen address; the Mapping owns it.
    let ptr = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .expect("anonymous mapping");
    Mapping {
        base: NonNull::new(ptr.cast()).unwrap(),
        len,
    }
}

fn set_layout(map: &Mapping, offset: u64, size: u64) {
    // SAFETY: both fields are aligned u64s inside the mapped metadata page, not yet shared.
    unsafe {
        map.base
            .as_ptr()
            .add(DATA_OFFSET)
            .cast::<u64>()
            .write(offset);
        map.base.as_ptr().add(DATA_SIZE).cast::<u64>().write(size);
    }
}

fn fake_ring(pages: usize) -> PerfRing {
    PerfRing::from_mapping(anon_mapping(pages), pages, sample_type()).expect("valid layout")
}

/// Write `rec` at ring position `pos` the way the kernel does: split at the end.
fn put(data: *mut u8, data_size: usize, pos: u64, rec: &[u8]) {
    for (i, b) in rec.iter().enumerate() {
        let at = ((pos + i as u64) & (data_size as u64 - 1)) as usize;
        // SAFETY: at < data_size, inside the data area; the reader does not read this range
        // before the head is published past it.
        unsafe { data.add(at).write(*b) };
    }
}

/// A sample record with `tid` and a raw payload of `raw_len` bytes derived from `tid`.
fn sample_record(tid: u32, raw_len: usize) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b.extend(9u64.to_ne_bytes()); // identifier
    b.extend(10u32.to_ne_bytes());
    b.extend(tid.to_ne_bytes());
    b.extend(123u64.to_ne_bytes());
    b.extend(1u32.to_ne_bytes());
    b.extend(0u32.to_ne_bytes());
    b.extend(1u64.to_ne_bytes()); // period
    b.extend((raw_len as u32).to_ne_bytes());
    b.extend((0..raw_len).map(|i| (i as u8) ^ (tid as u8)));
    // header: type, misc, size; records are 8-byte multiples like the kernel's.
    b.resize(b.len().div_ceil(8) * 8, 0);
    let size = b.len() as u16;
    b[0..4].copy_from_slice(&record_type::SAMPLE.to_ne_bytes());
    b[6..8].copy_from_slice(&size.to_ne_bytes());
    b
}

#[test]
fn the_metadata_page_is_validated_when_mapped() {
    let page = page_size() as u64;
    for (offset, size) in [
        (page, 3 * page),     // not a power of two
        (page, 4 * page),     // past the end of a 2-page mapping
        (u64::MAX - 7, page), // overflows
        (page + 4, page / 2), // misaligned
        (8, page),            // inside the metadata page
    ] {
        let map = anon_mapping(1);
        set_layout(&map, offset, size);
        let err = PerfRing::from_mapping(map, 1, sample_type())
            .err()
            .expect("rejected");
        assert!(
            matches!(err, RingError::Layout { .. }),
            "{offset} {size}: {err}"
        );
        assert!(err.to_string().contains("data_offset"), "{err}");
    }
    let map = anon_mapping(1);
    set_layout(&map, page, page);
    assert_eq!(
        PerfRing::from_mapping(map, 1, sample_type())
            .unwrap()
            .data_size(),
        page as usize
    );
}

#[test]
fn bad_record_sizes_are_reported_and_skipped() {
    for (size, pending) in [(12u16, 24u64), (0, 16), (64, 16)] {
        let mut ring = fake_ring(1);
        let data = ring.data().cast_mut();
        let mut rec = sample_record(1, 4);
        rec[6..8].copy_from_slice(&size.to_ne_bytes());
        put(data, ring.data_size(), 0, &rec[..pending as usize]);
        ring.head().store(pending, Ordering::Release);
        let err = ring.read(|_| panic!("no record")).expect_err("corrupt");
        assert!(
            matches!(err, RingError::Corrupt { position: 0, skipped, records: 0, .. } if skipped == pending),
            "{err}"
        );
        assert_eq!(ring.pending(), 0, "the reader resynchronised at the head");
    }
    let mut ring = fake_ring(1);
    ring.tail().store(4, Ordering::Relaxed);
    ring.head().store(20, Ordering::Release);
    assert!(matches!(
        ring.read(|_| ()),
        Err(RingError::Corrupt { position: 4, .. })
    ));
    let mut ring = fake_ring(1);
    ring.head()
        .store(ring.data_size() as u64 + 8, Ordering::Release);
    assert!(matches!(ring.read(|_| ()), Err(RingError::Corrupt { .. })));
}

proptest::proptest! {
    /// Records come out intact wherever they sit, including across the end of the data
    /// area, and data_tail ends at data_head.
    #[test]
    fn ring_reads_records_across_the_wrap(
        start in 0u64..40_000,
        raws in proptest::collection::vec(0usize..300, 1..40),
    ) {
        let mut ring = fake_ring(1);
        let start = start & !7;
        ring.tail().store(start, Ordering::Relaxed);
        let mut pos = start;
        let mut want = Vec::new();
        for (i, &n) in raws.iter().enumerate() {
            let rec = sample_record(i as u32, n);
            if pos + rec.len() as u64 - start > ring.data_size() as u64 {
                break; // the kernel never overwrites unread data
            }
            put(ring.data().cast_mut(), ring.data_size(), pos, &rec);
            pos += rec.len() as u64;
            want.push((i as u32, rec[52..52 + n].to_vec()));
        }
        ring.head().store(pos, Ordering::Release);
        let mut got = Vec::new();
        let n = ring.read(|r| match r {
            Record::Sample(s) => got.push((s.tid, s.raw.to_vec())),
            other => panic!("{other:?}"),
        }).unwrap();
        proptest::prop_assert_eq!(n, want.len());
        proptest::prop_assert_eq!(got, want);
        proptest::prop_assert_eq!(ring.tail().load(Ordering::Relaxed), pos);
        proptest::prop_assert_eq!(ring.pending(), 0);
    }
}

/// A producer thread writes records the way the kernel does (wait for space by load-acquire
/// of data_tail, write the bytes, store-release data_head) while the reader drains the ring
/// concurrently: every record arrives exactly once, intact and in order, across many wraps.
#[test]
fn concurrent_producer_and_reader_agree() {
    const RECORDS: u32 = 40_000;
    let mut ring = fake_ring(1);
    let data = ring.data() as usize;
    let data_size = ring.data_size();
    let head = ring.head() as *const AtomicU64 as usize;
    let tail = ring.tail() as *const AtomicU64 as usize;
    let producer = std::thread::spawn(move || {
        // SAFETY: the ring (and so both atomics) outlives this thread: it is joined below
        // before the ring is dropped.
        let (head, tail) = unsafe { (&*(head as *const AtomicU64), &*(tail as *const AtomicU64)) };
        let mut pos = 0u64;
        for i in 0..RECORDS {
            let rec = sample_record(i, (i % 97) as usize);
            while pos + rec.len() as u64 - tail.load(Ordering::Acquire) > data_size as u64 {
                std::hint::spin_loop();
            }
            put(data as *mut u8, data_size, pos, &rec);
            pos += rec.len() as u64;
            head.store(pos, Ordering::Release);
        }
    });
    let mut next = 0u32;
    while next < RECORDS {
        ring.read(|r| match r {
            Record::Sample(s) => {
                assert_eq!(s.tid, next, "records arrive once and in order");
                let want: Vec<u8> = (0..(next % 97) as usize)
                    .map(|i| (i as u8) ^ (next as u8))
                    .collect();
                assert_eq!(s.raw, &want[..], "record {next} intact");
                next += 1;
            }
            other => panic!("{other:?}"),
        })
        .expect("a well-formed ring");
    }
    producer.join().unwrap();
    assert_eq!(ring.pending(), 0);
}

//! Property test of the trace_pipe_raw page parser: pages encoded the way the kernel's ring
//! buffer writes them (small and large events, time extends, padding) come back exactly.

use kpeek_trace::tracefs::ring::{PageLayout, parse_page};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Item {
    /// An event: delta from the previous one, payload length (multiple of 4).
    Event { delta: u64, len: usize },
    /// Padding left by a discarded event.
    Pad { len: usize },
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        8 => (0u64..(1 << 40), 1usize..60).prop_map(|(delta, words)| Item::Event { delta, len: words * 4 }),
        1 => (1usize..8).prop_map(|words| Item::Pad { len: words * 4 }),
    ]
}

fn head(type_len: u32, delta: u32) -> [u8; 4] {
    (type_len | (delta << 5)).to_ne_bytes()
}

/// Encode like rb_update_event: deltas over 27 bits get a TIME_EXTEND first; payloads up to
/// 112 bytes use type_len, larger ones type_len 0 with the length (+4) in array[0].
fn encode(items: &[Item], base: u64) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let mut data = Vec::new();
    let mut want = Vec::new();
    let mut ts = base;
    for (i, it) in items.iter().enumerate() {
        match *it {
            Item::Event { delta, len } => {
                let payload: Vec<u8> = (0..len).map(|b| (b + i) as u8).collect();
                let mut d = delta;
                if d >= 1 << 27 {
                    data.extend_from_slice(&head(30, (d & ((1 << 27) - 1)) as u32));
                    data.extend_from_slice(&((d >> 27) as u32).to_ne_bytes());
                    d = 0;
                }
                if len <= 112 {
                    data.extend_from_slice(&head((len / 4) as u32, d as u32));
                } else {
                    data.extend_from_slice(&head(0, d as u32));
                    data.extend_from_slice(&((len + 4) as u32).to_ne_bytes());
                }
                data.extend_from_slice(&payload);
                ts += delta;
                want.push((ts, payload));
            }
            Item::Pad { len } => {
                data.extend_from_slice(&head(29, 1));
                data.extend_from_slice(&(len as u32).to_ne_bytes());
                data.extend(std::iter::repeat_n(0u8, len - 4));
            }
        }
    }
    (data, want)
}

proptest! {
    #[test]
    fn encoded_pages_round_trip(items in proptest::collection::vec(item(), 0..40), base in any::<u32>()) {
        let layout = PageLayout::default();
        let (data, want) = encode(&items, u64::from(base));
        prop_assume!(data.len() <= layout.data_size);
        let mut page = vec![0u8; layout.page_size()];
        page[0..8].copy_from_slice(&u64::from(base).to_ne_bytes());
        page[8..16].copy_from_slice(&(data.len() as u64).to_ne_bytes());
        page[16..16 + data.len()].copy_from_slice(&data);
        let got = parse_page(&layout, &page).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got.timestamp, u64::from(base));
        prop_assert_eq!(got.missed, None);
        let got: Vec<(u64, Vec<u8>)> = got.events.iter().map(|e| (e.ts, e.data.to_vec())).collect();
        prop_assert_eq!(got, want);
    }
}

//! The name index: name → positions in the table.
//!
//! It is a bucketed hash table in two flat arrays (bucket starts, then symbol
//! positions grouped by bucket; under 5 bytes per symbol), built on first use with a counting
//! sort: an address-only user such as a tracer never pays for it (the table builds it lazily).

/// Average names per bucket.
const PER_BUCKET: usize = 6;

#[derive(Debug)]
pub(crate) struct NameIndex {
    /// Bucket `b` holds `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    entries: Vec<u32>,
}

impl NameIndex {
    /// Indexes `n` names, `name_at(i)` being the `i`th.
    pub(crate) fn build<'a>(n: usize, name_at: impl Fn(usize) -> &'a str) -> NameIndex {
        let buckets = (n / PER_BUCKET).max(1);
        let mut idx = NameIndex {
            starts: vec![0; buckets + 1],
            entries: vec![0; n],
        };
        let of: Vec<u32> = (0..n)
            .map(|i| idx.bucket(name_at(i).as_bytes()) as u32)
            .collect();
        for &b in &of {
            idx.starts[b as usize + 1] += 1;
        }
        for b in 0..buckets {
            idx.starts[b + 1] += idx.starts[b];
        }
        let mut fill = idx.starts.clone();
        for (i, &b) in of.iter().enumerate() {
            idx.entries[fill[b as usize] as usize] = i as u32;
            fill[b as usize] += 1;
        }
        idx
    }

    /// Positions whose name may be `name` (same bucket), in table order: the caller compares.
    pub(crate) fn candidates(&self, name: &str) -> &[u32] {
        let b = self.bucket(name.as_bytes());
        &self.entries[self.starts[b] as usize..self.starts[b + 1] as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.entries.capacity()) * 4
    }

    #[inline]
    fn bucket(&self, name: &[u8]) -> usize {
        // Multiply-shift maps the hash onto any bucket count, no power of two needed.
        let buckets = (self.starts.len() - 1) as u64;
        ((hash(name) as u128 * buckets as u128) >> 64) as usize
    }
}

/// FNV-1a with a final mix: short names, no need for DoS resistance; fast to build.
#[inline]
fn hash(name: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for &b in name {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    (h ^ (h >> 29)).wrapping_mul(0xbf58476d1ce4e5b9)
}

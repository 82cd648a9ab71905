//! Name → symbols, and whether a symbol is exported.
//!
//! The name index is a bucketed hash table in two flat arrays (bucket starts, then symbol
//! positions grouped by bucket; under 5 bytes per symbol), built on first use with a counting
//! sort: an address-only user such as a tracer never pays for it. A symbol is *exported* when a
//! `__ksymtab_<name>` entry exists in the same region: that is what `EXPORT_SYMBOL` emits.

use crate::table::{Ksyms, Symbol};

const KSYMTAB: &str = "__ksymtab_";
/// Average names per bucket.
const PER_BUCKET: usize = 6;

#[derive(Debug)]
pub(crate) struct NameIndex {
    /// Bucket `b` holds `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    entries: Vec<u32>,
}

impl NameIndex {
    pub fn heap_bytes(&self) -> usize {
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

impl Ksyms {
    fn name_index(&self) -> &NameIndex {
        self.name_index.get_or_init(|| {
            let n = self.len();
            let buckets = (n / PER_BUCKET).max(1);
            let mut idx = NameIndex {
                starts: vec![0; buckets + 1],
                entries: vec![0; n],
            };
            let of: Vec<u32> = (0..n)
                .map(|i| idx.bucket(self.name_at(i).as_bytes()) as u32)
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
        })
    }

    /// Calls `f` with the position of every symbol called `name`, in table order.
    fn for_each_named(&self, name: &str, mut f: impl FnMut(usize)) {
        let idx = self.name_index();
        let b = idx.bucket(name.as_bytes());
        for &i in &idx.entries[idx.starts[b] as usize..idx.starts[b + 1] as usize] {
            if self.name_at(i as usize) == name {
                f(i as usize);
            }
        }
    }

    /// Every symbol called `name`, in table order (core kernel, then modules; by address).
    /// Static functions share names across files and modules: all are returned.
    ///
    /// ```
    /// let ks = ksyms::Ksyms::parse(b"c0001000 t probe\nc0002000 T __ksymtab_probe\nbf000000 t probe\t[m]\n")?;
    /// let all = ks.find("probe");
    /// assert_eq!(all.len(), 2);
    /// assert!(ks.is_exported(&all[0]) && !ks.is_exported(&all[1]));
    /// # Ok::<(), ksyms::Error>(())
    /// ```
    pub fn find(&self, name: &str) -> Vec<Symbol<'_>> {
        let mut found = Vec::new();
        self.for_each_named(name, |i| found.push(self.symbol(i)));
        found
    }

    /// True when `__ksymtab_<name>` exists in the symbol's region (the symbol is exported with
    /// `EXPORT_SYMBOL*`).
    pub fn is_exported(&self, sym: &Symbol<'_>) -> bool {
        let mut key = String::with_capacity(KSYMTAB.len() + sym.name.len());
        key.push_str(KSYMTAB);
        key.push_str(sym.name);
        let mut yes = false;
        self.for_each_named(&key, |i| yes |= self.symbol(i).module == sym.module);
        yes
    }

    /// Number of exported symbols (each `__ksymtab_<name>` whose `<name>` is in its region).
    pub fn exported_count(&self) -> usize {
        self.symbols()
            .filter(|s| {
                s.name.strip_prefix(KSYMTAB).is_some_and(|target| {
                    let mut yes = false;
                    self.for_each_named(target, |i| yes |= self.symbol(i).module == s.module);
                    yes
                })
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_match_and_export() {
        let ks = Ksyms::parse(
            b"ffffffff81000000 T printk\nffffffff81000100 t helper\n\
              ffffffff82000000 r __ksymtab_printk\nffffffff81000200 t helper\n\
              ffffffffc0000000 t helper\t[m]\nffffffffc0000100 r __ksymtab_helper\t[m]\n",
        )
        .unwrap();
        let h = ks.find("helper");
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.iter().map(|s| (s.addr, s.module)).collect::<Vec<_>>(),
            [
                (0xffffffff81000100, None),
                (0xffffffff81000200, None),
                (0xffffffffc0000000, Some("m"))
            ]
        );
        assert_eq!(
            h.iter().map(|s| ks.is_exported(s)).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert!(ks.is_exported(&ks.find("printk")[0]));
        assert!(ks.find("nothing").is_empty());
        assert_eq!(ks.exported_count(), 2);
    }
}

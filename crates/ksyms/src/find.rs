//! Name → symbols, and whether a symbol is exported: a symbol is *exported* when a
//! `__ksymtab_<name>` entry exists in the same region (that is what `EXPORT_SYMBOL` emits).

use crate::names::NameIndex;
use crate::table::{Ksyms, Symbol};

const KSYMTAB: &str = "__ksymtab_";

impl Ksyms {
    fn name_index(&self) -> &NameIndex {
        self.name_index
            .get_or_init(|| NameIndex::build(self.len(), |i| self.name_at(i)))
    }

    /// Calls `f` with the position of every symbol called `name`, in table order.
    fn for_each_named(&self, name: &str, mut f: impl FnMut(usize)) {
        for &i in self.name_index().candidates(name) {
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

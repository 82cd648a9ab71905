//! The type names of the kernel's global variables.
//!
//! Kernel BTF describes every type but, for variables, only the per-CPU ones: nothing in it says
//! that `init_task` is a `struct task_struct`. This table (variable → C type name) is generated
//! by `scripts/gen-global-types` from the DWARF of Debian's `-dbg` kernel packages and shipped in
//! the binary; the *layout* of each named type is always taken from the running kernel's BTF.
//! Variables defined with different types in different files (static ones) are left out.

/// The generated table: `name<TAB>type` lines, sorted by name, after `#` comment lines.
pub const TABLE: &str = include_str!("../data/global-types.tsv");

/// The C type name of kernel global variable `name`, if the table knows it.
pub fn type_of(name: &str) -> Option<&'static str> {
    type_in(TABLE, name)
}

/// Looks `name` up in a table of the format of [`TABLE`] (sorted by name: binary search).
pub fn type_in<'t>(table: &'t str, name: &str) -> Option<&'t str> {
    let body_start = table
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| !table[i..].starts_with('#'))
        .unwrap_or(0);
    let body = &table[body_start..];
    let (mut lo, mut hi) = (0usize, body.len());
    // Binary search over byte positions, snapping to line starts.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = body[..mid].rfind('\n').map_or(0, |i| i + 1);
        let end = body[start..].find('\n').map_or(body.len(), |i| start + i);
        let line = &body[start..end];
        let (n, t) = line.split_once('\t').unwrap_or((line, ""));
        match n.cmp(name) {
            std::cmp::Ordering::Equal => return Some(t),
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_in_a_sorted_table() {
        let t = "# generated\n# from x\na\tint\nbb\tstruct b\nc\tunsigned long\nd\tchar[16]\n";
        assert_eq!(type_in(t, "a"), Some("int"));
        assert_eq!(type_in(t, "bb"), Some("struct b"));
        assert_eq!(type_in(t, "c"), Some("unsigned long"));
        assert_eq!(type_in(t, "d"), Some("char[16]"));
        assert_eq!(type_in(t, "b"), None);
        assert_eq!(type_in(t, "zz"), None);
        assert_eq!(type_in(t, ""), None);
    }

    #[test]
    fn the_shipped_table_is_sorted_and_knows_the_classics() {
        let mut prev = "";
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let (n, t) = line.split_once('\t').expect("name<TAB>type");
            assert!(n > prev, "{n} after {prev}");
            assert!(!t.is_empty(), "{n}");
            prev = n;
        }
        assert_eq!(type_of("init_task"), Some("struct task_struct"));
        assert_eq!(type_of("init_uts_ns"), Some("struct uts_namespace"));
        assert_eq!(type_of("nr_threads"), Some("int"));
        assert_eq!(type_of("jiffies"), Some("volatile long unsigned int"));
    }
}

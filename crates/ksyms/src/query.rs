//! Queries over the whole table (name pattern, module, type, exported) and statistics.

use std::collections::BTreeMap;

use crate::table::{Ksyms, Symbol};

/// The name used for the core kernel wherever a module name is expected.
pub const CORE: &str = "vmlinux";

/// How to match symbol names: any name, a shell glob on the whole name, or a regular
/// expression anywhere in it. Build one with [`Pattern::any`], [`Pattern::glob`] or
/// [`Pattern::regex`]; the matching engines stay private.
#[derive(Debug, Clone)]
pub struct Pattern(Matcher);

#[derive(Debug, Clone)]
enum Matcher {
    Any,
    Glob(Glob),
    Regex(regex::Regex),
}

/// A glob or regular expression that does not compile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// A malformed glob.
    #[error("bad glob `{pattern}`")]
    Glob {
        /// The glob as given.
        pattern: String,
        /// Why it is malformed.
        #[source]
        source: SyntaxError,
    },
    /// A malformed regular expression.
    #[error("bad regex `{pattern}`")]
    Regex {
        /// The expression as given.
        pattern: String,
        /// Why it is malformed.
        #[source]
        source: SyntaxError,
    },
}

/// Why a glob or regular expression does not compile: the compiler's own explanation, which
/// [`std::fmt::Display`] prints (the compilers themselves stay private).
#[derive(Debug)]
pub struct SyntaxError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SyntaxError {}

/// A compiled shell glob (see [`compile_glob`] for the dialect).
#[derive(Debug, Clone)]
pub struct Glob(globset::GlobMatcher);

impl Glob {
    /// Whether `text` matches the whole glob.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// Compiles a shell glob in the dialect every kpeek command uses (globset's): `*` any run,
/// `?` one character, `[abc]`/`[a-z]`/`[!abc]` a class, `{a,b}` alternatives, `\` escapes;
/// `/` is an ordinary character. The glob must match the whole text.
pub fn compile_glob(glob: &str) -> Result<Glob, SyntaxError> {
    globset::GlobBuilder::new(glob)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| Glob(g.compile_matcher()))
        .map_err(|e| SyntaxError(Box::new(e)))
}

impl Pattern {
    /// Any name.
    pub fn any() -> Pattern {
        Pattern(Matcher::Any)
    }

    /// A shell glob that must match the whole name (see [`compile_glob`] for the dialect).
    pub fn glob(glob: &str) -> Result<Pattern, PatternError> {
        compile_glob(glob)
            .map(|m| Pattern(Matcher::Glob(m)))
            .map_err(|source| PatternError::Glob {
                pattern: glob.to_string(),
                source,
            })
    }

    /// A regular expression (`regex` crate syntax), matched anywhere in the name (anchor it
    /// with `^…$`).
    pub fn regex(re: &str) -> Result<Pattern, PatternError> {
        regex::Regex::new(re)
            .map(|r| Pattern(Matcher::Regex(r)))
            .map_err(|e| PatternError::Regex {
                pattern: re.to_string(),
                source: SyntaxError(Box::new(e)),
            })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match &self.0 {
            Matcher::Any => true,
            Matcher::Glob(g) => g.is_match(name),
            Matcher::Regex(re) => re.is_match(name),
        }
    }
}

impl Default for Pattern {
    fn default() -> Self {
        Pattern::any()
    }
}

/// A search over the table: every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Name pattern.
    pub pattern: Pattern,
    /// Module name ([`CORE`] for the core kernel); `None`: any.
    pub module: Option<String>,
    /// Accepted type letters; empty: any.
    pub kinds: Vec<char>,
    /// Only symbols with a `__ksymtab_<name>` entry.
    pub exported_only: bool,
}

/// Counts and ranges over a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// All symbols.
    pub symbols: usize,
    /// Per type letter.
    pub per_type: BTreeMap<char, usize>,
    /// Symbols with a `__ksymtab_` entry.
    pub exported: usize,
    /// Absolute (`A`/`a`) symbols.
    pub absolute: usize,
    /// ARM/AArch64/RISC-V mapping symbols.
    pub mapping: usize,
    /// One entry per region, core kernel ([`CORE`]) first.
    pub regions: Vec<RegionStats>,
    /// Malformed lines skipped by a lenient load.
    pub skipped_lines: usize,
}

/// One region (core kernel or module) in [`Stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionStats {
    /// Module name, or [`CORE`].
    pub module: String,
    /// Its symbols.
    pub symbols: usize,
    /// Lowest and highest address an address lookup can answer with, if any.
    pub range: Option<(u64, u64)>,
}

impl Ksyms {
    /// Symbols matching `filter`, in table order.
    ///
    /// ```
    /// use ksyms::{Filter, Ksyms, Pattern};
    /// let ks = Ksyms::parse(b"c0001000 T vfs_read\nc0002000 t vfs_readv\nc0003000 T vfs_write\n")?;
    /// let f = Filter { pattern: Pattern::glob("vfs_read*").unwrap(), kinds: vec!['T'], ..Filter::default() };
    /// let names: Vec<_> = ks.search(&f).iter().map(|s| s.name).collect();
    /// assert_eq!(names, ["vfs_read"]);
    /// # Ok::<(), ksyms::Error>(())
    /// ```
    pub fn search(&self, filter: &Filter) -> Vec<Symbol<'_>> {
        let want_module = filter.module.as_deref();
        self.regions
            .iter()
            .filter(|r| match want_module {
                None => true,
                Some(m) => r.module.as_deref().unwrap_or(CORE) == m,
            })
            .flat_map(|r| r.start as usize..r.end as usize)
            .map(|i| self.symbol(i))
            .filter(|s| filter.kinds.is_empty() || filter.kinds.contains(&s.kind))
            .filter(|s| filter.pattern.matches(s.name))
            .filter(|s| !filter.exported_only || self.is_exported(s))
            .collect()
    }

    /// Counts per type and per region, exported count, address ranges.
    pub fn stats(&self) -> Stats {
        let mut per_type = BTreeMap::new();
        let mut absolute = 0;
        let mut mapping = 0;
        for i in 0..self.len() {
            let k = self.kind_at(i);
            *per_type.entry(k).or_insert(0) += 1;
            absolute += usize::from(matches!(k, 'A' | 'a'));
            mapping += usize::from(crate::parse::is_mapping_symbol(self.name_at(i).as_bytes()));
        }
        let regions = self
            .regions
            .iter()
            .map(|r| RegionStats {
                module: r.module.as_deref().unwrap_or(CORE).to_string(),
                symbols: (r.end - r.start) as usize,
                range: (r.mid > r.start)
                    .then(|| (self.addr(r.start as usize), self.addr(r.mid as usize - 1))),
            })
            .collect();
        Stats {
            symbols: self.len(),
            per_type,
            exported: self.exported_count(),
            absolute,
            mapping,
            regions,
            skipped_lines: self.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Ksyms {
        Ksyms::parse(
            b"0000000000001000 A cpu_number\nffffffff81000000 T vfs_read\n\
              ffffffff81000100 t do_read\nffffffff82000000 r __ksymtab_vfs_read\n\
              ffffffffc0000000 t $x\t[m]\nffffffffc0000000 t m_read\t[m]\nffffffffc0000100 d m_data\t[m]\n",
        )
        .unwrap()
    }

    #[test]
    fn globs() {
        let g = |p: &str, n: &str| Pattern::glob(p).unwrap().matches(n);
        assert!(g("vfs_*", "vfs_read"));
        assert!(!g("vfs_*", "do_vfs_read"));
        assert!(g("*read", "do_vfs_read"));
        assert!(g("v?s_[rw]*", "vfs_write"));
        assert!(!g("v?s_[!rw]*", "vfs_write"));
        assert!(g("a.b+c", "a.b+c"));
        assert!(!g("a.b", "axb"));
        assert!(g("[$]x", "$x"));
        assert!(g("tcp_v{4,6}_rcv", "tcp_v6_rcv"));
        assert!(g("a\\*", "a*") && !g("a\\*", "ab"));
        assert!(matches!(
            Pattern::glob("a[b"),
            Err(PatternError::Glob { .. })
        ));
    }

    #[test]
    fn search_filters() {
        let ks = t();
        let names = |f: Filter| ks.search(&f).iter().map(|s| s.name).collect::<Vec<_>>();
        let re = |r: &str| Pattern::regex(r).unwrap();
        assert_eq!(
            names(Filter {
                pattern: re("read$"),
                ..Filter::default()
            }),
            ["vfs_read", "do_read", "__ksymtab_vfs_read", "m_read"]
        );
        assert_eq!(
            names(Filter {
                pattern: re("read"),
                module: Some("m".into()),
                ..Filter::default()
            }),
            ["m_read"]
        );
        assert_eq!(
            names(Filter {
                module: Some(CORE.into()),
                kinds: vec!['t'],
                ..Filter::default()
            }),
            ["do_read"]
        );
        assert_eq!(
            names(Filter {
                exported_only: true,
                ..Filter::default()
            }),
            ["vfs_read"]
        );
        assert!(
            names(Filter {
                module: Some("nope".into()),
                ..Filter::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn stats() {
        let s = t().stats();
        assert_eq!(s.symbols, 7);
        assert_eq!((s.exported, s.absolute, s.mapping), (1, 1, 1));
        assert_eq!(s.per_type.get(&'t'), Some(&3));
        assert_eq!(s.regions.len(), 2);
        assert_eq!(s.regions[0].module, CORE);
        assert_eq!(s.regions[0].symbols, 4);
        assert_eq!(
            s.regions[0].range,
            Some((0xffffffff81000000, 0xffffffff82000000))
        );
        assert_eq!(
            s.regions[1].range,
            Some((0xffffffffc0000000, 0xffffffffc0000100))
        );
    }
}

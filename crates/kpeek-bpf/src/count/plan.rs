//! From event formats and the user's names to a plan: where each key, filter operand, sum and
//! histogram value comes from, and the key's byte layout shared by every event's program.

use kpeek_filter::glob::Glob;
use kpeek_filter::{Expr, Op, Value};
use kpeek_trace::format::{EventFormat, Field, FieldKind};

use crate::error::{Error, Result};

/// Width of a key slot for a `__data_loc` string (longer strings are cut).
pub const DYN_STR: usize = 32;
/// Widest string kpeek keys or compares.
pub const MAX_STR: usize = 64;
/// Bytes a `~` glob reads of a `__data_loc` string (with its NUL): longer strings are matched
/// on their first `GLOB_STR - 1` bytes and counted as unreadable.
pub const GLOB_STR: usize = 256;
/// Largest key in bytes.
pub const MAX_KEY: usize = 256;

/// Where a string lives in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrLoc {
    /// `char name[len]` at the field's offset.
    Inline {
        /// The array's size in bytes.
        len: usize,
    },
    /// `__data_loc char[]`: the u32 at the field holds the offset (low 16 bits).
    DataLoc,
    /// `__rel_loc char[]`: the offset is relative to the end of the field.
    RelLoc,
}

/// Where a value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An integer (or pointer, enum, bool) field of the record.
    Int {
        /// Byte offset in the record.
        offset: usize,
        /// Size in bytes (1, 2, 4 or 8).
        bytes: u8,
        /// Sign-extended when read?
        signed: bool,
    },
    /// A string field of the record.
    Str {
        /// Byte offset of the field in the record.
        offset: usize,
        /// How the field holds the string.
        loc: StrLoc,
    },
    /// The current task's name (`bpf_get_current_comm`).
    Comm,
    /// The current process id (tgid).
    Pid,
    /// The current thread id.
    Tid,
    /// The CPU the event ran on.
    Cpu,
    /// A kernel stack id (`bpf_get_stackid`).
    Kstack,
}

impl Source {
    /// Is it a string (compared and keyed by bytes)?
    pub fn is_str(&self) -> bool {
        matches!(self, Source::Str { .. } | Source::Comm)
    }

    /// Widest string this source yields (strings only).
    pub fn str_width(&self) -> usize {
        match self {
            Source::Str {
                loc: StrLoc::Inline { len },
                ..
            } => (*len).min(MAX_STR),
            Source::Str { .. } => DYN_STR,
            Source::Comm => 16,
            _ => 0,
        }
    }

    /// Bytes a glob reads of this string source (with the NUL), and whether the string can
    /// be longer than that.
    pub fn glob_width(&self) -> (usize, bool) {
        match self {
            Source::Str {
                loc: StrLoc::Inline { len },
                ..
            } => ((*len).min(GLOB_STR), *len > GLOB_STR),
            Source::Comm => (16, false),
            _ => (GLOB_STR, true),
        }
    }

    /// Is it a signed integer field?
    pub fn signed(&self) -> bool {
        matches!(self, Source::Int { signed: true, .. })
    }
}

/// What a key slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// Which of several events (an index into the event list).
    Event,
    /// An integer, sign-extended or not.
    Int {
        /// Signed?
        signed: bool,
    },
    /// A string of at most `width` bytes, NUL-padded.
    Str {
        /// Bytes in the key.
        width: usize,
    },
    /// A kernel stack id.
    Stack,
}

/// One named part of the key, at a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The key's name (`pid`, a field name).
    pub name: String,
    /// What it holds.
    pub kind: SlotKind,
    /// Byte offset in the key.
    pub offset: usize,
}

/// The key's layout, the same for every event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    /// The slots, in the order asked for.
    pub slots: Vec<Slot>,
    /// Size in bytes (a multiple of 8, at least 8).
    pub size: usize,
}

/// What one event's program computes.
#[derive(Clone, Debug)]
pub struct EventPlan {
    /// Index in the event list (the value of an [`SlotKind::Event`] slot).
    pub index: usize,
    /// The event, `system:name`.
    pub event: String,
    /// The tracepoint's id (its format file's `ID`).
    pub tp_id: u32,
    /// One source per key slot (`None` for the event slot).
    pub keys: Vec<Option<Source>>,
    /// The filter, every field resolved (`None`: count every hit).
    pub filter: Option<Cond>,
    /// What `--sum` adds up.
    pub sum: Option<Source>,
    /// What `--hist` buckets.
    pub hist: Option<Source>,
}

/// A filter with every field resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// Both hold.
    And(Box<Cond>, Box<Cond>),
    /// Either holds.
    Or(Box<Cond>, Box<Cond>),
    /// Does not hold.
    Not(Box<Cond>),
    /// An integer compare.
    Int {
        /// The value compared.
        src: Source,
        /// The comparison.
        op: Op,
        /// The constant compared with.
        value: i128,
    },
    /// A string compare: `exact` (whole string) or a prefix (`prefix*` globs).
    Str {
        /// The string compared.
        src: Source,
        /// The bytes compared (no NUL).
        bytes: Vec<u8>,
        /// The whole string (`==`) rather than a prefix.
        exact: bool,
        /// `!=`: true when the compare fails.
        negate: bool,
    },
    /// Any other glob (`*` inside, `?`, classes, escapes): matched segment by segment
    /// (anchored prefix, middles left to right, anchored suffix) in a per-CPU scratch buffer.
    /// `glob.negated` is always false here (a leading `!` becomes [`Cond::Not`]).
    Glob {
        /// The string matched.
        src: Source,
        /// The glob.
        glob: Glob,
    },
    /// A glob that matches everything (`*`).
    True,
    /// Never true (`!*`); after [`Cond::simplify`] only ever the whole filter.
    False,
}

impl Cond {
    /// Fold [`Cond::True`] and [`Cond::False`] away, so that no branch of the program is
    /// unreachable (the verifier rejects dead code); they remain only as the whole filter.
    pub fn simplify(self) -> Cond {
        match self {
            Cond::Not(a) => match a.simplify() {
                Cond::True => Cond::False,
                Cond::False => Cond::True,
                a => Cond::Not(Box::new(a)),
            },
            Cond::And(a, b) => match (a.simplify(), b.simplify()) {
                (Cond::False, _) | (_, Cond::False) => Cond::False,
                (Cond::True, x) | (x, Cond::True) => x,
                (a, b) => Cond::And(Box::new(a), Box::new(b)),
            },
            Cond::Or(a, b) => match (a.simplify(), b.simplify()) {
                (Cond::True, _) | (_, Cond::True) => Cond::True,
                (Cond::False, x) | (x, Cond::False) => x,
                (a, b) => Cond::Or(Box::new(a), Box::new(b)),
            },
            c => c,
        }
    }

    /// Whether the program needs the per-CPU scratch buffer (a [`Cond::Glob`] somewhere).
    pub fn needs_scratch(&self) -> bool {
        match self {
            Cond::And(a, b) | Cond::Or(a, b) => a.needs_scratch() || b.needs_scratch(),
            Cond::Not(a) => a.needs_scratch(),
            Cond::Glob { .. } => true,
            _ => false,
        }
    }
}

/// Histogram buckets: log2 (bpftrace's `hist`) or linear steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistKind {
    /// Power-of-two buckets.
    Log2,
    /// Buckets of `step` each.
    Linear {
        /// Width of one bucket.
        step: u64,
    },
}

/// Slots of a histogram: [negative, 0 (log2) or first step, ...]: 66 in both kinds.
pub const HIST_SLOTS: usize = 66;

/// What the user asked for (names as typed).
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Keys to count by: record fields, or `comm`, `pid`, `tid`, `cpu`, `kstack`.
    pub by: Vec<String>,
    /// The filter, parsed.
    pub filter: Option<Expr>,
    /// The field `--sum` adds up.
    pub sum: Option<String>,
    /// The field `--hist` buckets.
    pub hist: Option<String>,
    /// `--linear STEP`: linear buckets instead of log2.
    pub linear: Option<u64>,
}

/// Names that are not record fields.
pub const SPECIAL: &[&str] = &["comm", "pid", "tid", "cpu", "kstack"];

fn field_source(f: &Field) -> Option<Source> {
    let offset = f.offset;
    match &f.kind {
        FieldKind::Int { bytes, signed } | FieldKind::Enum { bytes, signed } => Some(Source::Int {
            offset,
            bytes: *bytes,
            signed: *signed,
        }),
        FieldKind::Bool => Some(Source::Int {
            offset,
            bytes: 1,
            signed: false,
        }),
        FieldKind::Pointer { bytes } => Some(Source::Int {
            offset,
            bytes: *bytes,
            signed: false,
        }),
        FieldKind::CharArray { len } => Some(Source::Str {
            offset,
            loc: StrLoc::Inline { len: *len },
        }),
        FieldKind::DataLoc {
            is_string: true, ..
        } => Some(Source::Str {
            offset,
            loc: StrLoc::DataLoc,
        }),
        FieldKind::RelLoc {
            is_string: true, ..
        } => Some(Source::Str {
            offset,
            loc: StrLoc::RelLoc,
        }),
        _ => None,
    }
}

/// Resolve a name in one event: its own fields first, then the common fields, then
/// `comm`/`pid`/`tid`/`cpu`/`kstack` (the order of the kernel's own filter).
pub fn resolve(fmt: &EventFormat, name: &str) -> Result<Source> {
    let event = fmt.name.to_string();
    // The kernel overwrites a record's first 8 bytes (the common fields) with a pt_regs
    // pointer before a BPF program sees it: common_pid is the current thread, the rest is gone.
    if fmt.fields.iter().all(|f| f.name != name) {
        if name == "common_pid" {
            return Ok(Source::Tid);
        }
        if let Some(f) = fmt.common_fields.iter().find(|f| f.name == name) {
            return Err(Error::CannotExpress {
                what: format!(
                    "{} of {event}: the kernel hides the common fields from BPF programs (only common_pid, as the thread id, is available)",
                    f.name
                ),
            });
        }
    }
    if let Some(f) = fmt.fields.iter().find(|f| f.name == name) {
        return field_source(f).ok_or_else(|| Error::CannotExpress {
            what: format!(
                "field {name} of {event} is {} ({}), which kpeek cannot read as a number or string",
                f.c_type,
                f.kind.describe()
            ),
        });
    }
    match name {
        "comm" => Ok(Source::Comm),
        "pid" => Ok(Source::Pid),
        "tid" => Ok(Source::Tid),
        "cpu" => Ok(Source::Cpu),
        "kstack" => Ok(Source::Kstack),
        _ => {
            let known: Vec<&str> = fmt
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .chain(SPECIAL.iter().copied())
                .chain(["common_pid"])
                .collect();
            let mut all = known.clone();
            all.sort_by_key(|c| (kpeek_trace::tracefs::levenshtein(c, name), *c));
            let close = all
                .iter()
                .filter(|c| kpeek_trace::tracefs::levenshtein(c, name) <= 3.max(name.len() / 3))
                .take(4)
                .map(|s| s.to_string())
                .collect();
            let fields = known.join(", ");
            Err(Error::UnknownField {
                event,
                field: name.to_owned(),
                close,
                fields,
            })
        }
    }
}

fn int_only(fmt: &EventFormat, name: &str, what: &str) -> Result<Source> {
    let s = resolve(fmt, name)?;
    if s.is_str() || s == Source::Kstack {
        return Err(Error::CannotExpress {
            what: format!("{what} {name} of {}: not an integer field", fmt.name),
        });
    }
    Ok(s)
}

fn cond(fmt: &EventFormat, e: &Expr) -> Result<Cond> {
    Ok(match e {
        Expr::And(a, b) => Cond::And(Box::new(cond(fmt, a)?), Box::new(cond(fmt, b)?)),
        Expr::Or(a, b) => Cond::Or(Box::new(cond(fmt, a)?), Box::new(cond(fmt, b)?)),
        Expr::Not(a) => Cond::Not(Box::new(cond(fmt, a)?)),
        Expr::Pred(p) => {
            let src = resolve(fmt, &p.field)?;
            let bad = |why: &str| Error::CannotExpress {
                what: format!("filter `{p}` on {}: {why}", fmt.name),
            };
            if src == Source::Kstack {
                return Err(bad("kstack can only be a key"));
            }
            match (&p.value, src.is_str()) {
                (Value::Int(v), false) => Cond::Int {
                    src,
                    op: p.op,
                    value: *v,
                },
                (Value::Int(_), true) => {
                    return Err(bad("the field is a string; compare it with \"text\""));
                }
                (Value::Str(_), false) => {
                    return Err(bad("the field is an integer; compare it with a number"));
                }
                (Value::Str(s), true) => str_cond(src, p.op, s).map_err(|why| bad(&why))?,
            }
        }
    })
}

fn str_cond(src: Source, op: Op, s: &str) -> std::result::Result<Cond, String> {
    let glob = match op {
        // `==`/`!=` compare exactly: the text is a literal, not a pattern.
        Op::Eq | Op::Ne => Glob {
            negated: op == Op::Ne,
            prefix: s.bytes().map(kpeek_filter::glob::Atom::Byte).collect(),
            star: None,
        },
        Op::Glob => Glob::parse(s),
        _ => return Err(format!("{} does not apply to strings", op.as_str())),
    };
    let negate = glob.negated;
    let core = Glob {
        negated: false,
        ..glob
    };
    let wrap = |c: Cond| if negate { Cond::Not(Box::new(c)) } else { c };
    let (gw, longer) = src.glob_width();
    // The fast forms compare 8 bytes at a time in the stack copy of `str_width` bytes; a string
    // that may be longer than that copy must leave room for its NUL (an exact match of a cut
    // string would be wrong).
    let fast = src.str_width() - usize::from(longer || src.str_width() < gw);
    if let Some(lit) = core.literal() {
        if lit.len() < fast {
            let mut bytes = lit;
            bytes.push(0);
            return Ok(wrap(Cond::Str {
                src,
                bytes,
                exact: true,
                negate: false,
            }));
        }
    } else if let Some(pre) = core.literal_prefix() {
        if pre.is_empty() {
            return Ok(wrap(Cond::True));
        }
        if pre.len() < fast {
            return Ok(wrap(Cond::Str {
                src,
                bytes: pre,
                exact: false,
                negate: false,
            }));
        }
    }
    let min = core.prefix.len()
        + core.star.as_ref().map_or(0, |st| {
            st.middles.iter().map(Vec::len).sum::<usize>() + st.suffix.len()
        });
    if min >= gw {
        return Err(format!(
            "{s:?} needs a string of {min} bytes, longer than the {} bytes kpeek reads of this field",
            gw - 1
        ));
    }
    Ok(wrap(Cond::Glob { src, glob: core }))
}

/// Plan every event and the shared key layout. `formats` are the events in order.
pub fn plan(formats: &[EventFormat], req: &Request) -> Result<(KeyLayout, Vec<EventPlan>)> {
    let mut per_event = Vec::new();
    for (index, fmt) in formats.iter().enumerate() {
        let keys = req
            .by
            .iter()
            .map(|n| resolve(fmt, n).map(Some))
            .collect::<Result<Vec<_>>>()?;
        let filter = match req.filter.as_ref().map(|e| cond(fmt, e)).transpose()? {
            Some(c) => match c.simplify() {
                Cond::True => None,
                c => Some(c),
            },
            None => None,
        };
        let sum = req
            .sum
            .as_ref()
            .map(|n| int_only(fmt, n, "--sum"))
            .transpose()?;
        let hist = req
            .hist
            .as_ref()
            .map(|n| int_only(fmt, n, "--hist"))
            .transpose()?;
        per_event.push(EventPlan {
            index,
            event: fmt.name.to_string(),
            tp_id: fmt.id,
            keys,
            filter,
            sum,
            hist,
        });
    }
    // Slots: the event (when several), then each --by name; a name that is a string in one
    // event and a number in another is an error.
    let mut slots = Vec::new();
    let mut off = 0;
    if formats.len() > 1 {
        slots.push(Slot {
            name: "event".into(),
            kind: SlotKind::Event,
            offset: 0,
        });
        off = 8;
        for p in &mut per_event {
            p.keys.insert(0, None);
        }
    }
    let base = slots.len();
    for (i, name) in req.by.iter().enumerate() {
        let srcs: Vec<&Source> = per_event
            .iter()
            .filter_map(|p| p.keys[base + i].as_ref())
            .collect();
        let kind = if srcs.iter().all(|s| s.is_str()) {
            SlotKind::Str {
                width: srcs
                    .iter()
                    .map(|s| s.str_width())
                    .max()
                    .unwrap_or(8)
                    .div_ceil(8)
                    * 8,
            }
        } else if srcs.iter().all(|s| **s == Source::Kstack) {
            SlotKind::Stack
        } else if srcs.iter().all(|s| !s.is_str() && **s != Source::Kstack) {
            SlotKind::Int {
                signed: srcs.iter().any(|s| s.signed()),
            }
        } else {
            return Err(Error::CannotExpress {
                what: format!("--by {name}: a string in one event and a number in another"),
            });
        };
        let size = match kind {
            SlotKind::Str { width } => width,
            _ => 8,
        };
        slots.push(Slot {
            name: name.clone(),
            kind,
            offset: off,
        });
        off += size;
    }
    let size = off.max(8);
    if size > MAX_KEY {
        return Err(Error::CannotExpress {
            what: format!("a key of {size} bytes (at most {MAX_KEY}): fewer or narrower --by keys"),
        });
    }
    Ok((KeyLayout { slots, size }, per_event))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

//! What exactly went wrong inside an [`Error`] variant: typed faults carrying
//! the values their messages name.

use std::path::PathBuf;
use std::sync::Arc;

use crate::buildid;
use crate::error::Error;
use crate::modsect::{BuildIdent, THIS_MODULE_SECTION};

/// Why a step of an expression does not apply ([`Error::BadStep`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepFault {
    /// The type has no size: nothing to read.
    Unsized {
        /// The type's name.
        ty: String,
    },
    /// The value is larger than one expression reads.
    TooLarge {
        /// The type's name.
        ty: String,
        /// Its size in bytes.
        size: u64,
        /// The most one expression reads.
        max: u64,
    },
    /// A member or element of a bitfield.
    Bitfield,
    /// `.field` on a pointer.
    IsPointer {
        /// The pointer type's name.
        ty: String,
        /// The field asked for.
        field: String,
    },
    /// `->field` on something that is not a pointer.
    NotPointer {
        /// The type's name.
        ty: String,
        /// The field asked for.
        field: String,
    },
    /// `[i]` on something that is neither an array nor a pointer.
    NotIndexable {
        /// The type's name.
        ty: String,
    },
    /// A field of something that is not a struct or union.
    NotRecord {
        /// The type's name.
        ty: String,
        /// The field asked for.
        field: String,
    },
    /// An index whose offset overflows the address.
    IndexOverflow {
        /// The index.
        index: u64,
    },
}

impl StepFault {
    /// The message after `expr: `; some name the expression again.
    pub(crate) fn text(&self, expr: &str) -> String {
        match self {
            StepFault::Unsized { ty } => {
                format!("{ty} has no size (void, a function or a flexible array): nothing to read")
            }
            StepFault::TooLarge { ty, size, max } => format!(
                "{ty} is {size} bytes, more than the {max} one expression reads; pick a member"
            ),
            StepFault::Bitfield => "a bitfield has no members or elements".into(),
            StepFault::IsPointer { ty, field } => {
                format!("is a pointer ({ty}): use `{expr}->{field}`")
            }
            StepFault::NotPointer { ty, field } => {
                format!("is not a pointer ({ty}): use `{expr}.{field}`")
            }
            StepFault::NotIndexable { ty } => {
                format!("{ty} is neither an array nor a pointer: cannot index it")
            }
            StepFault::NotRecord { ty, field } => {
                format!("{ty} is not a struct or union: it has no field `{field}`")
            }
            StepFault::IndexOverflow { index } => format!("index {index} overflows the address"),
        }
    }
}

/// Why a type is unknown ([`Error::UnknownType`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TypeNameFault {
    /// A `]` without its `[`.
    #[error("unbalanced `]`")]
    Unbalanced,
    /// An array length that is not a number.
    #[error("bad array length `{0}`")]
    BadLength(String),
    /// Nothing but qualifiers and bounds.
    #[error("no type name")]
    NoName,
    /// No struct, union or enum of that name.
    #[error("no {kind} {name} in the loaded types")]
    NoTagged {
        /// `struct`, `union` or `enum`.
        kind: String,
        /// The tag.
        name: String,
    },
    /// No type of that name, and not a built-in one.
    #[error("no such type in the loaded types")]
    NoSuchType,
    /// A kernel per-CPU variable no type source types.
    #[error(
        "a per-CPU variable (kallsyms places it in the per-CPU section) that neither the global variable table nor --debuginfo types: give its type with --as TYPE"
    )]
    UntypedPerCpu,
    /// A module's per-CPU variable its `.ko`'s DWARF does not type.
    #[error("a per-CPU variable the DWARF of its .ko does not type: give its type with --as TYPE")]
    UntypedModulePerCpu,
    /// An address without `--as`.
    #[error("an address has no type: give one with --as TYPE")]
    Address,
    /// Steps after a symbol that has no type.
    #[error("{why}; give its type with --as TYPE to follow {rest}")]
    Untyped {
        /// Why there is no type information.
        why: String,
        /// The steps that cannot be followed.
        rest: String,
    },
}

/// What went wrong with per-CPU variables ([`Error::PerCpu`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PerCpuFault {
    /// `--percpu-method runqueues` with a backend that cannot name the current task.
    #[error("{backend}: cannot name the task running on a CPU (only the bpf backend can)")]
    NoCurrentTask {
        /// The backend.
        backend: &'static str,
    },
    /// Neither the run queue nor `__per_cpu_offset` gave CPU's area.
    #[error("{runqueue}; and from __per_cpu_offset: {offsets}")]
    BothWays {
        /// Why the run queue way failed.
        #[source]
        runqueue: Box<Error>,
        /// Why the `__per_cpu_offset` way failed.
        offsets: Box<Error>,
    },
    /// `__per_cpu_offset` cannot be found.
    #[error(
        "{backend}: per-CPU areas need __per_cpu_offset, from kallsyms (CONFIG_KALLSYMS_ALL{}) or kpeek.ko{}; or the bpf backend",
        .ksyms.as_ref().map(|e| format!("; {e}")).unwrap_or_default(),
        match .resolve {
            Some(e) => format!("; {backend}: {e}"),
            None => format!("; {backend} resolves no names"),
        }
    )]
    NoOffsets {
        /// The backend.
        backend: &'static str,
        /// Why the symbol table could not be read, if it could not.
        ksyms: Option<std::sync::Arc<ksyms::Error>>,
        /// Why the backend could not resolve it (`None`: it resolves no names).
        resolve: Option<Box<Error>>,
    },
    /// `__per_cpu_offset` too short for the CPU.
    #[error("__per_cpu_offset ({size} bytes) has no entry for CPU {cpu}")]
    NoEntry {
        /// Its size.
        size: u64,
        /// The CPU.
        cpu: u32,
    },
    /// No `runqueues` symbol.
    #[error(
        "neither BTF nor kallsyms gives the per-CPU `runqueues`: cannot locate per-CPU areas from run queues"
    )]
    NoRunqueues,
    /// No vmlinux BTF.
    #[error("no vmlinux BTF")]
    NoVmlinuxBtf,
    /// The BTF lacks `struct task_struct`.
    #[error("BTF has no struct task_struct")]
    NoTaskStruct,
    /// `task_group.cfs_rq` is a per-CPU pointer.
    #[error(
        "this kernel's task_group.cfs_rq is a per-CPU pointer (struct cfs_rq *, not struct cfs_rq **): CPU {cpu}'s run queue cannot be reached from the calling task"
    )]
    PerCpuCfsRq {
        /// The CPU.
        cpu: u32,
    },
    /// Walking to a CPU's run queue failed.
    #[error("locating CPU {cpu}'s run queue from {path}: {source}")]
    Runqueue {
        /// The CPU.
        cpu: u32,
        /// The expression walked.
        path: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// The run queue found is another CPU's.
    #[error("the run queue found at {path} belongs to CPU {got}, not {cpu}")]
    WrongRunqueue {
        /// The expression walked.
        path: String,
        /// The CPU it says.
        got: u32,
        /// The CPU asked for.
        cpu: u32,
    },
    /// A per-CPU variable without a CPU selector.
    #[error(
        "`{name}` is a per-CPU variable: say which copy: {name}@cpu0, {name}@all (each CPU) or {name}@sum (their sum)"
    )]
    NoSelector {
        /// The variable.
        name: String,
    },
    /// A CPU that is not possible.
    #[error("{name}@cpu{cpu}: no CPU {cpu} (possible CPUs: {})", .possible.iter().map(u32::to_string).collect::<Vec<_>>().join(","))]
    NoCpu {
        /// The variable.
        name: String,
        /// The CPU asked for.
        cpu: u32,
        /// The possible CPUs.
        possible: Vec<u32>,
    },
    /// `@sum` of something that is not a number.
    #[error("{expr}: @sum adds numbers, but CPU {cpu}'s value is a {ty}")]
    SumNotNumber {
        /// The expression.
        expr: String,
        /// The CPU whose value is not a number.
        cpu: u32,
        /// The value's type.
        ty: String,
    },
    /// A CPU selector on a variable that is not per-CPU.
    #[error(
        "{name}: a CPU selector (@cpuN, @all, @sum) applies only to per-CPU variables, and this is not one"
    )]
    NotPerCpu {
        /// The variable.
        name: String,
    },
}

/// A type model problem ([`Error::Type`]): bad BTF or DWARF data, or a value that does not
/// fit its type.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFault {
    /// A BTF record's member list runs past the data.
    #[error("{what}: member {index} cut short")]
    MemberCut {
        /// The BTF.
        what: String,
        /// The member's index.
        index: usize,
    },
    /// A BTF id that does not fit 32 bits.
    #[error("BTF id {0} out of range")]
    BtfIdRange(u64),
    /// A BTF id past the last type.
    #[error("{what}: no type {id} (ids end at {count})")]
    NoBtfType {
        /// The BTF.
        what: String,
        /// The id.
        id: u64,
        /// How many types it has.
        count: usize,
    },
    /// A BTF array type runs past the data.
    #[error("{what}: array {id} cut short")]
    ArrayCut {
        /// The BTF.
        what: String,
        /// The type id.
        id: u64,
    },
    /// A BTF type that is not a data type.
    #[error("{what}: type {id} is a {kind}, not a data type")]
    NotData {
        /// The BTF.
        what: String,
        /// The type id.
        id: u64,
        /// Its kind.
        kind: &'static str,
    },
    /// No DWARF unit at an offset.
    #[error("{what}: no unit holds offset {offset:#x}")]
    NoUnit {
        /// The DWARF.
        what: String,
        /// The offset.
        offset: u64,
    },
    /// A DIE that cannot be read.
    #[error("{what}: DIE at {offset:#x}: {source}")]
    Die {
        /// The DWARF.
        what: String,
        /// The DIE's offset.
        offset: u64,
        /// Why.
        #[source]
        source: gimli::Error,
    },
    /// A DIE that is not a type.
    #[error("{what}: DIE at {offset:#x} is a {tag}, not a type")]
    NotType {
        /// The DWARF.
        what: String,
        /// The DIE's offset.
        offset: u64,
        /// Its tag.
        tag: String,
    },
    /// DWARF that cannot be read.
    #[error("DWARF: {0}")]
    Dwarf(#[source] gimli::Error),
    /// A made-up type that was not made.
    #[error("no made-up type {0}")]
    NoSynth(u64),
    /// A type source that does not exist.
    #[error("no type source {0}")]
    NoSource(u16),
    /// A typedef loop or very long chain.
    #[error("typedef chain longer than 64 links")]
    TypedefChain,
    /// An array whose size overflows.
    #[error("array size overflows")]
    ArraySize,
    /// A struct, union or enum only declared.
    #[error("{kind} {name} is only declared, no source defines it")]
    Declared {
        /// `struct`, `union` or `enum`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Fewer bytes than the value needs.
    #[error("value needs {need} bytes, {got} read")]
    Short {
        /// Bytes needed.
        need: u64,
        /// Bytes read.
        got: usize,
    },
    /// A bitfield that cannot be.
    #[error("bad bitfield {offset}+{size}")]
    Bitfield {
        /// Its bit offset.
        offset: u32,
        /// Its size in bits.
        size: u32,
    },
    /// Types nested too deep.
    #[error("types nest more than 64 levels")]
    TooDeep,
    /// An array too large to decode.
    #[error("array too large")]
    ArrayTooLarge,
    /// An array element past the bytes read.
    #[error("array runs past the bytes read")]
    ArrayPast,
    /// A member offset too large.
    #[error("member offset too large")]
    MemberOffset,
    /// A member past the bytes read.
    #[error("member lies past the record")]
    MemberPast,
    /// Fewer bytes than a pointer needs.
    #[error("{what}: a pointer needs {need} bytes, {got} read")]
    ShortPointer {
        /// The expression.
        what: String,
        /// Bytes needed.
        need: usize,
        /// Bytes read.
        got: usize,
    },
}

/// How a backend failed in a way [`Error`] does not list ([`Error::Backend`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendFault {
    /// The BPF reader failed.
    #[error("{0}")]
    Bpf(#[source] Box<kpeek_bpf::Error>),
    /// `/dev/kpeek` failed.
    #[error("{0}")]
    Kmod(#[source] Box<kpeek_client::Error>),
    /// No `/proc/kcore`.
    #[error("{} does not exist (kernel built without CONFIG_PROC_KCORE)", .path.display())]
    NoKcore {
        /// The path looked at.
        path: PathBuf,
    },
    /// `/proc/kcore` is root's.
    #[error("{} needs root (CAP_SYS_RAWIO)", .path.display())]
    KcoreRoot {
        /// The path opened.
        path: PathBuf,
    },
    /// A step that needs memory, asked of the plan's reader that has none.
    #[error("a step that reads memory")]
    NeedsMemory,
    /// A name the backend could not resolve because the symbol table is unreadable.
    #[error("cannot resolve `{name}`: {source}")]
    Unresolved {
        /// The name.
        name: String,
        /// Why the symbol table could not be read.
        #[source]
        source: Arc<ksyms::Error>,
    },
}

/// A module's `.ko` that is not the loaded module's build ([`Error::WrongModule`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}: {what} {file} is not that of the loaded module `{module}` ({running}, from {}): \
     its symbol table describes another build; give the loaded module's own .ko \
     (--module-file)",
    .path.display(), .from.display()
)]
pub struct ModuleMismatch {
    /// The `.ko`.
    pub path: PathBuf,
    /// What differs: `build-id` or `srcversion`.
    pub what: &'static str,
    /// The `.ko`'s (build-id in hex, or srcversion).
    pub file: String,
    /// The module.
    pub module: String,
    /// The loaded module's.
    pub running: String,
    /// The sysfs file the loaded module's was read from.
    pub from: PathBuf,
}

/// Why a module's variable cannot be located through its sections ([`Error::Located`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocateFault {
    /// The module's `.ko` is not at hand.
    #[error("its .ko is needed ({why}): give it with --module-file")]
    NeedKo {
        /// Why it was not found.
        why: String,
    },
    /// A per-CPU variable of a module whose `.ko` has no DWARF.
    #[error(
        "a per-CPU variable is found through {module}:__this_module.percpu, whose type (struct module) comes from the DWARF of its .ko, which has none"
    )]
    NoDwarf {
        /// The module.
        module: String,
    },
    /// The `.ko`'s DWARF does not type `__this_module`.
    #[error("the DWARF of {module}.ko does not type __this_module ({THIS_MODULE_SECTION})")]
    ThisModuleUntyped {
        /// The module.
        module: String,
    },
    /// `struct module` without `percpu`.
    #[error("{ty} has no member `percpu` (a kernel without CONFIG_SMP has no per-CPU areas)")]
    NoPercpuMember {
        /// The type's name.
        ty: String,
    },
    /// `__this_module.percpu` of a size no pointer has.
    #[error("__this_module.percpu is {size} bytes, not a pointer")]
    PercpuSize {
        /// Its size.
        size: u64,
    },
    /// Neither build-ids nor srcversions in both the `.ko` and the loaded module.
    #[error(
        "cannot tell whether {} is the loaded module's build: it has {} and {} has {} (a build-id note or srcversion is needed in both)",
        .path.display(), describe(.ko), .dir.display(), describe(.loaded)
    )]
    Unverifiable {
        /// The `.ko`.
        path: PathBuf,
        /// What it has.
        ko: Box<BuildIdent>,
        /// The loaded module's sysfs directory.
        dir: PathBuf,
        /// What the loaded module has.
        loaded: Box<BuildIdent>,
    },
    /// The module is not loaded.
    #[error("module `{module}` is not loaded (no {})", .dir.display())]
    NotLoaded {
        /// The module.
        module: String,
        /// Its sysfs directory that does not exist.
        dir: PathBuf,
    },
    /// The loaded module has no such section.
    #[error(
        "{} does not exist: the loaded module has no section `{section}` (empty, freed after init, or not kept by the loader){}",
        .file.display(),
        if .listed.is_empty() { String::new() } else { format!("; it lists {}", .listed.join(", ")) }
    )]
    NoSection {
        /// The section's sysfs file.
        file: PathBuf,
        /// The section.
        section: String,
        /// The sections it has.
        listed: Vec<String>,
    },
    /// The section addresses are root's.
    #[error(
        "{}: permission denied: the kernel shows module section addresses to root only",
        .file.display()
    )]
    SectionDenied {
        /// The section's sysfs file.
        file: PathBuf,
    },
    /// The section address reads 0.
    #[error(
        "{} reads 0: the kernel hides module addresses from this reader ({})",
        .file.display(),
        hidden_why(.kptr_restrict.as_deref())
    )]
    Hidden {
        /// The section's sysfs file.
        file: PathBuf,
        /// `kernel.kptr_restrict`, when readable.
        kptr_restrict: Option<String>,
    },
    /// `--locate sections` for a kernel variable.
    #[error("--locate sections locates a module's variables (MODULE:{name}), not the kernel's")]
    Kernel {
        /// The variable.
        name: String,
    },
}

fn describe(b: &BuildIdent) -> String {
    match (&b.build_id, &b.srcversion) {
        (Some(id), None) => format!("build-id {} and no srcversion", buildid::hex(id)),
        (None, Some(s)) => format!("srcversion {s} and no build-id"),
        (Some(id), Some(s)) => format!("build-id {} and srcversion {s}", buildid::hex(id)),
        (None, None) => "neither a build-id nor a srcversion".into(),
    }
}

/// Why addresses read as zero, as `kpeek sym` explains hidden kallsyms addresses.
fn hidden_why(kptr_restrict: Option<&str>) -> String {
    match kptr_restrict {
        Some("2") => "kernel.kptr_restrict = 2 hides them from everyone, root included: \
                      `sysctl kernel.kptr_restrict=1` and read as root (or with CAP_SYSLOG)"
            .into(),
        Some(k) => format!(
            "kernel.kptr_restrict = {k}: they are shown to readers with CAP_SYSLOG{}: run \
             as root (or grant CAP_SYSLOG)",
            if k == "0" {
                " or when kernel.perf_event_paranoid <= 1"
            } else {
                ""
            }
        ),
        None => "kptr_restrict or a missing CAP_SYSLOG: run as root (or with CAP_SYSLOG)".into(),
    }
}

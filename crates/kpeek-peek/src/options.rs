//! What a [`Session`](crate::session::Session) is asked to do besides the expressions: the
//! command line's `--as`, `--depth`, type files and how places are located.

use std::path::PathBuf;

use crate::locate::Locate;

/// What the user asked for besides the expressions.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--as TYPE`: the type of every expression's base.
    pub as_type: Option<String>,
    /// `--depth N`: nested records shown.
    pub depth: u32,
    /// `--module-file M.ko`: DWARF of modules, by module name.
    pub module_files: Vec<PathBuf>,
    /// `--debuginfo VMLINUX`: DWARF of the kernel.
    pub debuginfo: Option<PathBuf>,
    /// How per-CPU areas are located.
    pub percpu_method: PerCpuMethod,
    /// How a module's variables are located.
    pub locate: Locate,
    /// The root under which `/sys/module` is read (`None`: `/`; tests give a made-up tree).
    pub sysfs_root: Option<PathBuf>,
}

/// How the start of each CPU's per-CPU area is found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PerCpuMethod {
    /// From the run queues where the backend can name the task on a CPU (bpf), else offsets.
    #[default]
    Auto,
    /// `__per_cpu_offset[cpu]`, the array found through kallsyms or the kernel (kpeek.ko).
    Offsets,
    /// CPU n's `struct rq` (`current->se.cfs_rq->rq` on CPU n) minus `runqueues`' offset.
    Runqueues,
}

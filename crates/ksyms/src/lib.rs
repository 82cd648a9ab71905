//! `ksyms`: load, index and query kernel symbol tables (`/proc/kallsyms`, `System.map`).
//!
//! Answers address → `name+0xoff/0xsize [module]` with the kernel's `%pS` semantics and
//! name → every matching address, and symbolizes whole texts such as oops reports.

//! `PASS: name` / `FAIL: name: why` lines, the format the guest suite counts.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts what it printed; the program exits non-zero when anything failed.
#[derive(Default)]
pub struct Report {
    passed: AtomicUsize,
    failed: AtomicUsize,
}

impl Report {
    pub fn pass(&self, name: &str) {
        println!("PASS: {name}");
        self.passed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn fail(&self, name: &str, why: &str) {
        // One line per failure: the suite reads line by line.
        println!("FAIL: {name}: {}", why.replace('\n', " | "));
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// PASS when `ok`, else FAIL with `why()`.
    pub fn check(&self, name: &str, ok: bool, why: impl FnOnce() -> String) {
        if ok {
            self.pass(name)
        } else {
            self.fail(name, &why())
        }
    }

    /// PASS when the result is Ok, else FAIL with the error.
    pub fn ok<T, E: std::fmt::Display>(&self, name: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => {
                self.pass(name);
                Some(v)
            }
            Err(e) => {
                self.fail(name, &e.to_string());
                None
            }
        }
    }

    /// PASS when `got == want`.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&self, name: &str, got: T, want: T) {
        let ok = got == want;
        self.check(name, ok, || format!("got {got:?}, want {want:?}"));
    }

    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn passed(&self) -> usize {
        self.passed.load(Ordering::Relaxed)
    }
}

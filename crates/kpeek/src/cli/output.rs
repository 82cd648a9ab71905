//! Standard output that ends quietly when the reader goes away (`kpeek … | head`): a write
//! error `EPIPE` anywhere in a command's error chain makes the process exit 0 without a
//! message, as Unix filters do. Commands write through `io::Write` and propagate errors with
//! `?` (never `println!`, which panics on a closed pipe); [`outln!`](crate::outln) is the
//! `println!` for them, and [`errln!`](crate::errln) the `eprintln!`, which would panic on a
//! closed stderr. `main.rs` denies `print_stdout`/`print_stderr` so that neither comes back.

use std::io;

/// Whether `err` (or anything in its chain) is a write to a closed pipe.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// `println!` that returns the write error (for `?`) instead of panicking on a closed pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        ::std::io::Write::write_fmt(
            &mut ::std::io::stdout().lock(),
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}

/// `eprintln!` that does not panic when stderr is closed (`kpeek … 2>&-`, or `2>&1 | head`
/// gone): a message nobody can read is dropped and the exit code still says what happened.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        let _ = ::std::io::Write::write_fmt(
            &mut ::std::io::stderr().lock(),
            format_args!("{}\n", format_args!($($arg)*)),
        );
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_pipe_is_found_through_context() {
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_closed_pipe(&e));
        assert!(!is_closed_pipe(&anyhow::anyhow!("other")));
    }
}

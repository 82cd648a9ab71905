//! Opening the backend `--via` names (or, for `auto`, the first that opens).

use kpeek_peek::Error;
use kpeek_peek::via::bpf::Bpf;
use kpeek_peek::via::kmod::Kmod;
use kpeek_peek::via::{Backend, Kcore, Via};

fn open_one(via: Via) -> Result<Box<dyn Backend>, Error> {
    match via {
        Via::Kpeek => Ok(Box::new(Kmod::open()?)),
        Via::Bpf => Ok(Box::new(Bpf::open()?)),
        Via::Kcore => Ok(Box::new(Kcore::open()?)),
        Via::Auto => unreachable!("auto is resolved by the caller"),
    }
}

/// The backend to read with.
pub fn backend(via: Via) -> Result<Box<dyn Backend>, Error> {
    if via != Via::Auto {
        return open_one(via);
    }
    let mut why = Vec::new();
    for v in [Via::Kpeek, Via::Bpf, Via::Kcore] {
        match open_one(v) {
            Ok(b) => return Ok(b),
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(Error::NoBackend(why))
}

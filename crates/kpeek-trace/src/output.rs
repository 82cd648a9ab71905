//! Writers for recorded events: lttng-view text, JSON lines, Chrome/Perfetto trace-event JSON
//! and CTF 1.8 (readable by `babeltrace2`). Each is a [`Sink`](crate::model::Sink).
//!
//! Every format shows lost records where they happened and in its end-of-run data; nothing is
//! dropped silently. Writers are buffered and write straight from the record's bytes with
//! per-event strings prepared once, so the hot path stays allocation-light.

use std::io;

use crate::format::EventFormat;

pub mod chrome;
pub mod ctf;
pub mod json;
pub mod text;

pub use chrome::ChromeWriter;
pub use ctf::CtfWriter;
pub use json::JsonWriter;
pub use text::TextWriter;

/// Turns a kernel address into `name+0xoff/0xsize [module]` (supplied by the caller, e.g.
/// from the ksyms crate), writing into the string.
pub type Symbolizer = Box<dyn Fn(u64, &mut String) + Send>;

/// The host name (`uname -n`), for the text format.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The `"system:name"` of an event.
pub fn event_label(f: &EventFormat) -> String {
    f.name.to_string()
}

/// Write `s` as a JSON string (quotes included).
pub fn write_json_str(w: &mut impl io::Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(w, s).map_err(io::Error::other)
}

/// Write nanoseconds as microseconds with three decimals (`1234.567`), for trace-event JSON.
pub fn write_us(w: &mut impl io::Write, ns: u64) -> io::Result<()> {
    write!(w, "{}.{:03}", ns / 1000, ns % 1000)
}

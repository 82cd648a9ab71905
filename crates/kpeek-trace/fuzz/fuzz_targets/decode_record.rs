//! A format file (the first part of the input, up to a NUL) and a record (the rest): decoding
//! never panics, whatever the layout claims and whatever the record holds.
#![no_main]

use std::sync::OnceLock;

use kpeek_trace::format::EventFormat;
use libfuzzer_sys::fuzz_target;

/// A layout with every kind of field, so inputs without a usable format still exercise decode.
const BUILTIN: &str = "name: f
ID: 1
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;
\tfield:__rel_loc u16[] vals;\toffset:12;\tsize:4;\tsigned:0;
\tfield:__data_loc cpumask_t mask;\toffset:16;\tsize:4;\tsigned:0;
\tfield:long l;\toffset:20;\tsize:8;\tsigned:1;
\tfield:char comm[8];\toffset:28;\tsize:8;\tsigned:0;
\tfield:bool b;\toffset:36;\tsize:1;\tsigned:0;
\tfield:enum e en;\toffset:37;\tsize:1;\tsigned:0;
\tfield:void * p;\toffset:40;\tsize:8;\tsigned:0;
\tfield:short arr[3];\toffset:48;\tsize:6;\tsigned:1;
\tfield:struct s st;\toffset:54;\tsize:3;\tsigned:0;
\tfield:char buf[];\toffset:57;\tsize:0;\tsigned:0;

print fmt: \"\"
";

fuzz_target!(|data: &[u8]| {
    let (fmt, raw) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    static LAYOUT: OnceLock<EventFormat> = OnceLock::new();
    let builtin =
        LAYOUT.get_or_init(|| EventFormat::parse(BUILTIN).expect("builtin layout parses"));
    let parsed = std::str::from_utf8(fmt)
        .ok()
        .and_then(|t| EventFormat::parse(t).ok());
    for f in [Some(builtin), parsed.as_ref()].into_iter().flatten() {
        let _ = f.decode_common(raw);
        if let Ok(values) = f.decode(raw) {
            for (_, v) in &values {
                let _ = v.to_string();
            }
        }
    }
});

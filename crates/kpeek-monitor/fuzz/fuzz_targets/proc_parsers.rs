//! Any text as /proc/vmstat, /proc/stat, /proc/net/snmp, /proc/net/dev, /proc/pressure/* or a
//! one-number file: the parsers never panic, errors name a line inside the text, and every
//! number they return is finite.
#![no_main]

use kpeek_monitor::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.lines().count().max(1);
    for r in [
        parse::vmstat(text),
        parse::stat(text, 100.0),
        parse::snmp(text),
        parse::netdev(text),
        parse::pressure(text, "cpu"),
    ] {
        match r {
            Ok(items) => assert!(items.iter().all(|i| i.value.is_finite())),
            Err(e) => assert!(e.line >= 1 && e.line <= lines, "{e}"),
        }
    }
    if let Ok(v) = parse::one_number(text) {
        assert!(v.is_finite());
    }
});

//! Every format file of the running kernel parses into a consistent layout.
//!
//! Runs against the live tracefs (mounted first if needed; the VM and CI run as root). A machine
//! without tracefs fails this test loudly rather than passing it.

use std::collections::BTreeMap;

use kpeek_trace::format::{EventFormat, FieldKind, parse_field_line};
use kpeek_trace::tracefs::Tracefs;

fn tracefs() -> Tracefs {
    Tracefs::discover_or_mount()
        .unwrap_or_else(|e| panic!("this test needs the live tracefs (run as root): {e}"))
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn every_format_file_of_this_kernel_parses() {
    let fs = tracefs();
    let events = fs.events(None).expect("list events");
    assert!(
        events.len() > 100,
        "only {} events under {}: is this a real tracefs?",
        events.len(),
        fs.root().display()
    );
    let mut failures = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut parsed = 0;
    for ev in &events {
        let f = match fs.format(ev) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{ev}: {e}"));
                continue;
            }
        };
        parsed += 1;
        if let Err(why) = check_layout(&f) {
            failures.push(format!("{ev}: {why}"));
        }
        // The id file (absent for ftrace's internal events) agrees with the ID line.
        if let Ok(id_file) = std::fs::read_to_string(fs.event_dir(ev).join("id")) {
            assert_eq!(id_file.trim(), f.id.to_string(), "{ev}");
        }
        assert_eq!(f.name, *ev);
        for field in &f.fields {
            let k = match &field.kind {
                FieldKind::Int { .. } => "int",
                FieldKind::Enum { .. } => "enum",
                FieldKind::Bool => "bool",
                FieldKind::Pointer { .. } => "pointer",
                FieldKind::CharArray { .. } => "char[N]",
                FieldKind::Array { .. } => "array",
                FieldKind::DataLoc { .. } => "data_loc",
                FieldKind::RelLoc { .. } => "rel_loc",
                FieldKind::FlexArray { .. } => "flex array",
                FieldKind::Opaque { .. } => "opaque",
            };
            *kinds.entry(k.to_string()).or_default() += 1;
        }
    }
    eprintln!(
        "parsed {parsed}/{} format files under {}; field kinds: {kinds:?}",
        events.len(),
        fs.root().display()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(parsed, events.len());
    // This kernel has all of these; a parser that lost one would show here.
    for k in [
        "int", "enum", "bool", "pointer", "char[N]", "array", "data_loc",
    ] {
        assert!(
            kinds.contains_key(k),
            "no {k} field found in any event: {kinds:?}"
        );
    }
}

/// Fields lie inside the fixed part, do not overlap, and each kind's size is the kernel's.
fn check_layout(f: &EventFormat) -> Result<(), String> {
    let names: Vec<&str> = f.common_fields.iter().map(|c| c.name.as_str()).collect();
    if names
        != [
            "common_type",
            "common_flags",
            "common_preempt_count",
            "common_pid",
        ]
    {
        return Err(format!("unexpected common fields {names:?}"));
    }
    let mut spans: Vec<(usize, usize, &str)> = Vec::new();
    for field in f.common_fields.iter().chain(&f.fields) {
        match (&field.kind, field.kind.fixed_size()) {
            (FieldKind::FlexArray { .. }, None) if field.size == 0 => {}
            (_, Some(s)) if s == field.size => {}
            (k, s) => {
                return Err(format!(
                    "field {} ({}) of size {} classified as {k:?} (size {s:?})",
                    field.name, field.c_type, field.size
                ));
            }
        }
        let is_dyn =
            field.c_type.starts_with("__data_loc") || field.c_type.starts_with("__rel_loc");
        let kind_dyn = matches!(
            field.kind,
            FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. }
        );
        if is_dyn != kind_dyn {
            return Err(format!(
                "field {} ({}) classified as {:?}",
                field.name, field.c_type, field.kind
            ));
        }
        if field.c_type.contains('*')
            && !field.c_type.contains('[')
            && !matches!(field.kind, FieldKind::Pointer { .. })
        {
            return Err(format!("pointer {} is {:?}", field.name, field.kind));
        }
        spans.push((field.offset, field.offset + field.size, &field.name));
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!("fields {} and {} overlap", w[0].2, w[1].2));
        }
    }
    Ok(())
}

#[test]
#[ignore = "needs root and the live kernel: tracepoints (tracefs, perf events); ./test-all runs it (cargo test -- --include-ignored)"]
fn header_page_fields_parse() {
    let fs = tracefs();
    let text = kpeek_trace::tracefs::read_text(&fs.root().join("events/header_page"))
        .expect("header_page");
    let fields: Vec<_> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_field_line(l.trim()).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["timestamp", "commit", "overwrite", "data"]);
    assert_eq!(fields[0].size, 8);
}

//! Tests of the configuration: parsing, errors with their places and faults, building.
use super::*;

#[test]
fn parses_a_full_config() {
    let c = parse_config(
        "interval = \"500ms\"\n[[source]]\ntype = \"kpeek\"\nvia = \"procfs\"\n\
         [[source]]\ntype = \"tracepoint\"\nname = \"rx\"\nevents = [\"net:*\"]\n\
         [[source]]\ntype = \"file\"\npath = \"/x/y\"\nkind = \"counter\"\n",
        "k.toml",
    )
    .unwrap();
    assert_eq!(c.interval, Some(Duration::from_millis(500)));
    assert_eq!(c.sources.len(), 3);
    assert_eq!(c.sources[1].name(), "rx");
    assert_eq!(c.sources[2].name(), "x_y");
}

fn at(file: &str, line: usize, col: usize) -> Place {
    Place::File {
        file: file.into(),
        line,
        col,
    }
}

#[test]
fn errors_have_file_line_and_column() {
    let e = parse_config("[[source]]\ntype = \"bogus\"\n", "k.toml").unwrap_err();
    assert!(
        matches!(&e.place, Place::File { file, .. } if file == "k.toml"),
        "{e}"
    );
    assert!(matches!(&e.fault, ConfigFault::Toml { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("k.toml:") && e.to_string().contains("bogus"),
        "{e}"
    );
    let e = parse_config("\n\ninterval = \"3 parsecs\"\n", "k.toml").unwrap_err();
    assert_eq!(e.place, at("k.toml", 3, 12), "{e}");
    assert!(
        matches!(
            &e.fault,
            ConfigFault::Duration {
                source: DurationError::UnknownUnit { unit, .. }
            } if unit == " parsecs"
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "k.toml:3:12: \"3 parsecs\": unknown unit \" parsecs\" (ms, s, m, h)"
    );
    // The cause is kept, typed.
    assert!(std::error::Error::source(&e.fault).is_some());
    let e = parse_config(
        "[[source]]\ntype = \"vmstat\"\n[[source]]\ntype = \"vmstat\"\n",
        "k.toml",
    )
    .unwrap_err();
    assert_eq!(e.place, at("k.toml", 3, 1), "{e}");
    assert!(matches!(
        &e.fault,
        ConfigFault::DuplicateName { name, in_file: true } if name == "vmstat"
    ));
    assert_eq!(
        e.to_string(),
        "k.toml:3:1: a second source named \"vmstat\" (give one a different `name`)"
    );
    let e = parse_config("[[source]]\ntype = \"kpeek\"\nvia = \"pigeon\"\n", "k.toml").unwrap_err();
    assert!(
        matches!(
            &e.fault,
            ConfigFault::Spec { source }
                if matches!(**source, SpecError::UnknownChannel(_))
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("unknown channel"), "{e}");
    let e = parse_config("[[source]]\ntype = \"vmstat\"\ncolour = 1\n", "k.toml").unwrap_err();
    assert!(matches!(e.fault, ConfigFault::Toml { .. }), "{e:?}");
    assert!(e.to_string().contains("colour"), "{e}");
    let e = parse_config("[[source]]\ntype = \"tracepoint\"\nevents = []\n", "k.toml").unwrap_err();
    assert!(matches!(
        &e.fault,
        ConfigFault::Spec { source } if **source == SpecError::NoEvents
    ));
    let e = parse_config("interval = [\n", "k.toml").unwrap_err();
    assert!(
        matches!(&e.place, Place::File { file, line: 1, .. } if file == "k.toml"),
        "{e}"
    );
    let e = SourceSpec::builtin("bogus").unwrap_err();
    assert_eq!(e.place, Place::Flag("--source"));
    assert!(matches!(&e.fault, ConfigFault::UnknownSource { ty } if ty == "bogus"));
    assert!(
        e.to_string()
            .starts_with("--source: unknown source \"bogus\" (expected kpeek")
    );
}

#[test]
fn an_unreadable_file_is_named_whole() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("absent.toml");
    let e = load_config(&p).unwrap_err();
    assert_eq!(
        e.place,
        Place::WholeFile {
            file: p.display().to_string()
        }
    );
    assert!(
        matches!(&e.fault, ConfigFault::Read { source } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(e.to_string().contains("absent.toml: cannot read: "), "{e}");
}

#[test]
fn places_print_as_before() {
    assert_eq!(at("kpeek.toml", 3, 1).to_string(), "kpeek.toml:3:1");
    assert_eq!(Place::Flag("--tracepoint").to_string(), "--tracepoint");
    assert_eq!(Place::Source("rx".into()).to_string(), "source rx");
    let e = ConfigError::flag(
        "--tracepoint",
        ConfigFault::DuplicateName {
            name: "tracepoint".into(),
            in_file: false,
        },
    );
    assert_eq!(
        e.to_string(),
        "--tracepoint: a second source named \"tracepoint\""
    );
}

#[test]
fn a_file_counter_of_declared_width_wraps() {
    use crate::monitor::{Monitor, outcome};
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("n");
    std::fs::write(&f, format!("{}\n", u32::MAX - 9)).unwrap();
    let conf = |extra: &str| {
        format!(
            "[[source]]\ntype = \"file\"\nname = \"w\"\npath = \"{}\"\nkind = \"counter\"\n{extra}",
            f.display()
        )
    };
    let root = SysRoot::real();
    let c = parse_config(&conf("width = 32\n"), "k.toml").unwrap();
    let mut spawns = build(&c.sources, &root).unwrap();
    let Some(Spawn::Ready(src)) = spawns.pop() else {
        panic!("a file source is built in place");
    };
    let mut src = src;
    let mut m = Monitor::new();
    m.ingest(
        0.0,
        0.0,
        vec![outcome("w", src.read().unwrap(), Duration::ZERO)],
    );
    std::fs::write(&f, "10\n").unwrap();
    m.ingest(
        1.0,
        0.0,
        vec![outcome("w", src.read().unwrap(), Duration::ZERO)],
    );
    let row = &m.rows()[0];
    assert_eq!((row.rate, row.reset), (Some(20.0), false));
    // Bad widths are config errors naming the source.
    for (extra, want) in [("width = 70\n", "want 1 to 64"), ("width = 300\n", "")] {
        match parse_config(&conf(extra), "k.toml") {
            Ok(c) => {
                let e = build(&c.sources, &root).err().expect("a bad width");
                assert!(
                    matches!(e.fault, ConfigFault::WidthRange { width: 70 }),
                    "{e:?}"
                );
                assert_eq!(e.place, Place::Source("w".into()));
                assert!(e.to_string().contains(want), "{e}");
            }
            Err(e) => assert!(matches!(e.place, Place::File { .. }), "{e}"),
        }
    }
    let gauge = conf("width = 32\n").replace("counter", "gauge");
    let e = build(&parse_config(&gauge, "k.toml").unwrap().sources, &root)
        .err()
        .expect("width on a gauge");
    assert!(
        matches!(e.fault, ConfigFault::WidthOnGauge { width: 32 }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "source w: width 32 is for counters; this source is a gauge"
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("1y").is_err());
}

proptest::proptest! {
    #[test]
    fn config_parser_never_panics(s in "\\PC*") {
        let _ = parse_config(&s, "f");
    }
}

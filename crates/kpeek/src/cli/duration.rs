//! The one duration grammar of every `--duration`/`--interval`/`--timeout`: humantime's
//! (`10s`, `500ms`, `2m`, `1h 30m`, `250us`), or a bare number of seconds (`1.5`).

use std::time::Duration;

/// Parses a duration for a clap `value_parser`: the error names the text and the grammar.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = s
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (try 10s, 500ms, 2m, 1.5)"))?;
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("`{s}` is not a valid duration"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}; try 10s, 500ms, 2m, 1.5)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grammar() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        for bad in ["5x", "abc", "-1s", "-1", "", "1.2.3", "5 parsecs"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("duration"), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(ms in 0u64..10_000_000, junk in ".{0,20}") {
            let _ = parse_duration(&junk);
            proptest::prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
        }
    }
}

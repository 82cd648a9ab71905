use super::*;
use proptest::prelude::*;

fn pats(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn wildcards() {
    assert!(line_matches("a [..] c", "a b c"));
    assert!(line_matches("[..]", ""));
    assert!(line_matches("x[..]y[..]z", "xAyByCz"));
    assert!(!line_matches("a [..] c", "a b d"));
    assert!(!line_matches("ab[..]ba", "aba"));
    assert!(lines_match(
        &pats(&["a", "...", "z"]),
        &["a", "b", "c", "z"]
    ));
    assert!(lines_match(&pats(&["a", "...", "z"]), &["a", "z"]));
    assert!(!lines_match(&pats(&["a", "...", "z"]), &["a", "b"]));
    assert!(!lines_match(&pats(&["a"]), &["a", "b"]));
    assert!(lines_match(&pats(&[]), &[]));
    assert!(!lines_match(&pats(&[]), &[""]));
}

#[test]
fn places_blocks_and_continuations() {
    let page = "\
# page
```console
$ echo one \\
  two
one two
```
text
```console guest
$ kpeek mod counters
GROUP[..]
...
$ true
```
```text
$ not an example
```
";
    let ex = parse("p.md", page).unwrap();
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0].place, Place::Host);
    assert_eq!(ex[0].command, "echo one \\\n  two");
    assert_eq!(ex[0].expected, pats(&["one two"]));
    assert_eq!((ex[0].line, ex[0].block), (3, 2));
    assert_eq!(ex[1].place, Place::Guest);
    assert_eq!((ex[1].line, ex[1].block), (9, 8));
    assert_eq!(ex[1].expected, pats(&["GROUP[..]", "..."]));
    assert_eq!((ex[2].command.as_str(), ex[2].block), ("true", 8));
    assert!(ex[2].expected.is_empty());
}

#[test]
fn a_longer_fence_holds_shorter_ones() {
    let page = "````markdown\n```console\n$ echo hidden\n```\n````\n";
    assert_eq!(parse("p.md", page).unwrap(), vec![]);
}

#[test]
fn a_fence_with_an_info_string_does_not_close() {
    let page = "```text\nx\n```text\n$ y\n```\n";
    assert_eq!(parse("p.md", page).unwrap(), vec![]);
}

#[test]
fn errors_name_the_line() {
    let e = parse("p.md", "a\n```console\noutput\n```\n").unwrap_err();
    assert_eq!(
        e,
        ParseError::OutputBeforeCommand {
            file: "p.md".into(),
            line: 3
        }
    );
    assert_eq!(
        e.to_string(),
        "p.md:3: output before any `$ ` command in a console block"
    );
    // Output at the start of a second block does not belong to the first block's command.
    let e = parse("p.md", "```console\n$ a\n```\n```console\nb\n```\n").unwrap_err();
    assert!(matches!(e, ParseError::OutputBeforeCommand { line: 5, .. }));
    let e = parse("p.md", "```console\n$ a\n").unwrap_err();
    assert!(matches!(e, ParseError::Unterminated { line: 1, .. }));
    let e = parse("p.md", "```console guset\n$ a\n```\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.md:1: unknown example place `console guset` (want `console` or `console guest`)"
    );
}

#[test]
fn mismatch_report_shows_both_sides() {
    let ex = &parse("p.md", "```console\n$ echo a\nb\n```\n").unwrap()[0];
    assert_eq!(
        describe_mismatch(ex, Some(0), "a\n"),
        "p.md:2: $ echo a\n--- documented:\nb\n--- actual (exit 0):\na"
    );
}

proptest! {
    #[test]
    fn parse_never_panics(text in "(```(console( guest)?)?\n|\\$ [a-z\\\\]{0,4}\n|[a-z.\\[\\]]{0,6}\n){0,12}") {
        let _ = parse("p.md", &text);
    }

    #[test]
    fn rendered_examples_parse_back(
        cmds in proptest::collection::vec(("[a-z][a-z ]{0,10}", proptest::collection::vec("[a-z][a-z .]{0,10}", 0..4)), 1..5),
        guest in any::<bool>(),
    ) {
        let mut page = String::from(if guest { "```console guest\n" } else { "```console\n" });
        for (c, out) in &cmds {
            page.push_str(&format!("$ {c}\n"));
            for o in out {
                page.push_str(o);
                page.push('\n');
            }
        }
        page.push_str("```\n");
        let ex = parse("p.md", &page).unwrap();
        prop_assert_eq!(ex.len(), cmds.len());
        for (e, (c, out)) in ex.iter().zip(&cmds) {
            prop_assert_eq!(&e.command, c);
            prop_assert_eq!(&e.expected, out);
            prop_assert_eq!(e.place, if guest { Place::Guest } else { Place::Host });
            let lines: Vec<&str> = out.iter().map(String::as_str).collect();
            prop_assert!(lines_match(&e.expected, &lines));
        }
    }

    #[test]
    fn a_plain_pattern_matches_only_itself(p in "[a-z .]{0,12}", l in "[a-z .]{0,12}") {
        prop_assert_eq!(line_matches(&p, &l), p == l);
    }

    #[test]
    fn a_wildcard_stands_for_any_text(a in "[a-z]{0,5}", mid in "[a-z \\[\\].]{0,8}", b in "[a-z]{0,5}") {
        let line = format!("{a}{mid}{b}");
        let pat = format!("{a}[..]{b}");
        prop_assert!(line_matches(&pat, &line));
    }

    #[test]
    fn dots_stand_for_any_lines(head in "[a-z]{1,5}", middle in proptest::collection::vec("[a-z]{0,5}", 0..5), tail in "[A-Z]{1,5}") {
        let mut lines = vec![head.as_str()];
        lines.extend(middle.iter().map(String::as_str));
        lines.push(tail.as_str());
        prop_assert!(lines_match(&[head.as_str(), "...", tail.as_str()], &lines));
    }
}

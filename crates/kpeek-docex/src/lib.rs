//! The grammar of kpeek's documented examples, shared by the two programs that run them: the
//! host test `doc_examples` (crate `kpeek`) and `kpeek-guest doc-examples` in the qemu guest.
//!
//! In README.md and `docs/*.md`, a fenced block whose info string is `console` is an example
//! run on the host; `console guest` is one run in the qemu guest, with kpeek.ko loaded. Inside,
//! `$ COMMAND` lines (a trailing `\` continues the command on the next line) are followed by the
//! expected output, stdout and stderr together. In an expected line `[..]` matches any text
//! within the line, and a line `...` matches any number of lines. Any other fenced block
//! (`text`, `sh`, `c`, ...) is not an example; an unknown word after `console` is an error, so
//! a misspelt place never turns an example into one that nobody runs.
//!
//! ```
//! use kpeek_docex::{lines_match, parse, Place};
//!
//! let page = "Try:\n\n```console\n$ echo a; echo b; echo c\na\n...\n```\n";
//! let examples = parse("page.md", page).unwrap();
//! assert_eq!(examples.len(), 1);
//! assert_eq!(examples[0].place, Place::Host);
//! assert_eq!(examples[0].line, 4);
//! assert!(lines_match(&examples[0].expected, &["a", "b", "c"]));
//! assert!(!lines_match(&examples[0].expected, &["b"]));
//! ```

#![warn(missing_docs, unreachable_pub)]

/// Where an example runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// ```` ```console ````: this machine, as root.
    Host,
    /// ```` ```console guest ````: the qemu guest, kpeek.ko and kpeek_example.ko loaded.
    Guest,
}

/// One `$ COMMAND` and its expected output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The page, as named to [`parse`].
    pub file: String,
    /// 1-based line of the `$ ` line.
    pub line: usize,
    /// 1-based line of the block's opening fence: examples of one block share it.
    pub block: usize,
    /// Where the block says it runs.
    pub place: Place,
    /// The command, continuation lines joined with `\n` (their `\` kept, as a shell wants).
    pub command: String,
    /// Expected lines, with `[..]` and `...` wildcards.
    pub expected: Vec<String>,
}

/// A page that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// An example block with a line of output before any `$ ` line.
    #[error("{file}:{line}: output before any `$ ` command in a console block")]
    OutputBeforeCommand {
        /// The page.
        file: String,
        /// 1-based line.
        line: usize,
    },
    /// A fenced block that never closes.
    #[error("{file}:{line}: this ``` block is never closed")]
    Unterminated {
        /// The page.
        file: String,
        /// 1-based line of the opening fence.
        line: usize,
    },
    /// `console WORD` with a WORD other than `guest`.
    #[error("{file}:{line}: unknown example place `{info}` (want `console` or `console guest`)")]
    UnknownPlace {
        /// The page.
        file: String,
        /// 1-based line of the fence.
        line: usize,
        /// The whole info string.
        info: String,
    },
}

/// A fence line: its backtick count and info string.
fn fence(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_end();
    let ticks = t.bytes().take_while(|&b| b == b'`').count();
    (ticks >= 3).then(|| (ticks, t[ticks..].trim()))
}

/// The place an info string names: `Ok(None)` for a block that is not an example.
fn place_of(info: &str) -> Result<Option<Place>, String> {
    let mut words = info.split_whitespace();
    if words.next() != Some("console") {
        return Ok(None);
    }
    match (words.next(), words.next()) {
        (None, _) => Ok(Some(Place::Host)),
        (Some("guest"), None) => Ok(Some(Place::Guest)),
        _ => Err(info.to_string()),
    }
}

/// Every example of a page, in order. `file` names the page in examples and errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Example>, ParseError> {
    let mut out: Vec<Example> = Vec::new();
    // The open block: (opening line, backticks, place if an example block).
    let mut open: Option<(usize, usize, Option<Place>)> = None;
    let mut continuing = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let Some((start, ticks, place)) = open else {
            if let Some((ticks, info)) = fence(line) {
                let place = place_of(info).map_err(|info| ParseError::UnknownPlace {
                    file: file.to_string(),
                    line: n,
                    info,
                })?;
                open = Some((n, ticks, place));
                continuing = false;
            }
            continue;
        };
        if fence(line).is_some_and(|(t, info)| t >= ticks && info.is_empty()) {
            open = None;
            continue;
        }
        let Some(place) = place else { continue };
        if continuing {
            let ex = out.last_mut().expect("continuing only after a command");
            ex.command.push('\n');
            ex.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Example {
                file: file.to_string(),
                line: n,
                block: start,
                place,
                command: cmd.to_string(),
                expected: Vec::new(),
            });
            continuing = cmd.ends_with('\\');
        } else {
            match out.last_mut() {
                Some(ex) if ex.block == start => ex.expected.push(line.to_string()),
                _ => {
                    return Err(ParseError::OutputBeforeCommand {
                        file: file.to_string(),
                        line: n,
                    });
                }
            }
        }
    }
    match open {
        Some((line, _, _)) => Err(ParseError::Unterminated {
            file: file.to_string(),
            line,
        }),
        None => Ok(out),
    }
}

/// `pat` with `[..]` wildcards against one line.
pub fn line_matches(pat: &str, line: &str) -> bool {
    let parts: Vec<&str> = pat.split("[..]").collect();
    if parts.len() == 1 {
        return pat == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Expected lines (with `...` lines) against the actual ones.
pub fn lines_match<P: AsRef<str>>(pats: &[P], lines: &[&str]) -> bool {
    match pats.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p.as_ref() == "..." => {
            (0..=lines.len()).any(|k| lines_match(rest, &lines[k..]))
        }
        Some((p, rest)) => {
            !lines.is_empty()
                && line_matches(p.as_ref(), lines[0])
                && lines_match(rest, &lines[1..])
        }
    }
}

/// A failed example, for a report: the command, what the page says, what the program printed.
pub fn describe_mismatch(ex: &Example, exit: Option<i32>, actual: &str) -> String {
    format!(
        "{}:{}: $ {}\n--- documented:\n{}\n--- actual (exit {}):\n{}",
        ex.file,
        ex.line,
        ex.command,
        ex.expected.join("\n"),
        exit.map_or("signal".to_string(), |c| c.to_string()),
        actual.trim_end()
    )
}

#[cfg(test)]
mod tests;

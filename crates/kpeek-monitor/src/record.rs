//! Record rounds to a file and replay them: JSON lines, one header, one line per metric the
//! first time it appears, one line per round. A replay feeds the same readings, with their
//! recorded times, to a [`crate::monitor::Monitor`], so rates come out as they did live.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::collect::{Outcome, ReadError};
use crate::model::{MetricDesc, Reading};

/// The format's version.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(tag = "rec", rename_all = "lowercase", deny_unknown_fields)]
enum Line {
    Header {
        version: u32,
    },
    Desc {
        id: u64,
        desc: MetricDesc,
    },
    Round {
        t: f64,
        wall: f64,
        outcomes: Vec<RecOutcome>,
    },
}

/// One recorded reading: (desc id, value, epoch, per-CPU values, exact integer value).
type RecReading = (u64, f64, u64, Vec<(i32, u64)>, Option<u64>);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecOutcome {
    source: String,
    took: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// (desc id, value, epoch, per-CPU).
    #[serde(default)]
    readings: Vec<RecReading>,
}

/// Why a recording could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Writing a line failed.
    #[error("writing the recording: {0}")]
    Write(#[source] std::io::Error),
    /// Reading a line failed.
    #[error("reading the recording: {0}")]
    Read(#[source] std::io::Error),
    /// A line is not what a recording holds there (`fault` says why).
    #[error("line {line}: {fault}")]
    Bad {
        /// The line, 1-based.
        line: usize,
        /// What was wrong.
        fault: BadLine,
    },
}

/// What is wrong with a line of a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BadLine {
    /// The header names another format version.
    #[error("recording version {found}, this kpeek reads {VERSION}")]
    Version {
        /// The header's version.
        found: u32,
    },
    /// The first line is not a header (or the input is empty).
    #[error("not a kpeek recording (no header line)")]
    NoHeader,
    /// The line is not one of a recording's JSON records.
    #[error("{source}")]
    Json {
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
    /// A header after the first line.
    #[error("a second header")]
    SecondHeader,
    /// A reading of a metric no earlier line described.
    #[error("reading of metric {id}, never described")]
    Undescribed {
        /// The metric's id in the recording.
        id: u64,
    },
}

/// Writes rounds as they are taken.
pub struct Recorder<W: Write> {
    out: W,
    ids: HashMap<Arc<MetricDesc>, u64>,
}

impl<W: Write> Recorder<W> {
    /// Start a recording (writes the header).
    pub fn new(mut out: W) -> Result<Self, RecordError> {
        let h = serde_json::to_string(&Line::Header { version: VERSION })
            .map_err(|e| RecordError::Write(e.into()))?;
        writeln!(out, "{h}").map_err(RecordError::Write)?;
        Ok(Recorder {
            out,
            ids: HashMap::new(),
        })
    }

    /// Write one round.
    pub fn round(&mut self, t: f64, wall: f64, outcomes: &[Outcome]) -> Result<(), RecordError> {
        let mut recs = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            let mut rec = RecOutcome {
                source: o.source.clone(),
                took: o.took.as_secs_f64(),
                error: None,
                readings: Vec::new(),
            };
            match &o.result {
                Err(e) => rec.error = Some(e.to_string()),
                Ok(rs) => {
                    for r in rs {
                        let id = match self.ids.get(&r.desc) {
                            Some(&id) => id,
                            None => {
                                let id = self.ids.len() as u64;
                                let line = serde_json::to_string(&Line::Desc {
                                    id,
                                    desc: (*r.desc).clone(),
                                })
                                .map_err(|e| RecordError::Write(e.into()))?;
                                writeln!(self.out, "{line}").map_err(RecordError::Write)?;
                                self.ids.insert(r.desc.clone(), id);
                                id
                            }
                        };
                        rec.readings
                            .push((id, r.value, r.epoch, r.per_cpu.clone(), r.exact));
                    }
                }
            }
            recs.push(rec);
        }
        let line = serde_json::to_string(&Line::Round {
            t,
            wall,
            outcomes: recs,
        })
        .map_err(|e| RecordError::Write(e.into()))?;
        writeln!(self.out, "{line}").map_err(RecordError::Write)?;
        self.out.flush().map_err(RecordError::Write)
    }
}

/// One replayed round: monotonic time, Unix time, outcomes.
pub type Round = (f64, f64, Vec<Outcome>);

/// Reads a recording round by round.
pub struct Replayer<R: BufRead> {
    input: R,
    line: usize,
    descs: HashMap<u64, Arc<MetricDesc>>,
    buf: String,
}

impl<R: BufRead> Replayer<R> {
    /// Open a recording (reads and checks the header).
    pub fn new(input: R) -> Result<Self, RecordError> {
        let mut r = Replayer {
            input,
            line: 0,
            descs: HashMap::new(),
            buf: String::new(),
        };
        match r.next_line()? {
            Some(Line::Header { version: VERSION }) => Ok(r),
            Some(Line::Header { version }) => Err(RecordError::Bad {
                line: 1,
                fault: BadLine::Version { found: version },
            }),
            _ => Err(RecordError::Bad {
                line: 1,
                fault: BadLine::NoHeader,
            }),
        }
    }

    fn next_line(&mut self) -> Result<Option<Line>, RecordError> {
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_line(&mut self.buf)
                .map_err(RecordError::Read)?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(&self.buf)
                .map(Some)
                .map_err(|source| RecordError::Bad {
                    line: self.line,
                    fault: BadLine::Json { source },
                });
        }
    }

    /// The next round, or `None` at the end.
    pub fn next_round(&mut self) -> Result<Option<Round>, RecordError> {
        loop {
            match self.next_line()? {
                None => return Ok(None),
                Some(Line::Header { .. }) => {
                    return Err(RecordError::Bad {
                        line: self.line,
                        fault: BadLine::SecondHeader,
                    });
                }
                Some(Line::Desc { id, desc }) => {
                    self.descs.insert(id, Arc::new(desc));
                }
                Some(Line::Round { t, wall, outcomes }) => {
                    let mut out = Vec::with_capacity(outcomes.len());
                    for o in outcomes {
                        let result = match o.error {
                            Some(e) => Err(ReadError::Recorded(e)),
                            None => {
                                let mut rs = Vec::with_capacity(o.readings.len());
                                for (id, value, epoch, per_cpu, exact) in o.readings {
                                    let desc =
                                        self.descs.get(&id).cloned().ok_or(RecordError::Bad {
                                            line: self.line,
                                            fault: BadLine::Undescribed { id },
                                        })?;
                                    rs.push(Reading {
                                        desc,
                                        value,
                                        per_cpu,
                                        exact,
                                        epoch,
                                    });
                                }
                                Ok(rs)
                            }
                        };
                        out.push(Outcome {
                            source: o.source,
                            result,
                            took: Duration::try_from_secs_f64(o.took).unwrap_or_default(),
                        });
                    }
                    return Ok(Some((t, wall, out)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use crate::monitor::{Monitor, outcome};

    #[test]
    fn round_trip_gives_the_same_rates() {
        let d = Arc::new(MetricDesc::new("s", "a", Kind::Counter, "h").label("x", "1"));
        let mk = |v: f64| Reading {
            per_cpu: vec![(0, v as u64)],
            epoch: 3,
            ..Reading::int(d.clone(), v as u64)
        };
        let rounds = vec![
            (
                0.0,
                100.0,
                vec![outcome("s", vec![mk(1.0)], Duration::ZERO)],
            ),
            (
                0.5,
                100.5,
                vec![outcome("s", vec![mk(11.0)], Duration::ZERO)],
            ),
            (
                1.0,
                101.0,
                vec![Outcome {
                    source: "s".into(),
                    result: Err(ReadError::Recorded("boom".into())),
                    took: Duration::from_millis(3),
                }],
            ),
        ];
        let mut buf = Vec::new();
        let mut rec = Recorder::new(&mut buf).unwrap();
        for (t, w, o) in &rounds {
            rec.round(*t, *w, o).unwrap();
        }
        let mut live = Monitor::new();
        for (t, w, o) in rounds {
            live.ingest(t, w, o);
        }
        let mut rep = Replayer::new(&buf[..]).unwrap();
        let mut replayed = Monitor::new();
        while let Some((t, w, o)) = rep.next_round().unwrap() {
            replayed.ingest(t, w, o);
        }
        assert_eq!(replayed.rows().len(), 1);
        assert_eq!(
            replayed.series().average(replayed.rows()[0].id, 60.0),
            Some(20.0)
        );
        assert_eq!(
            replayed.series().average(replayed.rows()[0].id, 60.0),
            live.series().average(live.rows()[0].id, 60.0)
        );
        assert_eq!(replayed.status()[0].error.as_deref(), Some("boom"));
    }

    #[test]
    fn bad_recordings_name_the_line() {
        let e = Replayer::new(&b"garbage\n"[..]).err().unwrap();
        assert!(
            matches!(
                e,
                RecordError::Bad {
                    line: 1,
                    fault: BadLine::Json { .. }
                }
            ),
            "{e:?}"
        );
        let e = Replayer::new(&b""[..]).err().unwrap();
        assert!(matches!(
            e,
            RecordError::Bad {
                fault: BadLine::NoHeader,
                ..
            }
        ));
        let header = "{\"rec\":\"header\",\"version\":1}\n";
        let text = format!(
            "{header}{{\"rec\":\"round\",\"t\":0,\"wall\":0,\"outcomes\":[{{\"source\":\"s\",\"took\":0,\"readings\":[[7,1,0,[],null]]}}]}}\n"
        );
        let mut r = Replayer::new(text.as_bytes()).unwrap();
        let e = r.next_round().unwrap_err();
        assert!(
            matches!(
                e,
                RecordError::Bad {
                    line: 2,
                    fault: BadLine::Undescribed { id: 7 }
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "line 2: reading of metric 7, never described"
        );
        let twice = format!("{header}{header}");
        let e = Replayer::new(twice.as_bytes())
            .unwrap()
            .next_round()
            .unwrap_err();
        assert!(matches!(
            e,
            RecordError::Bad {
                line: 2,
                fault: BadLine::SecondHeader
            }
        ));
        let e = Replayer::new(&b"{\"rec\":\"header\",\"version\":9}\n"[..])
            .err()
            .unwrap();
        assert!(matches!(
            e,
            RecordError::Bad {
                fault: BadLine::Version { found: 9 },
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "line 1: recording version 9, this kpeek reads 1"
        );
    }

    proptest::proptest! {
        #[test]
        fn replayer_never_panics(s in "\\PC*") {
            let text = format!("{{\"rec\":\"header\",\"version\":1}}\n{s}\n");
            if let Ok(mut r) = Replayer::new(text.as_bytes()) {
                while let Ok(Some(_)) = r.next_round() {}
            }
        }
    }
}

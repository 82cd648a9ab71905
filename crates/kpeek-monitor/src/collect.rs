//! Runs each source in its own thread and collects one round of readings with a deadline, so a
//! slow source never holds up the others: it is reported as timed out and skipped until its
//! read comes back.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::model::Reading;
use crate::source::{Source, SourceError, Spawn};

/// What one source returned in one round.
#[derive(Debug)]
pub struct Outcome {
    /// The source's name.
    pub source: String,
    /// Its readings, or why there are none.
    pub result: Result<Vec<Reading>, ReadError>,
    /// How long the read took (for a timeout: how long it was waited for).
    pub took: Duration,
}

/// Why a source has no readings in a round.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The source's read failed, or (for a source built in its thread) its build did; a failed
    /// build is the answer to every read.
    #[error("{0}")]
    Source(#[source] Arc<SourceError>),
    /// A replayed round's error ([`crate::record`] keeps errors as their text).
    #[error("{0}")]
    Recorded(String),
    /// The source did not answer within the round's timeout; it is still reading, and is not
    /// asked again until it answers.
    #[error("timed out after {:.3} s (still reading; skipped until it answers)", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The source's thread ended while reading (it panicked).
    #[error("the source's thread stopped (it panicked)")]
    Panicked,
    /// The source's thread ended earlier.
    #[error("the source's thread stopped")]
    Stopped,
    /// The source's thread could not be started.
    #[error("could not start the source's thread")]
    NoThread,
}

/// A function [`Collector::in_each_thread`] runs in each source's thread.
pub type ThreadFn = fn(bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The threads where [`Collector::in_each_thread`]'s function failed or did not finish.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.failures))]
#[non_exhaustive]
pub struct CallError {
    /// Each failing source's name, and how it failed.
    pub failures: Vec<(String, CallFailure)>,
}

fn describe(failures: &[(String, CallFailure)]) -> String {
    failures
        .iter()
        .map(|(name, e)| format!("source {name}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the function failed in one source's thread.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallFailure {
    /// It returned this error.
    #[error("{0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// It did not finish within the timeout (the thread may be in a slow read).
    #[error("did not answer in time")]
    NoAnswer,
}

type CallResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// What a source's thread is asked to do.
enum Req {
    Read,
    /// Run a function in the thread (e.g. drop its capabilities: they are per thread) and
    /// answer on the channel.
    Call(ThreadFn, Sender<CallResult>),
}

struct Worker {
    name: String,
    tx: Option<Sender<Req>>,
    rx: Receiver<(Result<Vec<Reading>, ReadError>, Duration)>,
    busy: bool,
    handle: Option<JoinHandle<()>>,
}

/// The sources, each in a thread.
pub struct Collector {
    workers: Vec<Worker>,
}

impl Collector {
    /// Start one thread per source.
    pub fn new(sources: Vec<Spawn>) -> Self {
        let workers = sources
            .into_iter()
            .map(|spawn| {
                let name = spawn.name().to_owned();
                let (tx, req) = mpsc::channel::<Req>();
                let (res, rx) = mpsc::channel();
                let handle = std::thread::Builder::new()
                    .name(format!("src-{name}"))
                    .spawn(move || {
                        let failed: ReadError;
                        let mut s: Box<dyn Source> = match spawn {
                            Spawn::Ready(s) => s,
                            Spawn::Build { build, .. } => match build() {
                                Ok(s) => s,
                                Err(e) => {
                                    failed = ReadError::Source(Arc::new(e));
                                    while let Ok(r) = req.recv() {
                                        let sent = match r {
                                            Req::Read => res
                                                .send((Err(failed.clone()), Duration::ZERO))
                                                .is_ok(),
                                            Req::Call(f, done) => done.send(f(false)).is_ok(),
                                        };
                                        if !sent {
                                            break;
                                        }
                                    }
                                    return;
                                }
                            },
                        };
                        while let Ok(r) = req.recv() {
                            let sent = match r {
                                Req::Read => {
                                    let t = Instant::now();
                                    let r = s.read().map_err(|e| ReadError::Source(Arc::new(e)));
                                    res.send((r, t.elapsed())).is_ok()
                                }
                                Req::Call(f, done) => done.send(f(s.privileged())).is_ok(),
                            };
                            if !sent {
                                break;
                            }
                        }
                    })
                    .ok();
                Worker {
                    name,
                    tx: Some(tx),
                    rx,
                    busy: false,
                    handle,
                }
            })
            .collect();
        Collector { workers }
    }

    /// The sources' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.workers.iter().map(|w| w.name.clone()).collect()
    }

    /// Read every source, waiting at most `timeout` for each (all run in parallel); one
    /// [`Outcome`] per source, in order.
    pub fn collect(&mut self, timeout: Duration) -> Vec<Outcome> {
        let start = Instant::now();
        for w in &mut self.workers {
            if w.busy && w.rx.try_recv().is_ok() {
                // A late answer to an earlier round: stale, dropped.
                w.busy = false;
            }
            if !w.busy {
                match &w.tx {
                    Some(tx) if tx.send(Req::Read).is_ok() => w.busy = true,
                    _ => {}
                }
            }
        }
        let deadline = start + timeout;
        self.workers
            .iter_mut()
            .map(|w| {
                let result = if w.handle.is_none() {
                    Err(ReadError::NoThread)
                } else if !w.busy {
                    Err(ReadError::Stopped)
                } else {
                    match w
                        .rx
                        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    {
                        Ok((r, took)) => {
                            w.busy = false;
                            return Outcome {
                                source: w.name.clone(),
                                result: r,
                                took,
                            };
                        }
                        Err(RecvTimeoutError::Timeout) => Err(ReadError::TimedOut(timeout)),
                        Err(RecvTimeoutError::Disconnected) => {
                            w.busy = false;
                            w.tx = None;
                            Err(ReadError::Panicked)
                        }
                    }
                };
                Outcome {
                    source: w.name.clone(),
                    result,
                    took: start.elapsed(),
                }
            })
            .collect()
    }
}

impl Collector {
    /// Run `f` in every source's thread (after any read in progress), with the source's
    /// [`Source::privileged`], and wait up to `timeout` for each; the error of every thread
    /// where it failed or did not finish in time.
    ///
    /// # Errors
    ///
    /// [`CallError`], naming each source whose thread failed or did not answer in time.
    pub fn in_each_thread(&self, f: ThreadFn, timeout: Duration) -> Result<(), CallError> {
        let deadline = Instant::now() + timeout;
        let mut waits = Vec::new();
        for w in &self.workers {
            let (done, rx) = mpsc::channel();
            match &w.tx {
                Some(tx) if tx.send(Req::Call(f, done)).is_ok() => waits.push((&w.name, rx)),
                _ => {}
            }
        }
        let mut failures = Vec::new();
        for (name, rx) in waits {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push((name.clone(), CallFailure::Failed(e))),
                Err(_) => failures.push((name.clone(), CallFailure::NoAnswer)),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(CallError { failures })
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        for w in &mut self.workers {
            w.tx = None;
        }
        // Threads stuck in a slow read are left to end with the process.
        for w in &mut self.workers {
            if !w.busy
                && let Some(h) = w.handle.take()
            {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, MetricDesc};
    use crate::source::SourceError;
    use std::sync::Arc;

    struct Slow(Duration, &'static str);
    impl Source for Slow {
        fn name(&self) -> &str {
            self.1
        }
        fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
            std::thread::sleep(self.0);
            Ok(vec![Reading::new(
                Arc::new(MetricDesc::new(self.1, "x", Kind::Gauge, "")),
                1.0,
            )])
        }
    }
    struct Fails;
    impl Source for Fails {
        fn name(&self) -> &str {
            "fails"
        }
        fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
            Err(SourceError::Other("no luck".into()))
        }
    }

    #[test]
    fn slow_sources_time_out_without_blocking_others() {
        let mut c = Collector::new(vec![
            Spawn::Ready(Box::new(Slow(Duration::from_millis(600), "slow"))),
            Spawn::Ready(Box::new(Slow(Duration::ZERO, "fast"))),
            Spawn::Ready(Box::new(Fails)),
            Spawn::Build {
                name: "local".into(),
                build: Box::new(|| {
                    // Not Send: built in its thread.
                    let rc = std::rc::Rc::new(());
                    struct Local(std::rc::Rc<()>);
                    impl Source for Local {
                        fn name(&self) -> &str {
                            "local"
                        }
                        fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
                            Ok(vec![Reading::new(
                                Arc::new(MetricDesc::new("local", "rc", Kind::Gauge, "")),
                                std::rc::Rc::strong_count(&self.0) as f64,
                            )])
                        }
                    }
                    Ok(Box::new(Local(rc)) as Box<dyn Source>)
                }),
            },
            Spawn::Build {
                name: "broken".into(),
                build: Box::new(|| Err(SourceError::Other("cannot build".into()))),
            },
        ]);
        let t = Instant::now();
        let o = c.collect(Duration::from_millis(100));
        assert!(t.elapsed() < Duration::from_millis(400));
        assert!(matches!(o[0].result, Err(ReadError::TimedOut(_))));
        assert!(
            o[0].result
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("timed out")
        );
        assert_eq!(o[1].result.as_ref().unwrap().len(), 1);
        assert_eq!(o[2].result.as_ref().unwrap_err().to_string(), "no luck");
        assert_eq!(o[3].result.as_ref().unwrap()[0].value, 1.0);
        assert_eq!(
            o[4].result.as_ref().unwrap_err().to_string(),
            "cannot build"
        );
        // Still busy: reported again without a second read piling up.
        let o = c.collect(Duration::from_millis(50));
        assert!(o[0].result.is_err());
        std::thread::sleep(Duration::from_millis(700));
        let o = c.collect(Duration::from_millis(900));
        assert!(o[0].result.is_ok());
        // A call runs in every thread, the broken one's too.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        c.in_each_thread(
            |_| {
                CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            },
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::Relaxed), 5);
    }
}

//! A private tracefs instance (`instances/<name>`): its own ring buffer, event enables and
//! `tracing_on`, so a reader does not disturb, nor get disturbed by, other users of the global
//! buffer. Removed on drop.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::ring::{Page, PageLayout, RingError, parse_page};
use super::{EventName, Tracefs, TracefsError, io_err, read_text};

/// An instance this process created; `rmdir`ed (after disabling its events) on drop.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    removed: bool,
}

impl Tracefs {
    /// Create `instances/<name>` (fails if it exists).
    pub fn create_instance(&self, name: &str) -> Result<Instance, TracefsError> {
        if !super::valid_component(name) {
            return Err(TracefsError::BadEventName {
                spec: name.to_string(),
                reason: "instance names are made of letters, digits, '_', '-', '.'",
            });
        }
        let dir = self.root().join("instances").join(name);
        std::fs::create_dir(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(Instance {
            dir,
            removed: false,
        })
    }

    /// The ring-buffer page layout from `events/header_page`.
    pub fn page_layout(&self) -> Result<PageLayout, TracefsError> {
        let path = self.root().join("events/header_page");
        let text = read_text(&path).map_err(|e| io_err(&path, e))?;
        PageLayout::parse(&text).map_err(|e| TracefsError::Io {
            path,
            error: io::Error::new(io::ErrorKind::InvalidData, e),
        })
    }
}

fn write(path: &Path, value: &str) -> Result<(), TracefsError> {
    std::fs::write(path, value).map_err(|e| io_err(path, e))
}

impl Instance {
    /// The instance's directory under `instances/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The instance as a [`Tracefs`] (its `events/` has the same format files).
    pub fn tracefs(&self) -> Tracefs {
        Tracefs::at(&self.dir)
    }

    /// Enable or disable one event in this instance only.
    pub fn set_event(&self, event: &EventName, on: bool) -> Result<(), TracefsError> {
        let tfs = self.tracefs();
        let dir = tfs.event_dir(event);
        if !dir.is_dir() {
            return Err(TracefsError::UnknownEvent {
                event: event.to_string(),
                suggestions: tfs.suggestions(event),
            });
        }
        write(&dir.join("enable"), if on { "1" } else { "0" })
    }

    /// Start or stop recording into this instance's buffer.
    pub fn set_tracing_on(&self, on: bool) -> Result<(), TracefsError> {
        write(&self.dir.join("tracing_on"), if on { "1" } else { "0" })
    }

    /// Per-CPU buffer size in KiB.
    pub fn set_buffer_size_kb(&self, kb: usize) -> Result<(), TracefsError> {
        write(&self.dir.join("buffer_size_kb"), &kb.to_string())
    }

    /// Write a message as an `ftrace:print` event of this instance.
    pub fn mark(&self, message: &str) -> Result<(), TracefsError> {
        write(&self.dir.join("trace_marker"), message)
    }

    /// The `trace` file: the buffer as the kernel formats it (not consumed).
    pub fn trace_text(&self) -> Result<String, TracefsError> {
        let path = self.dir.join("trace");
        read_text(&path).map_err(|e| io_err(&path, e))
    }

    /// Drain `per_cpu/cpu<N>/trace_pipe_raw` without blocking: the raw pages, consumed.
    pub fn read_raw_pages(
        &self,
        cpu: usize,
        layout: &PageLayout,
    ) -> Result<Vec<Vec<u8>>, TracefsError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let mut pages = Vec::new();
        loop {
            let mut page = vec![0u8; layout.page_size()];
            match f.read(&mut page) {
                Ok(0) => break,
                Ok(n) => {
                    page.truncate(n);
                    pages.push(page);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Ok(pages)
    }

    /// The CPUs that have a `per_cpu/cpu<N>` directory.
    pub fn cpus(&self) -> Result<Vec<usize>, TracefsError> {
        let dir = self.dir.join("per_cpu");
        let mut cpus: Vec<usize> = super::read_dirs(&dir)?
            .iter()
            .filter_map(|n| n.strip_prefix("cpu")?.parse().ok())
            .collect();
        cpus.sort_unstable();
        Ok(cpus)
    }

    /// Disable every event and stop tracing, then remove the instance.
    pub fn remove(mut self) -> Result<(), TracefsError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), TracefsError> {
        if self.removed {
            return Ok(());
        }
        // Best effort: the rmdir below is what must succeed.
        let _ = write(&self.dir.join("events/enable"), "0");
        let _ = write(&self.dir.join("tracing_on"), "0");
        std::fs::remove_dir(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        self.removed = true;
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// Parse pages with [`parse_page`]; a convenience for readers of [`Instance::read_raw_pages`].
pub fn parse_pages<'p>(
    layout: &PageLayout,
    pages: &'p [Vec<u8>],
) -> Result<Vec<Page<'p>>, RingError> {
    pages.iter().map(|p| parse_page(layout, p)).collect()
}

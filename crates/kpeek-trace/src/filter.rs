//! Explaining a filter the kernel rejected, through a scratch tracefs instance.

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::error::RecordError;
use crate::format::EventFormat;
use crate::tracefs::{EventName, Tracefs};

/// Explain a filter the kernel rejected: write it to the same event in a scratch tracefs
/// instance, whose `filter` file then shows the parse error with a caret under the culprit.
pub(crate) fn filter_error_for(
    tracefs: &Tracefs,
    format: &EventFormat,
    filter: Option<&str>,
    err: io::Error,
) -> RecordError {
    let filter = filter.unwrap_or_default().to_string();
    let fields: Vec<String> = format
        .common_fields
        .iter()
        .chain(&format.fields)
        .map(|f| f.name.clone())
        .collect();
    if err.raw_os_error() != Some(rustix::io::Errno::INVAL.raw_os_error()) {
        return RecordError::Io {
            what: format!("PERF_EVENT_IOC_SET_FILTER `{filter}` on {}", format.name),
            error: err,
        };
    }
    let explanation = kernel_filter_explanation(tracefs.root(), &format.name, &filter)
        .unwrap_or_else(|| format!("{filter}\n(the kernel gave no details: {err})"));
    RecordError::BadFilter {
        event: format.name.clone(),
        filter,
        explanation,
        fields,
    }
}

/// Read a tracefs file with one `read`: the `filter` file answers only at offset 0, so the
/// usual small first read would cut it.
fn read_once(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let n = f.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The kernel's explanation of a filter error, from a scratch instance.
pub fn kernel_filter_explanation(root: &Path, event: &EventName, filter: &str) -> Option<String> {
    use std::sync::atomic::AtomicUsize;
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "kpeek-filter-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let inst = root.join("instances").join(name);
    std::fs::create_dir(&inst).ok()?;
    let file = inst
        .join("events")
        .join(&event.system)
        .join(&event.name)
        .join("filter");
    let result = (|| {
        if std::fs::write(&file, filter).is_ok() {
            return None; // accepted here: nothing to explain
        }
        let text = read_once(&file)?;
        let text = text.trim_end();
        if !text.is_empty() && text != "none" {
            return Some(text.to_string());
        }
        let log = std::fs::read_to_string(inst.join("error_log")).ok()?;
        let last = log
            .trim_end()
            .rsplit_once("\n[")
            .map_or(log.trim_end(), |(_, l)| l);
        Some(last.to_string())
    })();
    let _ = std::fs::remove_dir(&inst);
    result
}

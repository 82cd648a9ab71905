//! The leaf type every layer names events by: `system:name`.

use std::fmt;

/// A tracepoint's name: `system:name`, e.g. `sched:sched_switch`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventName {
    /// The subsystem (`sched`), the directory under `events/`.
    pub system: String,
    /// The event (`sched_switch`).
    pub name: String,
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.name)
    }
}

impl EventName {
    /// `system:name` from its parts.
    pub fn new(system: impl Into<String>, name: impl Into<String>) -> Self {
        EventName {
            system: system.into(),
            name: name.into(),
        }
    }
}

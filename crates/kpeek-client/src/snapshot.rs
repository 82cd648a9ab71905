//! The one type every channel returns: the value of every counter it shows.

use serde::Serialize;

/// One counter's value. Serializes as `{"group":"…","counter":"…","value":N}`, the line format of
/// `kpeek mod counters --json`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CounterValue {
    /// The group's name.
    pub group: String,
    /// The counter's name within its group.
    pub counter: String,
    /// The sum over every CPU at the moment the channel read it.
    pub value: u64,
}

impl CounterValue {
    /// Build one from borrowed names.
    pub fn new(group: &str, counter: &str, value: u64) -> Self {
        CounterValue {
            group: group.to_owned(),
            counter: counter.to_owned(),
            value,
        }
    }
}

/// The counters a channel showed, sorted by group then counter name (byte order), so snapshots
/// from different channels compare with `==`. Channels that know the creation order (procfs)
/// expose it separately.
///
/// Not atomic across counters: each value is read when the channel reaches it. Duplicates are
/// kept (they would be a kernel bug and must show up when comparing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Snapshot {
    counters: Vec<CounterValue>,
}

impl Snapshot {
    /// Sort `counters` into the canonical order.
    pub fn new(mut counters: Vec<CounterValue>) -> Self {
        counters.sort_by(|a, b| (&a.group, &a.counter).cmp(&(&b.group, &b.counter)));
        Snapshot { counters }
    }

    /// Every counter, in order.
    pub fn counters(&self) -> &[CounterValue] {
        &self.counters
    }

    /// How many counters.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// No counters at all.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The value of `group`/`counter`, if shown.
    pub fn get(&self, group: &str, counter: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|c| c.group == group && c.counter == counter)
            .map(|c| c.value)
    }

    /// The groups that have at least one counter, in order, each once.
    pub fn groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.counters {
            if out.last() != Some(&c.group.as_str()) {
                out.push(&c.group);
            }
        }
        out
    }

    /// Only the counters whose group `keep` accepts.
    pub fn filter_groups(&self, mut keep: impl FnMut(&str) -> bool) -> Snapshot {
        Snapshot {
            counters: self
                .counters
                .iter()
                .filter(|c| keep(&c.group))
                .cloned()
                .collect(),
        }
    }

    /// A readable list of the differences from `other` (empty when equal).
    pub fn diff(&self, other: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.counters {
            match other.get(&c.group, &c.counter) {
                None => out.push(format!(
                    "{}/{} = {} only on the left",
                    c.group, c.counter, c.value
                )),
                Some(v) if v != c.value => {
                    out.push(format!("{}/{}: {} vs {}", c.group, c.counter, c.value, v))
                }
                Some(_) => {}
            }
        }
        for c in &other.counters {
            if self.get(&c.group, &c.counter).is_none() {
                out.push(format!(
                    "{}/{} = {} only on the right",
                    c.group, c.counter, c.value
                ));
            }
        }
        if out.is_empty() && self != other {
            out.push("same counters and values, but duplicated entries".to_owned());
        }
        out
    }
}

impl IntoIterator for Snapshot {
    type Item = CounterValue;
    type IntoIter = std::vec::IntoIter<CounterValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.counters.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cv(g: &str, c: &str, v: u64) -> CounterValue {
        CounterValue::new(g, c, v)
    }

    #[test]
    fn order_is_canonical_whatever_the_channel_order() {
        let a = Snapshot::new(vec![cv("b", "x", 1), cv("a", "z", 2), cv("a", "y", 3)]);
        let b = Snapshot::new(vec![cv("a", "y", 3), cv("b", "x", 1), cv("a", "z", 2)]);
        assert_eq!(a, b);
        assert_eq!(a.groups(), ["a", "b"]);
        assert_eq!(a.get("a", "z"), Some(2));
        assert_eq!(a.get("a", "q"), None);
        assert_eq!(a.filter_groups(|g| g == "b").counters(), [cv("b", "x", 1)]);
    }

    #[test]
    fn diff_names_every_difference() {
        let a = Snapshot::new(vec![cv("g", "a", 1), cv("g", "b", 2)]);
        let b = Snapshot::new(vec![cv("g", "a", 1), cv("g", "b", 3), cv("g", "c", 0)]);
        assert_eq!(a.diff(&a), Vec::<String>::new());
        assert_eq!(a.diff(&b), ["g/b: 2 vs 3", "g/c = 0 only on the right"]);
        let dup = Snapshot::new(vec![cv("g", "a", 1), cv("g", "a", 1), cv("g", "b", 2)]);
        assert_eq!(
            dup.diff(&a),
            ["same counters and values, but duplicated entries"]
        );
    }
}

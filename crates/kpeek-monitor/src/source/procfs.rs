//! procfs/sysfs numbers: built-in parsers for the kernel's well-known files and any file that
//! holds one number.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{DescCache, Kind, MetricDesc, Reading};
use crate::parse::{self, Item, ParseError};

use super::{NameFilter, Source, SourceError};

/// Which file (or tree of files) a [`ProcSource`] reads.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ProcKind {
    /// `/proc/vmstat`.
    Vmstat,
    /// `/proc/stat`.
    Stat,
    /// `/proc/net/snmp`.
    Snmp,
    /// `/proc/net/dev`.
    NetDev,
    /// `/sys/class/net/<device>/statistics/<name>`.
    NetClass,
    /// `/proc/pressure/{cpu,memory,io,irq}`.
    Pressure,
    /// One file holding one number, exported as `metric`; a counter of `width` bits wraps.
    File {
        /// The file.
        path: PathBuf,
        /// The metric's name within the source.
        metric: String,
        /// Counter or gauge.
        kind: Kind,
        /// A counter's width in bits, when it wraps before 64.
        width: Option<u8>,
    },
}

impl ProcKind {
    /// The source's default name.
    pub fn default_name(&self) -> &'static str {
        match self {
            ProcKind::Vmstat => "vmstat",
            ProcKind::Stat => "stat",
            ProcKind::Snmp => "snmp",
            ProcKind::NetDev => "netdev",
            ProcKind::NetClass => "netclass",
            ProcKind::Pressure => "pressure",
            ProcKind::File { .. } => "file",
        }
    }
}

/// A procfs/sysfs source.
#[derive(Debug)]
pub struct ProcSource {
    name: String,
    kind: ProcKind,
    root: PathBuf,
    filter: NameFilter,
    descs: DescCache,
    /// The desc of each kept item of the last read, by position: a file lists the same items
    /// in the same order every time, so most items match the desc at their position and need
    /// no lookup.
    last: Vec<Arc<MetricDesc>>,
    /// Their keys (see [`item_key`]), one after another, and where each ends: compared in one
    /// sequential buffer, without following each desc's pointers.
    last_keys: String,
    last_ends: Vec<usize>,
    /// The last file's text (its buffer reused).
    text: String,
    hz: f64,
}

impl ProcSource {
    /// Read `kind` under `root` (`/` for the running system), keeping metrics `filter` keeps.
    pub fn new(name: &str, kind: ProcKind, root: &Path, filter: NameFilter) -> Self {
        ProcSource {
            name: name.to_owned(),
            kind,
            root: root.to_path_buf(),
            filter,
            descs: DescCache::default(),
            last: Vec::new(),
            last_keys: String::new(),
            last_ends: Vec::new(),
            text: String::new(),
            // USER_HZ is 100 on every Linux architecture's ABI.
            hz: 100.0,
        }
    }

    fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    fn read_file(path: &Path) -> Result<String, SourceError> {
        std::fs::read_to_string(path).map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    fn parsed(
        &mut self,
        abs: &str,
        f: impl Fn(&str) -> Result<Vec<Item>, ParseError>,
    ) -> Result<(Vec<Item>, PathBuf), SourceError> {
        use std::io::Read;
        let path = self.path(abs);
        // The text buffer is kept from read to read: no new allocation for a file of the same
        // size.
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let read = std::fs::File::open(&path).and_then(|mut file| file.read_to_string(&mut text));
        let items = match read {
            Ok(_) => f(&text).map_err(|source| SourceError::Parse {
                path: path.clone(),
                source,
            }),
            Err(source) => Err(SourceError::Io {
                path: path.clone(),
                source,
            }),
        };
        self.text = text;
        Ok((items?, path))
    }

    fn push_items(&mut self, items: Vec<Item>, from: &Path, out: &mut Vec<Reading>) {
        for it in items {
            if !self.filter.keeps(&it.name) {
                continue;
            }
            let pos = out.len();
            let start = pos.checked_sub(1).map_or(0, |p| self.last_ends[p]);
            if let (Some(d), Some(&end)) = (self.last.get(pos), self.last_ends.get(pos))
                && same_key(&self.last_keys[start..end], &it)
            {
                out.push(Reading::new(d.clone(), it.value));
                continue;
            }
            self.last.truncate(pos);
            self.last_ends.truncate(pos);
            self.last_keys.truncate(start);
            item_key(&it, &mut self.last_keys);
            self.last_ends.push(self.last_keys.len());
            let source = &self.name;
            let desc = self.descs.get(&self.last_keys[start..], || MetricDesc {
                source: source.clone(),
                name: it.name.clone(),
                labels: it.labels.clone(),
                kind: it.kind,
                unit: it.unit.to_owned(),
                help: format!("{} from {}", it.name, from.display()),
                width: None,
            });
            self.last.push(desc.clone());
            out.push(Reading::new(desc, it.value));
        }
    }

    fn netclass(&mut self, out: &mut Vec<Reading>) -> Result<(), SourceError> {
        let dir = self.path("/sys/class/net");
        let rd = std::fs::read_dir(&dir).map_err(|source| SourceError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut devs: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        devs.sort();
        for dev in devs {
            let sdir = dir.join(&dev).join("statistics");
            let Ok(rd) = std::fs::read_dir(&sdir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let mut items = Vec::new();
            for n in names {
                if !self.filter.keeps(&n) {
                    continue;
                }
                let p = sdir.join(&n);
                let text = Self::read_file(&p)?;
                let v = parse::one_number(&text).map_err(|source| SourceError::Parse {
                    path: p.clone(),
                    source,
                })?;
                items.push(Item {
                    name: n,
                    labels: vec![("device".into(), dev.clone())],
                    kind: Kind::Counter,
                    unit: "",
                    value: v,
                });
            }
            self.push_items(items, &sdir, out);
        }
        Ok(())
    }
}

/// An item's identity within its source: its name, then `\0label\0value` per label.
fn item_key(it: &Item, out: &mut String) {
    out.push_str(&it.name);
    for (l, v) in &it.labels {
        out.push('\0');
        out.push_str(l);
        out.push('\0');
        out.push_str(v);
    }
}

/// Is `key` the [`item_key`] of `it`?
fn same_key(key: &str, it: &Item) -> bool {
    let Some(mut rest) = key.strip_prefix(it.name.as_str()) else {
        return false;
    };
    for (l, v) in &it.labels {
        for part in [l, v] {
            match rest
                .strip_prefix('\0')
                .and_then(|r| r.strip_prefix(part.as_str()))
            {
                Some(r) => rest = r,
                None => return false,
            }
        }
    }
    rest.is_empty()
}

impl Source for ProcSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self) -> Result<Vec<Reading>, SourceError> {
        let mut out = Vec::with_capacity(self.last.len());
        let hz = self.hz;
        let (items, path) = match self.kind.clone() {
            ProcKind::Vmstat => self.parsed("/proc/vmstat", parse::vmstat)?,
            ProcKind::Stat => self.parsed("/proc/stat", |t| parse::stat(t, hz))?,
            ProcKind::Snmp => self.parsed("/proc/net/snmp", parse::snmp)?,
            ProcKind::NetDev => self.parsed("/proc/net/dev", parse::netdev)?,
            ProcKind::NetClass => {
                self.netclass(&mut out)?;
                return Ok(out);
            }
            ProcKind::Pressure => {
                let mut all = Vec::new();
                let mut last = PathBuf::new();
                for res in ["cpu", "memory", "io", "irq"] {
                    let abs = format!("/proc/pressure/{res}");
                    if res == "irq" && !self.path(&abs).exists() {
                        continue;
                    }
                    let (items, p) = self.parsed(&abs, |t| parse::pressure(t, res))?;
                    all.extend(items);
                    last = p;
                }
                (all, last)
            }
            ProcKind::File {
                path,
                metric,
                kind,
                width,
            } => {
                let text = Self::read_file(&path)?;
                let v = parse::one_number(&text).map_err(|source| SourceError::Parse {
                    path: path.clone(),
                    source,
                })?;
                let source = self.name.clone();
                let desc = self.descs.get("", || {
                    let mut d =
                        MetricDesc::new(&source, &metric, kind, &format!("{}", path.display()));
                    d.labels.clear();
                    d.width = width;
                    d
                });
                return Ok(vec![Reading::new(Arc::clone(&desc), v)]);
            }
        };
        self.push_items(items, &path, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w("proc/vmstat", "nr_free_pages 5\npgfault 10\npgmajfault 1\n");
        w("sys/class/net/lo/statistics/rx_bytes", "100\n");
        w("sys/class/net/lo/statistics/tx_bytes", "200\n");
        w(
            "proc/pressure/cpu",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
        );
        w(
            "proc/pressure/memory",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
        );
        w("proc/pressure/io", "bad\n");
        d
    }

    #[test]
    fn reads_and_filters() {
        let d = tree();
        let mut s = ProcSource::new(
            "vmstat",
            ProcKind::Vmstat,
            d.path(),
            NameFilter(vec!["pg*".into()]),
        );
        let r = s.read().unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].desc.name, "pgfault");
        // Descs are shared across reads.
        let r2 = s.read().unwrap();
        assert!(Arc::ptr_eq(&r[0].desc, &r2[0].desc));
        // The file changes: an item gone, one new, one renamed; each reading keeps its own desc.
        std::fs::write(
            d.path().join("proc/vmstat"),
            "pgnew 3\npgmajfault 2\npgfault 11\n",
        )
        .unwrap();
        let r3 = s.read().unwrap();
        let names: Vec<&str> = r3.iter().map(|x| x.desc.name.as_str()).collect();
        assert_eq!(names, ["pgnew", "pgmajfault", "pgfault"]);
        assert_eq!(r3[2].value, 11.0);
        assert!(Arc::ptr_eq(&r[0].desc, &r3[2].desc));

        let mut n = ProcSource::new(
            "netclass",
            ProcKind::NetClass,
            d.path(),
            NameFilter::default(),
        );
        let r = n.read().unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].value, 200.0);
        assert_eq!(r[1].desc.labels[0].1, "lo");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let d = tree();
        let mut p = ProcSource::new(
            "pressure",
            ProcKind::Pressure,
            d.path(),
            NameFilter::default(),
        );
        let e = p.read().unwrap_err().to_string();
        assert!(e.contains("proc/pressure/io: line 1"), "{e}");
        let mut s = ProcSource::new("stat", ProcKind::Stat, d.path(), NameFilter::default());
        let e = s.read().unwrap_err().to_string();
        assert!(e.contains("proc/stat"), "{e}");
    }

    #[test]
    fn the_live_files_parse() {
        for k in [
            ProcKind::Vmstat,
            ProcKind::Stat,
            ProcKind::Snmp,
            ProcKind::NetDev,
            ProcKind::NetClass,
        ] {
            let mut s = ProcSource::new(k.default_name(), k, Path::new("/"), NameFilter::default());
            let r = s.read().unwrap();
            assert!(!r.is_empty(), "{}", s.name());
        }
    }
}

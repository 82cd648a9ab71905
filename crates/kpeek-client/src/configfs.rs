//! `/sys/kernel/config/kpeek` (kmod/kpeek_configfs.c): `mkdir groups/<group>` creates a counter
//! group, `mkdir groups/<group>/<counter>` a counter, `rmdir` removes them. Each counter has a
//! `value` (root writes a u64 to set it) and a `description`; each group a `description`. Only
//! groups created here appear here: groups that modules own are in procfs and sysfs only.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use kpeek_abi::{NameKind, validate_description, validate_name};

use crate::error::{Action, Error, Result};
use crate::pseudofile;
use crate::{Channel, CounterSource, CounterValue, Snapshot, SysRoot};

const MOUNT_HINT: &str = "modprobe configfs; mount -t configfs none /sys/kernel/config";
const ONLY_CONFIGFS: &str =
    " (configfs shows only groups created through it: `kpeek mod group create NAME`)";

/// The configfs channel.
#[derive(Debug, Clone)]
pub struct Configfs {
    mountpoint: PathBuf,
    dir: PathBuf,
    procfs: PathBuf,
    check_names: bool,
}

impl Configfs {
    /// `/sys/kernel/config/kpeek` under `root`.
    pub fn new(root: &SysRoot) -> Self {
        let dir = root.path(kpeek_abi::CONFIGFS_DIR);
        Configfs {
            mountpoint: dir.parent().map(Path::to_path_buf).unwrap_or_default(),
            dir,
            procfs: root.path(kpeek_abi::PROC_PATH),
            check_names: true,
        }
    }

    /// Send names and descriptions to the kernel without checking them first, so its own
    /// validation (and errno) is what answers. For tests of kpeek.ko.
    pub fn unchecked(mut self) -> Self {
        self.check_names = false;
        self
    }

    /// The module's configfs directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn groups_dir(&self) -> PathBuf {
        self.dir.join("groups")
    }

    fn group_dir(&self, group: &str) -> PathBuf {
        self.groups_dir().join(group)
    }

    fn counter_dir(&self, group: &str, counter: &str) -> PathBuf {
        self.group_dir(group).join(counter)
    }

    /// Why the groups directory is missing: configfs absent or unmounted, module not loaded.
    fn unavailable(&self) -> Error {
        match pseudofile::is_empty_dir(&self.mountpoint) {
            None | Some(true) => Error::NotMounted {
                fs: "configfs",
                mountpoint: self.mountpoint.clone(),
                hint: MOUNT_HINT,
            },
            Some(false) if !self.procfs.exists() => Error::NotLoaded {
                path: self.dir.clone(),
            },
            Some(false) => Error::NoChannelDir {
                path: self.groups_dir(),
                why: "was it built without configfs support?",
            },
        }
    }

    fn check(&self, kind: NameKind, name: &str) -> Result<()> {
        if self.check_names {
            validate_name(kind, name)?;
        }
        Ok(())
    }

    fn no_group(&self, group: &str) -> Error {
        if !self.groups_dir().is_dir() {
            return self.unavailable();
        }
        Error::NoSuchGroup {
            group: group.to_owned(),
            place: self.groups_dir(),
            hint: ONLY_CONFIGFS,
        }
    }

    fn no_counter(&self, group: &str, counter: &str) -> Error {
        if !self.group_dir(group).is_dir() {
            return self.no_group(group);
        }
        Error::NoSuchCounter {
            group: group.to_owned(),
            counter: counter.to_owned(),
            place: self.group_dir(group),
            hint: "",
        }
    }

    fn subdirs(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(pseudofile::list(dir)?
            .into_iter()
            .filter(|e| e.is_dir)
            .map(|e| e.name)
            .collect())
    }

    /// The groups created through configfs, sorted by name.
    pub fn groups(&self) -> Result<Vec<String>> {
        let dir = self.groups_dir();
        self.subdirs(&dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.unavailable(),
            _ => pseudofile::read_error(&dir, e, "configfs should be readable by everyone"),
        })
    }

    /// The counters of a configfs group, sorted by name.
    pub fn counters(&self, group: &str) -> Result<Vec<String>> {
        self.check(NameKind::Group, group)?;
        let dir = self.group_dir(group);
        self.subdirs(&dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.no_group(group),
            _ => pseudofile::read_error(&dir, e, "configfs should be readable by everyone"),
        })
    }

    /// One counter's value.
    pub fn value(&self, group: &str, counter: &str) -> Result<u64> {
        self.check(NameKind::Group, group)?;
        self.check(NameKind::Counter, counter)?;
        let path = self.counter_dir(group, counter).join("value");
        let bytes = pseudofile::read_all(&path).map_err(|e| {
            if pseudofile::vanished(&e) {
                return self.no_counter(group, counter);
            }
            pseudofile::read_error(&path, e, "configfs values should be readable by everyone")
        })?;
        crate::sysfs::parse_value(&bytes).map_err(|e| Error::Malformed {
            path,
            line: 1,
            fault: e.into(),
        })
    }

    /// The description of a group (`counter` None) or of a counter, without its newline.
    pub fn description(&self, group: &str, counter: Option<&str>) -> Result<String> {
        let path = self.attr_dir(group, counter)?.join("description");
        let bytes = pseudofile::read_all(&path).map_err(|e| match (e.kind(), counter) {
            (io::ErrorKind::NotFound, Some(c)) => self.no_counter(group, c),
            (io::ErrorKind::NotFound, None) => self.no_group(group),
            _ => pseudofile::read_error(
                &path,
                e,
                "configfs descriptions should be readable by everyone",
            ),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_owned())
    }

    fn attr_dir(&self, group: &str, counter: Option<&str>) -> Result<PathBuf> {
        self.check(NameKind::Group, group)?;
        Ok(match counter {
            Some(c) => {
                self.check(NameKind::Counter, c)?;
                self.counter_dir(group, c)
            }
            None => self.group_dir(group),
        })
    }

    /// `mkdir groups/<group>`, then set its description if given.
    pub fn create_group(&self, group: &str, description: Option<&str>) -> Result<()> {
        self.check(NameKind::Group, group)?;
        if let (Some(d), true) = (description, self.check_names) {
            validate_description(d)?;
        }
        let path = self.group_dir(group);
        fs::create_dir(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.unavailable(),
            _ => Error::refused(
                Action::CreateGroup {
                    group: group.to_owned(),
                },
                path.clone(),
                &e,
            ),
        })?;
        if let Some(d) = description {
            self.set_description(group, None, d)?;
        }
        Ok(())
    }

    /// `mkdir groups/<group>/<counter>`, then set its description if given.
    pub fn create_counter(
        &self,
        group: &str,
        counter: &str,
        description: Option<&str>,
    ) -> Result<()> {
        self.check(NameKind::Group, group)?;
        self.check(NameKind::Counter, counter)?;
        if let (Some(d), true) = (description, self.check_names) {
            validate_description(d)?;
        }
        let path = self.counter_dir(group, counter);
        fs::create_dir(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.no_group(group),
            _ => Error::refused(
                Action::CreateCounter {
                    group: group.to_owned(),
                    counter: counter.to_owned(),
                },
                path.clone(),
                &e,
            ),
        })?;
        if let Some(d) = description {
            self.set_description(group, Some(counter), d)?;
        }
        Ok(())
    }

    /// `rmdir groups/<group>/<counter>`.
    pub fn delete_counter(&self, group: &str, counter: &str) -> Result<()> {
        self.check(NameKind::Group, group)?;
        self.check(NameKind::Counter, counter)?;
        let path = self.counter_dir(group, counter);
        fs::remove_dir(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.no_counter(group, counter),
            _ => Error::refused(
                Action::DeleteCounter {
                    group: group.to_owned(),
                    counter: counter.to_owned(),
                },
                path.clone(),
                &e,
            ),
        })
    }

    /// Remove a group: its counters first (configfs refuses to remove a directory with
    /// children), then the group itself.
    pub fn delete_group(&self, group: &str) -> Result<()> {
        for counter in self.counters(group)? {
            match self.delete_counter(group, &counter) {
                Ok(()) | Err(Error::NoSuchCounter { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let path = self.group_dir(group);
        fs::remove_dir(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.no_group(group),
            _ => Error::refused(
                Action::DeleteGroup {
                    group: group.to_owned(),
                },
                path.clone(),
                &e,
            ),
        })
    }

    /// Write a counter's `value` (root only).
    pub fn set_value(&self, group: &str, counter: &str, value: u64) -> Result<()> {
        self.write_raw_value(group, counter, value.to_string().as_bytes())
    }

    /// Write arbitrary bytes to a counter's `value` (tests of the kernel's parser).
    pub fn write_raw_value(&self, group: &str, counter: &str, data: &[u8]) -> Result<()> {
        self.check(NameKind::Group, group)?;
        self.check(NameKind::Counter, counter)?;
        let path = self.counter_dir(group, counter).join("value");
        pseudofile::write_attr(&path, data).map_err(|e| match e.kind() {
            _ if pseudofile::vanished(&e) => self.no_counter(group, counter),
            _ => Error::refused(
                Action::SetValue {
                    group: group.to_owned(),
                    counter: counter.to_owned(),
                },
                path.clone(),
                &e,
            ),
        })
    }

    /// Write the `description` of a group (`counter` None) or a counter (root only). An empty
    /// text clears it.
    pub fn set_description(&self, group: &str, counter: Option<&str>, text: &str) -> Result<()> {
        if self.check_names {
            validate_description(text)?;
        }
        let path = self.attr_dir(group, counter)?.join("description");
        // A zero-byte write never reaches the kernel's store: clear with a lone newline.
        let data = if text.is_empty() { "\n" } else { text };
        pseudofile::write_attr(&path, data.as_bytes()).map_err(|e| {
            match (pseudofile::vanished(&e), counter) {
                (true, Some(c)) => self.no_counter(group, c),
                (true, None) => self.no_group(group),
                _ => Error::refused(
                    Action::SetDescription {
                        group: group.to_owned(),
                        counter: counter.map(str::to_owned),
                    },
                    path.clone(),
                    &e,
                ),
            }
        })
    }
}

impl CounterSource for Configfs {
    fn channel(&self) -> Channel {
        Channel::Configfs
    }

    fn snapshot(&self) -> Result<Snapshot> {
        let mut all = Vec::new();
        for g in self.groups()? {
            let counters = match self.counters(&g) {
                Ok(c) => c,
                Err(Error::NoSuchGroup { .. }) => continue, // removed while we walked
                Err(e) => return Err(e),
            };
            for c in counters {
                match self.value(&g, &c) {
                    Ok(v) => all.push(CounterValue::new(&g, &c, v)),
                    Err(Error::NoSuchCounter { .. } | Error::NoSuchGroup { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Snapshot::new(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake configfs: mkdir makes plain directories, so tests add the attribute files the
    /// kernel would create.
    fn tree() -> (tempfile::TempDir, Configfs) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("sys/kernel/config/kpeek/groups")).unwrap();
        fs::create_dir_all(d.path().join("proc")).unwrap();
        fs::write(d.path().join("proc/kpeek"), "").unwrap();
        let c = Configfs::new(&SysRoot::new(d.path()));
        (d, c)
    }

    fn attrs(dir: &Path) {
        fs::write(dir.join("value"), "0\n").unwrap();
        fs::write(dir.join("description"), "\n").unwrap();
    }

    #[test]
    fn create_set_read_delete() {
        let (_d, c) = tree();
        c.create_group("app", None).unwrap();
        attrs(&c.group_dir("app"));
        c.create_counter("app", "hits", None).unwrap();
        attrs(&c.counter_dir("app", "hits"));
        c.set_value("app", "hits", 42).unwrap();
        assert_eq!(
            fs::read_to_string(c.counter_dir("app", "hits").join("value")).unwrap(),
            "42"
        );
        fs::write(c.counter_dir("app", "hits").join("value"), "42\n").unwrap();
        assert_eq!(c.value("app", "hits").unwrap(), 42);
        c.set_description("app", Some("hits"), "cache hits")
            .unwrap();
        fs::write(
            c.counter_dir("app", "hits").join("description"),
            "cache hits\n",
        )
        .unwrap();
        assert_eq!(c.description("app", Some("hits")).unwrap(), "cache hits");
        assert_eq!(
            c.snapshot().unwrap().counters(),
            [CounterValue::new("app", "hits", 42)]
        );
        assert_eq!(c.groups().unwrap(), ["app"]);
        // The fake tree's attribute files keep rmdir from working: remove them as the kernel would.
        for f in ["value", "description"] {
            fs::remove_file(c.counter_dir("app", "hits").join(f)).unwrap();
            fs::remove_file(c.group_dir("app").join(f)).unwrap();
        }
        c.delete_group("app").unwrap();
        assert_eq!(c.groups().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn names_are_checked_before_the_kernel_sees_them() {
        let (_d, c) = tree();
        let e = c.create_group(&"g".repeat(32), None).unwrap_err();
        assert!(
            matches!(e, Error::Name(kpeek_abi::NameError::TooLong { .. })),
            "{e}"
        );
        let e = c.create_counter("g", "reset", None).unwrap_err();
        assert!(
            e.to_string().contains("counter name \"reset\" is reserved"),
            "{e}"
        );
        let e = c.create_group("ok", Some("tab\there")).unwrap_err();
        assert!(matches!(e, Error::Description(_)), "{e}");
        assert!(
            !c.group_dir("ok").exists(),
            "nothing created after a bad description"
        );
        // Unchecked: the request reaches the filesystem (here it just works).
        c.clone().unchecked().create_group("a-b", None).unwrap();
        assert!(c.group_dir("a-b").is_dir());
    }

    #[test]
    fn kernel_refusals_are_mapped() {
        let (_d, c) = tree();
        c.create_group("app", None).unwrap();
        let e = c.create_group("app", None).unwrap_err();
        assert_eq!(e.errno(), Some(17));
        assert!(
            e.to_string().contains(
                "group \"app\" already exists; modules and configfs share one name space (EEXIST on"
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_things_are_named() {
        let (_d, c) = tree();
        let e = c.create_counter("nope", "x", None).unwrap_err();
        assert!(e.to_string().contains("no group \"nope\""), "{e}");
        assert!(e.to_string().contains("kpeek mod group create"), "{e}");
        c.create_group("app", None).unwrap();
        let e = c.set_value("app", "x", 1).unwrap_err();
        assert!(matches!(e, Error::NoSuchCounter { .. }), "{e}");
        let e = c.delete_counter("app", "x").unwrap_err();
        assert!(matches!(e, Error::NoSuchCounter { .. }), "{e}");
    }

    #[test]
    fn availability_errors_say_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        let root = SysRoot::new(d.path());
        let c = Configfs::new(&root);
        // No /sys/kernel/config at all: configfs not loaded.
        let e = c.groups().unwrap_err().to_string();
        assert!(
            e.contains("configfs is not mounted") && e.contains("mount -t configfs"),
            "{e}"
        );
        // Mount point exists but empty: not mounted.
        fs::create_dir_all(d.path().join("sys/kernel/config")).unwrap();
        assert!(matches!(
            c.create_group("g", None),
            Err(Error::NotMounted { .. })
        ));
        // Mounted (something in it) but no kpeek and no /proc/kpeek: module not loaded.
        fs::create_dir_all(d.path().join("sys/kernel/config/other")).unwrap();
        let e = c.snapshot().unwrap_err().to_string();
        assert!(
            e.contains("kpeek.ko is not loaded") && e.contains("modprobe kpeek"),
            "{e}"
        );
        // Module loaded but no configfs directory.
        fs::create_dir_all(d.path().join("proc")).unwrap();
        fs::write(d.path().join("proc/kpeek"), "").unwrap();
        assert!(matches!(c.groups(), Err(Error::NoChannelDir { .. })));
    }
}

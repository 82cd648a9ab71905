//! Every BPF map and program on the system (`bpf_{map,prog}_get_next_id`), run statistics,
//! and reading any map's entries.

use std::os::fd::{FromRawFd, OwnedFd};

use libbpf_rs::query::{MapInfoIter, ProgInfoIter};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
use serde::Serialize;

use crate::decode::{self, Decoded};
use crate::error::{Error, Result, from_ret, libbpf};

/// `CamelCase` to `snake_case`: bpftool's spelling of map and program types.
fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// One map, as `bpftool map show` tells it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MapSummary {
    /// The map's id.
    pub id: u32,
    /// The map's name (at most 15 bytes, as the kernel keeps it).
    pub name: String,
    /// The map's type (`hash`, `percpu_array`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// The most entries it holds.
    pub max_entries: u32,
    /// `BPF_F_*` flags it was created with.
    pub flags: u32,
    /// BTF object id (0: none), with the key and value type ids inside it.
    pub btf_id: u32,
    /// The key's type id in the BTF object.
    pub btf_key_type_id: u32,
    /// The value's type id in the BTF object.
    pub btf_value_type_id: u32,
}

/// One program, with its run statistics (non-zero only while stats are enabled).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProgSummary {
    /// The program's id.
    pub id: u32,
    /// The program's name.
    pub name: String,
    /// The program's type (`tracepoint`, `kprobe`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// The program's tag (hash of its instructions), in hex.
    pub tag: String,
    /// Times it ran.
    pub run_count: u64,
    /// Time spent running, in nanoseconds.
    pub run_time_ns: u64,
    /// Runs skipped because another program was running on the CPU.
    pub recursion_misses: u64,
    /// Ids of the maps it uses.
    pub map_ids: Vec<u32>,
    /// The user that loaded it.
    pub uid: u32,
}

/// Every map on the system, by id.
pub fn maps() -> Result<Vec<MapSummary>> {
    probe_permission()?;
    Ok(MapInfoIter::default()
        .map(|m| MapSummary {
            id: m.id,
            name: m.name.to_string_lossy().into_owned(),
            ty: snake(&format!("{:?}", m.ty)),
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            flags: m.map_flags,
            btf_id: m.btf_id,
            btf_key_type_id: m.btf_key_type_id,
            btf_value_type_id: m.btf_value_type_id,
        })
        .collect())
}

/// Every program on the system, by id.
pub fn progs() -> Result<Vec<ProgSummary>> {
    probe_permission()?;
    let opts = libbpf_rs::query::ProgInfoQueryOptions::default().include_map_ids(true);
    Ok(ProgInfoIter::with_query_opts(opts)
        .map(|p| ProgSummary {
            id: p.id,
            name: p.name.to_string_lossy().into_owned(),
            ty: snake(&format!("{:?}", p.ty)),
            tag: p.tag.0.iter().map(|b| format!("{b:02x}")).collect(),
            run_count: p.run_cnt,
            run_time_ns: p.run_time_ns,
            recursion_misses: p.recursion_misses,
            map_ids: p.map_ids,
            uid: p.created_by_uid,
        })
        .collect())
}

/// The id iterators stop silently on EPERM: ask once so a permission problem is an error.
fn probe_permission() -> Result<()> {
    let mut next = 0u32;
    // SAFETY: bpf_map_get_next_id writes one u32 through the valid pointer.
    let r = unsafe { libbpf_sys::bpf_map_get_next_id(0, &mut next) };
    if r < 0 && -r != libc::ENOENT {
        return Err(from_ret("listing BPF maps", r));
    }
    Ok(())
}

/// Keeps run-time statistics on (`BPF_ENABLE_STATS`, Linux 5.8) while alive.
#[derive(Debug)]
pub struct StatsGuard(#[allow(dead_code)] OwnedFd);

/// Turn on run counts and run times for every program until the guard is dropped.
pub fn enable_stats() -> Result<StatsGuard> {
    // SAFETY: bpf_enable_stats takes a plain enum value and returns an fd or -errno.
    let fd = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
    if fd < 0 {
        if -fd == libc::EINVAL {
            return Err(Error::Unsupported {
                feature: "BPF_ENABLE_STATS (program run counts and times)",
                needs: "5.8",
            });
        }
        return Err(from_ret("BPF_ENABLE_STATS", fd));
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(StatsGuard(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// One entry of a dumped map.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DumpEntry {
    /// The key.
    pub key: Decoded,
    /// The value (per-CPU maps: the sum over CPUs when the value is an integer, else CPU 0's).
    pub value: Decoded,
    /// Per-CPU maps: every CPU's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_cpu: Option<Vec<Decoded>>,
}

/// A map's entries, decoded with its BTF when it has one (else guessed from sizes and bytes).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Dump {
    /// The map.
    pub map: MapSummary,
    /// Whether keys and values were decoded with the map's BTF.
    pub btf: bool,
    /// Its entries.
    pub entries: Vec<DumpEntry>,
}

/// Find a map by id (digits), pinned path (starts with `/`) or name (must be unique).
pub fn find_map(spec: &str) -> Result<MapSummary> {
    let all = maps()?;
    if spec.starts_with('/') {
        let h = MapHandle::from_pinned_path(spec).map_err(|e| libbpf("opening a pinned map", e))?;
        let info = h.info().map_err(|e| libbpf("reading map info", e))?;
        let id = info.info.id;
        return all
            .into_iter()
            .find(|m| m.id == id)
            .ok_or(Error::NoSuchMap {
                spec: spec.into(),
                candidates: String::new(),
            });
    }
    if let Ok(id) = spec.parse::<u32>() {
        return all
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::NoSuchMap {
                spec: spec.into(),
                candidates: "`kpeek bpf maps` lists them".into(),
            });
    }
    let hits: Vec<MapSummary> = all.iter().filter(|m| m.name == spec).cloned().collect();
    match hits.len() {
        1 => Ok(hits.into_iter().next().unwrap_or_else(|| unreachable!())),
        0 => {
            let mut names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
            names.sort_by_key(|n| kpeek_trace::tracefs::levenshtein(n, spec));
            names.dedup();
            let close: Vec<&str> = names.into_iter().take(5).collect();
            Err(Error::NoSuchMap {
                spec: spec.into(),
                candidates: if close.is_empty() {
                    "there are no BPF maps".into()
                } else {
                    format!("closest names: {}", close.join(", "))
                },
            })
        }
        _ => Err(Error::NoSuchMap {
            spec: spec.into(),
            candidates: format!(
                "several maps have that name; give an id: {}",
                hits.iter()
                    .map(|m| m.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

fn is_percpu(ty: &str) -> bool {
    ty.starts_with("percpu") || ty == "lru_percpu_hash"
}

/// Read every entry of a map.
pub fn dump(map: &MapSummary) -> Result<Dump> {
    let h = MapHandle::from_map_id(map.id).map_err(|e| libbpf("opening a BPF map by id", e))?;
    let ty = h.map_type();
    if matches!(
        ty,
        MapType::PerfEventArray | MapType::RingBuf | MapType::UserRingBuf | MapType::ProgArray
    ) {
        return Err(Error::CannotExpress {
            what: format!(
                "map {} ({}) holds no values user space can read",
                map.id, map.ty
            ),
        });
    }
    let btf = if map.btf_id != 0 && map.btf_value_type_id != 0 {
        decode::map_btf(map.btf_id).ok()
    } else {
        None
    };
    let dec = |bytes: &[u8], type_id: u32, is_key: bool| match &btf {
        Some(b) if type_id != 0 => decode::with_btf(b, type_id, bytes),
        _ => decode::guess(bytes, is_key),
    };
    let percpu = is_percpu(&map.ty);
    let mut entries = Vec::new();
    for key in h.keys() {
        let k = dec(&key, map.btf_key_type_id, true);
        if percpu {
            let Some(vals) = h
                .lookup_percpu(&key, MapFlags::ANY)
                .map_err(|e| libbpf("reading a map", e))?
            else {
                continue;
            };
            let per: Vec<Decoded> = vals
                .iter()
                .map(|v| {
                    dec(
                        &v[..(map.value_size as usize).min(v.len())],
                        map.btf_value_type_id,
                        false,
                    )
                })
                .collect();
            let value = decode::sum(&per)
                .unwrap_or_else(|| per.first().cloned().unwrap_or(Decoded::Bytes(Vec::new())));
            entries.push(DumpEntry {
                key: k,
                value,
                per_cpu: Some(per),
            });
        } else {
            let Some(v) = h
                .lookup(&key, MapFlags::ANY)
                .map_err(|e| libbpf("reading a map", e))?
            else {
                continue;
            };
            entries.push(DumpEntry {
                key: k,
                value: dec(&v, map.btf_value_type_id, false),
                per_cpu: None,
            });
        }
    }
    Ok(Dump {
        map: map.clone(),
        btf: btf.is_some(),
        entries,
    })
}

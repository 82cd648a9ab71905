//! Per-CPU variables found through BTF (a `.data..percpu` DATASEC) and through kallsyms alone
//! (kernels whose BTF has no VAR or DATASEC, such as Debian 11's 5.10), with zero-based per-CPU
//! symbols (x86_64 before 6.15) and with per-CPU symbols at their link address (6.15+).

use crate::btf::BtfTypes;
use crate::error::{Error, PerCpuFault};
use crate::session::{Options, PerCpuMethod, Session};
use crate::testkit::{BtfWriter, VecMemory};
use crate::types::TypeSource;
use crate::value::Value;

/// Where the made-up kernel memory starts: `__per_cpu_offset[]`, then one page per CPU.
const MEM: u64 = 0xffff_8880_0010_0000;
/// `runqueues`' offset in the per-CPU area.
const RQ_OFF: u64 = 0x690;
const CPUS: [u32; 3] = [0, 1, 2];

/// Field offsets of the made-up `struct rq`.
const NR_RUNNING: usize = 0;
const CPU: usize = 8;
const NR_SWITCHES: usize = 16;

/// BTF with `struct rq { unsigned int nr_running; int cpu; unsigned long long nr_switches; }`;
/// with `datasec`, also `runqueues` as a VAR of `.data..percpu` (else none, as on 5.10).
fn btf(datasec: bool) -> BtfTypes {
    let mut w = BtfWriter::new();
    let uint = w.int("unsigned int", 4, false, false);
    let int = w.int("int", 4, true, false);
    let ull = w.int("long long unsigned int", 8, false, false);
    let rq = w.record(
        false,
        "rq",
        24,
        &[
            ("nr_running", uint, 8 * NR_RUNNING as u32, 0),
            ("cpu", int, 8 * CPU as u32, 0),
            ("nr_switches", ull, 8 * NR_SWITCHES as u32, 0),
        ],
    );
    // As on 7.x: task_group.cfs_rq a per-CPU pointer (`struct cfs_rq *`), so CPU n's run queue
    // cannot be reached from the calling task.
    let rq_ptr = w.raw("", 2, 0, false, rq, &[]);
    let cfs_rq = w.record(false, "cfs_rq", 8, &[("rq", rq_ptr, 0, 0)]);
    let cfs_rq_ptr = w.raw("", 2, 0, false, cfs_rq, &[]);
    let tg = w.record(false, "task_group", 8, &[("cfs_rq", cfs_rq_ptr, 0, 0)]);
    let tg_ptr = w.raw("", 2, 0, false, tg, &[]);
    w.record(
        false,
        "task_struct",
        8,
        &[("sched_task_group", tg_ptr, 0, 0)],
    );
    if datasec {
        let var = w.raw("runqueues", 14, 0, false, rq, &[1]);
        w.raw(
            ".data..percpu",
            15,
            1,
            false,
            0x1000,
            &[var, RQ_OFF as u32, 24],
        );
    }
    BtfTypes::from_bytes(&w.bytes(), "made-up BTF").expect("valid BTF")
}

/// A kernel whose per-CPU section is linked at `start` (0: zero-based): kallsyms text and the
/// memory holding `__per_cpu_offset[]` and each CPU's `struct rq` (`cpu` = n,
/// `nr_switches` = 100 + n, `nr_running` = n + 1).
/// CPU `cpu`'s `struct rq` at `rq` in `bytes`: nr_running cpu+1, cpu, nr_switches 100+cpu.
fn fill_rq(bytes: &mut [u8], rq: usize, cpu: u32) {
    bytes[rq + NR_RUNNING..rq + NR_RUNNING + 4].copy_from_slice(&(cpu + 1).to_le_bytes());
    bytes[rq + CPU..rq + CPU + 4].copy_from_slice(&cpu.to_le_bytes());
    bytes[rq + NR_SWITCHES..rq + NR_SWITCHES + 8]
        .copy_from_slice(&(100 + u64::from(cpu)).to_le_bytes());
}

fn kernel(start: u64) -> (String, VecMemory) {
    let area = |cpu: u32| MEM + 0x1000 * (u64::from(cpu) + 1);
    let mut bytes = vec![0u8; 0x1000 * (CPUS.len() + 1)];
    for cpu in CPUS {
        // per_cpu_ptr(&var, n) = &var + __per_cpu_offset[n], &var = start + offset.
        let off = area(cpu).wrapping_sub(start);
        let at = 8 * cpu as usize;
        bytes[at..at + 8].copy_from_slice(&off.to_le_bytes());
        fill_rq(&mut bytes, (area(cpu) - MEM + RQ_OFF) as usize, cpu);
    }
    let kind = if start == 0 { 'A' } else { 'D' };
    let kallsyms = format!(
        "{MEM:016x} D __per_cpu_offset\n{start:016x} {kind} __per_cpu_start\n{:016x} {kind} runqueues\n{:016x} {kind} __per_cpu_end\n",
        start + RQ_OFF,
        start + 0x1000,
    );
    (kallsyms, VecMemory { base: MEM, bytes })
}

fn session(datasec: bool, kallsyms: String) -> Session {
    session_with(datasec, kallsyms, PerCpuMethod::Offsets)
}

fn session_with(datasec: bool, kallsyms: String, percpu_method: PerCpuMethod) -> Session {
    let opts = Options {
        percpu_method,
        ..Options::default()
    };
    let mut s = Session::with_vmlinux_btf(
        opts,
        Some(btf(datasec)),
        Box::new(move || ksyms::Ksyms::parse(kallsyms.as_bytes())),
    )
    .expect("session");
    s.cpus = CPUS.to_vec();
    s
}

fn check(datasec: bool, start: u64) {
    let shape = format!(
        "{} BTF DATASEC, per-CPU section at {start:#x}",
        if datasec { "with" } else { "no" }
    );
    let (kallsyms, mem) = kernel(start);
    let mut s = session(datasec, kallsyms);
    for cpu in CPUS {
        let a = s
            .eval(&format!("runqueues@cpu{cpu}.cpu"), &mem)
            .unwrap_or_else(|e| panic!("{shape}: runqueues@cpu{cpu}.cpu: {e}"));
        assert_eq!(a.value, Value::Signed(i64::from(cpu)), "{shape}: cpu {cpu}");
        let want = MEM + 0x1000 * (u64::from(cpu) + 1) + RQ_OFF + CPU as u64;
        assert_eq!(a.addr, Some(want), "{shape}: address of CPU {cpu}'s rq.cpu");
        if !datasec {
            assert!(
                a.type_from.contains("global variable table"),
                "{shape}: typed from {}",
                a.type_from
            );
        }
    }
    let all = s.eval("runqueues@all.nr_running", &mem).expect("@all");
    let want: Vec<_> = CPUS
        .iter()
        .map(|c| (*c, Value::Unsigned(u64::from(c + 1))))
        .collect();
    assert_eq!(all.value, Value::PerCpu(want), "{shape}: @all");
    let sum = s.eval("runqueues@sum.nr_switches", &mem).expect("@sum");
    assert_eq!(sum.value, Value::Unsigned(100 + 101 + 102), "{shape}: @sum");
    match s.eval("runqueues.cpu", &mem) {
        Err(Error::PerCpu(m @ PerCpuFault::NoSelector { .. })) => {
            assert!(m.to_string().contains("runqueues@cpu0"), "{shape}: {m}")
        }
        other => panic!("{shape}: runqueues without a CPU selector gave {other:?}"),
    }
    // --watch's plan folds the per-CPU area in once and reads only the value after that.
    let plan = s.plan("runqueues@cpu2.nr_switches", &mem).expect("plan");
    let a = s.read_plan(&plan, &mem).expect("planned read");
    assert_eq!(a.value, Value::Unsigned(102), "{shape}: planned read");
}

#[test]
fn percpu_from_btf_datasec_zero_based() {
    check(true, 0);
}

#[test]
fn percpu_from_kallsyms_when_btf_has_no_datasec() {
    // Debian 11's 5.10: no VAR or DATASEC in BTF; kallsyms lists `runqueues` as `A` at a small
    // address inside __per_cpu_start (0) .. __per_cpu_end.
    check(false, 0);
}

#[test]
fn percpu_at_link_addresses_with_and_without_datasec() {
    // 6.15+ on x86_64: per-CPU symbols at their link address (kallsyms `D`).
    check(true, 0xffff_ffff_86b3_5000);
    check(false, 0xffff_ffff_86b3_5000);
}

#[test]
fn a_symbol_outside_the_percpu_section_is_not_percpu() {
    let (mut kallsyms, mem) = kernel(0);
    kallsyms.push_str(&format!(
        "{:016x} D runqueues_plain\n",
        MEM + 0x1000 + RQ_OFF
    ));
    let mut s = session(false, kallsyms);
    match s.eval("runqueues_plain@cpu0", &mem) {
        Err(Error::PerCpu(m @ PerCpuFault::NotPerCpu { .. })) => assert_eq!(
            m.to_string(),
            "runqueues_plain: a CPU selector (@cpuN, @all, @sum) applies only to per-CPU variables, and this is not one"
        ),
        other => panic!("a CPU selector on a plain symbol gave {other:?}"),
    }
}

/// A backend that names the calling task (as the BPF backend does).
struct WithTask(VecMemory);

impl crate::walk::Memory for WithTask {
    fn name(&self) -> &'static str {
        "test"
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.0.read(addr, buf)
    }
}

impl crate::via::Backend for WithTask {
    fn current_task(&self) -> Option<Result<u64, Error>> {
        Some(Ok(MEM))
    }
}

#[test]
fn auto_takes_per_cpu_offset_where_run_queues_lead_nowhere() {
    let (kallsyms, mem) = kernel(0xffff_ffff_86b3_5000);
    let mem = WithTask(mem);
    let mut s = session_with(true, kallsyms.clone(), PerCpuMethod::Auto);
    let a = s.eval("runqueues@cpu1.cpu", &mem).expect("auto");
    assert_eq!(a.value, Value::Signed(1));
    let mut s = session_with(true, kallsyms, PerCpuMethod::Runqueues);
    match s.eval("runqueues@cpu1.cpu", &mem) {
        Err(Error::PerCpu(m @ PerCpuFault::PerCpuCfsRq { cpu: 1 })) => {
            assert!(
                m.to_string()
                    .contains("task_group.cfs_rq is a per-CPU pointer"),
                "{m}"
            )
        }
        other => panic!("the run-queue method on a 7.x-shaped kernel gave {other:?}"),
    }
}

/// A backend that resolves names in the kernel (as kpeek.ko does): `__per_cpu_offset` at
/// `table` (address, size) if given, every other name unknown.
struct Resolver {
    mem: VecMemory,
    table: Option<(u64, u64)>,
}

impl crate::walk::Memory for Resolver {
    fn name(&self) -> &'static str {
        "kpeek"
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mem.read(addr, buf)
    }
}

impl crate::via::Backend for Resolver {
    fn resolve(&self, module: Option<&str>, name: &str) -> Option<Result<(u64, u64), Error>> {
        Some(match (module, name, self.table) {
            (None, "__per_cpu_offset", Some(t)) => Ok(t),
            _ => Err(Error::UnknownSymbol {
                name: name.to_string(),
                module: module.map(str::to_string),
                close: Vec::new(),
                hint: None,
            }),
        })
    }
}

/// kallsyms `text` without its `__per_cpu_offset` line (a kernel without CONFIG_KALLSYMS_ALL).
fn without_offsets(text: &str) -> String {
    text.lines()
        .filter(|l| !l.ends_with(" __per_cpu_offset"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn per_cpu_offset_from_the_kernel_where_kallsyms_lacks_it() {
    let (kallsyms, mem) = kernel(0xffff_ffff_86b3_5000);
    let kallsyms = without_offsets(&kallsyms);
    let mem = Resolver {
        mem,
        table: Some((MEM, 8 * CPUS.len() as u64)),
    };
    let mut s = session(true, kallsyms.clone());
    for cpu in CPUS {
        let a = s.eval(&format!("runqueues@cpu{cpu}.cpu"), &mem).unwrap();
        assert_eq!(a.value, Value::Signed(i64::from(cpu)), "cpu {cpu}");
    }
    let sum = s.eval("runqueues@sum.nr_switches", &mem).unwrap();
    assert_eq!(sum.value, Value::Unsigned(100 + 101 + 102));
    // The array's size (sizeof, from kpeek.ko) bounds the CPUs it can be read for.
    let short = Resolver {
        mem: mem.mem,
        table: Some((MEM, 16)),
    };
    let mut s = session(true, kallsyms.clone());
    match s.eval("runqueues@cpu2.cpu", &short) {
        Err(Error::PerCpu(m @ PerCpuFault::NoEntry { size: 16, cpu: 2 })) => assert_eq!(
            m.to_string(),
            "__per_cpu_offset (16 bytes) has no entry for CPU 2"
        ),
        other => panic!("CPU 2 past a 2-entry __per_cpu_offset gave {other:?}"),
    }
    assert_eq!(
        s.eval("runqueues@cpu1.cpu", &short).unwrap().value,
        Value::Signed(1)
    );
    // Neither kallsyms nor the backend knows it: refused, saying both.
    let unknown = Resolver {
        mem: short.mem,
        table: None,
    };
    let mut s = session(true, kallsyms.clone());
    match s.eval("runqueues@cpu0.cpu", &unknown) {
        Err(Error::PerCpu(
            m @ PerCpuFault::NoOffsets {
                resolve: Some(_), ..
            },
        )) => {
            let m = m.to_string();
            assert!(
                m.contains("per-CPU areas need __per_cpu_offset")
                    && m.contains("kpeek: unknown symbol `__per_cpu_offset`"),
                "{m}"
            )
        }
        other => panic!("no __per_cpu_offset anywhere gave {other:?}"),
    }
    // A backend that resolves no names at all.
    let mut s = session(true, kallsyms);
    match s.eval("runqueues@cpu0.cpu", &unknown.mem) {
        Err(Error::PerCpu(m @ PerCpuFault::NoOffsets { resolve: None, .. })) => {
            assert!(m.to_string().contains("test resolves no names"), "{m}")
        }
        other => panic!("a backend without name look-up gave {other:?}"),
    }
}

/// Where the made-up 32-bit kernel's memory starts: `__per_cpu_offset[]` (4-byte entries),
/// then one page per CPU.
const MEM32: u64 = 0xc180_0000;
/// Its per-CPU section's link address: above the areas, so that `__per_cpu_offset[n]` wraps
/// (a "negative" 32-bit offset, as on i386).
const START32: u64 = 0xc1a0_0000;

/// A 32-bit kernel (8-digit kallsyms addresses) laid out as [`kernel`]'s, with 4-byte
/// `__per_cpu_offset` entries.
fn kernel32() -> (String, VecMemory) {
    let area = |cpu: u32| MEM32 + 0x1000 * (u64::from(cpu) + 1);
    let mut bytes = vec![0u8; 0x1000 * (CPUS.len() + 1)];
    // Past the last entry: what an 8-byte read of entry 2 would take in.
    bytes[12..16].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
    for cpu in CPUS {
        let off = (area(cpu).wrapping_sub(START32) & 0xffff_ffff) as u32;
        let at = 4 * cpu as usize;
        bytes[at..at + 4].copy_from_slice(&off.to_le_bytes());
        fill_rq(&mut bytes, (area(cpu) - MEM32 + RQ_OFF) as usize, cpu);
    }
    let kallsyms = format!(
        "c1000000 T _stext\n{MEM32:08x} D __per_cpu_offset\n{START32:08x} D __per_cpu_start\n{:08x} D runqueues\n{:08x} D __per_cpu_end\n",
        START32 + RQ_OFF,
        START32 + 0x1000,
    );
    (kallsyms, VecMemory { base: MEM32, bytes })
}

fn check32(s: &mut Session, mem: &dyn crate::via::Backend, how: &str) {
    for cpu in CPUS {
        let a = s
            .eval(&format!("runqueues@cpu{cpu}.cpu"), mem)
            .unwrap_or_else(|e| panic!("{how}: runqueues@cpu{cpu}.cpu: {e}"));
        assert_eq!(a.value, Value::Signed(i64::from(cpu)), "{how}: cpu {cpu}");
        let want = MEM32 + 0x1000 * (u64::from(cpu) + 1) + RQ_OFF + CPU as u64;
        assert_eq!(a.addr, Some(want), "{how}: address of CPU {cpu}'s rq.cpu");
    }
    let all = s.eval("runqueues@all.nr_running", mem).expect("@all");
    let want: Vec<_> = CPUS
        .iter()
        .map(|c| (*c, Value::Unsigned(u64::from(c + 1))))
        .collect();
    assert_eq!(all.value, Value::PerCpu(want), "{how}: @all");
    let sum = s.eval("runqueues@sum.nr_switches", mem).expect("@sum");
    assert_eq!(sum.value, Value::Unsigned(100 + 101 + 102), "{how}: @sum");
    let plan = s.plan("runqueues@cpu2.nr_switches", mem).expect("plan");
    let a = s.read_plan(&plan, mem).expect("planned read");
    assert_eq!(a.value, Value::Unsigned(102), "{how}: planned read");
}

#[test]
fn a_32_bit_kernel_has_4_byte_per_cpu_offsets() {
    let (kallsyms, mem) = kernel32();
    let mut s = session(false, kallsyms.clone());
    assert_eq!(s.kernel_word(MEM32), 4);
    check32(&mut s, &mem, "__per_cpu_offset in kallsyms");
    // Without CONFIG_KALLSYMS_ALL (Debian's 686-pae): the array from kpeek.ko, sizeof 4 * CPUs.
    let resolver = Resolver {
        mem,
        table: Some((MEM32, 4 * CPUS.len() as u64)),
    };
    let mut s = session(false, without_offsets(&kallsyms));
    check32(&mut s, &resolver, "__per_cpu_offset from kpeek.ko");
}

#[test]
fn the_kernel_word_follows_the_kallsyms_address_width() {
    let (k64, _) = kernel(0);
    assert_eq!(session(false, k64).kernel_word(0x1000), 8);
    let (k32, _) = kernel32();
    assert_eq!(session(false, k32).kernel_word(0xffff_ffff_8100_0000), 4);
    // No kallsyms: the address says.
    let mut s = Session::with_vmlinux_btf(
        Options::default(),
        None,
        Box::new(|| ksyms::Ksyms::parse(b"")),
    )
    .expect("session");
    s.cpus = CPUS.to_vec();
    assert_eq!(s.kernel_word(0xc180_0000), 4);
    assert_eq!(s.kernel_word(0xffff_8880_0010_0000), 8);
}

/// BTF with only `long`, of `long_size` bytes.
fn btf_with_long(long_size: u32) -> BtfTypes {
    let mut w = BtfWriter::new();
    w.int("long unsigned int", long_size, false, false);
    BtfTypes::from_bytes(&w.bytes(), "made-up BTF").expect("valid BTF")
}

#[test]
fn the_kernel_word_is_decided_in_one_place_kallsyms_first_then_type_sources() {
    // BTF says through the size of `long` (as libbpf reads it); a BTF without `long` says nothing.
    assert_eq!(TypeSource::ptr_size(&btf_with_long(4)), Some(4));
    assert_eq!(TypeSource::ptr_size(&btf_with_long(8)), Some(8));
    assert_eq!(TypeSource::ptr_size(&btf(false)), None);
    // No kallsyms: a 32-bit BTF decides both the pointer size and the per-CPU word.
    let s = Session::with_vmlinux_btf(
        Options::default(),
        Some(btf_with_long(4)),
        Box::new(|| ksyms::Ksyms::parse(b"")),
    )
    .expect("session");
    assert_eq!(s.types.ptr_size(), 4);
    assert_eq!(s.kernel_word(0xffff_8880_0010_0000), 4);
    // kallsyms of a 32-bit kernel wins over a source that says 8, for pointers too, once loaded.
    let (k32, _) = kernel32();
    let s = Session::with_vmlinux_btf(
        Options::default(),
        Some(btf_with_long(8)),
        Box::new(move || ksyms::Ksyms::parse(k32.as_bytes())),
    )
    .expect("session");
    assert_eq!(s.types.ptr_size(), 8, "before kallsyms is read");
    assert_eq!(s.kernel_word(0xffff_8880_0010_0000), 4);
    assert_eq!(s.types.ptr_size(), 4, "after kallsyms is read");
}

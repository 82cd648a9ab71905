//! `--watch`'s plans: resolved once, each reading re-reads only pointers and the value. Made-up
//! kernel memory laid out with the running kernel's BTF (`struct rq`, `struct task_struct`), a
//! made-up symbol table, and a backend that counts reads.

use std::cell::{Cell, RefCell};

use kpeek_peek::btf::BtfTypes;
use kpeek_peek::types::Types;
use kpeek_peek::value::Value;
use kpeek_peek::via::Backend;
use kpeek_peek::walk::Memory;
use kpeek_peek::{Error, Options, Session};

const BASE: u64 = 0xffff_ffff_8000_1000;

struct Counting {
    bytes: RefCell<Vec<u8>>,
    reads: Cell<usize>,
}

impl Memory for Counting {
    fn name(&self) -> &'static str {
        "test"
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.reads.set(self.reads.get() + 1);
        let off = addr.wrapping_sub(BASE) as usize;
        match self.bytes.borrow().get(off..off + buf.len()) {
            Some(b) => {
                buf.copy_from_slice(b);
                Ok(())
            }
            None => Err(Error::Fault {
                addr,
                len: buf.len(),
                what: String::new(),
            }),
        }
    }
}

impl Backend for Counting {}

fn offset(types: &Types, kind: &str, ty: &str, field: &str) -> usize {
    let r = types.find(kind, ty).unwrap();
    (types.member(r, field).unwrap().unwrap().1 / 8) as usize
}

#[test]
fn a_plan_reads_only_what_can_change() {
    let mut types = Types::new();
    types.add(Box::new(BtfTypes::vmlinux().expect("this machine's BTF")));
    let idle = offset(&types, "struct", "rq", "idle");
    let cpu = offset(&types, "struct", "rq", "cpu");
    let comm = offset(&types, "struct", "task_struct", "comm");
    let (t1, t2) = (0x8000usize, 0x10000usize);
    let mut bytes = vec![0u8; 0x20000];
    bytes[idle..idle + 8].copy_from_slice(&(BASE + t1 as u64).to_le_bytes());
    bytes[cpu..cpu + 4].copy_from_slice(&3u32.to_le_bytes());
    bytes[t1 + comm..t1 + comm + 9].copy_from_slice(b"swapper/0");
    bytes[t2 + comm..t2 + comm + 5].copy_from_slice(b"other");
    let mem = Counting {
        bytes: RefCell::new(bytes),
        reads: Cell::new(0),
    };
    let loads = std::rc::Rc::new(Cell::new(0));
    let l = loads.clone();
    let opts = Options {
        as_type: Some("struct rq".into()),
        ..Options::default()
    };
    let mut s = Session::new(
        opts,
        Box::new(move || {
            l.set(l.get() + 1);
            ksyms::Ksyms::parse(
                format!("{BASE:x} D fake_rq\n{:x} D fake_end\n", BASE + 0x20000).as_bytes(),
            )
        }),
    )
    .unwrap();

    let p = s.plan("fake_rq.idle->comm", &mem).unwrap();
    assert_eq!(mem.reads.get(), 0, "planning follows no pointer");
    for _ in 0..3 {
        let a = s.read_plan(&p, &mem).unwrap();
        assert!(
            matches!(&a.value, Value::Str(v) if v == "swapper/0"),
            "{:?}",
            a.value
        );
        assert_eq!(a.addr, Some(BASE + (t1 + comm) as u64));
    }
    assert_eq!(
        mem.reads.get(),
        6,
        "two reads a reading: the pointer and the value"
    );
    // The pointer moves: the next reading follows it.
    mem.bytes.borrow_mut()[idle..idle + 8].copy_from_slice(&(BASE + t2 as u64).to_le_bytes());
    let a = s.read_plan(&p, &mem).unwrap();
    assert!(
        matches!(&a.value, Value::Str(v) if v == "other"),
        "{:?}",
        a.value
    );
    // What eval says, the plan says.
    let e = s.eval("fake_rq.idle->comm", &mem).unwrap();
    assert_eq!((e.ty, e.addr), (a.ty, a.addr));

    // No pointer at all: one read a reading.
    let p = s.plan("fake_rq.cpu", &mem).unwrap();
    let before = mem.reads.get();
    let a = s.read_plan(&p, &mem).unwrap();
    assert_eq!(mem.reads.get() - before, 1);
    assert!(matches!(a.value, Value::Signed(3)), "{:?}", a.value);
    assert_eq!(a.ty, "int");
    assert_eq!(loads.get(), 1, "the symbol table is read once");

    // Errors come at planning, as eval gives them.
    let err = s.plan("fake_rq.nosuch", &mem).unwrap_err().to_string();
    assert!(err.contains("has no field `nosuch`"), "{err}");
    let err = s.plan("no_such_sym", &mem).unwrap_err().to_string();
    assert!(err.contains("unknown symbol"), "{err}");
}

#[test]
fn integer_leaves_decode_like_eval() {
    let mut types = Types::new();
    types.add(Box::new(BtfTypes::vmlinux().expect("this machine's BTF")));
    let mut bytes = vec![0u8; 64];
    bytes[..8].copy_from_slice(&(-5i64).to_le_bytes());
    let mem = Counting {
        bytes: RefCell::new(bytes),
        reads: Cell::new(0),
    };
    for (ty, want) in [
        ("s64", Value::Signed(-5)),
        ("int", Value::Signed(-5)),
        ("short", Value::Signed(-5)),
        ("u8", Value::Unsigned(0xfb)),
        ("u32", Value::Unsigned(0xffff_fffb)),
        ("u64", Value::Unsigned(-5i64 as u64)),
    ] {
        let opts = Options {
            as_type: Some(ty.into()),
            ..Options::default()
        };
        let mut s = Session::new(opts, Box::new(ksyms::Ksyms::load_live)).unwrap();
        let text = format!("{BASE:#x}");
        let p = s.plan(&text, &mem).unwrap();
        let a = s.read_plan(&p, &mem).unwrap();
        let e = s.eval(&text, &mem).unwrap();
        assert_eq!(format!("{:?}", a.value), format!("{want:?}"), "{ty}");
        assert_eq!(format!("{:?}", e.value), format!("{want:?}"), "{ty}");
        assert_eq!(a.ty, e.ty);
    }
}

/// One CPU's copy of a per-CPU variable through the BPF backend of this machine: planned once,
/// then the same place and value as eval, for every possible CPU.
#[test]
#[ignore = "needs root and the live kernel: BPF; ./test-all runs it (cargo test -- --include-ignored)"]
fn per_cpu_plans_read_the_place_eval_reads() {
    let bpf = kpeek_peek::via::bpf::Bpf::open().expect("BPF (root) on this machine");
    let mut s = Session::new(Options::default(), Box::new(ksyms::Ksyms::load_live)).unwrap();
    for cpu in kpeek_peek::percpu::possible_cpus().unwrap() {
        let text = format!("runqueues@cpu{cpu}.cpu");
        let p = s.plan(&text, &bpf).unwrap();
        for _ in 0..3 {
            let a = s.read_plan(&p, &bpf).unwrap();
            let e = s.eval(&text, &bpf).unwrap();
            assert!(
                matches!(a.value, Value::Signed(v) if v == i64::from(cpu)),
                "{:?}",
                a.value
            );
            assert_eq!((&a.ty, a.addr, &a.type_from), (&e.ty, e.addr, &e.type_from));
        }
    }
    let err = s
        .plan("runqueues@cpu4096.cpu", &bpf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no CPU 4096"), "{err}");
}

#[test]
fn a_module_variable_without_kallsyms_all_says_why() {
    // A kernel built without CONFIG_KALLSYMS_ALL (Debian's 686-pae): functions only, of the
    // kernel and of modules.
    let mem = Counting {
        bytes: RefCell::new(vec![0u8; 0x100]),
        reads: Cell::new(0),
    };
    let table = format!(
        "{BASE:x} T schedule\n{:x} T pc_read\t[plain_counter]\n",
        BASE + 0x80
    );
    let mut s = Session::new(
        Options::default(),
        Box::new(move || ksyms::Ksyms::parse(table.as_bytes())),
    )
    .unwrap();
    let err = s.eval("plain_counter:reads", &mem).unwrap_err().to_string();
    for want in [
        "unknown symbol `reads` in module `plain_counter`",
        "without CONFIG_KALLSYMS_ALL",
        "a variable of `plain_counter` cannot be located by name here",
    ] {
        assert!(err.contains(want), "want `{want}` in: {err}");
    }
    let err = s.eval("nr_threads", &mem).unwrap_err().to_string();
    assert!(err.contains("lists no kernel data symbols"), "{err}");
    assert_eq!(mem.reads.get(), 0, "nothing read for a name never found");

    // With data symbols (CONFIG_KALLSYMS_ALL) an unknown module variable is just unknown.
    let mut table: String = (0..1000)
        .map(|i| format!("{:x} D data{i}\n", BASE + i))
        .collect();
    table.push_str(&format!("{:x} T pc_read\t[plain_counter]\n", BASE + 0x80));
    let mut s = Session::new(
        Options::default(),
        Box::new(move || ksyms::Ksyms::parse(table.as_bytes())),
    )
    .unwrap();
    let err = s.eval("plain_counter:reads", &mem).unwrap_err().to_string();
    assert!(err.contains("unknown symbol `reads`"), "{err}");
    assert!(
        !err.contains("KALLSYMS_ALL"),
        "no hint with data symbols: {err}"
    );
}

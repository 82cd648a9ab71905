//! A module's variables located through its `.ko` and a made-up `/sys/module`: the `.ko` is a
//! real relocatable object built here with `cc -c -g` and `ld -r --build-id=sha1` (as kbuild
//! links modules), and binutils' `objdump -t` is the oracle for each symbol's section, offset
//! and size.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::buildid;
use crate::error::{Error, LocateFault};
use crate::modsect::{self, ModuleSysfs};
use crate::session::{Locate, Options, Session};
use crate::testkit::VecMemory;
use crate::value::Value;

const SRC: &str = r#"
struct module { int state; char name[12]; void *percpu; long pad; };
__attribute__((section(".gnu.linkonce.this_module")))
struct module __this_module = { .state = 1 };
static unsigned long long reads;
unsigned long long writes = 7;
const int table[4] = { 1, 2, 3, 4 };
__attribute__((section(".data..percpu"))) unsigned long calls;
__attribute__((section(".modinfo"), used))
static const char sv[] = "srcversion=0123456789ABCDEF0123456";
int poke(void)
{
	static unsigned long long opens;
	reads++;
	calls++;
	return (int)(++opens + writes + table[1]);
}
"#;

/// The srcversion written into `.modinfo` above.
const SRCVERSION: &str = "0123456789ABCDEF0123456";

/// Where the made-up module's sections are loaded (one page each) and its per-CPU copies lie.
const MEM: u64 = 0xffff_ffff_c010_0000;
const BSS: u64 = MEM;
const DATA: u64 = MEM + 0x1000;
const THIS_MODULE: u64 = MEM + 0x2000;
const PCPU_OFFSETS: u64 = MEM + 0x3000;
/// CPU n's copy of the module's per-CPU area.
fn cpu_area(n: u64) -> u64 {
    MEM + 0x4000 + 0x1000 * n
}
/// The module's per-CPU pointer (`__this_module.percpu`, zero-based as on x86_64 before 6.15).
const PCPU_PTR: u64 = 0x3_2000;

struct Built {
    dir: PathBuf,
    /// With a build-id note (`ld -r --build-id=sha1`).
    ko: PathBuf,
    /// The object itself: no build-id note, only `.modinfo`'s srcversion.
    obj: PathBuf,
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} (binutils and a C compiler are needed): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build(tag: &str) -> Built {
    let dir = std::env::temp_dir().join(format!("kpeek-modsect-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("m.c");
    std::fs::write(&c, SRC).unwrap();
    let obj = dir.join("m.o");
    run(Command::new("cc")
        .args(["-c", "-g", "-O0", "-fno-common"])
        .arg(&c)
        .arg("-o")
        .arg(&obj));
    let ko = dir.join("m.ko");
    run(Command::new("ld")
        .args(["-r", "--build-id=sha1", "-o"])
        .arg(&ko)
        .arg(&obj));
    Built { dir, ko, obj }
}

/// `objdump -t`'s (section, value, size) of `name`.
fn objdump(file: &Path, name: &str) -> (String, u64, u64) {
    let t = run(Command::new("objdump").arg("-t").arg(file));
    for l in t.lines() {
        // "0000000000000008 l     O .bss	0000000000000008 reads"
        let Some((left, right)) = l.split_once('\t') else {
            continue;
        };
        let mut r = right.split_whitespace();
        let (Some(size), Some(sym)) = (r.next(), r.next()) else {
            continue;
        };
        if sym != name {
            continue;
        }
        let value = u64::from_str_radix(&left[..16], 16).unwrap();
        let section = left.split_whitespace().last().unwrap().to_string();
        return (section, value, u64::from_str_radix(size, 16).unwrap());
    }
    panic!("objdump -t {} lists no {name}", file.display());
}

/// The message of `modsect::locate`'s refusal of `name` in module `module` under `root`.
fn locate_err(root: &Path, module: &str, ko: &Path, data: &[u8], name: &str) -> String {
    modsect::locate(&ModuleSysfs::new(root), module, ko, data, name)
        .unwrap_err()
        .to_string()
}

/// The `.ko`'s build-id as the kernel publishes it: the raw note section.
fn build_id_note(ko: &Path, dir: &Path) -> Vec<u8> {
    let out = dir.join("note.bin");
    run(Command::new("objcopy")
        .args(["-O", "binary", "--only-section=.note.gnu.build-id"])
        .arg(ko)
        .arg(&out));
    std::fs::read(out).unwrap()
}

/// A made-up root with `sys/module/m`: sections (name → address text), build-id note,
/// srcversion, and `proc/sys/kernel/kptr_restrict`.
fn sysfs(
    dir: &Path,
    sections: &[(&str, String)],
    note: Option<&[u8]>,
    srcversion: Option<&str>,
    kptr_restrict: &str,
) -> PathBuf {
    let root = dir.join(format!(
        "root{}",
        sections.len() * 10 + usize::from(note.is_some())
    ));
    let _ = std::fs::remove_dir_all(&root);
    let m = root.join("sys/module/m");
    std::fs::create_dir_all(m.join("sections")).unwrap();
    std::fs::create_dir_all(m.join("notes")).unwrap();
    for (name, text) in sections {
        std::fs::write(m.join("sections").join(name), text).unwrap();
    }
    if let Some(n) = note {
        std::fs::write(m.join("notes/.note.gnu.build-id"), n).unwrap();
    }
    if let Some(s) = srcversion {
        std::fs::write(m.join("srcversion"), format!("{s}\n")).unwrap();
    }
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    std::fs::write(
        root.join("proc/sys/kernel/kptr_restrict"),
        format!("{kptr_restrict}\n"),
    )
    .unwrap();
    root
}

fn loaded_sections() -> Vec<(&'static str, String)> {
    vec![
        (".bss", format!("{BSS:#018x}\n")),
        (".data", format!("{DATA:#018x}\n")),
        (
            ".gnu.linkonce.this_module",
            format!("{THIS_MODULE:#018x}\n"),
        ),
    ]
}

#[test]
fn symbols_of_a_relocatable_object_match_objdump() {
    let b = build("syms");
    let data = std::fs::read(&b.ko).unwrap();
    let opens = run(Command::new("objdump").arg("-t").arg(&b.ko))
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .last()
                .filter(|n| n.starts_with("opens."))
                .map(str::to_string)
        })
        .expect("a function's static is named opens.N");
    for name in [
        "reads",
        "writes",
        "table",
        "calls",
        opens.as_str(),
        "__this_module",
    ] {
        let (section, offset, size) = objdump(&b.ko, name);
        let got = modsect::ko_symbol(&data, &b.ko, "m", name).unwrap();
        assert_eq!(
            got,
            modsect::KoSymbol {
                section,
                offset,
                size
            },
            "{name}"
        );
    }
    assert_eq!(
        modsect::ko_symbol(&data, &b.ko, "m", "calls")
            .unwrap()
            .section,
        ".data..percpu"
    );
    let e = modsect::ko_symbol(&data, &b.ko, "m", "raeds")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown symbol `raeds` in module `m`") && e.contains("close names: reads"),
        "{e}"
    );
    let id = modsect::ko_ident(&data, &b.ko).unwrap();
    assert_eq!(id.srcversion.as_deref(), Some(SRCVERSION));
    let note = build_id_note(&b.ko, &b.dir);
    assert_eq!(id.build_id.as_deref(), buildid::parse_notes(&note));
    let o = modsect::ko_ident(&std::fs::read(&b.obj).unwrap(), &b.obj).unwrap();
    assert_eq!(
        (o.build_id, o.srcversion.as_deref()),
        (None, Some(SRCVERSION))
    );
}

#[test]
fn section_base_plus_offset_with_the_build_checked() {
    let b = build("locate");
    let data = std::fs::read(&b.ko).unwrap();
    let note = build_id_note(&b.ko, &b.dir);
    let root = sysfs(&b.dir, &loaded_sections(), Some(&note), None, "1");
    let fs = ModuleSysfs::new(&root);
    for (name, base) in [
        ("reads", BSS),
        ("writes", DATA),
        ("__this_module", THIS_MODULE),
    ] {
        let (_, off, size) = objdump(&b.ko, name);
        let hit = modsect::locate(&fs, "m", &b.ko, &data, name).unwrap();
        assert_eq!(
            (hit.addr(), hit.sym.size, hit.checked),
            (base + off, size, "build-id"),
            "{name}"
        );
    }
    // The per-CPU section is no section of /sys/module: its symbols are offsets.
    let hit = modsect::locate(&fs, "m", &b.ko, &data, "calls").unwrap();
    assert_eq!((hit.base, hit.addr()), (None, objdump(&b.ko, "calls").1));
    // Without a build-id in the .ko, srcversion tells.
    let obj = std::fs::read(&b.obj).unwrap();
    let root = sysfs(
        &b.dir,
        &loaded_sections(),
        Some(&note),
        Some(SRCVERSION),
        "1",
    );
    let hit = modsect::locate(&ModuleSysfs::new(&root), "m", &b.obj, &obj, "reads").unwrap();
    assert_eq!(hit.checked, "srcversion");
}

#[test]
fn another_build_is_refused_naming_both() {
    let b = build("wrong");
    let data = std::fs::read(&b.ko).unwrap();
    let mut note = build_id_note(&b.ko, &b.dir);
    let file_hex = buildid::hex(buildid::parse_notes(&note).unwrap());
    let last = note.len() - 1;
    note[last] ^= 0xff;
    let loaded_hex = buildid::hex(buildid::parse_notes(&note).unwrap());
    let root = sysfs(
        &b.dir,
        &loaded_sections(),
        Some(&note),
        Some(SRCVERSION),
        "1",
    );
    let e = modsect::locate(&ModuleSysfs::new(&root), "m", &b.ko, &data, "reads").unwrap_err();
    assert!(
        matches!(&e, Error::WrongModule(w) if w.what == "build-id" && w.module == "m"),
        "{e}"
    );
    let m = e.to_string();
    assert!(
        m.contains(&format!(
            "build-id {file_hex} is not that of the loaded module `m` ({loaded_hex}"
        )) && m.contains("m.ko"),
        "{m}"
    );
    // srcversion where the .ko has no build-id.
    let obj = std::fs::read(&b.obj).unwrap();
    let root = sysfs(
        &b.dir,
        &loaded_sections(),
        None,
        Some("FFFFFFFFFFFFFFFFFFFFFFF"),
        "1",
    );
    let m = locate_err(&root, "m", &b.obj, &obj, "reads");
    assert!(
        m.contains(&format!(
            "srcversion {SRCVERSION} is not that of the loaded module `m` (FFFFFFFFFFFFFFFFFFFFFFF"
        )),
        "{m}"
    );
    // Nothing to compare: refused, saying what each side has.
    let root = sysfs(&b.dir, &loaded_sections(), None, None, "1");
    let m = locate_err(&root, "m", &b.obj, &obj, "reads");
    assert!(
        m.contains("cannot tell whether") && m.contains("neither a build-id nor a srcversion"),
        "{m}"
    );
}

#[test]
fn hidden_missing_and_unknown_sections_are_explained() {
    let b = build("hidden");
    let data = std::fs::read(&b.ko).unwrap();
    let note = build_id_note(&b.ko, &b.dir);
    let zero = vec![(".bss", "0x0000000000000000\n".to_string())];
    let root = sysfs(&b.dir, &zero, Some(&note), None, "2");
    let m = locate_err(&root, "m", &b.ko, &data, "reads");
    assert!(
        m.contains("sections/.bss reads 0: the kernel hides module addresses")
            && m.contains("kernel.kptr_restrict = 2 hides them from everyone, root included"),
        "{m}"
    );
    // .data is not among the loaded sections: say so and list those there are.
    let m = locate_err(&root, "m", &b.ko, &data, "writes");
    assert!(
        m.contains("the loaded module has no section `.data`") && m.contains("it lists .bss"),
        "{m}"
    );
    let e = ModuleSysfs::new(&root)
        .section_base("nosuch", ".bss")
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Located {
                fault: LocateFault::NotLoaded { .. },
                ..
            }
        ),
        "{e}"
    );
    let m = e.to_string();
    assert!(m.contains("module `nosuch` is not loaded"), "{m}");
    let m = locate_err(&root, "nosuch", &b.ko, &data, "reads");
    assert!(m.contains("module `nosuch` is not loaded"), "{m}");
    let bad = vec![(".bss", "zzz\n".to_string())];
    let root = sysfs(&b.dir, &bad, Some(&note), None, "1");
    let m = locate_err(&root, "m", &b.ko, &data, "reads");
    assert!(m.contains("`zzz` is not a hex address"), "{m}");
}

/// Memory of the made-up loaded module: `reads` = 41, `writes` = 7, `__this_module.percpu`,
/// `__per_cpu_offset[]` and each CPU's `calls` (= 10 + n).
fn memory(ko: &Path) -> VecMemory {
    let mut bytes = vec![0u8; 0x7000];
    let put = |bytes: &mut Vec<u8>, at: u64, v: u64| {
        let i = (at - MEM) as usize;
        bytes[i..i + 8].copy_from_slice(&v.to_le_bytes());
    };
    put(&mut bytes, BSS + objdump(ko, "reads").1, 41);
    put(&mut bytes, DATA + objdump(ko, "writes").1, 7);
    // struct module { int state; char name[12]; void *percpu; ... }: percpu at 16.
    put(
        &mut bytes,
        THIS_MODULE + objdump(ko, "__this_module").1 + 16,
        PCPU_PTR,
    );
    let calls = objdump(ko, "calls").1;
    for n in 0..2 {
        put(
            &mut bytes,
            PCPU_OFFSETS + 8 * n,
            cpu_area(n).wrapping_sub(PCPU_PTR),
        );
        put(&mut bytes, cpu_area(n) + calls, 10 + n);
    }
    VecMemory { base: MEM, bytes }
}

fn session(b: &Built, root: PathBuf, locate: Locate, kallsyms: String) -> Session {
    let opts = Options {
        module_files: vec![b.ko.clone()],
        sysfs_root: Some(root),
        locate,
        ..Options::default()
    };
    let mut s = Session::with_vmlinux_btf(
        opts,
        None,
        Box::new(move || ksyms::Ksyms::parse(kallsyms.as_bytes())),
    )
    .expect("session");
    s.cpus = vec![0, 1];
    s
}

/// kallsyms as on a kernel without CONFIG_KALLSYMS_ALL: the module's text, no data.
fn text_only() -> String {
    format!(
        "ffffffff81000000 T _stext\n{:016x} t poke\t[m]\n{PCPU_OFFSETS:016x} D __per_cpu_offset\n",
        MEM + 0x8000
    )
}

#[test]
fn a_session_reads_module_variables_kallsyms_does_not_list() {
    let b = build("session");
    let note = build_id_note(&b.ko, &b.dir);
    let root = sysfs(&b.dir, &loaded_sections(), Some(&note), None, "1");
    let mem = memory(&b.ko);
    let mut s = session(&b, root.clone(), Locate::Auto, text_only());
    let a = s.eval("m:reads", &mem).unwrap();
    assert_eq!(
        (&a.value, a.addr, a.located, a.ty.as_str()),
        (
            &Value::Unsigned(41),
            Some(BSS + objdump(&b.ko, "reads").1),
            "sections",
            "long long unsigned int"
        )
    );
    assert!(a.type_from.contains("DWARF of"), "{}", a.type_from);
    assert!(
        a.located_how.contains(".bss+0x") && a.located_how.contains("build-id checked"),
        "{}",
        a.located_how
    );
    let a = s.eval("m:writes", &mem).unwrap();
    assert_eq!(a.value, Value::Unsigned(7));
    // The module's per-CPU variable: __this_module.percpu + its offset, per CPU.
    let a = s.eval("m:calls@cpu1", &mem).unwrap();
    assert_eq!((&a.value, a.located), (&Value::Unsigned(11), "sections"));
    assert!(
        a.located_how.contains("__this_module.percpu"),
        "{}",
        a.located_how
    );
    assert_eq!(
        s.eval("m:calls@sum", &mem).unwrap().value,
        Value::Unsigned(21)
    );
    // --watch plans the same place.
    let p = s.plan("m:reads", &mem).unwrap();
    assert_eq!(s.read_plan(&p, &mem).unwrap().located, "sections");
    // Unknown names: close names from the .ko.
    let e = s.eval("m:raeds", &mem).unwrap_err().to_string();
    assert!(e.contains("close names: reads"), "{e}");
    // --locate kallsyms keeps the old refusal, saying why.
    let mut s = session(&b, root, Locate::Kallsyms, text_only());
    let e = s.eval("m:reads", &mem).unwrap_err().to_string();
    assert!(
        e.contains("cannot be located by name here") && e.contains("--locate kallsyms"),
        "{e}"
    );
}

#[test]
fn kallsyms_and_sections_agree_where_both_locate() {
    let b = build("oracle");
    let note = build_id_note(&b.ko, &b.dir);
    let root = sysfs(&b.dir, &loaded_sections(), Some(&note), None, "1");
    let mem = memory(&b.ko);
    let reads = BSS + objdump(&b.ko, "reads").1;
    let all = format!("{}{reads:016x} b reads\t[m]\n", text_only());
    let mut k = session(&b, root.clone(), Locate::Auto, all.clone());
    let mut sct = session(&b, root, Locate::Sections, all);
    let (a, c) = (
        k.eval("m:reads", &mem).unwrap(),
        sct.eval("m:reads", &mem).unwrap(),
    );
    assert_eq!((a.located, c.located), ("kallsyms", "sections"));
    assert_eq!((a.addr, &a.value), (c.addr, &c.value));
    let e = sct.eval("jiffies", &mem).unwrap_err().to_string();
    assert!(
        e.contains("--locate sections locates a module's variables"),
        "{e}"
    );
}

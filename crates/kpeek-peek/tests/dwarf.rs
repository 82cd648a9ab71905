//! DWARF types from a relocatable object built here with the C compiler (`cc -g -c`, the same
//! kind of ELF file as a module's `.ko`: its debug sections need their relocations applied).

use std::path::PathBuf;
use std::process::Command;

use kpeek_peek::dwarf::{DwarfTypes, var_type};
use kpeek_peek::print::text;
use kpeek_peek::types::{TypeRef, Types};
use kpeek_peek::value::decode;

const SRC: &str = r#"
enum color { RED = 1, GREEN = 2, BLUE = -3 };
struct inner { unsigned short lo; unsigned short hi; };
struct sample {
    int a;
    unsigned int flag : 1;
    unsigned int level : 3;
    signed int delta : 4;
    char name[8];
    enum color c;
    union { long as_long; struct inner parts; };
    struct inner grid[2][3];
    struct sample *next;
};
static unsigned long long reads;
struct sample the_sample;
static const char *label = "x";
unsigned long long *use(void) { (void)label; return &reads; }
int bump(void) { static short opens; static int twice; int automatic = 1; return ++opens + ++twice + automatic; }
__attribute__((section(".data..percpu"))) unsigned long long calls;
int bump2(void) { static int twice; return ++twice; }
"#;

fn build() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kpeek-peek-dwarf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("sample.c");
    std::fs::write(&c, SRC).unwrap();
    let o = dir.join("sample.o");
    let st = Command::new("cc")
        .args(["-g", "-O0", "-c", "-o"])
        .arg(&o)
        .arg(&c)
        .status()
        .expect("cc (build-essential) is needed for this test");
    assert!(st.success());
    o
}

/// The first symbol of the object whose name starts with `prefix` (from `nm`).
fn object_symbol(o: &std::path::Path, prefix: &str) -> String {
    let out = Command::new("nm").arg(o).output().expect("nm (binutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .find(|n| n.starts_with(prefix))
        .unwrap_or_else(|| panic!("no symbol {prefix}* in {text}"))
        .to_string()
}

#[test]
fn types_of_a_relocatable_object() {
    let o = build();
    let d = DwarfTypes::open(&o).unwrap();
    let mut types = Types::new();
    let reads_ty = var_type(&d, "reads").expect("static variable reads");
    let sample_ty = var_type(&d, "the_sample").expect("global the_sample");
    assert!(var_type(&d, "nope").is_none());
    // A function's static variable, by the name the symbol table gives it (`opens.N`).
    let sym = object_symbol(&o, "opens.");
    let opens_ty = var_type(&d, &sym).expect("function-static opens");
    // `twice` is static in two functions: no one type for `twice.N`; automatic ones are no symbols.
    assert!(var_type(&d, &object_symbol(&o, "twice.")).is_none());
    assert!(var_type(&d, "automatic.0").is_none());
    // A variable of the per-CPU section (what DEFINE_PER_CPU makes), and ones outside it.
    assert!(d.is_percpu("calls"));
    assert!(!d.is_percpu("reads") && !d.is_percpu("the_sample") && !d.is_percpu("nope"));
    let src = types.add(Box::new(d));
    let reads = TypeRef { src, id: reads_ty };
    let sample = TypeRef { src, id: sample_ty };
    assert_eq!(types.name(reads), "long long unsigned int");
    assert_eq!(types.name(TypeRef { src, id: opens_ty }), "short int");
    assert_eq!(types.name(sample), "struct sample");
    let size = types.size_of(sample).unwrap();
    assert_eq!(size, 4 + 4 + 8 + 4 + 4 + 8 + 24 + 8);

    // Member places, bitfields included.
    let (t, off, bits) = types.member(sample, "level").unwrap().unwrap();
    assert_eq!((off, bits), (32 + 1, Some(3)), "{}", types.name(t));
    // Through the anonymous union.
    let (t, off, _) = types.member(sample, "parts").unwrap().unwrap();
    assert_eq!((types.name(t).as_str(), off), ("struct inner", 24 * 8));
    let (t, off, _) = types.member(t, "hi").unwrap().unwrap();
    assert_eq!((types.name(t).as_str(), off), ("short unsigned int", 16));
    let (t, _, _) = types.member(sample, "grid").unwrap().unwrap();
    assert_eq!(types.name(t), "struct inner[2][3]");
    let (t, _, _) = types.member(sample, "next").unwrap().unwrap();
    assert_eq!(types.name(t), "struct sample *");
    assert_eq!(
        types
            .parse_type("enum color")
            .map(|r| types.name(r))
            .unwrap(),
        "enum color"
    );

    // Decode a hand-made value.
    let mut b = vec![0u8; size as usize];
    b[0..4].copy_from_slice(&(-7i32).to_le_bytes());
    b[4] = 1 | (5 << 1) | (0xe << 4); // flag=1, level=5, delta=-2
    b[5..10].copy_from_slice(b"hello"); // char[] right after the bitfields
    b[16..20].copy_from_slice(&(-3i32).to_le_bytes());
    b[24..32].copy_from_slice(&0x0002_0001u64.to_le_bytes());
    b[32 + 4 * 5..32 + 4 * 5 + 2].copy_from_slice(&9u16.to_le_bytes()); // grid[1][2].lo
    b[56..64].copy_from_slice(&0xffff_ffff_8200_0000u64.to_le_bytes());
    let v = decode(&types, sample, &b, None, 2).unwrap();
    let t = text(&v, &|a| {
        (a == 0xffff_ffff_8200_0000).then(|| "the_sample".to_string())
    });
    for want in [
        "a = -7,",
        "flag = 1,",
        "level = 5,",
        "delta = -2,",
        "name = \"hello\",",
        "c = BLUE (-3),",
        "as_long = 131073,",
        "parts = {\n    lo = 1,\n    hi = 2\n  },",
        "next = 0xffffffff82000000 <the_sample>",
    ] {
        assert!(t.contains(want), "{want:?} not in\n{t}");
    }
    assert!(t.contains("lo = 9"), "{t}");
    std::fs::remove_dir_all(o.parent().unwrap()).unwrap();
}

#[test]
fn a_file_without_dwarf_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("kpeek-peek-nodwarf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("x.c");
    std::fs::write(&c, "int x;\n").unwrap();
    let o = dir.join("x.o");
    assert!(
        Command::new("cc")
            .args(["-c", "-o"])
            .arg(&o)
            .arg(&c)
            .status()
            .unwrap()
            .success()
    );
    let e = DwarfTypes::open(&o).err().expect("no DWARF").to_string();
    assert!(e.contains("x.o") && e.contains("no DWARF"), "{e}");
    let e = DwarfTypes::open(&c).err().expect("not ELF").to_string();
    assert!(e.contains("not an ELF file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `.ko` compressed as distributions ship modules (xz with CRC32 as kbuild's modules_install
/// does it, zstd, gzip) reads the same as the plain file.
#[test]
fn compressed_objects_read_like_plain_ones() {
    let o = build();
    let plain = DwarfTypes::open(&o).unwrap();
    let mut want: Vec<(String, u64)> = plain.variables().map(|(n, t)| (n.to_string(), t)).collect();
    want.sort();
    assert!(want.iter().any(|(n, _)| n == "reads"));
    for (ext, cmd, args) in [
        (
            "xz",
            "xz",
            &["--check=crc32", "--lzma2=dict=1MiB", "-c"][..],
        ),
        ("zst", "zstd", &["-q", "-c"][..]),
        ("gz", "gzip", &["-c"][..]),
    ] {
        let out = Command::new(cmd)
            .args(args)
            .arg(&o)
            .output()
            .unwrap_or_else(|e| {
                panic!("{cmd} is needed for this test (scripts/setup installs it): {e}")
            });
        assert!(out.status.success(), "{cmd} failed");
        let z = o.with_file_name(format!("sample.ko.{ext}"));
        std::fs::write(&z, &out.stdout).unwrap();
        let d = DwarfTypes::open(&z).unwrap_or_else(|e| panic!("{ext}: {e}"));
        let mut got: Vec<(String, u64)> = d.variables().map(|(n, t)| (n.to_string(), t)).collect();
        got.sort();
        assert_eq!(got, want, "{ext}");
        assert!(d.is_percpu("calls"), "{ext}");
        assert_eq!(kpeek_peek::dwarf::module_name(&z), "sample");
        // Cut short: an error naming the file, not a panic.
        std::fs::write(&z, &out.stdout[..out.stdout.len() / 2]).unwrap();
        let e = DwarfTypes::open(&z)
            .err()
            .expect("a cut stream fails")
            .to_string();
        assert!(e.contains(&format!("sample.ko.{ext}")), "{ext}: {e}");
    }
}

/// A linked executable with a build-id, as a vmlinux is (no relocations left to apply).
fn build_linked(build_id: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kpeek-peek-dwarf-linked-{}-{build_id}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("vmlinux.c");
    std::fs::write(
        &c,
        format!("{SRC}\nint main(void) {{ return bump() + bump2(); }}\n"),
    )
    .unwrap();
    let exe = dir.join("vmlinux");
    let st = Command::new("cc")
        .args(["-g", "-O0", &format!("-Wl,--build-id={build_id}"), "-o"])
        .arg(&exe)
        .arg(&c)
        .status()
        .expect("cc (build-essential) is needed for this test");
    assert!(st.success());
    exe
}

#[test]
fn a_linked_vmlinux_types_its_globals_and_must_be_the_running_build() {
    let id = "0x00112233445566778899aabbccddeeff01234567";
    let exe = build_linked(id);
    let want: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&id[2 + 2 * i..4 + 2 * i], 16).unwrap())
        .collect();
    let d = DwarfTypes::open_vmlinux(&exe, Ok(want.clone())).expect("the matching build");
    assert_eq!(d.build_id(), Some(&want[..]));
    let sample_ty = var_type(&d, "the_sample").expect("global the_sample");
    let reads_ty = var_type(&d, "reads").expect("static reads");
    let mut types = Types::new();
    let src = types.add(Box::new(d));
    let sample = TypeRef { src, id: sample_ty };
    assert_eq!(types.name(sample), "struct sample");
    assert_eq!(
        types.name(TypeRef { src, id: reads_ty }),
        "long long unsigned int"
    );
    let (t, off, _) = types.member(sample, "name").unwrap().unwrap();
    assert_eq!((types.name(t).as_str(), off), ("char[8]", 40));

    // Another build: refused, naming both build-ids.
    let mut other = want.clone();
    other[0] ^= 0xff;
    let err = DwarfTypes::open_vmlinux(&exe, Ok(other.clone()))
        .err()
        .expect("another build is refused")
        .to_string();
    assert!(
        err.contains(&id[2..]) && err.contains(&kpeek_peek::buildid::hex(&other)),
        "{err}"
    );
    assert!(err.contains("not the running kernel's"), "{err}");
    // The running kernel's build-id unknown: refused, saying why.
    let err = DwarfTypes::open_vmlinux(
        &exe,
        Err(kpeek_peek::buildid::RunningError::Read(
            std::io::Error::other("gone"),
        )),
    )
    .err()
    .expect("an unverifiable build is refused")
    .to_string();
    assert!(
        err.ends_with(
            "cannot tell whether this vmlinux is the running kernel's build \
             (/sys/kernel/notes: gone): its debug info is not used"
        ),
        "{err}"
    );
    // No build-id at all: refused.
    let none = build_linked("none");
    let err = DwarfTypes::open_vmlinux(&none, Ok(want))
        .err()
        .expect("a vmlinux without build-id is refused")
        .to_string();
    assert!(err.contains("no build-id note"), "{err}");
    for p in [exe, none] {
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}

/// A fake 32-bit kernel's memory: `head` at 0xc1000000 points at `first`, whose `next` points at
/// `second`; pointers are 4 bytes, as in a 32-bit module's DWARF.
struct Mem32(Vec<(u64, Vec<u8>)>);

impl kpeek_peek::walk::Memory for Mem32 {
    fn name(&self) -> &'static str {
        "test"
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), kpeek_peek::error::Error> {
        for (at, bytes) in &self.0 {
            if addr >= *at && addr + buf.len() as u64 <= at + bytes.len() as u64 {
                let o = (addr - at) as usize;
                buf.copy_from_slice(&bytes[o..o + buf.len()]);
                return Ok(());
            }
        }
        Err(kpeek_peek::error::Error::Fault {
            addr,
            len: buf.len(),
            what: String::new(),
        })
    }
}

#[test]
fn a_32_bit_objects_pointers_are_4_bytes() {
    let dir = std::env::temp_dir().join(format!("kpeek-peek-dwarf32-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("node.c");
    std::fs::write(
        &c,
        "struct node { struct node *next; unsigned long v; };\n\
         struct node second = { 0, 7 };\nstruct node first = { &second, 5 };\n\
         struct node *head = &first;\n",
    )
    .unwrap();
    let o = dir.join("node.o");
    let st = Command::new("cc")
        .args(["-m32", "-g", "-O0", "-c", "-o"])
        .arg(&o)
        .arg(&c)
        .status()
        .expect("cc (build-essential) is needed for this test");
    assert!(
        st.success(),
        "cc -m32 failed: gcc cannot build 32-bit objects here"
    );
    let d = DwarfTypes::open(&o).unwrap();
    let head_ty = var_type(&d, "head").expect("head");
    let mut types = Types::new();
    assert_eq!(types.ptr_size(), 8, "64-bit until a source says otherwise");
    let src = types.add(Box::new(d));
    assert_eq!(types.ptr_size(), 4);
    let head = TypeRef { src, id: head_ty };
    let node = types.parse_type("struct node").unwrap();
    assert_eq!(types.size_of(head).unwrap(), 4);
    assert_eq!(types.size_of(node).unwrap(), 8);
    let (_, off, _) = types.member(node, "v").unwrap().unwrap();
    assert_eq!(off, 32);

    // head -> first -> second, 4-byte pointers read and followed.
    let (head_at, first_at, second_at) = (0xc100_0000u64, 0xc100_0100u64, 0xc100_0200u64);
    let word = |v: u64| (v as u32).to_le_bytes().to_vec();
    let mem = Mem32(vec![
        (head_at, word(first_at)),
        (first_at, [word(second_at), word(5)].concat()),
        (second_at, [word(0), word(7)].concat()),
    ]);
    let expr = kpeek_peek::expr::Expr::parse("head->next->v").unwrap();
    let start = kpeek_peek::walk::Place {
        addr: head_at,
        ty: head,
        bits: None,
    };
    let place = kpeek_peek::walk::walk(&types, &mem, &expr, 0, start).unwrap();
    assert_eq!(place.addr, second_at + 4);
    let mut b = [0u8; 4];
    kpeek_peek::walk::Memory::read(&mem, place.addr, &mut b).unwrap();
    let v = decode(&types, place.ty, &b, None, 1).unwrap();
    assert_eq!(text(&v, &|_| None), "7");
    // The pointer itself decodes from its 4 bytes.
    let v = decode(&types, head, &word(first_at), None, 1).unwrap();
    assert_eq!(text(&v, &|_| None), "0xc1000100");
    std::fs::remove_dir_all(&dir).unwrap();
}

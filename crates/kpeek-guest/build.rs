//! Embeds README.md and docs/*.md, whose ```` ```console guest ```` examples
//! `kpeek-guest doc-examples` runs: `$OUT_DIR/docs.rs` holds `DOCS: &[(name, text)]`.

use std::path::Path;
use std::{env, fs};

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let root = root.canonicalize().expect("the repository root");
    let docs = root.join("docs");
    let mut pages: Vec<String> = fs::read_dir(&docs)
        .expect("docs/ must exist")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    pages.sort();
    pages.insert(0, "README.md".to_string());
    // A page added or removed changes the directory.
    println!("cargo:rerun-if-changed={}", docs.display());
    let mut out = String::from("pub const DOCS: &[(&str, &str)] = &[\n");
    for p in &pages {
        let path = root.join(p);
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({p:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("docs.rs"),
        out,
    )
    .unwrap();
}

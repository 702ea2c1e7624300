//! Embeds the code identity of every stage kind (see `build/code_id.rs`) into the binary, so a
//! pipeline's lock can tell stages computed by other code.

#[path = "build/code_id.rs"]
mod code_id;

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let codes = code_id::kind_codes(root).expect("reading the sources for code ids");
    for dir in ["src", "crates", "build", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={dir}");
    }
    let table: String = codes
        .iter()
        .map(|(kind, id)| format!("    ({kind:?}, {id:?}),\n"))
        .collect();
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("code_ids.rs");
    std::fs::write(
        out,
        format!("/// `(kind, code id)`, sorted by kind.\npub const KIND_CODES: &[(&str, &str)] = &[\n{table}];\n"),
    )
    .expect("writing code_ids.rs");
}

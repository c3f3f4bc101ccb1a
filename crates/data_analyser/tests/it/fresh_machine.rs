//! README command 1 on a fresh machine (issue 19): `cargo run --release -p data_analyser
//! -- demo` must build with the Rust toolchain alone. Building from a clean target
//! folder takes longer than CI can spend on it, so this checks the cause instead: no
//! crate in the build graph runs cmake (CharLS did, for JPEG-LS; pure_jpegls replaced
//! it). A real clean build without cmake on PATH is described in README.md.

use std::process::Command;

#[test]
fn nothing_in_the_build_of_the_readme_commands_needs_cmake() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--manifest-path",
            workspace,
            "--workspace",
            "--locked",
        ])
        // This machine's target only: --offline cannot fetch other platforms' crates.
        .args(["--offline", "-e", "normal,build,dev"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{tree}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tree.contains("pure_jpegls "), "JPEG-LS is decoded: {tree}");
    let needs_cmake: Vec<&str> = tree
        .lines()
        .filter(|l| l.starts_with("cmake ") || l.starts_with("charls"))
        .collect();
    assert!(
        needs_cmake.is_empty(),
        "these crates need cmake to build: {needs_cmake:?}"
    );
}

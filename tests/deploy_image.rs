//! The container image's build, checked without a container engine: the build context admits
//! every file the build copies and every file the sources embed; the dependency layer builds
//! from Cargo.toml and Cargo.lock alone (the placeholder script covers every declared target);
//! the image's labels and versions follow the crate.

mod deploy_support;

use deploy_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The paths .dockerignore lets into the build context. It is written as "exclude everything,
/// then admit these": the test reads only that form.
fn admitted() -> Vec<String> {
    let text = read(".dockerignore");
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    assert_eq!(
        lines.next(),
        Some("*"),
        ".dockerignore starts by excluding everything (this test reads only that form)"
    );
    lines
        .map(|l| {
            l.strip_prefix('!')
                .unwrap_or_else(|| panic!(".dockerignore: {l:?} is not an `!` exception"))
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

fn is_admitted(path: &str, admitted: &[String]) -> bool {
    admitted
        .iter()
        .any(|a| path == a || path.starts_with(&format!("{a}/")))
}

/// The sources of the build stage's COPY instructions from the build context.
fn context_copies(d: &Dockerfile) -> Vec<String> {
    d.stage("build")
        .all("COPY")
        .iter()
        .filter(|c| !c.args.starts_with("--from"))
        .flat_map(|c| {
            let words: Vec<&str> = c.args.split_whitespace().collect();
            words[..words.len() - 1]
                .iter()
                .map(|w| w.trim_end_matches('/').to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every `include_bytes!` / `include_str!` path in src/, relative to the repository root.
fn embedded_files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo_file("src"), &mut files);
    let mut embedded = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for mac in ["include_bytes!(\"", "include_str!(\""] {
            for (i, _) in text.match_indices(mac) {
                let rest = &text[i + mac.len()..];
                let rel = &rest[..rest.find('"').unwrap()];
                let abs = normalise(&f.parent().unwrap().join(rel));
                let from_root = abs
                    .strip_prefix(root())
                    .unwrap_or_else(|_| panic!("{} embeds a file outside the crate", f.display()));
                embedded.push(from_root.to_string_lossy().into_owned());
            }
        }
    }
    embedded
}

#[test]
fn the_build_context_holds_what_the_build_copies_and_the_sources_embed() {
    let d = Dockerfile::load();
    let admitted = admitted();
    let copies = context_copies(&d);
    assert!(copies.contains(&"Cargo.toml".to_string()));
    assert!(copies.contains(&"Cargo.lock".to_string()));
    assert!(copies.contains(&"src".to_string()));
    for c in &copies {
        assert!(repo_file(c).exists(), "COPY {c}: no such file");
        assert!(is_admitted(c, &admitted), ".dockerignore leaves out {c}");
    }
    let embedded = embedded_files();
    for e in &embedded {
        assert!(repo_file(e).is_file(), "embedded {e} is missing");
        assert!(
            copies
                .iter()
                .any(|c| e == c || e.starts_with(&format!("{c}/"))),
            "the build does not COPY {e}, which the sources embed"
        );
        assert!(is_admitted(e, &admitted), ".dockerignore leaves out {e}");
    }
    // The Dockerfile copies no build script.
    assert!(
        !repo_file("build.rs").exists(),
        "build.rs: copy it in the Dockerfile"
    );
    let manifest = read("Cargo.toml");
    assert!(
        !manifest
            .lines()
            .any(|l| l.trim_start().starts_with("build ") || l.trim_start().starts_with("build=")),
        "Cargo.toml names a build script: copy it in the Dockerfile"
    );
    assert!(!is_admitted("target", &admitted) && !is_admitted(".git", &admitted));
}

#[test]
fn the_dependency_layer_builds_from_the_manifest_alone() {
    let d = Dockerfile::load();
    let build = d.stage("build");
    let stub = "scripts/docker-stub-crate.sh";
    assert!(
        build.all("COPY").iter().any(|c| c.args.starts_with(stub)),
        "the build stage copies {stub}"
    );
    let first_run = &build.all("RUN")[0].args;
    assert!(
        first_run.contains("docker-stub-crate .") && first_run.contains("cargo build"),
        "the first RUN writes the placeholders, then builds: {first_run}"
    );

    // What the dependency layer sees: the manifest, the lock file, and the placeholders.
    let dir = tempfile::tempdir().unwrap();
    for f in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(repo_file(f), dir.path().join(f)).unwrap();
    }
    let out = Command::new("sh")
        .arg(repo_file(stub))
        .arg(dir.path())
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{stub}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("src/main.rs").is_file());
    assert!(dir.path().join("src/lib.rs").is_file());

    // Cargo accepts every target of that manifest; asking for a binary that does not exist
    // stops it right after, before anything is compiled.
    let out = Command::new(env!("CARGO"))
        .args(["build", "--release", "--offline", "--locked"])
        .args(["--bin", "fluxprobe-no-such-binary"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no bin target named `fluxprobe-no-such-binary`"),
        "the dependency layer would not build:\n{stderr}"
    );
    assert!(stderr.contains("fluxprobe"), "{stderr}");
}

#[test]
fn the_placeholder_script_covers_declared_targets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\n\n[lib]\npath = \"src/lib.rs\"\n\n[[bench]]\nname = \"load\"\nharness = false\n\n[[example]]\nname = \"ex\"\npath = \"examples/ex/main.rs\"\n\n[[bin]]\nname = \"tool\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "// kept\n").unwrap();
    let st = Command::new("sh")
        .arg(repo_file("scripts/docker-stub-crate.sh"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    for f in [
        "benches/load.rs",
        "examples/ex/main.rs",
        "src/bin/tool.rs",
        "src/main.rs",
    ] {
        let text = std::fs::read_to_string(dir.path().join(f))
            .unwrap_or_else(|_| panic!("no placeholder {f}"));
        assert!(text.contains("fn main"), "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
        "// kept\n",
        "existing files are left alone"
    );
}

#[test]
fn the_image_labels_and_versions_follow_the_crate() {
    let d = Dockerfile::load();
    let rt = d.runtime();
    let mut labels = std::collections::BTreeMap::new();
    for l in rt.all("LABEL") {
        labels.extend(key_values(&l.args));
    }
    for k in ["title", "description", "version", "revision", "licenses"] {
        assert!(
            labels.contains_key(&format!("org.opencontainers.image.{k}")),
            "no org.opencontainers.image.{k} label"
        );
    }
    assert_eq!(
        labels["org.opencontainers.image.licenses"],
        env!("CARGO_PKG_LICENSE")
    );
    // ${FLUXPROBE_VERSION} defaults to the crate's version.
    let mut args = std::collections::BTreeMap::new();
    for a in rt.all("ARG") {
        args.extend(key_values(&a.args));
    }
    assert_eq!(
        labels["org.opencontainers.image.version"],
        "${FLUXPROBE_VERSION}"
    );
    assert_eq!(args["FLUXPROBE_VERSION"], env!("CARGO_PKG_VERSION"));

    // The builder is a pinned Rust release no older than the crate's rust-version.
    let rust = &d.global_args["RUST_VERSION"];
    let parts: Vec<u32> = rust
        .split('.')
        .map(|p| p.parse().expect("RUST_VERSION is numeric"))
        .collect();
    assert_eq!(parts.len(), 3, "RUST_VERSION {rust} pins a patch release");
    let min: Vec<u32> = env!("CARGO_PKG_RUST_VERSION")
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        parts[..2] >= min[..2],
        "Rust {rust} is older than rust-version"
    );
    assert!(d.stage("build").from.contains("${RUST_VERSION}"));
}

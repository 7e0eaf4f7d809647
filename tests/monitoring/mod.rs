//! Shared by the alert-rule and dashboard tests: file access under the crate root, promtool,
//! PromQL scanning ([`promql`]) and the dashboards' queries ([`grafana`]).
#![allow(dead_code)]

pub mod grafana;
pub mod promql;

use std::path::PathBuf;
use std::process::Command;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads a file under the crate root, with its path in the panic message.
pub fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Files with the given extension directly in a directory under the crate root, sorted.
pub fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = root().join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

/// The promtool binary (`PROMTOOL` or `promtool` on PATH), or None with the reason printed.
/// With `CI` set, a missing promtool is a failure, not a skip.
pub fn promtool() -> Option<String> {
    let bin = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() => Some(bin),
        other => {
            let why = match other {
                Ok(o) => format!("`{bin} --version` exited with {}", o.status),
                Err(e) => format!("`{bin}` not runnable: {e}"),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is required when CI is set: {why}"
            );
            eprintln!(
                "skipping: {why} (install with `apt-get install prometheus`, or set PROMTOOL)"
            );
            None
        }
    }
}

/// Runs promtool with the arguments from the crate root; panics with its output on failure.
pub fn run_promtool(bin: &str, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(root())
        .output()
        .expect("running promtool");
    assert!(
        out.status.success(),
        "promtool {} failed:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Shared by the deploy tests: reading the repository's deployment files (YAML as JSON values,
//! the Dockerfile's instructions, compose short-syntax mounts and ports) so that the tests can
//! compare them with what fluxprobe serves and reads.

#![allow(dead_code)] // each test binary uses its own part

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, by its path from the root.
pub fn repo_file(rel: &str) -> PathBuf {
    root().join(rel)
}

pub fn read(rel: &str) -> String {
    let p = repo_file(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// A YAML file as a JSON value.
pub fn yaml(rel: &str) -> Value {
    yaml_text(&read(rel), rel)
}

pub fn yaml_text(text: &str, what: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
}

/// The string at a JSON pointer, or a panic naming the file and the pointer.
pub fn str_at<'a>(v: &'a Value, pointer: &str, what: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{what}: no string at {pointer}"))
}

pub fn array_at<'a>(v: &'a Value, pointer: &str, what: &str) -> &'a Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{what}: no list at {pointer}"))
}

/// A list of strings (e.g. a command line).
pub fn strings(v: &Value, what: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: not a list"))
        .iter()
        .map(|s| match s {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// The port of a `host:port` address.
pub fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("{addr:?} has no port"))
}

/// The port of `fluxprobe::serve::config::DEFAULT_LISTEN`.
pub fn default_listen_port() -> u16 {
    port_of(fluxprobe::serve::config::DEFAULT_LISTEN)
}

/// Whether a part of the repository that lands separately is there; prints why a check is
/// skipped when it is not.
pub fn present(rel: &str, check: &str) -> bool {
    if repo_file(rel).exists() {
        true
    } else {
        eprintln!("skipping {check}: {rel} is not in this tree");
        false
    }
}

// ---- Dockerfile -------------------------------------------------------------------------------

/// One instruction: its keyword (upper case) and the rest of its logical line.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// One build stage: its FROM line and its instructions.
#[derive(Debug, Clone)]
pub struct Stage {
    pub from: String,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn all(&self, keyword: &str) -> Vec<&Instruction> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == keyword)
            .collect()
    }

    /// The last instruction of a kind (the one in force).
    pub fn last(&self, keyword: &str) -> Option<&Instruction> {
        self.instructions
            .iter()
            .rev()
            .find(|i| i.keyword == keyword)
    }

    /// ENV and ARG defaults of the stage, KEY=value pairs.
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for i in self.all("ENV") {
            for (k, v) in key_values(&i.args) {
                m.insert(k, v);
            }
        }
        m
    }
}

/// A parsed Dockerfile: global ARGs (before the first FROM) and the stages.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub global_args: BTreeMap<String, String>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    pub fn load() -> Dockerfile {
        Dockerfile::parse(&read("Dockerfile"))
    }

    /// Joins continuation lines, drops comments and parser directives, splits into stages.
    pub fn parse(text: &str) -> Dockerfile {
        let mut logical = Vec::new();
        let mut cur = String::new();
        for line in text.lines() {
            let t = line.trim();
            if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
                continue;
            }
            if !cur.is_empty() && t.starts_with('#') {
                continue; // a comment inside a continued instruction
            }
            if let Some(head) = t.strip_suffix('\\') {
                cur.push_str(head.trim_end());
                cur.push(' ');
            } else {
                cur.push_str(t);
                logical.push(std::mem::take(&mut cur));
            }
        }
        if !cur.trim().is_empty() {
            logical.push(cur);
        }
        let mut global_args = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        for l in logical {
            let (kw, rest) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
            let ins = Instruction {
                keyword: kw.to_ascii_uppercase(),
                args: rest.trim().to_string(),
            };
            if ins.keyword == "FROM" {
                stages.push(Stage {
                    from: ins.args,
                    instructions: Vec::new(),
                });
            } else if let Some(s) = stages.last_mut() {
                s.instructions.push(ins);
            } else if ins.keyword == "ARG" {
                global_args.extend(key_values(&ins.args));
            }
        }
        Dockerfile {
            global_args,
            stages,
        }
    }

    /// The stage the image is made of (the last one).
    pub fn runtime(&self) -> &Stage {
        self.stages.last().expect("the Dockerfile has a FROM")
    }

    /// A stage by its `AS` name.
    pub fn stage(&self, name: &str) -> &Stage {
        self.stages
            .iter()
            .find(|s| {
                s.from
                    .to_ascii_lowercase()
                    .ends_with(&format!(" as {}", name.to_ascii_lowercase()))
            })
            .unwrap_or_else(|| panic!("the Dockerfile has no stage {name:?}"))
    }

    /// An instruction in exec (JSON) form as its argument vector, of the runtime stage.
    pub fn exec_form(&self, keyword: &str) -> Vec<String> {
        let i = self
            .runtime()
            .last(keyword)
            .unwrap_or_else(|| panic!("the image has no {keyword}"));
        exec_json(&i.args)
            .unwrap_or_else(|| panic!("{keyword} {} is not in exec (JSON array) form", i.args))
    }

    /// HEALTHCHECK: its `--flag=value` options and its command in exec form.
    pub fn healthcheck(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let i = self
            .runtime()
            .last("HEALTHCHECK")
            .expect("the image has a HEALTHCHECK");
        let mut opts = BTreeMap::new();
        let mut rest = i.args.as_str();
        while let Some(r) = rest.strip_prefix("--") {
            let (opt, tail) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            opts.insert(k.to_string(), v.to_string());
            rest = tail.trim_start();
        }
        let cmd = rest
            .strip_prefix("CMD")
            .unwrap_or_else(|| panic!("HEALTHCHECK {} has no CMD", i.args))
            .trim();
        let argv = exec_json(cmd).unwrap_or_else(|| {
            panic!("HEALTHCHECK CMD {cmd} is not in exec form (a shell may not exist)")
        });
        (opts, argv)
    }
}

fn exec_json(s: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(s.trim()).ok()
}

/// `K=V K2="v 2"` (ENV, ARG, LABEL); a bare `K` gets an empty value.
pub fn key_values(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key, value));
    }
    out
}

// ---- compose ----------------------------------------------------------------------------------

/// A short-syntax bind mount `SOURCE:TARGET[:MODE]` of a compose service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// As written (relative to the compose file's directory).
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

pub fn mounts(service: &Value, what: &str) -> Vec<Mount> {
    let Some(list) = service.get("volumes") else {
        return Vec::new();
    };
    strings(list, what)
        .into_iter()
        .map(|v| {
            let parts: Vec<&str> = v.split(':').collect();
            assert!(
                parts.len() == 2 || parts.len() == 3,
                "{what}: volume {v:?} is not SOURCE:TARGET[:MODE]"
            );
            Mount {
                source: parts[0].to_string(),
                target: parts[1].to_string(),
                read_only: parts
                    .get(2)
                    .is_some_and(|m| m.split(',').any(|o| o == "ro")),
            }
        })
        .collect()
}

/// The mount whose target is `target`, if any.
pub fn mount_at<'a>(mounts: &'a [Mount], target: &str) -> Option<&'a Mount> {
    mounts.iter().find(|m| m.target == target)
}

/// The mount whose target holds the container path `path` (the mount itself or a directory
/// above it), with the path's remainder below the target.
pub fn mount_holding<'a>(mounts: &'a [Mount], path: &str) -> Option<(&'a Mount, String)> {
    mounts
        .iter()
        .filter_map(|m| {
            if path == m.target {
                Some((m, String::new()))
            } else {
                path.strip_prefix(&format!("{}/", m.target.trim_end_matches('/')))
                    .map(|rest| (m, rest.to_string()))
            }
        })
        .max_by_key(|(m, _)| m.target.len())
}

/// Published ports `[HOST_IP:]HOST:CONTAINER` → the container ports.
pub fn container_ports(service: &Value, what: &str) -> Vec<u16> {
    let Some(list) = service.get("ports") else {
        return Vec::new();
    };
    strings(list, what)
        .iter()
        .map(|p| {
            let container = p.rsplit(':').next().unwrap_or(p);
            let container = container.split('/').next().unwrap_or(container);
            container
                .parse()
                .unwrap_or_else(|_| panic!("{what}: port {p:?} has no container port"))
        })
        .collect()
}

/// A compose service's environment as a map (map or `K=V` list syntax).
pub fn environment(service: &Value) -> BTreeMap<String, String> {
    match service.get("environment") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The directory of the compose files.
pub const COMPOSE_DIR: &str = "deploy/compose";

/// A compose path (relative to deploy/compose) as a repository path, normalised.
pub fn compose_source(source: &str) -> PathBuf {
    normalise(&root().join(COMPOSE_DIR).join(source))
}

/// Resolves `.` and `..` without touching the file system.
pub fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

// ---- the CLI ----------------------------------------------------------------------------------

/// Parses a fluxprobe command line (without the program name) as the binary would.
pub fn parse_cli(args: &[String]) -> fluxprobe::cli::Cli {
    use clap::Parser;
    let argv = std::iter::once("fluxprobe".to_string()).chain(args.iter().cloned());
    fluxprobe::cli::Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("fluxprobe does not accept {args:?}: {e}"))
}

/// The default value of an option of a subcommand, from the CLI definition.
pub fn cli_default(subcommand: &str, arg: &str) -> String {
    use clap::CommandFactory;
    let cmd = fluxprobe::cli::Cli::command();
    let sub = cmd
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("no subcommand {subcommand}"));
    let a = sub
        .get_arguments()
        .find(|a| a.get_id() == arg)
        .unwrap_or_else(|| panic!("{subcommand} has no option {arg}"));
    a.get_default_values()
        .first()
        .unwrap_or_else(|| panic!("{subcommand} --{arg} has no default"))
        .to_string_lossy()
        .into_owned()
}

/// The environment variable an option of a subcommand reads.
pub fn cli_env(subcommand: &str, arg: &str) -> Option<String> {
    use clap::CommandFactory;
    let cmd = fluxprobe::cli::Cli::command();
    let sub = cmd.find_subcommand(subcommand)?;
    let a = sub.get_arguments().find(|a| a.get_id() == arg)?;
    a.get_env().map(|e| e.to_string_lossy().into_owned())
}

//! Keeps the architecture honest: reads the `use` lines and `crate::…` paths of every file under src/, resolves
//! each to the file that defines it (following `pub use` re-exports of a `mod.rs`), and checks that
//! - no two files import each other, directly or through a circle;
//! - arrows point one way between rooms (ARCHITECTURE.md): main → commands → config → cli, CI/tags, outputs,
//!   services (aws, registry, engine) → pure policy → shared helpers;
//! - inside the registry client, the transport never imports what sits on it, and image sources never import
//!   the transport or the push logic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A source file by its module path: `crate`, `crate::aws`, `crate::aws::session`, or `main`.
type Module = String;

struct Source {
    text: String,
}

fn sources() -> BTreeMap<Module, Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&root).expect("under src").with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let module = match parts.as_slice() {
                [only] if only == "lib" => "crate".to_string(),
                [only] if only == "main" => "main".to_string(),
                _ => format!("crate::{}", parts.join("::")),
            };
            let text = std::fs::read_to_string(&path).expect("read source");
            out.insert(module, Source { text });
        }
    }
    out
}

/// The text without line comments and without the unit-test module, which may reach anywhere.
fn code_of(text: &str) -> String {
    let cut = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..cut]
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a use tree such as `crate::{a, b::{c, d}}` into full paths.
fn expand_use_tree(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(&tree).to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|part| expand_use_tree(part).into_iter().map(move |p| format!("{prefix}{p}")))
        .collect()
}

/// Every path a file names: its `use` declarations (re-exports included) and inline `crate::`/`super::` paths.
fn referenced_paths(code: &str) -> (Vec<String>, Vec<String>) {
    let mut uses = Vec::new();
    let mut reexports = Vec::new();
    for statement in code.split(';') {
        let trimmed = statement.trim_start();
        let (is_pub, rest) = match trimmed.strip_prefix("pub use ") {
            Some(rest) => (true, rest),
            None => match trimmed.find("use ") {
                Some(0) => (false, &trimmed[4..]),
                _ => continue,
            },
        };
        for path in expand_use_tree(rest) {
            if is_pub { reexports.push(path) } else { uses.push(path) }
        }
    }
    for marker in ["crate::", "super::", "ecr_ship::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(marker) {
            let start = from + at;
            let end = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |n| start + n);
            uses.push(code[start..end].trim_end_matches(':').to_string());
            from = end.max(start + marker.len());
        }
    }
    (uses, reexports)
}

/// Turns a path relative to `module` (`self::`, `super::`, `crate::`, or a child module name) into an absolute one.
fn absolute(path: &str, module: &str, modules: &BTreeMap<Module, Source>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = module.split("::").collect();
    if module == "main" {
        return path.strip_prefix("ecr_ship::").map(|rest| format!("crate::{rest}"));
    }
    match segments.first().copied() {
        Some("crate") => return Some(segments.join("::")),
        Some("self") => {
            segments.remove(0);
        }
        Some("super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        Some(first) if modules.contains_key(&format!("{module}::{first}")) => {}
        _ => return None,
    }
    base.extend(segments);
    Some(base.join("::"))
}

/// The file that defines the item at `path`, following `pub use` re-exports of the module it lands in.
fn defining_module(path: &str, modules: &BTreeMap<Module, Source>, depth: usize) -> Option<Module> {
    let segments: Vec<&str> = path.split("::").collect();
    let mut current = "crate".to_string();
    for (index, segment) in segments.iter().enumerate().skip(1) {
        let child = format!("{current}::{segment}");
        if modules.contains_key(&child) {
            current = child;
            continue;
        }
        // The item is named in `current`: defined there, or re-exported from a child.
        if depth < 8
            && let Some(source) = modules.get(&current)
        {
            let (_, reexports) = referenced_paths(&code_of(&source.text));
            for reexport in reexports {
                let last = reexport.rsplit("::").next().unwrap_or_default();
                if (last == *segment || last == "*")
                    && let Some(target) = absolute(&reexport, &current, modules)
                {
                    let target = if last == "*" {
                        format!("{}::{}", target.trim_end_matches("::*"), segments[index..].join("::"))
                    } else {
                        format!("{target}::{}", segments[index + 1..].join("::"))
                    };
                    if let Some(found) = defining_module(target.trim_end_matches("::"), modules, depth + 1) {
                        return Some(found);
                    }
                }
            }
        }
        return Some(current);
    }
    Some(current)
}

/// Import edges between files (re-exports of a `mod.rs` are ownership, not imports, and are followed instead).
fn edges() -> (BTreeMap<Module, BTreeSet<Module>>, BTreeMap<Module, Source>) {
    let modules = sources();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, source) in &modules {
        let (uses, _) = referenced_paths(&code_of(&source.text));
        let targets = graph.entry(module.clone()).or_default();
        for path in uses {
            let Some(absolute) = absolute(&path, module, &modules) else { continue };
            if let Some(target) = defining_module(&absolute, &modules, 0)
                && target != *module
                && target != "crate"
            {
                targets.insert(target);
            }
        }
    }
    (graph, modules)
}

/// The room a file belongs to, and its rank: arrows go from a higher rank to a lower one, or stay in the room.
fn room(module: &str) -> (&'static str, u8) {
    let top = module.strip_prefix("crate::").unwrap_or(module).split("::").next().unwrap_or_default();
    match top {
        "crate" => ("lib", 8),
        "main" => ("main", 7),
        "commands" => ("commands", 6),
        // The fuzz entries call parsers the way the commands do, so they stand where the commands stand.
        "fuzz" => ("fuzz", 6),
        "config" => ("config", 5),
        // The credential helper sits on the services (aws for the token, engine for the lock) under the commands.
        "credential_helper" => ("credential-helper", 5),
        "cli" => ("cli", 4),
        "aws" => ("aws", 3),
        "oci" => ("registry", 3),
        "engine" => ("engine", 3),
        "ci" | "tags" => ("ci-tags", 2),
        "outputs" => ("outputs", 2),
        "tag_policy" => ("tag-policy", 2),
        "scan" => ("scan", 2),
        "prune" => ("prune", 2),
        "error" | "digest" | "media_type" | "host" | "names" | "secret" | "log" | "advice" | "files" | "tls" => {
            ("shared", 1)
        }
        other => panic!("src/{other} belongs to no room: add it to ARCHITECTURE.md and to this test"),
    }
}

#[test]
fn no_two_files_import_each_other_directly_or_through_a_circle() {
    let (graph, modules) = edges();
    assert!(graph.values().map(BTreeSet::len).sum::<usize>() > 40, "the scanner found too few imports: {graph:?}");
    // Depth-first search; a back edge is a circle, reported with its files.
    fn visit(
        node: &str,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
        circles: &mut Vec<String>,
    ) {
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|p| p == next).unwrap_or(0);
                    circles.push(format!("{} -> {next}", path[start..].join(" -> ")));
                }
                Some(_) => {}
                None => visit(next, graph, state, path, circles),
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
    }
    let (mut state, mut circles) = (BTreeMap::new(), Vec::new());
    for node in graph.keys() {
        if !state.contains_key(node) {
            visit(node, &graph, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    assert!(circles.is_empty(), "import circles between files:\n{}", circles.join("\n"));
    assert!(modules.contains_key("crate::commands"), "the scan must see the commands layer");
}

#[test]
fn arrows_point_one_way_between_rooms() {
    let (graph, _) = edges();
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        let (from_room, from_rank) = room(from);
        for to in targets {
            let (to_room, to_rank) = room(to);
            let allowed = from_room == to_room || from_rank > to_rank;
            if !allowed {
                wrong.push(format!("{from} ({from_room}) -> {to} ({to_room})"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the direction of the rooms:\n{}", wrong.join("\n"));
}

#[test]
fn the_scanner_sees_a_planted_circle() {
    // The checks above are only as good as the scanner: prove it resolves a `use` through a re-export.
    let mut modules = BTreeMap::new();
    for (module, text) in [
        ("crate::a", "mod x;\npub use x::Thing;\n"),
        ("crate::a::x", "use crate::b::Other;\npub struct Thing;\n"),
        ("crate::b", "use crate::a::Thing;\npub struct Other;\n"),
    ] {
        modules.insert(module.to_string(), Source { text: text.to_string() });
    }
    assert_eq!(defining_module("crate::a::Thing", &modules, 0).as_deref(), Some("crate::a::x"));
    let (uses, _) = referenced_paths(&code_of(&modules["crate::a::x"].text));
    assert_eq!(uses, ["crate::b::Other", "crate::b::Other"]);
    assert_eq!(expand_use_tree("crate::{a, b::{c, d}}"), ["crate::a", "crate::b::c", "crate::b::d"]);
}

#[test]
fn the_registry_client_is_layered() {
    let (graph, _) = edges();
    // Which siblings each file of src/oci may import: the transport under uploads and manifests under the push;
    // image sources apart, never touching the network side.
    let allowed: BTreeMap<&str, &[&str]> = [
        ("error", &[][..]),
        ("progress", &[][..]),
        ("image_plan", &[][..]),
        ("auth", &[][..]),
        ("transport", &["auth", "error", "progress"][..]),
        ("upload", &["transport", "error", "image_plan", "progress"][..]),
        ("manifest", &["transport", "error", "image_plan", "progress"][..]),
        ("push", &["upload", "manifest", "transport", "error", "image_plan", "progress"][..]),
        ("tar_index", &[][..]),
        ("layout", &["image_plan"][..]),
        ("compress", &[][..]),
        ("merge", &[][..]),
        ("oci_archive", &["layout", "tar_index", "image_plan"][..]),
        ("docker_archive", &["tar_index", "image_plan", "compress"][..]),
        ("preflight", &["image_plan"][..]),
        ("source", &["image_plan", "layout", "oci_archive", "docker_archive", "preflight", "compress"][..]),
    ]
    .into_iter()
    .collect();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (from, targets) in &graph {
        let Some(file) = from.strip_prefix("crate::oci::") else { continue };
        seen += 1;
        let Some(may) = allowed.get(file) else {
            wrong.push(format!("src/oci/{file}.rs has no place in the layers: add it to ARCHITECTURE.md and here"));
            continue;
        };
        for to in targets.iter().filter_map(|t| t.strip_prefix("crate::oci::")) {
            if !may.contains(&to) {
                wrong.push(format!("src/oci/{file}.rs imports src/oci/{to}.rs"));
            }
        }
    }
    assert!(seen >= 10, "the scan must see the registry client's files, saw {seen}");
    assert!(wrong.is_empty(), "the registry client's layers are crossed:\n{}", wrong.join("\n"));
}

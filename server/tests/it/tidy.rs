//! Rules about the code itself, kept true by tests rather than by sentences: the committed OpenAPI
//! description equals the one the code builds, every path ARCHITECTURE.md names exists, and no
//! module of the server imports a module that (directly or through others) imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::common::rust_files;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn the_committed_openapi_description_is_the_one_the_code_builds() {
    let built = charon::api::openapi().to_pretty_json().unwrap() + "\n";
    let file = Path::new(ROOT).join("docs/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, &built).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == built,
        "docs/openapi.json differs from the routes' description; run `UPDATE_OPENAPI=1 cargo test -p server --test it tidy` and commit it"
    );
    let doc: serde_json::Value = serde_json::from_str(&built).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1");
}

#[test]
fn every_path_architecture_md_names_exists() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    let mut named = 0;
    // Code spans that look like a project path: `server/src/state.rs`, `crowdsec/hub/items.rs`, `app/`.
    for span in text.split('`').skip(1).step_by(2) {
        for part in span.split(|c: char| c == ',' || c == ' ') {
            let p = part.trim_matches(|c: char| c == '{' || c == '}');
            let looks_like_path = (p.ends_with(".rs") || p.ends_with(".md") || p.ends_with(".json") || p.ends_with('/'))
                && !p.contains('<')
                && !p.contains('*')
                && !p.starts_with('/')
                && !p.contains("::");
            if !looks_like_path {
                continue;
            }
            named += 1;
            // Relative to the root, or to the folders the document's sections speak of.
            let candidates = ["", "server/src", "server/tests/it", "app/src", "app/locales"].map(|base| PathBuf::from(ROOT).join(base).join(p));
            if !candidates.iter().any(|c| c.exists()) {
                missing.push(p.to_owned());
            }
        }
    }
    assert!(named > 40, "only {named} paths found: has the code map moved?");
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
}

/// The top-level modules of a crate (`foo.rs` or `foo/`) and their files; the root is `crate`.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            out.insert(name, rust_files(&p));
        } else if name == "lib" || name == "main" {
            out.entry("crate".into()).or_default().push(p);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.insert(name, vec![p]);
        }
    }
    out
}

/// `A -> B` when a file of A names `crate::B` (a name of the root's own items counts as `crate`).
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, files) in &mods {
        let edges = graph.entry(m.clone()).or_default();
        for f in files {
            let text = std::fs::read_to_string(f).unwrap();
            let mut names: Vec<String> = Vec::new();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + 7..];
                if let Some(group) = rest.strip_prefix('{') {
                    let group = &group[..group.find('}').unwrap_or(0)];
                    names.extend(group.split(',').map(|s| s.trim().split("::").next().unwrap_or("").to_owned()));
                } else {
                    names.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
                }
            }
            if m == "crate" {
                // The root's own `use` lines (its `mod` lines declare, they do not import).
                for line in text.lines().filter(|l| l.starts_with("pub use ") || l.starts_with("use ")) {
                    let path = line.trim_start_matches("pub ").trim_start_matches("use ").trim_start_matches("crate::");
                    names.push(path.split("::").next().unwrap_or("").to_owned());
                }
            }
            for n in names {
                if n.is_empty() || n == *m {
                    continue;
                }
                if mods.contains_key(&n) {
                    edges.insert(n);
                } else if m != "crate" && n.chars().next().is_some_and(|c| c.is_uppercase()) {
                    edges.insert("crate".into());
                }
            }
        }
    }
    graph
}

/// Every module that reaches itself again through the graph.
fn modules_in_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = graph[from].iter().cloned().collect();
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(graph.get(&n).into_iter().flatten().cloned());
            }
        }
        seen
    };
    graph.keys().filter(|m| reaches(m).contains(*m)).cloned().collect()
}

#[test]
fn no_server_module_imports_one_that_imports_it_back() {
    let graph = import_graph(&Path::new(ROOT).join("server/src"));
    assert!(graph.len() > 15, "the module graph looks empty: {graph:?}");
    let cyclic = modules_in_cycles(&graph);
    assert!(cyclic.is_empty(), "modules in an import cycle: {cyclic:?}\n{graph:#?}");
    // The server never reaches into the UI's pages.
    for f in rust_files(&Path::new(ROOT).join("server/src")) {
        assert!(!std::fs::read_to_string(&f).unwrap().contains("app::pages"), "{} imports app::pages", f.display());
    }
}

/// The app crate's modules file by file (`decisions::page`, `auth`, …; `lib.rs` is `crate`), with an
/// edge for every `crate::a::b` that names another module's file. Its topics are folders whose
/// pages, server functions and types import each other one way only.
fn file_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let module_of = |f: &Path| -> String {
        let rel = f.strip_prefix(src).unwrap().with_extension("");
        let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        match parts.as_slice() {
            [one] if one == "lib" => "crate".into(),
            [rest @ .., last] if last == "mod" => rest.join("::"),
            all => all.join("::"),
        }
    };
    let files = rust_files(src);
    let known: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let me = module_of(f);
        let text = std::fs::read_to_string(f).unwrap();
        let edges = graph.entry(me.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let path: String = text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            // The longest prefix that is a module file; a root item (`crate::App`) is the root.
            let target = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|m| known.contains(m))
                .or_else(|| segments.first().filter(|s| s.starts_with(char::is_uppercase)).map(|_| "crate".to_owned()));
            if let Some(t) = target.filter(|t| *t != me) {
                edges.insert(t);
            }
        }
    }
    graph
}

#[test]
fn no_app_module_imports_one_that_imports_it_back() {
    let graph = file_graph(&Path::new(ROOT).join("app/src"));
    assert!(graph.len() > 25, "the module graph looks empty: {graph:?}");
    let cyclic = modules_in_cycles(&graph);
    assert!(cyclic.is_empty(), "app modules in an import cycle: {cyclic:?}\n{graph:#?}");
}

#[test]
fn the_cycle_check_finds_a_cycle_when_there_is_one() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), ["a".to_string()].into());
    g.insert("d".into(), ["a".to_string()].into());
    assert_eq!(modules_in_cycles(&g), ["a", "b", "c"]);
}

//! The house rules of `harness/` on imports (issue 21), computed from the source, not from
//! memory: no import circle between files, no import across the rooms ARCHITECTURE.md
//! forbids, and nothing below the reporter imports it. (The other house rules:
//! `house_lengths.rs`, function lengths; `house_cli.rs`, who may use clap and print;
//! `house_errors.rs`, the error convention.)
//!
//! A file *imports* another when it names an item through a path that resolves into it:
//! a `use` declaration or an inline path (`crate::runner::interrupt::INTERRUPTED`), outside test
//! code (`#[cfg(test)]` items and `*_tests.rs` files are tests: they may reach anywhere).
//! `mod` declarations are not imports.

#[path = "common/source.rs"]
mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/harness");

/// Every library file, by module path (`[]` is `lib.rs`).
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    source::rust_files(Path::new(ROOT))
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !(name == "main.rs" || name == "tests.rs" || name.ends_with("_tests.rs"))
        })
        .map(|p| {
            let rel = p.strip_prefix(ROOT).unwrap();
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            (parts, p)
        })
        .collect()
}

/// `#[cfg(test)]` (or any `cfg` that needs `test`): test code, not the library's.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && {
            let text = quote::ToTokens::to_token_stream(&a.meta).to_string();
            text.contains("test") && !text.contains("not")
        }
    })
}

/// Every `use` tree flattened into paths (a glob keeps its prefix).
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut p = prefix.clone();
            p.push(n.ident.to_string());
            out.push(p);
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            p.push(r.ident.to_string());
            out.push(p);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix, out);
            }
        }
    }
}

/// Inline paths in code: an identifier followed by `::`-separated identifiers.
fn token_paths(ts: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = ts.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(g) => token_paths(g.stream(), out),
            TokenTree::Ident(id) => {
                let mut path = vec![id.to_string()];
                let mut j = i + 1;
                loop {
                    let colons = matches!((tokens.get(j), tokens.get(j + 1)),
                        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                            if a.as_char() == ':' && b.as_char() == ':');
                    match (colons, tokens.get(j + 2)) {
                        (true, Some(TokenTree::Ident(next))) => {
                            path.push(next.to_string());
                            j += 3;
                        }
                        _ => break,
                    }
                }
                if path.len() > 1 {
                    out.push(path);
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The paths a file's non-test items name, with the module they are written in.
fn paths_of(items: &[syn::Item], module: &[String], out: &mut Vec<(Vec<String>, Vec<String>)>) {
    for item in items {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            _ => &[],
        };
        if is_test_only(attrs) {
            continue;
        }
        match item {
            syn::Item::Use(u) => {
                let mut found = Vec::new();
                use_paths(&u.tree, &mut Vec::new(), &mut found);
                out.extend(found.into_iter().map(|p| (module.to_vec(), p)));
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    let mut sub = module.to_vec();
                    sub.push(m.ident.to_string());
                    paths_of(inner, &sub, out);
                }
            }
            other => {
                let mut found = Vec::new();
                token_paths(quote::ToTokens::to_token_stream(other), &mut found);
                out.extend(found.into_iter().map(|p| (module.to_vec(), p)));
            }
        }
    }
}

/// The library file a path written in `module` resolves into, if any.
fn resolve(
    mods: &BTreeMap<Vec<String>, PathBuf>,
    module: &[String],
    path: &[String],
) -> Option<Vec<String>> {
    let mut base: Vec<String> = module.to_vec();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A child module of the module it is written in (2018 paths); anything else
            // is an external crate or a local item.
            let mut child = base.clone();
            child.push(first.to_string());
            if !mods.contains_key(&child) {
                return None;
            }
        }
        None => return None,
    }
    let mut best = base.clone();
    let mut cur = base;
    for seg in rest {
        cur.push(seg.clone());
        if mods.contains_key(&cur) {
            best = cur.clone();
        } else {
            break;
        }
    }
    mods.contains_key(&best).then_some(best)
}

type Graph = BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>>;

/// File -> file it imports -> one path that shows it.
fn import_graph() -> Graph {
    let mods = modules();
    let mut graph: Graph = BTreeMap::new();
    for (module, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut paths = Vec::new();
        paths_of(&ast.items, module, &mut paths);
        let edges = graph.entry(module.clone()).or_default();
        for (written_in, p) in paths {
            if let Some(target) = resolve(&mods, &written_in, &p)
                && target != *module
                // A file naming its own parent module's items is not an import of a sibling.
                && !module.starts_with(&target)
            {
                edges.entry(target).or_insert_with(|| p.join("::"));
            }
        }
    }
    graph
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(graph: &Graph) -> Vec<Vec<Vec<String>>> {
    struct T<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on: BTreeSet<&'g Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    impl<'g> T<'g> {
        fn visit(&mut self, v: &'g Vec<String>) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flat_map(|e| e.keys()) {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(w);
                    comp.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_import_circle_between_files_of_the_library() {
    let graph = import_graph();
    assert!(
        graph.len() > 50,
        "the walk found the library: {}",
        graph.len()
    );
    let found = circles(&graph);
    let mut text = String::new();
    for comp in &found {
        let members: BTreeSet<&Vec<String>> = comp.iter().collect();
        text.push_str(&format!(
            "circle: {}\n",
            comp.iter().map(|m| name(m)).collect::<Vec<_>>().join(", ")
        ));
        for m in comp {
            for (to, via) in &graph[m] {
                if members.contains(to) {
                    text.push_str(&format!("  {} -> {} (via {via})\n", name(m), name(to)));
                }
            }
        }
    }
    assert!(found.is_empty(), "import circles between files:\n{text}");
}

/// The control: the detector sees a circle written into a copy of the graph.
#[test]
fn the_circle_detector_sees_a_circle() {
    let mut graph = import_graph();
    let a = vec!["check".to_string(), "verdict".to_string()];
    let b = vec!["check".to_string(), "failure".to_string()];
    assert!(graph[&a].contains_key(&b), "verdict imports failure");
    graph
        .get_mut(&b)
        .unwrap()
        .insert(a.clone(), "test edge".into());
    assert!(
        circles(&graph)
            .iter()
            .any(|c| c.contains(&a) && c.contains(&b))
    );
}

/// The rooms of ARCHITECTURE.md: who may import whom. The runner (the parent) and the
/// worker (the child) share only `protocol`, `workload` and the layers below them; the
/// layers below `run` never import a room above them.
#[test]
fn rooms_import_only_what_the_architecture_allows() {
    let graph = import_graph();
    // (importer's first segment, imported first segment) pairs that must never occur.
    let forbidden: &[(&str, &[&str])] = &[
        (
            "runner",
            &["worker", "check", "report", "run", "render", "cli"],
        ),
        (
            "worker",
            &["runner", "check", "report", "run", "render", "cli"],
        ),
        (
            "protocol",
            &[
                "runner", "worker", "workload", "check", "report", "run", "cli",
            ],
        ),
        (
            "workload",
            &["runner", "worker", "check", "report", "run", "cli"],
        ),
        (
            "observe",
            &[
                "runner", "worker", "workload", "protocol", "check", "run", "cli",
            ],
        ),
        (
            "plan",
            &[
                "runner", "worker", "workload", "protocol", "check", "run", "cli",
            ],
        ),
        (
            "scenario",
            &[
                "runner", "worker", "workload", "protocol", "check", "run", "cli",
            ],
        ),
        (
            "check",
            &["runner", "worker", "report", "run", "render", "cli"],
        ),
        ("report", &["run", "render", "releases", "cli"]),
        (
            "render",
            &[
                "run", "releases", "nightly", "compare", "shrink", "explore", "io_sweep", "cli",
            ],
        ),
        (
            "releases",
            &[
                "run", "render", "nightly", "compare", "shrink", "explore", "io_sweep", "cli",
            ],
        ),
        (
            "run",
            &[
                "nightly", "compare", "shrink", "explore", "io_sweep", "replay", "reporter", "cli",
            ],
        ),
        ("reporter", &["cli"]),
    ];
    let mut broken = Vec::new();
    for (from, edges) in &graph {
        let Some(room) = from.first() else { continue };
        let Some((_, banned)) = forbidden.iter().find(|(r, _)| r == room) else {
            continue;
        };
        for (to, via) in edges {
            if to.first().is_some_and(|t| banned.contains(&t.as_str())) {
                broken.push(format!("{} -> {} (via {via})", name(from), name(to)));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports across rooms:\n{}",
        broken.join("\n")
    );
}

/// The one reporter renders what every layer below emits; none of them imports it (they
/// speak through `run::event::Reporter`), and only the CLI makes one.
#[test]
fn nothing_below_the_reporter_imports_it() {
    let graph = import_graph();
    let reporter = vec!["reporter".to_string()];
    assert!(graph.contains_key(&reporter), "the walk found the reporter");
    let mut broken = Vec::new();
    let mut importers = BTreeSet::new();
    for (from, edges) in &graph {
        for (to, via) in edges {
            if to.first() == reporter.first() && from.first() != reporter.first() {
                importers.insert(from.first().cloned().unwrap_or_default());
                if from.first().map(String::as_str) != Some("cli") {
                    broken.push(format!("{} -> {} (via {via})", name(from), name(to)));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports of the reporter:\n{}",
        broken.join("\n")
    );
    // The control: the detector sees the CLI's import of it.
    assert!(importers.contains("cli"), "{importers:?}");
}

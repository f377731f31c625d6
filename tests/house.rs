//! The house rules of `harness/` (issue 21), computed from the source, not from memory:
//! no import circle between files, and oracle functions short enough to read at once.
//!
//! A file *imports* another when it names an item through a path that resolves into it:
//! a `use` declaration or an inline path (`crate::runner::interrupt::INTERRUPTED`), outside test
//! code (`#[cfg(test)]` items and `*_tests.rs` files are tests: they may reach anywhere).
//! `mod` declarations are not imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/harness");

/// Every library file, by module path (`[]` is `lib.rs`).
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
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
    walk(Path::new(ROOT), &mut files);
    files
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

/// Function lengths by rustfmt's layout: a function ends at the first `}` at its own
/// indentation. Test modules (`#[cfg(test)] mod tests` at the end of a file) are skipped.
fn long_functions(dir: &Path, limit: usize) -> Vec<String> {
    let mut long = Vec::new();
    let mut files = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs")
                && !p.to_string_lossy().ends_with("_tests.rs")
            {
                out.push(p);
            }
        }
    }
    walk(dir, &mut files);
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let end = lines
            .iter()
            .position(|l| l.starts_with("#[cfg(test)]"))
            .unwrap_or(lines.len());
        for (i, l) in lines[..end].iter().enumerate() {
            let t = l.trim_start();
            let indent = l.len() - t.len();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "const fn ",
            ]
            .iter()
            .any(|p| t.starts_with(p));
            if !is_fn || t.ends_with(';') {
                continue;
            }
            let close = " ".repeat(indent) + "}";
            if let Some(len) = lines[i..end].iter().position(|x| *x == close)
                && len + 1 > limit
            {
                let shown = f.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
                long.push(format!(
                    "{}:{}: {} lines: {t}",
                    shown.display(),
                    i + 1,
                    len + 1
                ));
            }
        }
    }
    long
}

#[test]
fn no_function_in_check_is_over_80_lines() {
    let dir = Path::new(ROOT).join("check");
    let long = long_functions(&dir, 80);
    assert!(long.is_empty(), "split these by job:\n{}", long.join("\n"));
    // The control: the measure sees functions at all (the longest is over 30 lines).
    assert!(!long_functions(&dir, 30).is_empty());
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

/// Every library file whose code names the `clap` crate (a `use`, a path, a derive), by its
/// path under `harness/`. Comments and doc text are not code: they may name it.
fn clap_users() -> Vec<String> {
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
    walk(Path::new(ROOT), &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| names_clap(&std::fs::read_to_string(p).unwrap()))
        .map(|p| p.strip_prefix(ROOT).unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Whether Rust source names the identifier `clap` anywhere in its tokens.
fn names_clap(text: &str) -> bool {
    fn any(ts: TokenStream) -> bool {
        ts.into_iter().any(|t| match t {
            TokenTree::Group(g) => any(g.stream()),
            TokenTree::Ident(id) => id == "clap",
            _ => false,
        })
    }
    let ast = syn::parse_file(text).unwrap();
    any(quote::ToTokens::to_token_stream(&ast))
}

/// The command line's parser is the CLI's: only `harness/cli/` and `harness/main.rs` know
/// clap (test code included); every layer below takes plain requests.
#[test]
fn only_the_cli_uses_clap() {
    let users = clap_users();
    let outside: Vec<&String> = users
        .iter()
        .filter(|f| !(f.starts_with("cli/") || *f == "main.rs"))
        .collect();
    assert!(outside.is_empty(), "clap outside cli/: {outside:?}");
    // The controls: the walk sees the CLI's own uses, and the detector sees a derive and
    // a path, but not a comment.
    assert!(users.iter().any(|f| f == "cli/args.rs"), "{users:?}");
    assert!(users.iter().any(|f| f == "main.rs"), "{users:?}");
    assert!(names_clap(
        "#[derive(Debug, clap::Args)] struct A { x: u32 }"
    ));
    assert!(names_clap("fn f() { let _ = clap::Command::new(\"x\"); }"));
    assert!(!names_clap("/// parsed by clap\nstruct A;"));
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

/// What in Rust source prints by itself: a `print!`/`println!`/`eprint!`/`eprintln!`/
/// `dbg!` call, the `indicatif` crate, or `io::stdout`/`io::stderr` (`std::io::stdout()`),
/// each by its tokens (comments and doc text may name them). A `Command`'s `.stdout(...)`
/// is not `io::stdout` and is not counted.
fn prints_itself(text: &str) -> Vec<String> {
    fn walk(ts: TokenStream, found: &mut Vec<String>) {
        let tokens: Vec<TokenTree> = ts.into_iter().collect();
        for (i, t) in tokens.iter().enumerate() {
            let punct = |k: usize, c: char| matches!(tokens.get(k), Some(TokenTree::Punct(p)) if p.as_char() == c);
            match t {
                TokenTree::Group(g) => walk(g.stream(), found),
                TokenTree::Ident(id) => {
                    let name = id.to_string();
                    let is_macro = ["print", "println", "eprint", "eprintln", "dbg"]
                        .contains(&name.as_str())
                        && punct(i + 1, '!');
                    let is_io = name == "io"
                        && punct(i + 1, ':')
                        && punct(i + 2, ':')
                        && matches!(tokens.get(i + 3), Some(TokenTree::Ident(s)) if s == "stdout" || s == "stderr");
                    if is_macro || name == "indicatif" {
                        found.push(name);
                    } else if is_io {
                        found.push(format!("io::{}", tokens[i + 3]));
                    }
                }
                _ => {}
            }
        }
    }
    let ast = syn::parse_file(text).unwrap();
    let mut found = Vec::new();
    walk(quote::ToTokens::to_token_stream(&ast), &mut found);
    found
}

/// A sweep and a merge speak through `nightly::event::SweepReporter`; the one reporter
/// (`harness/reporter/`) prints. Nothing under `harness/nightly/` prints by itself.
#[test]
fn no_layer_below_the_reporter_prints_by_itself() {
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
    let printing = |dir: &str| {
        let mut files = Vec::new();
        walk(&Path::new(ROOT).join(dir), &mut files);
        files.sort();
        files
            .into_iter()
            .filter_map(|p| {
                let found = prints_itself(&std::fs::read_to_string(&p).unwrap());
                (!found.is_empty()).then(|| format!("{}: {found:?}", p.display()))
            })
            .collect::<Vec<String>>()
    };
    // Every layer the commands are built on speaks through a reporter; only `cli/`,
    // `reporter/` and the worker process (whose stdout is the protocol) print.
    for dir in [
        "nightly",
        "releases",
        "run",
        "runner",
        "check",
        "report",
        "render",
        "compare",
        "shrink",
        "explore",
        "io_sweep",
        "scenario",
        "plan",
        "observe",
        "protocol",
        "workload",
        "adapter_check",
    ] {
        let found = printing(dir);
        assert!(found.is_empty(), "{dir}/ prints:\n{}", found.join("\n"));
    }
    // The controls: the walk finds the reporter's own printing (indicatif, stdout), and the
    // detector sees each kind but not a comment nor a child's `.stdout(..)`.
    let reporter = printing("reporter");
    assert!(
        reporter
            .iter()
            .any(|f| f.contains("reporter/sweep.rs") && f.contains("indicatif")),
        "{reporter:?}"
    );
    assert_eq!(prints_itself("fn f() { println!(\"x\"); }"), ["println"]);
    assert_eq!(prints_itself("fn f() { eprint!(\"x\"); }"), ["eprint"]);
    assert_eq!(
        prints_itself("fn f() { let _ = std::io::stderr(); }"),
        ["io::stderr"]
    );
    assert_eq!(prints_itself("use indicatif::ProgressBar;"), ["indicatif"]);
    assert!(prints_itself("/// println!(\"x\")\nfn f() {}").is_empty());
    assert!(
        prints_itself(
            "fn f(c: &mut std::process::Command) { c.stdout(std::process::Stdio::piped()); }"
        )
        .is_empty()
    );
}

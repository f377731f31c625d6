//! The house rules of `harness/` on the command line's jobs (issue 21), computed from the
//! source: only the CLI knows clap, and only the CLI, the reporter and the worker process
//! print. (The other house rules: `house_imports.rs`, `house_lengths.rs`,
//! `house_errors.rs`.)

#[path = "common/source.rs"]
mod source;

use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/harness");

/// Every library file whose code names the `clap` crate (a `use`, a path, a derive), by its
/// path under `harness/`. Comments and doc text are not code: they may name it.
fn clap_users() -> Vec<String> {
    source::rust_files(Path::new(ROOT))
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

/// What in Rust source prints by itself: a `print!`/`println!`/`eprint!`/`eprintln!`/
/// `dbg!` call, walburst's own `errln!`/`err!` (`harness/diag.rs`), the `indicatif` crate, or `io::stdout`/`io::stderr` (`std::io::stdout()`),
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
                    let is_macro = [
                        "print", "println", "eprint", "eprintln", "dbg", "errln", "err",
                    ]
                    .contains(&name.as_str())
                        && punct(i + 1, '!')
                        && matches!(tokens.get(i + 2), Some(TokenTree::Group(_)));
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
    let printing = |dir: &str| {
        source::rust_files(&Path::new(ROOT).join(dir))
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
    assert_eq!(prints_itself("fn f() { errln!(\"x\"); }"), ["errln"]);
    assert!(prints_itself("fn f(err: u8) -> bool { err != 0 }").is_empty());
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

/// The CLI prints its output through `outln!`/`out!` (`harness/cli/out.rs`), which end a
/// command quietly when stdout's reader has gone (`| head`); `print!`/`println!` would panic
/// there (walburst ignores SIGPIPE). Only `out.rs` takes stdout itself. (Errors go to
/// stderr through `errln!`: see the next test.)
#[test]
fn the_cli_prints_only_through_its_quiet_writer() {
    let mut files = Vec::new();
    let cli = Path::new(ROOT).join("cli");
    for e in std::fs::read_dir(&cli).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
    files.sort();
    let mut found = Vec::new();
    let mut writer = Vec::new();
    for p in &files {
        let prints = prints_itself(&std::fs::read_to_string(p).unwrap());
        let is_out = p.file_name().is_some_and(|n| n == "out.rs");
        for what in prints {
            match what.as_str() {
                "io::stdout" if is_out => writer.push(what),
                "print" | "println" | "io::stdout" => {
                    found.push(format!("{}: {what}", p.display()))
                }
                _ => {}
            }
        }
    }
    assert!(found.is_empty(), "use outln!/out!:\n{}", found.join("\n"));
    // The control: the walk reads cli/ and sees the writer's own stdout.
    assert_eq!(writer, ["io::stdout"], "{files:?}");
}

/// Nothing in the library calls `eprintln!`/`eprint!`, which panic when stderr's reader has
/// gone: diagnostics go through `errln!`/`err!` (`harness/diag.rs`), which drop the line.
#[test]
fn nothing_writes_to_stderr_by_a_macro_that_panics() {
    let files = source::rust_files(Path::new(ROOT));
    let found: Vec<String> = files
        .iter()
        .flat_map(|p| {
            prints_itself(&std::fs::read_to_string(p).unwrap())
                .into_iter()
                .filter(|w| w == "eprint" || w == "eprintln")
                .map(move |w| format!("{}: {w}!", p.display()))
        })
        .collect();
    assert!(found.is_empty(), "use errln!/err!:\n{}", found.join("\n"));
    // The control: the walk reads the whole library, the CLI's error lines included.
    let cli = Path::new(ROOT).join("cli").join("mod.rs");
    assert!(files.contains(&cli), "{files:?}");
    assert!(prints_itself(&std::fs::read_to_string(&cli).unwrap()).contains(&"errln".into()));
}

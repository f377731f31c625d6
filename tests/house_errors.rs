//! One error convention (issue 21, item 7), computed from the source: an error's cause is a
//! `#[source]` (or `#[from]`) field and its `#[error("...")]` message never prints it. The
//! chain is printed once, at the top, by `walburst::error::Chain`; a message that also
//! printed its cause would show it twice there, and a cause that is neither printed nor a
//! source would never be shown.
//!
//! A field is a *cause* when it is marked `#[source]` or `#[from]`, is named `source` (which
//! thiserror takes as the source without a mark), or its type is an error: a type of this
//! crate that derives `Error`, or any type whose name ends in `Error` (`io::Error`,
//! `rusqlite::Error`, `serde_json::Error`, `toml::de::Error`, `toml_edit::TomlError`), also
//! behind a `Box`.

use std::collections::BTreeSet;
use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};

#[path = "common/source.rs"]
mod source;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/harness");

/// `#[derive(..., Error, ...)]` (or `thiserror::Error`).
fn derives_error(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|paths| {
                paths
                    .iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == "Error"))
            })
    })
}

/// Every item of a file, nested modules included (their tests too: a test's error type
/// follows the convention like any other).
fn items(items: &[syn::Item], out: &mut Vec<syn::Item>) {
    for item in items {
        if let syn::Item::Mod(m) = item
            && let Some((_, inner)) = &m.content
        {
            self::items(inner, out);
        }
        out.push(item.clone());
    }
}

/// The names of this crate's error types: everything that derives `Error`.
fn error_types(all: &[syn::Item]) -> BTreeSet<String> {
    all.iter()
        .filter_map(|item| match item {
            syn::Item::Enum(e) if derives_error(&e.attrs) => Some(e.ident.to_string()),
            syn::Item::Struct(s) if derives_error(&s.attrs) => Some(s.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// Whether `ty` is an error: one of `errors`, a name ending in `Error`, or either in a `Box`.
fn is_error_type(ty: &syn::Type, errors: &BTreeSet<String>) -> bool {
    let syn::Type::Path(p) = ty else {
        return false;
    };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    let name = last.ident.to_string();
    if name == "Box"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
    {
        return args.args.iter().any(|a| match a {
            syn::GenericArgument::Type(inner) => is_error_type(inner, errors),
            _ => false,
        });
    }
    name.ends_with("Error") || errors.contains(&name)
}

/// The names a field answers to in a format string: its name, or its position.
fn field_names(fields: &syn::Fields) -> Vec<(String, &syn::Field)> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.ident.as_ref().map_or(i.to_string(), |id| id.to_string());
            (name, f)
        })
        .collect()
}

/// Marked `#[source]` or `#[from]`, or named `source` (thiserror's source without a mark).
fn is_source(f: &syn::Field, name: &str) -> bool {
    name == "source"
        || f.attrs
            .iter()
            .any(|a| a.path().is_ident("source") || a.path().is_ident("from"))
}

fn is_cause(f: &syn::Field, name: &str, errors: &BTreeSet<String>) -> bool {
    is_source(f, name) || is_error_type(&f.ty, errors)
}

/// The fields a `{...}` placeholder of `format` names (`{source}`, `{0}`, `{error:?}`).
fn placeholders(format: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(stripped) = rest.strip_prefix('{') {
            rest = stripped;
            continue;
        }
        let close = rest.find('}').unwrap_or(rest.len());
        let inner = &rest[..close];
        let name = inner.split(':').next().unwrap_or("").trim();
        if !name.is_empty() {
            out.insert(name.to_string());
        }
        rest = &rest[close.min(rest.len())..];
    }
    out
}

/// Identifiers in the arguments after the format string (`path.display()`, `.0`).
fn arg_idents(ts: TokenStream, out: &mut BTreeSet<String>) {
    let mut after_dot = false;
    for tt in ts {
        match tt {
            TokenTree::Ident(id) => {
                out.insert(id.to_string());
                after_dot = false;
            }
            TokenTree::Literal(l) if after_dot => {
                out.insert(l.to_string());
                after_dot = false;
            }
            TokenTree::Punct(p) => after_dot = p.as_char() == '.',
            TokenTree::Group(g) => arg_idents(g.stream(), out),
            TokenTree::Literal(_) => after_dot = false,
        }
    }
}

/// The fields an `#[error(...)]` attribute prints; empty for `transparent`.
fn printed(attrs: &[syn::Attribute]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("error")) {
        let syn::Meta::List(list) = &a.meta else {
            continue;
        };
        let mut tokens = list.tokens.clone().into_iter();
        match tokens.next() {
            Some(TokenTree::Literal(lit)) => {
                if let Ok(syn::Lit::Str(s)) = syn::parse_str::<syn::Lit>(&lit.to_string()) {
                    out.extend(placeholders(&s.value()));
                }
            }
            _ => continue, // `transparent`
        }
        arg_idents(tokens.collect(), &mut out);
    }
    out
}

/// `Type::Variant prints its cause `field``, for every breach in `all`.
fn breaches(all: &[syn::Item]) -> Vec<String> {
    let errors = error_types(all);
    let mut out = Vec::new();
    let mut check = |what: String, attrs: &[syn::Attribute], fields: &syn::Fields| {
        let printed = printed(attrs);
        let transparent = attrs.iter().any(|a| {
            a.path().is_ident("error")
                && quote::ToTokens::to_token_stream(&a.meta)
                    .to_string()
                    .contains("transparent")
        });
        for (name, f) in field_names(fields) {
            if printed.contains(&name) && is_cause(f, &name, &errors) {
                out.push(format!("{what} prints its cause `{name}`"));
            } else if !transparent && is_error_type(&f.ty, &errors) && !is_source(f, &name) {
                // Not printed and not a source: no one would ever show it.
                out.push(format!("{what} hides its cause `{name}` (not a #[source])"));
            }
        }
    };
    for item in all {
        match item {
            syn::Item::Enum(e) if derives_error(&e.attrs) => {
                for v in &e.variants {
                    check(format!("{}::{}", e.ident, v.ident), &v.attrs, &v.fields);
                }
            }
            syn::Item::Struct(s) if derives_error(&s.attrs) => {
                check(s.ident.to_string(), &s.attrs, &s.fields);
            }
            _ => {}
        }
    }
    out
}

fn library() -> Vec<syn::Item> {
    let mut all = Vec::new();
    for p in source::rust_files(Path::new(ROOT)) {
        let text = std::fs::read_to_string(&p).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        items(&file.items, &mut all);
    }
    all
}

#[test]
fn no_error_message_prints_its_cause() {
    let all = library();
    assert!(
        error_types(&all).len() > 30,
        "the walk found the crate's error types"
    );
    let found = breaches(&all);
    assert!(
        found.is_empty(),
        "{} error messages print their cause (the chain printer prints it):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// Negative control: the detector sees each way a message can print its cause, and passes
/// the ways that do not.
#[test]
fn the_cause_detector_sees_a_printed_cause() {
    let file: syn::File = syn::parse_quote! {
        #[derive(Debug, thiserror::Error)]
        pub enum Inner { #[error("inner")] A }

        #[derive(Debug, thiserror::Error)]
        pub enum Bad {
            #[error("cannot read {}: {source}", path.display())]
            Marked { path: PathBuf, #[source] source: std::io::Error },
            #[error("cannot parse: {error}")]
            Unmarked { error: serde_json::Error },
            #[error("{0}")]
            From(#[from] Inner),
            #[error("wrapped: {inner:?}")]
            Boxed { inner: Box<Inner> },
            #[error("by name: {}", source)]
            Named { source: String },
            #[error("cannot write")]
            Hidden { error: std::io::Error },
        }

        #[derive(Debug, thiserror::Error)]
        #[error("cannot {doing} {}: {error}", path.display())]
        pub struct BadStruct { doing: &'static str, path: PathBuf, #[source] error: std::io::Error }

        #[derive(Debug, thiserror::Error)]
        pub enum Good {
            #[error("cannot read {}", path.display())]
            Marked { path: PathBuf, #[source] source: std::io::Error },
            #[error(transparent)]
            From(#[from] Inner),
            #[error("{what} at {{source}}")]
            Escaped { what: String, #[source] source: Inner },
        }
    };
    let mut all = Vec::new();
    items(&file.items, &mut all);
    assert_eq!(
        breaches(&all),
        [
            "Bad::Marked prints its cause `source`",
            "Bad::Unmarked prints its cause `error`",
            "Bad::From prints its cause `0`",
            "Bad::Boxed prints its cause `inner`",
            "Bad::Named prints its cause `source`",
            "Bad::Hidden hides its cause `error` (not a #[source])",
            "BadStruct prints its cause `error`",
        ]
    );
}

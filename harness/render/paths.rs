//! What a page shows of the paths of the machine that ran it: none absolute. A page is an
//! artifact that is moved, attached to CI runs and shared, so the machine's directories are
//! noise at best and a leak at worst. The whole page is passed through [`Elide`] once, after
//! it is drawn, so no later field, note or SVG label can bring a path back in.

use std::path::{Path, PathBuf};

use super::html::escape;

/// A root of the machine's file system and what a page shows instead of it.
#[derive(Debug, Clone)]
struct Rule {
    prefix: String,
    shown: String,
}

/// Replaces known absolute roots in a page's text, in the priority given: the work
/// directory first (`<work-dir>`, runs' scratch directories), then the current directory
/// (`.`, so a shown path still works from where the command ran), then `--out` (`<out>`),
/// the temp directory (`<tmp>`) and the home directory (`~`).
#[derive(Debug, Clone, Default)]
pub struct Elide {
    rules: Vec<Rule>,
}

pub const WORK_DIR: &str = "<work-dir>";
pub const OUT_DIR: &str = "<out>";
pub const TEMP_DIR: &str = "<tmp>";

impl Elide {
    /// The roots every page elides, with `work_dirs` (where runs made their directories)
    /// and, when given, the `--out` directory.
    pub fn new(work_dirs: &[PathBuf], out_dir: Option<&Path>) -> Elide {
        let mut e = Elide::default();
        for w in work_dirs {
            e.push(w, WORK_DIR);
        }
        if let Ok(cwd) = std::env::current_dir() {
            // From `/` every path is "relative"; showing `./usr/...` hides nothing useful.
            if cwd.parent().is_some() {
                e.push(&cwd, ".");
            }
        }
        if let Some(out) = out_dir {
            e.push(out, OUT_DIR);
        }
        e.push(&std::env::temp_dir(), TEMP_DIR);
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty() && h != "/") {
            e.push(Path::new(&home), "~");
        }
        e
    }

    /// For one run's page: its run directory's parent is the work directory it ran in.
    pub fn for_run(report: &crate::report::Report) -> Elide {
        let work: Vec<PathBuf> = report
            .run_dir
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .into_iter()
            .collect();
        Elide::new(&work, None)
    }

    /// Adds a root as given, made absolute, and as the file system resolves it (a symlinked
    /// temp directory), each also in its HTML-escaped spelling.
    fn push(&mut self, root: &Path, shown: &str) {
        // A relative `--out` still shows up absolute in paths resolved from it.
        let mut forms = vec![root.to_path_buf()];
        forms.extend(std::path::absolute(root).ok());
        forms.extend(root.canonicalize().ok());
        for f in forms {
            let raw = f.display().to_string();
            let raw = raw.trim_end_matches('/').to_string();
            if !raw.starts_with('/') || raw.len() < 2 {
                continue;
            }
            for prefix in [escape(&raw), raw] {
                if !self.rules.iter().any(|r| r.prefix == prefix) {
                    self.rules.push(Rule {
                        prefix,
                        shown: escape(shown),
                    });
                }
            }
        }
    }

    /// The page's HTML with every root replaced (by its escaped stand-in) where it starts a
    /// path, not inside a longer name.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for r in &self.rules {
            out = replace_root(&out, &r.prefix, &r.shown);
        }
        out
    }
}

/// A character that continues a path name (so a root must not be preceded or followed by
/// one, except `/` after it).
fn in_name(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | '+' | '@')
}

fn replace_root(text: &str, prefix: &str, shown: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = out
            .chars()
            .last()
            .filter(|_| i == 0)
            .or_else(|| rest[..i].chars().last());
        let after = rest[i + prefix.len()..].chars().next();
        let starts = before.is_none_or(|c| !in_name(c) && c != '/');
        let ends = after.is_none_or(|c| c == '/' || !in_name(c));
        out.push_str(&rest[..i]);
        out.push_str(if starts && ends { shown } else { prefix });
        rest = &rest[i + prefix.len()..];
    }
    out.push_str(rest);
    out
}

/// A link from a page in `from_dir` to `target` that survives moving both together:
/// relative, with `..` where `target` is not below `from_dir` (both resolved on the file
/// system first; `None` when either cannot be, e.g. `target` was never written).
pub fn relative_link(target: &Path, from_dir: &Path) -> Option<String> {
    use std::path::Component;
    let (t, d) = (target.canonicalize().ok()?, from_dir.canonicalize().ok()?);
    let (tc, dc): (Vec<Component>, Vec<Component>) =
        (t.components().collect(), d.components().collect());
    let common = tc.iter().zip(&dc).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..dc.len() {
        rel.push("..");
    }
    for c in &tc[common..] {
        rel.push(c.as_os_str());
    }
    Some(rel.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(&str, &str)]) -> Elide {
        Elide {
            rules: list
                .iter()
                .map(|(p, s)| Rule {
                    prefix: p.to_string(),
                    shown: s.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn roots_are_replaced_in_priority_order() {
        let e = rules(&[
            ("/tmp/x/work", WORK_DIR),
            ("/tmp/x", "."),
            ("/tmp", TEMP_DIR),
        ]);
        assert_eq!(
            e.apply("run /tmp/x/work/walburst-a/db and /tmp/x/out/r.json, /tmp/y"),
            "run <work-dir>/walburst-a/db and ./out/r.json, <tmp>/y"
        );
        assert_eq!(e.apply("cd /tmp/x"), "cd .");
    }

    #[test]
    fn a_root_inside_a_longer_name_stays() {
        let e = rules(&[("/tmp/x", ".")]);
        assert_eq!(e.apply("/tmp/xy/a"), "/tmp/xy/a");
        assert_eq!(e.apply("/var/tmp/x/a"), "/var/tmp/x/a");
        assert_eq!(e.apply("\"/tmp/x/a\""), "\"./a\"");
        assert_eq!(e.apply("href=/tmp/x"), "href=.");
    }

    #[test]
    fn new_elides_the_current_and_temp_directories() {
        let cwd = std::env::current_dir().unwrap();
        let e = Elide::new(&[std::env::temp_dir().join("w")], None);
        let shown = e.apply(&format!("{}/Cargo.toml", cwd.display()));
        assert_eq!(shown, "./Cargo.toml");
        let tmp = std::env::temp_dir();
        assert_eq!(
            e.apply(&tmp.join("x").display().to_string()),
            "&lt;tmp&gt;/x"
        );
        // Stand-ins are escaped: the page shows them rather than reading them as tags.
        assert_eq!(
            e.apply(&tmp.join("w/run-1").display().to_string()),
            "&lt;work-dir&gt;/run-1"
        );
    }

    #[test]
    fn a_relative_link_climbs_out_of_the_pages_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (page_dir, run) = (dir.path().join("merged"), dir.path().join("s0/run-1.html"));
        std::fs::create_dir_all(&page_dir).unwrap();
        std::fs::create_dir_all(run.parent().unwrap()).unwrap();
        std::fs::write(&run, "").unwrap();
        assert_eq!(
            relative_link(&run, &page_dir).as_deref(),
            Some("../s0/run-1.html")
        );
        assert_eq!(
            relative_link(&run, dir.path()).as_deref(),
            Some("s0/run-1.html")
        );
        assert_eq!(
            relative_link(&dir.path().join("absent.html"), dir.path()),
            None
        );
    }
}

//! The source tree as the house rules read it (`tests/house_*.rs` include this file alone
//! with `#[path]`, so they do not build the run helpers of `common/`).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, sorted by path.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    files_ending(dir, "rs")
}

/// Every file under `dir` with the extension `ext`, recursively, sorted by path. A hidden
/// folder (a local `.venv`, `.pytest_cache`) or `__pycache__` is not the project's source
/// (`adapters/python/.gitignore`): it is not walked.
pub fn files_ending(dir: &Path, ext: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                if !name.starts_with('.') && name != "__pycache__" {
                    walk(&p, ext, out);
                }
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, ext, &mut files);
    files.sort();
    files
}

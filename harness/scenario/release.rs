//! Which SQLite releases walburst can run on, and which published `libsqlite3-sys` crate
//! bundles each (the only way to get a release's amalgamation with its own compile flags).
//! A leaf module: the scenario layer names versions with [`SqliteVersion`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A SQLite release number, `3.50.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SqliteVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl SqliteVersion {
    pub const fn new(major: u16, minor: u16, patch: u16) -> SqliteVersion {
        SqliteVersion {
            major,
            minor,
            patch,
        }
    }

    /// The release this row of the table names, if walburst offers it.
    pub fn release(self) -> Option<&'static Release> {
        RELEASES.iter().find(|r| r.sqlite == self)
    }

    /// The SQLite bundled into this build of walburst (rusqlite's `bundled` feature).
    pub fn bundled() -> SqliteVersion {
        BUNDLED
    }
}

impl fmt::Display for SqliteVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A version string that is not `MAJOR.MINOR.PATCH`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a SQLite version (expected MAJOR.MINOR.PATCH, e.g. 3.50.2)")]
pub struct BadVersion(pub String);

impl FromStr for SqliteVersion {
    type Err = BadVersion;
    fn from_str(s: &str) -> Result<SqliteVersion, BadVersion> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let num = |p: &str| p.parse::<u16>().map_err(|_| BadVersion(s.to_string()));
        match parts.as_slice() {
            [a, b, c] => Ok(SqliteVersion::new(num(a)?, num(b)?, num(c)?)),
            _ => Err(BadVersion(s.to_string())),
        }
    }
}

impl Serialize for SqliteVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SqliteVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SqliteVersion, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One SQLite release walburst can provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub sqlite: SqliteVersion,
    /// The `libsqlite3-sys` version whose `bundled` feature compiles this release.
    pub libsqlite3_sys: &'static str,
    /// The rusqlite release that shipped with that crate (for the docs only).
    pub rusqlite: &'static str,
}

const fn rel(
    sqlite: SqliteVersion,
    libsqlite3_sys: &'static str,
    rusqlite: &'static str,
) -> Release {
    Release {
        sqlite,
        libsqlite3_sys,
        rusqlite,
    }
}

/// What the bundled build links (libsqlite3-sys 0.40.0, rusqlite 0.43). Checked against the
/// running library by a test.
const BUNDLED: SqliteVersion = SqliteVersion::new(3, 54, 1);

/// Every release walburst offers, oldest first. Each published `libsqlite3-sys` bundles
/// exactly one amalgamation; point releases no crate bundled (3.47.x, 3.50.0/.1/.3/.4,
/// 3.51.0, 3.52.0, ...) cannot be offered this way. 3.44.0 is the floor: rusqlite 0.43
/// calls `sqlite3_set_clientdata` (new in 3.44) and a Rust binary binds every symbol at
/// load time. `walburst sqlite prepare` checks that the built library reports the version
/// this table promises.
pub const RELEASES: &[Release] = &[
    rel(SqliteVersion::new(3, 44, 0), "0.27.0", "0.30"),
    rel(SqliteVersion::new(3, 45, 0), "0.28.0", "0.31"),
    rel(SqliteVersion::new(3, 46, 0), "0.30.1", "0.32"),
    rel(SqliteVersion::new(3, 48, 0), "0.31.0", "0.33"),
    rel(SqliteVersion::new(3, 49, 1), "0.33.0", "0.35"),
    rel(SqliteVersion::new(3, 49, 2), "0.34.0", "0.36"),
    rel(SqliteVersion::new(3, 50, 2), "0.35.0", "0.37"),
    rel(SqliteVersion::new(3, 51, 1), "0.36.0", "0.38"),
    rel(SqliteVersion::new(3, 51, 3), "0.37.0", "0.39"),
    rel(SqliteVersion::new(3, 53, 1), "0.38.0", "0.40.0"),
    rel(SqliteVersion::new(3, 53, 2), "0.38.2", "0.40.2"),
    rel(SqliteVersion::new(3, 54, 0), "0.39.0", "0.41"),
    rel(BUNDLED, "0.40.0", "0.43"),
];

/// The offered versions, for error messages: `3.44.0, 3.45.0, ...`.
pub fn offered() -> String {
    RELEASES
        .iter()
        .map(|r| r.sqlite.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `--sqlite` value walburst cannot run on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotOffered {
    #[error(transparent)]
    Malformed(#[from] BadVersion),
    /// A well-formed version with no release in [`RELEASES`].
    #[error(
        "SQLite {} is not offered (no published libsqlite3-sys bundles it, or it is older than 3.44.0, which rusqlite 0.43 needs); offered: {}",
        .0,
        offered()
    )]
    Unknown(SqliteVersion),
}

/// Parses a version and checks that walburst offers it; the message lists what is offered.
pub fn parse_offered(text: &str) -> Result<SqliteVersion, NotOffered> {
    let v = text.parse::<SqliteVersion>()?;
    if v.release().is_none() {
        return Err(NotOffered::Unknown(v));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_print_and_order() {
        let v: SqliteVersion = "3.50.2".parse().unwrap();
        assert_eq!(v, SqliteVersion::new(3, 50, 2));
        assert_eq!(v.to_string(), "3.50.2");
        assert!(v < "3.51.0".parse().unwrap());
        assert!("3.50".parse::<SqliteVersion>().is_err());
        assert!("3.x.1".parse::<SqliteVersion>().is_err());
    }

    #[test]
    fn the_table_is_sorted_and_unique() {
        for w in RELEASES.windows(2) {
            assert!(w[0].sqlite < w[1].sqlite, "{:?}", w);
        }
    }

    #[test]
    fn the_bundled_version_is_what_this_binary_links() {
        assert_eq!(rusqlite::version(), BUNDLED.to_string());
        assert!(BUNDLED.release().is_some());
    }

    #[test]
    fn unoffered_versions_are_refused_with_the_list() {
        let e = parse_offered("3.50.1").unwrap_err();
        assert_eq!(e, NotOffered::Unknown(SqliteVersion::new(3, 50, 1)));
        let text = e.to_string();
        assert!(
            text.contains("not offered") && text.contains("3.50.2"),
            "{text}"
        );
        assert!(parse_offered("3.50.2").is_ok());
        assert_eq!(
            parse_offered("banana").unwrap_err(),
            NotOffered::Malformed(BadVersion("banana".into()))
        );
    }
}

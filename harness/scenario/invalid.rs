//! [`Invalid`]: a scenario value the rules refuse, typed by what it is about (a field, a
//! table, a matrix case), so callers and tests can tell *which* setting is wrong without
//! reading the message. The file it came from is added by [`super::LoadError`].

use std::fmt;

/// Why validation refused a scenario. `Display` is the message a user reads after the file
/// name: it names the field (dotted, with indexes: `io.points[2].nth`) or table, the value,
/// and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// A value outside the range its field allows.
    #[error("field `{field}` = {value} is out of range; allowed: {allowed}")]
    OutOfRange {
        field: String,
        value: String,
        allowed: String,
    },
    /// A field refused for another reason; `problem` reads on from the field's name
    /// ("is empty; ...", "= \"x\" is not offered; ...").
    #[error("field `{field}` {problem}")]
    Field { field: String, problem: String },
    /// Fields of one table that are fine alone but not together (or the table as a whole).
    #[error("table `{table}`: {problem}")]
    Table { table: String, problem: String },
    /// One case of a `[matrix]`: the case is a scenario of its own and fails as one.
    #[error("case {case}{with}")]
    Case {
        case: String,
        /// The command-line overrides that shaped the case (" with --workers 8"), or "".
        with: String,
        #[source]
        problem: Box<Invalid>,
    },
}

impl Invalid {
    pub fn range(
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Invalid::OutOfRange {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Invalid::Field {
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub fn table(table: impl Into<String>, problem: impl Into<String>) -> Self {
        Invalid::Table {
            table: table.into(),
            problem: problem.into(),
        }
    }

    /// The field or table the refusal is about (for a matrix case, the one inside it).
    pub fn subject(&self) -> &str {
        match self {
            Invalid::OutOfRange { field, .. } | Invalid::Field { field, .. } => field,
            Invalid::Table { table, .. } => table,
            Invalid::Case { problem, .. } => problem.subject(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_the_value_and_what_is_allowed() {
        let e = Invalid::range("workload.workers", 0, "1..=512");
        assert_eq!(
            e.to_string(),
            "field `workload.workers` = 0 is out of range; allowed: 1..=512"
        );
        assert_eq!(e.subject(), "workload.workers");
        let case = Invalid::Case {
            case: "m/wal".into(),
            with: " with --workers 600".into(),
            problem: Box::new(e),
        };
        assert_eq!(case.subject(), "workload.workers");
        assert!(
            crate::error::Chain(&case)
                .to_string()
                .starts_with("case m/wal with --workers 600: field `workload.workers`")
        );
        assert_eq!(
            Invalid::table("limits", "timeouts must be at least 1 second").to_string(),
            "table `limits`: timeouts must be at least 1 second"
        );
    }
}

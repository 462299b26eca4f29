//! Turning SQLite and thread failures into [`StoreError::Backend`] that say what was being done.
//!
//! A bare "database is locked" is useless in an API server log; every backend error names the
//! operation that failed, so the message alone points at the cause.

use crate::StoreError;
use std::fmt::Display;

/// A [`StoreError::Backend`] reading "`context`: `err`".
pub(crate) fn backend(context: impl Display, err: impl Display) -> StoreError {
    StoreError::Backend(format!("{context}: {err}"))
}

/// Adds the operation's name to a SQLite error.
pub(crate) trait Context<T> {
    /// Maps the error to [`StoreError::Backend`] prefixed with `what`.
    fn context(self, what: &str) -> Result<T, StoreError>;

    /// Like [`Context::context`], for messages that are costly to build.
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn context(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| backend(what, e))
    }

    fn with_context(self, what: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|e| backend(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_carry_context() {
        let err: Result<(), rusqlite::Error> = Err(rusqlite::Error::InvalidQuery);
        match err.context("insert log row") {
            Err(StoreError::Backend(msg)) => assert!(msg.starts_with("insert log row: "), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

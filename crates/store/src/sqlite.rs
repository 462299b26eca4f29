//! SQLite backend. Implementation pending.

//! Label and field selectors. Implementation pending.

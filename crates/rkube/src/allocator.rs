//! The process's memory allocator: mimalloc, tuned so resident memory tracks use.

/// mimalloc instead of glibc's malloc: the API server allocates and frees many small JSON
/// values per request, and glibc's allocator took about a fifth of its CPU time under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Make mimalloc give freed memory back to the system at once (its default waits a second),
/// so the resident size shows what is in use: an idle server stays under 40 MB. Arenas are
/// committed as they fill (set when mimalloc is compiled: `.cargo/config.toml`). The option
/// is set by its position in mimalloc's `mi_option_e`, checked first against its default, so
/// a mimalloc whose numbering differs is left as it is.
pub fn tune() {
    const PURGE_DELAY: std::ffi::c_int = 15;
    const PURGE_DELAY_DEFAULT: std::ffi::c_long = 1000;
    // SAFETY: mi_option_get/mi_option_set only read or write mimalloc's option table, at an
    // index inside it.
    unsafe {
        if mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
            mi_option_set(PURGE_DELAY, 0);
        }
    }
}

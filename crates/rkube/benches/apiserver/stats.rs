//! Percentiles and medians over measured durations.

use std::time::Duration;

/// The `q` quantile (0..=1) of `sorted` (nearest rank); zero when empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Milliseconds with two decimals, for printing.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `min / median / max` of samples, for printing.
pub fn spread(samples: &[Duration]) -> String {
    let mut v = samples.to_vec();
    v.sort();
    format!(
        "median {} (min {}, max {}, n={})",
        ms(quantile(&v, 0.5)),
        ms(v[0]),
        ms(v[v.len() - 1]),
        v.len()
    )
}

/// CPU time this benchmark process used so far (user + system), to tell when the client side
/// rather than the server limits a figure.
pub fn own_cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

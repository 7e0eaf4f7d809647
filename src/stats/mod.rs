//! Statistics over probe records: exact summaries of every sample for bench runs ([`exact`]), and
//! HDR histograms for long runs and the daemon ([`hdr`]), where keeping every sample would not do.
//!
//! Conventions, stated once for the report, the JSON file and the README:
//! - percentiles (p50, p90, p95, p99) are by nearest rank: the p-th percentile of n sorted values
//!   is the ⌈p/100·n⌉-th smallest (1-based), so it is always one of the measured values;
//! - `median` is the conventional median (the mean of the two middle values when n is even),
//!   which is what the seed tool printed; it can differ from the nearest-rank p50;
//! - the standard deviation is the sample one (n − 1 in the denominator).

pub mod exact;
pub mod hdr;

pub use exact::{
    MEDIAN_METHOD, PERCENTILE_METHOD, Sorted, Summary, median_sorted, min_samples_for,
    nearest_rank, percentile_is_max, percentile_sorted,
};
pub use hdr::SecondsHistogram;

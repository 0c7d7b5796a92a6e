//! The benches' shared criterion settings: short warm-up and measurement, few samples,
//! so that the whole suite runs in minutes on a shared machine; ratios come from one run.
use std::time::Duration;

use criterion::Criterion;

/// Criterion with `warm_up` and `measure` milliseconds and `samples` samples.
pub fn config(warm_up: u64, measure: u64, samples: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(warm_up))
        .measurement_time(Duration::from_millis(measure))
        .sample_size(samples)
}

//! Medians and ratios of repeated measurements.

use std::time::Duration;

/// Returns the median of `samples`, the mean of the two middle values for an even count, or
/// `None` when there are no samples.
pub fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        len if len % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2),
    }
}

/// Returns the median of plain numbers, with the same rule as [`median`].
pub fn median_f64(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        len if len % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// Returns `numerator / denominator`, or `None` when the denominator is zero.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn median_of_odd_count_is_middle() {
        assert_eq!(median(&ms(&[9, 1, 5])), Some(Duration::from_millis(5)));
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle() {
        assert_eq!(median(&ms(&[4, 1, 8, 2])), Some(Duration::from_millis(3)));
    }

    #[test]
    fn median_of_nothing_is_none() {
        assert_eq!(median(&[]), None);
        assert_eq!(median_f64(&[]), None);
    }

    #[test]
    fn median_f64_ignores_order() {
        assert_eq!(median_f64(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_f64(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }

    #[test]
    fn ratio_by_zero_is_none() {
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
    }
}

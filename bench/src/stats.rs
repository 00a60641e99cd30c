//! Statistics of repeated measurements: medians and their spread.

/// The median of `values` (0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// A median with the range it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub count: usize,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: Vec<f64>) -> Option<Self> {
        let finite: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return None;
        }
        Some(Self {
            min: finite.iter().copied().fold(f64::INFINITY, f64::min),
            max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            count: finite.len(),
            median: median(finite),
        })
    }

    /// `median [min-max]` with `decimals` places; just the median for one value.
    pub fn format(&self, decimals: usize) -> String {
        if self.count < 2 {
            format!("{:.decimals$}", self.median)
        } else {
            format!(
                "{:.decimals$} [{:.decimals$}-{:.decimals$}]",
                self.median, self.min, self.max
            )
        }
    }
}

/// Formats an optional spread, `n/a` when there is nothing.
pub fn format(spread: Option<Spread>, decimals: usize) -> String {
    spread.map_or_else(|| "n/a".to_owned(), |spread| spread.format(decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn spread_keeps_the_range_and_skips_non_finite_values() {
        let spread = Spread::of(vec![0.9, 1.1, f64::NAN, 1.0]).unwrap();
        assert_eq!((spread.median, spread.min, spread.max), (1.0, 0.9, 1.1));
        assert_eq!(spread.format(2), "1.00 [0.90-1.10]");
        assert_eq!(Spread::of(vec![2.0]).unwrap().format(1), "2.0");
        assert!(Spread::of(vec![]).is_none());
    }
}

//! How well one per-segment number predicts another: Pearson's and
//! Spearman's correlation, and the gap between the lowest-ranked part of a
//! set and the rest (for judging a confidence against sentence scores).

/// Pearson's correlation of `x` and `y` (`None` when they differ in
/// length, have fewer than two points, or either is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Spearman's rank correlation: Pearson's over the ranks, ties given
/// their average rank (as `scipy.stats.spearmanr` does).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// Ranks from 1, ties sharing their average rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// The mean of `scores` over the `fraction` of segments that `by` ranks
/// lowest, and over the rest (lowest first; ties in `by` are broken by
/// position, so the split is deterministic). `None` if either part would
/// be empty.
pub fn lowest_fraction_gap(by: &[f64], scores: &[f64], fraction: f64) -> Option<(f64, f64)> {
    if by.len() != scores.len() {
        return None;
    }
    let low = (by.len() as f64 * fraction).round() as usize;
    if low == 0 || low >= by.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..by.len()).collect();
    order.sort_by(|&a, &b| by[a].total_cmp(&by[b]).then(a.cmp(&b)));
    let mean = |idx: &[usize]| idx.iter().map(|&i| scores[i]).sum::<f64>() / idx.len() as f64;
    Some((mean(&order[..low]), mean(&order[low..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_a_line_is_one_and_of_a_constant_is_none() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [3.0, 5.0, 7.0, 9.0];
        assert!((pearson(&x, &y).unwrap() - 1.0).abs() < 1e-12);
        let neg: Vec<f64> = y.iter().map(|v| -v).collect();
        assert!((pearson(&x, &neg).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&x, &[1.0; 4]), None);
        assert_eq!(pearson(&x, &y[..3]), None);
    }

    #[test]
    fn spearman_matches_scipy_with_ties() {
        // scipy.stats.spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 9]).statistic
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0, 5.0], &[2.0, 1.0, 4.0, 4.0, 9.0]).unwrap();
        assert!((rho - 0.7631578947368421).abs() < 1e-12, "{rho}");
        assert_eq!(ranks(&[10.0, 20.0, 10.0]), vec![1.5, 3.0, 1.5]);
    }

    #[test]
    fn the_lowest_fifth_is_split_off_by_rank() {
        let by = [0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.6, 0.4, 0.2, 1.0];
        let scores = [90.0, 10.0, 50.0, 70.0, 30.0, 80.0, 60.0, 40.0, 20.0, 100.0];
        let (low, rest) = lowest_fraction_gap(&by, &scores, 0.2).unwrap();
        assert_eq!(low, 15.0);
        assert_eq!(rest, 65.0);
        assert_eq!(lowest_fraction_gap(&by[..2], &scores[..2], 0.2), None);
    }
}

//! The silhouette score: how well points cluster by class, as one number in [-1, 1].
//!
//! For point `i` of class `C` with Euclidean distances `d`:
//! `a(i)` = mean distance from `i` to the other points of `C`,
//! `b(i)` = smallest, over the other classes `C'`, of the mean distance from `i` to the points of `C'`,
//! `s(i) = (b(i) − a(i)) / max(a(i), b(i))` (0 when `i` is alone in its class or `a = b = 0`),
//! and the score is the mean of `s(i)` over all points (as in Rousseeuw 1987 and scikit-learn).
//! Near 1: tight, well separated classes; near 0: overlapping classes; below 0: mixed up.

/// Mean silhouette of `n = labels.len()` points of dimension `dim` stored row-major in `points`,
/// with their classes as the clustering. `None` with fewer than two non-empty classes.
pub fn silhouette(points: &[f32], dim: usize, labels: &[usize]) -> Option<f64> {
    let n = labels.len();
    assert_eq!(points.len(), n * dim, "points must be n x dim");
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut count = vec![0usize; classes];
    for &l in labels {
        count[l] += 1;
    }
    if count.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    // sums[i * classes + c] = Σ distance from i to the points of class c.
    let mut sums = vec![0f64; n * classes];
    for i in 0..n {
        let pi = &points[i * dim..(i + 1) * dim];
        for j in i + 1..n {
            let pj = &points[j * dim..(j + 1) * dim];
            let d2: f64 = pi
                .iter()
                .zip(pj)
                .map(|(a, b)| f64::from(a - b) * f64::from(a - b))
                .sum();
            let d = d2.sqrt();
            sums[i * classes + labels[j]] += d;
            sums[j * classes + labels[i]] += d;
        }
    }
    let mut total = 0.0;
    for i in 0..n {
        let own = labels[i];
        if count[own] < 2 {
            continue; // s(i) = 0 for a point alone in its class
        }
        let a = sums[i * classes + own] / (count[own] - 1) as f64;
        let b = (0..classes)
            .filter(|&c| c != own && count[c] > 0)
            .map(|c| sums[i * classes + c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    Some(total / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_on_a_line() {
        // Classes {0, 1} and {4, 5}: s = 3.5/4.5, 2.5/3.5, 2.5/3.5, 3.5/4.5.
        let s = silhouette(&[0., 1., 4., 5.], 1, &[0, 0, 1, 1]).unwrap();
        let expected = (2.0 * 3.5 / 4.5 + 2.0 * 2.5 / 3.5) / 4.0;
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
        assert!((s - 0.746_031_746).abs() < 1e-8);
    }

    #[test]
    fn known_values_in_two_dimensions_with_a_singleton() {
        // (0,0),(0,2) class 0; (3,0) class 1 alone (s = 0).
        // i=0: a = 2, b = 3 -> 1/3. i=1: a = 2, b = sqrt(13) -> (sqrt(13)-2)/sqrt(13).
        let s = silhouette(&[0., 0., 0., 2., 3., 0.], 2, &[0, 0, 1]).unwrap();
        let r13 = 13f64.sqrt();
        let expected = (1.0 / 3.0 + (r13 - 2.0) / r13) / 3.0;
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
    }

    #[test]
    fn mixed_classes_score_below_separated_ones_and_one_class_has_none() {
        let separated = silhouette(&[0., 0.1, 10., 10.1], 1, &[0, 0, 1, 1]).unwrap();
        let mixed = silhouette(&[0., 0.1, 10., 10.1], 1, &[0, 1, 0, 1]).unwrap();
        assert!(separated > 0.9 && mixed < 0.0, "{separated} {mixed}");
        assert_eq!(silhouette(&[0., 1.], 1, &[3, 3]), None);
    }
}

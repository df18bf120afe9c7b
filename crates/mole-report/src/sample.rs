//! A fixed, class-balanced subsample of the points of an embeddings file.

/// Up to `max` indices of `labels`, as even across classes as the classes allow (round-robin
/// over classes, each class in file order), returned in increasing order. Deterministic: the
/// same file and `max` give the same points, so pictures of one run are comparable.
pub fn balanced_indices(labels: &[usize], max: usize) -> Vec<usize> {
    if labels.len() <= max {
        return (0..labels.len()).collect();
    }
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let mut picked = Vec::with_capacity(max);
    let mut round = 0;
    while picked.len() < max {
        for members in &by_class {
            if picked.len() < max
                && let Some(&i) = members.get(round)
            {
                picked.push(i);
            }
        }
        round += 1;
    }
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_classes_and_keeps_everything_when_small() {
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
        let idx = balanced_indices(&labels, 6);
        let count = |c| idx.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (2, 2, 2));
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        let idx = balanced_indices(&labels, 9); // class 1 runs out: 4 + 2 + 3
        assert_eq!(idx.len(), 9);
        assert_eq!(count_in(&idx, &labels, 1), 2);
        assert_eq!(balanced_indices(&labels, 100).len(), labels.len());
    }

    fn count_in(idx: &[usize], labels: &[usize], c: usize) -> usize {
        idx.iter().filter(|&&i| labels[i] == c).count()
    }
}

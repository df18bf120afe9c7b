//! Barnes-Hut t-SNE (the `bhtsne` crate) to two dimensions from a seeded initial embedding
//! (the layout still varies slightly between fits: bhtsne sums forces in parallel).

use crate::ReportError;
use crate::embeddings::Matrix;

/// Settings of one t-SNE fit.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneOptions {
    /// Perplexity (effective number of neighbours); lowered to `(n − 1) / 3` for small samples.
    pub perplexity: f32,
    /// Gradient-descent iterations (early exaggeration stops at 250).
    pub epochs: usize,
    /// Barnes-Hut accuracy θ (> 0; larger is faster and coarser).
    pub theta: f32,
    /// Seed of the initial embedding (fits from one seed agree up to parallel rounding).
    pub seed: u64,
}

impl Default for TsneOptions {
    fn default() -> Self {
        TsneOptions {
            perplexity: 30.0,
            epochs: 1000,
            theta: 0.5,
            seed: 0,
        }
    }
}

/// A 2-D embedding and how it was made.
#[derive(Debug, Clone)]
pub struct Tsne2d {
    /// `[x0, y0, x1, y1, …]`, one pair per point.
    pub points: Vec<f32>,
    /// The perplexity actually used.
    pub perplexity: f32,
    /// Wall-clock seconds of the fit.
    pub seconds: f64,
}

/// Largest perplexity `bhtsne` accepts for `n` points (it needs `n − 1 ≥ 3 · perplexity`).
pub fn max_perplexity(n: usize) -> f32 {
    (n.saturating_sub(1) / 3) as f32
}

/// Small Gaussian initial coordinates (σ = 1e-4, as in the reference implementation) from a
/// SplitMix64 stream.
fn initial(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..2 * n)
        .map(|_| {
            let (u1, u2) = (next().max(1e-12), next());
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * 1e-4) as f32
        })
        .collect()
}

/// Embeds the rows of `m` in 2-D with Barnes-Hut t-SNE and Euclidean distances.
pub fn tsne_2d(m: &Matrix, opts: &TsneOptions) -> Result<Tsne2d, ReportError> {
    let n = m.rows;
    if n < 4 {
        return Err(ReportError::Options(format!(
            "t-SNE needs at least 4 points, the sample has {n}"
        )));
    }
    let positive = |v: f32| v.is_finite() && v > 0.0;
    if !positive(opts.theta) || !positive(opts.perplexity) || opts.epochs == 0 {
        return Err(ReportError::Options(format!(
            "t-SNE needs theta > 0, perplexity > 0 and epochs > 0 (got {}, {}, {})",
            opts.theta, opts.perplexity, opts.epochs
        )));
    }
    let perplexity = opts.perplexity.min(max_perplexity(n));
    let rows: Vec<&[f32]> = m.data.chunks(m.cols).collect();
    let start = std::time::Instant::now();
    let mut t: bhtsne::tSNE<f32, &[f32], 2> = bhtsne::tSNE::new(&rows);
    t.perplexity(perplexity)
        .epochs(opts.epochs)
        .initial_embedding(initial(n, opts.seed))
        .barnes_hut(opts.theta, |a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f32>()
                .sqrt()
        });
    let points = t.embedding();
    let seconds = start.elapsed().as_secs_f64();
    if points.iter().any(|v| !v.is_finite()) {
        return Err(ReportError::Options(
            "t-SNE diverged (non-finite coordinates)".into(),
        ));
    }
    Ok(Tsne2d {
        points,
        perplexity,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::silhouette::silhouette;

    #[test]
    fn separates_two_blobs() {
        // Two 5-D blobs of 40 points, centres 10 apart.
        let mut data = Vec::new();
        let mut labels = Vec::new();
        let noise = initial(200, 7);
        for i in 0..80 {
            let c = if i < 40 { 0.0 } else { 10.0 };
            for d in 0..5 {
                data.push(c + noise[i * 2 + d % 2] * 1e4 + d as f32 * 0.01 * i as f32);
            }
            labels.push(usize::from(i >= 40));
        }
        let m = Matrix {
            rows: 80,
            cols: 5,
            data,
        };
        let opts = TsneOptions {
            epochs: 300,
            ..TsneOptions::default()
        };
        let a = tsne_2d(&m, &opts).unwrap();
        assert_eq!(a.points.len(), 160);
        assert_eq!(a.perplexity, 26.0, "lowered to (80 - 1) / 3");
        let s = silhouette(&a.points, 2, &labels).unwrap();
        assert!(s > 0.5, "silhouette of two far blobs after t-SNE: {s}");
        // bhtsne sums forces in parallel, so a second fit from the same seed differs slightly in
        // its coordinates but not in what it shows.
        let b = tsne_2d(&m, &opts).unwrap();
        assert!(silhouette(&b.points, 2, &labels).unwrap() > 0.5);
    }

    #[test]
    fn too_few_points_is_an_error_not_a_panic() {
        let m = Matrix {
            rows: 3,
            cols: 1,
            data: vec![0., 1., 2.],
        };
        assert!(
            tsne_2d(&m, &TsneOptions::default())
                .unwrap_err()
                .to_string()
                .contains("at least 4 points")
        );
    }
}

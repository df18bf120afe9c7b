//! Seeded training-time augmentation of CHW images: random crop after zero padding (a jitter of
//! up to the padding in each direction), random horizontal flip, and cutout (a square set to
//! 0). The draw for a sample depends only on `(seed, round, sample index)`, so the same batch is
//! augmented identically wherever it is rebuilt.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The random choices for one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AugmentDraw {
    /// Row offset of the crop window in the padded image, `0..=2·pad`.
    pub dy: usize,
    /// Column offset, `0..=2·pad`.
    pub dx: usize,
    /// Mirror left–right.
    pub flip: bool,
    /// Cutout: the centre (row, column) of the zeroed square, when cutout is on.
    pub cut: Option<(usize, usize)>,
}

/// What to draw for every sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AugmentPlan {
    /// Crop padding (0: no crop).
    pub pad: usize,
    /// Random horizontal flips.
    pub flip: bool,
    /// Side of the cutout square (0: no cutout).
    pub cutout: usize,
    /// Image height and width (where a cutout square may be centred).
    pub size: [usize; 2],
}

/// SplitMix64 finaliser, to derive independent seeds from `(seed, round, index)`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws the crop offsets (uniform in `0..=2·pad`), the flip (probability ½) and the cutout
/// centre (uniform over the pixels) of sample `index` in augmentation round `round`.
pub fn draw(seed: u64, round: u64, index: usize, plan: &AugmentPlan) -> AugmentDraw {
    let s = mix(mix(seed ^ 0xa11d_a7a5) ^ mix(round.wrapping_add(1)) ^ (index as u64));
    let mut rng = StdRng::seed_from_u64(s);
    let pad = plan.pad;
    let dy = if pad > 0 {
        rng.random_range(0..=2 * pad)
    } else {
        0
    };
    let dx = if pad > 0 {
        rng.random_range(0..=2 * pad)
    } else {
        0
    };
    let flip = plan.flip && rng.random_bool(0.5);
    let [h, w] = plan.size;
    let cut = (plan.cutout > 0 && h > 0 && w > 0)
        .then(|| (rng.random_range(0..h), rng.random_range(0..w)));
    AugmentDraw { dy, dx, flip, cut }
}

/// Sets to 0 the `side × side` square centred at `d.cut` (clipped at the borders) in every
/// channel of a row-major `[c, h, w]` image.
pub fn apply_cutout(x: &mut [f32], [c, h, w]: [usize; 3], side: usize, d: AugmentDraw) {
    let Some((cy, cx)) = d.cut else { return };
    let half = side / 2;
    let (y0, x0) = (cy.saturating_sub(half), cx.saturating_sub(half));
    let (y1, x1) = ((cy + side - half).min(h), (cx + side - half).min(w));
    for ch in 0..c {
        for i in y0..y1 {
            x[ch * h * w + i * w + x0..ch * h * w + i * w + x1].fill(0.0);
        }
    }
}

/// Applies a draw to one `[c, h, w]` image (row-major) into `out`:
/// `out[ch, i, j] = x_pad[ch, i + dy, j' + dx]` with `j' = w − 1 − j` when flipped, where
/// `x_pad` is `x` padded with `pad` zeros on every side.
pub fn augment_image(
    x: &[f32],
    [c, h, w]: [usize; 3],
    pad: usize,
    d: AugmentDraw,
    out: &mut Vec<f32>,
) {
    for ch in 0..c {
        let plane = &x[ch * h * w..(ch + 1) * h * w];
        for i in 0..h {
            let si = (i + d.dy) as isize - pad as isize;
            for j in 0..w {
                let jj = if d.flip { w - 1 - j } else { j };
                let sj = (jj + d.dx) as isize - pad as isize;
                let inside = si >= 0 && sj >= 0 && (si as usize) < h && (sj as usize) < w;
                out.push(if inside {
                    plane[si as usize * w + sj as usize]
                } else {
                    0.0
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_shift_and_flip() {
        // 1 channel, 2x3 image.
        let x = [1., 2., 3., 4., 5., 6.];
        let mut out = Vec::new();
        let none = AugmentDraw {
            dy: 1,
            dx: 1,
            flip: false,
            cut: None,
        };
        augment_image(&x, [1, 2, 3], 1, none, &mut out);
        assert_eq!(out, x);
        out.clear();
        let flip = AugmentDraw { flip: true, ..none };
        augment_image(&x, [1, 2, 3], 1, flip, &mut out);
        assert_eq!(out, [3., 2., 1., 6., 5., 4.]);
        out.clear();
        // Window moved down-right by one: row 0 is x's row 1 shifted left, zeros enter.
        let shift = AugmentDraw {
            dy: 2,
            dx: 2,
            flip: false,
            cut: None,
        };
        augment_image(&x, [1, 2, 3], 1, shift, &mut out);
        assert_eq!(out, [5., 6., 0., 0., 0., 0.]);
    }

    #[test]
    fn draws_are_seeded_and_vary() {
        let plan = AugmentPlan {
            pad: 4,
            flip: true,
            cutout: 0,
            size: [8, 8],
        };
        assert_eq!(draw(3, 1, 7, &plan), draw(3, 1, 7, &plan));
        let all: Vec<AugmentDraw> = (0..50).map(|i| draw(3, 1, i, &plan)).collect();
        assert!(all.iter().any(|d| d.flip) && all.iter().any(|d| !d.flip));
        assert!(
            all.iter()
                .all(|d| d.dx <= 8 && d.dy <= 8 && d.cut.is_none())
        );
        assert!(all.iter().any(|d| d.dx != all[0].dx));
        assert_ne!(
            (0..20).map(|i| draw(3, 1, i, &plan)).collect::<Vec<_>>(),
            (0..20).map(|i| draw(3, 2, i, &plan)).collect::<Vec<_>>()
        );
        // Cutout draws come after the crop and flip: those stay what they were without it.
        let with_cut = AugmentPlan { cutout: 3, ..plan };
        for i in 0..20 {
            let (a, b) = (draw(3, 1, i, &plan), draw(3, 1, i, &with_cut));
            assert_eq!((a.dy, a.dx, a.flip), (b.dy, b.dx, b.flip));
            let (cy, cx) = b.cut.expect("a cutout centre");
            assert!(cy < 8 && cx < 8);
        }
    }

    /// The square is centred where drawn, clipped at the border, in every channel.
    #[test]
    fn cutout_zeroes_a_clipped_square() {
        let mut x = vec![1.0f32; 2 * 4 * 5];
        let d = AugmentDraw {
            dy: 0,
            dx: 0,
            flip: false,
            cut: Some((0, 4)),
        };
        apply_cutout(&mut x, [2, 4, 5], 3, d);
        // Rows 0..2, columns 3..5 of both channels (the square runs off the top and right).
        for ch in 0..2 {
            for i in 0..4 {
                for j in 0..5 {
                    let want = if i < 2 && j >= 3 { 0.0 } else { 1.0 };
                    assert_eq!(x[ch * 20 + i * 5 + j], want, "{ch} {i} {j}");
                }
            }
        }
        let zeros = x.iter().filter(|v| **v == 0.0).count();
        assert_eq!(zeros, 2 * 2 * 2);
    }
}

//! Seeded training-time augmentation of CHW images: random crop after zero padding, and random
//! horizontal flip. The draw for a sample depends only on `(seed, round, sample index)`, so the
//! same batch is augmented identically wherever it is rebuilt.

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
}

/// SplitMix64 finaliser, to derive independent seeds from `(seed, round, index)`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws the crop offsets (uniform in `0..=2·pad`) and the flip (probability ½) of sample
/// `index` in augmentation round `round`.
pub fn draw(seed: u64, round: u64, index: usize, pad: usize, flip: bool) -> AugmentDraw {
    let s = mix(mix(seed ^ 0xa11d_a7a5) ^ mix(round.wrapping_add(1)) ^ (index as u64));
    let mut rng = StdRng::seed_from_u64(s);
    AugmentDraw {
        dy: if pad > 0 {
            rng.random_range(0..=2 * pad)
        } else {
            0
        },
        dx: if pad > 0 {
            rng.random_range(0..=2 * pad)
        } else {
            0
        },
        flip: flip && rng.random_bool(0.5),
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
        };
        augment_image(&x, [1, 2, 3], 1, shift, &mut out);
        assert_eq!(out, [5., 6., 0., 0., 0., 0.]);
    }

    #[test]
    fn draws_are_seeded_and_vary() {
        assert_eq!(draw(3, 1, 7, 4, true), draw(3, 1, 7, 4, true));
        let all: Vec<AugmentDraw> = (0..50).map(|i| draw(3, 1, i, 4, true)).collect();
        assert!(all.iter().any(|d| d.flip) && all.iter().any(|d| !d.flip));
        assert!(all.iter().all(|d| d.dx <= 8 && d.dy <= 8));
        assert!(all.iter().any(|d| d.dx != all[0].dx));
        assert_ne!(
            (0..20).map(|i| draw(3, 1, i, 4, true)).collect::<Vec<_>>(),
            (0..20).map(|i| draw(3, 2, i, 4, true)).collect::<Vec<_>>()
        );
    }
}

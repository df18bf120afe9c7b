//! Shared helpers for the integration tests: a tiny deterministic RNG (no extra dependency)
//! and tensor <-> host conversions.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use mole_info::Centering;

/// SplitMix64: deterministic, seedable, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `rows × cols` standard normal values, row-major.
    pub fn normal_vec(&mut self, rows: usize, cols: usize) -> Vec<f64> {
        (0..rows * cols).map(|_| self.normal()).collect()
    }

    /// A random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            p.swap(i, j);
        }
        p
    }
}

/// A `[rows, cols]` tensor from row-major f64 values (stored as f32).
pub fn matrix(values: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// Row-major f64 values of a tensor.
pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.to_data().try_into_vec_as::<f64>().unwrap()
}

/// The single value of a `[1]` tensor.
pub fn scalar(t: &Tensor<1>) -> f64 {
    let v = values(t);
    assert_eq!(v.len(), 1);
    v[0]
}

/// Rows of a row-major `[rows, cols]` matrix reordered by `perm` (row i of the result is row
/// `perm[i]` of the input).
pub fn permute_rows(values: &[f64], cols: usize, perm: &[usize]) -> Vec<f64> {
    perm.iter()
        .flat_map(|&r| values[r * cols..(r + 1) * cols].iter().copied())
        .collect()
}

/// Dense f64 matrix inverse by Gauss–Jordan elimination with partial pivoting (test oracle).
pub fn invert(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let mut inv: Vec<f64> = (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&r1, &r2| m[r1 * n + col].abs().total_cmp(&m[r2 * n + col].abs()))
            .unwrap();
        for k in 0..n {
            m.swap(col * n + k, pivot * n + k);
            inv.swap(col * n + k, pivot * n + k);
        }
        let d = m[col * n + col];
        assert!(d.abs() > 1e-300, "singular matrix");
        for k in 0..n {
            m[col * n + k] /= d;
            inv[col * n + k] /= d;
        }
        for r in 0..n {
            if r != col {
                let f = m[r * n + col];
                if f != 0.0 {
                    for k in 0..n {
                        m[r * n + k] -= f * m[col * n + k];
                        inv[r * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
    }
    inv
}

/// Dense f64 matrix product of two row-major `n × n` matrices.
pub fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// Centring matrix `H = I - (1/n) 1 1ᵀ`, row-major.
pub fn centering_matrix(n: usize) -> Vec<f64> {
    (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 } - 1.0 / n as f64)
        .collect()
}

/// Direct nHSIC: tr(Kxc (Kxc + εmI)^-1 Kyc (Kyc + εmI)^-1) with explicit inverses.
pub fn nhsic_explicit(kx: &[f64], ky: &[f64], m: usize, eps: f64, centering: Centering) -> f64 {
    let h = centering_matrix(m);
    let center = |k: &[f64]| match centering {
        Centering::Both => matmul(&matmul(&h, k, m), &h, m),
        Centering::Right => matmul(k, &h, m),
    };
    let r = |k: &[f64]| {
        let kc = center(k);
        let mut shifted = kc.clone();
        for i in 0..m {
            shifted[i * m + i] += eps * m as f64;
        }
        matmul(&kc, &invert(&shifted, m), m)
    };
    let p = matmul(&r(kx), &r(ky), m);
    (0..m).map(|i| p[i * m + i]).sum()
}

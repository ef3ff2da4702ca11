//! Consistency of predictions across layers, CPL (Lee 2019, Eq. 5).
//!
//! Given each tapped layer's class scores `P_i` (Eq. 3), CPL is the mean over layer pairs
//! `i < j` of `cos(P_i, P_j)`: near 1 when every layer "thinks" the same, lower when
//! layers disagree — as they do on adversarial inputs. Two variants, both reported:
//!
//! - [`CplVariant::Eq5`]: the printed equation, on the `P` each layer computes with its own
//!   `a` (3 for MNIST, 8 for ResNet).
//! - [`CplVariant::Top20Softmax`]: the published code — `P` from the top **20** nodes,
//!   passed through a softmax before the cosine.
//!
//! The layer scores are computed by the caller with [`CplVariant::top_a`] nodes; this module
//! only combines them. A zero score vector has no direction: its cosine with anything is 0.
//! CPL is unchanged when the layers are permuted.

use alloc::vec::Vec;

use crate::error::{Error, Result, check_finite};

/// Which CPL to compute (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CplVariant {
    /// Eq. 5 as printed, on each layer's own top-a scores.
    Eq5,
    /// The published code: top-20 nodes, softmax, then cosine.
    Top20Softmax,
}

impl CplVariant {
    /// Both variants, in reporting order.
    pub const ALL: [CplVariant; 2] = [CplVariant::Eq5, CplVariant::Top20Softmax];

    /// The number of top nodes the layer scores must use: the layer's own `a`, or 20.
    pub fn top_a(self, layer_a: usize) -> usize {
        match self {
            CplVariant::Eq5 => layer_a,
            CplVariant::Top20Softmax => 20,
        }
    }

    /// A short stable name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            CplVariant::Eq5 => "eq5",
            CplVariant::Top20Softmax => "top20-softmax",
        }
    }
}

fn cos64(a: &[f64], b: &[f64]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (libm::sqrt(aa) * libm::sqrt(bb))
}

fn softmax(p: &[f32]) -> Vec<f64> {
    let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = p.iter().map(|&x| libm::exp(f64::from(x - max))).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// CPL of one input from its per-layer class scores (each of the same length, ≥ 2 layers).
pub fn cpl(layer_scores: &[&[f32]], variant: CplVariant) -> Result<f64> {
    let l = layer_scores.len();
    if l < 2 {
        return Err(Error::InvalidParameter {
            name: "layers",
            reason: "CPL needs at least 2 layers",
        });
    }
    let c = layer_scores[0].len();
    for s in layer_scores {
        if s.len() != c {
            return Err(Error::DimMismatch {
                expected: c,
                got: s.len(),
            });
        }
        check_finite(s)?;
    }
    let vecs: Vec<Vec<f64>> = layer_scores
        .iter()
        .map(|s| match variant {
            CplVariant::Eq5 => s.iter().map(|&x| f64::from(x)).collect(),
            CplVariant::Top20Softmax => softmax(s),
        })
        .collect();
    let mut sum = 0.0;
    for i in 0..l {
        for j in i + 1..l {
            sum += cos64(&vecs[i], &vecs[j]);
        }
    }
    Ok(sum / (l * (l - 1) / 2) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_layers_score_one() {
        let a = [1.0f32, -1.0, 0.5];
        let b = [2.0f32, -2.0, 1.0];
        assert!((cpl(&[&a, &b, &a], CplVariant::Eq5).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mean_over_pairs() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let c = [1.0f32, 0.0];
        // pairs: (a,b)=0, (a,c)=1, (b,c)=0
        assert!((cpl(&[&a, &b, &c], CplVariant::Eq5).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn softmax_variant_differs_and_needs_two_layers() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let s = cpl(&[&a, &b], CplVariant::Top20Softmax).unwrap();
        let e = core::f64::consts::E;
        let want = 2.0 * e / (e * e + 1.0);
        assert!((s - want).abs() < 1e-12, "{s} vs {want}");
        assert!(cpl(&[&a], CplVariant::Eq5).is_err());
        assert_eq!(CplVariant::Top20Softmax.top_a(3), 20);
    }
}

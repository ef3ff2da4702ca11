//! What the class-conditional Gaussian ([`hapscope_core::gaussian`]) sees of a layer: small
//! enough to fit a covariance on and to ship to the page. Fully connected taps are used
//! whole; convolutional taps (`channels × positions`, channel-major as flattened) by their
//! per-channel means — the global average pooling Lee et al. (2018) use for their
//! Mahalanobis features.

/// How a tap's HAP becomes the Gaussian's feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FeatureMap {
    /// The HAP as is.
    Full,
    /// The mean of each of `channels` equal, contiguous blocks (one per channel).
    ChannelMeans {
        /// Number of channels; the HAP length is a multiple of it.
        channels: usize,
    },
}

impl FeatureMap {
    /// The map for a tap of length `dim` with `channels` feature maps (1 for a fully
    /// connected tap).
    pub fn for_tap(dim: usize, channels: usize) -> Self {
        if channels <= 1 || dim == channels {
            FeatureMap::Full
        } else {
            FeatureMap::ChannelMeans { channels }
        }
    }

    /// Whether it applies to a HAP of length `dim` (channels divide it).
    pub fn fits(&self, dim: usize) -> bool {
        match *self {
            FeatureMap::Full => dim > 0,
            FeatureMap::ChannelMeans { channels } => channels > 0 && dim % channels == 0 && dim > 0,
        }
    }

    /// Feature length for a HAP of length `dim`.
    pub fn len(&self, dim: usize) -> usize {
        match *self {
            FeatureMap::Full => dim,
            FeatureMap::ChannelMeans { channels } => channels,
        }
    }

    /// Whether the features are empty (a zero-length HAP).
    pub fn is_empty(&self, dim: usize) -> bool {
        self.len(dim) == 0
    }

    /// Features of host HAPs (`rows × dim`, row-major), appended to `out`. Means are summed
    /// in f64, then rounded once.
    pub fn apply(&self, haps: &[f32], dim: usize, out: &mut Vec<f32>) {
        match *self {
            FeatureMap::Full => out.extend_from_slice(haps),
            FeatureMap::ChannelMeans { channels } => {
                let per = dim / channels;
                for row in haps.chunks_exact(dim) {
                    out.extend(row.chunks_exact(per).map(|block| {
                        (block.iter().map(|&v| f64::from(v)).sum::<f64>() / per as f64) as f32
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_means_average_each_block() {
        let m = FeatureMap::for_tap(6, 3);
        assert_eq!(m, FeatureMap::ChannelMeans { channels: 3 });
        assert_eq!(FeatureMap::for_tap(500, 1), FeatureMap::Full);
        let haps = [
            1.0f32, 3.0, 5.0, 7.0, -1.0, 1.0, 0.0, 2.0, 2.0, 2.0, 4.0, 8.0,
        ];
        let mut host = Vec::new();
        m.apply(&haps, 6, &mut host);
        assert_eq!(host, vec![2.0, 6.0, 0.0, 1.0, 2.0, 6.0]);
        assert_eq!(m.len(6), 3);
    }
}

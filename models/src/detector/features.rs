//! [`FeatureMap`] (in `hapscope-fast`) on burn tensors: the same features, differentiable, for
//! the adaptive attacker.

use burn::prelude::*;

pub use hapscope_fast::detector::features::FeatureMap;

/// `map` on a `[batch, dim]` tensor: the same values as [`FeatureMap::apply`] on the host.
pub fn feature_tensor(map: FeatureMap, haps: Tensor<2>) -> Tensor<2> {
    match map {
        FeatureMap::Full => haps,
        FeatureMap::ChannelMeans { channels } => {
            let [b, dim] = haps.dims();
            haps.reshape([b, channels, dim / channels])
                .mean_dim(2)
                .reshape([b, channels])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_means_on_host_and_tensor_agree() {
        let m = FeatureMap::for_tap(6, 3);
        let haps = [
            1.0f32, 3.0, 5.0, 7.0, -1.0, 1.0, 0.0, 2.0, 2.0, 2.0, 4.0, 8.0,
        ];
        let mut host = Vec::new();
        m.apply(&haps, 6, &mut host);
        let t = Tensor::<2>::from_data(TensorData::new(haps.to_vec(), [2, 6]), &Device::flex());
        let dev: Vec<f32> = feature_tensor(m, t)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(dev, host);
    }
}

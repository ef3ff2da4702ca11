//! A labelled image set in memory (bytes, channel-major), batched into tensors in [0, 1].

use burn::prelude::*;

/// `count` images of `channels × height × width` bytes with one label each.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledImages {
    /// Number of images.
    pub count: usize,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// `count × channels × height × width` bytes.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl LabelledImages {
    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Keeps the first `n` images.
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.count);
        self.pixels.truncate(n * self.image_len());
        self.labels.truncate(n);
        self.count = n;
    }

    /// The images at `rows`, in that order (a row may repeat).
    ///
    /// # Panics
    /// If a row is out of range.
    pub fn select(&self, rows: &[usize]) -> LabelledImages {
        let px = self.image_len();
        LabelledImages {
            count: rows.len(),
            shape: self.shape,
            pixels: rows
                .iter()
                .flat_map(|&i| &self.pixels[i * px..][..px])
                .copied()
                .collect(),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The images at `idx` as `[n, c, h, w]` values in [0, 1] (byte / 255, like PyTorch's
    /// `ToTensor`), and their labels.
    pub fn batch(&self, idx: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let px = self.image_len();
        let mut x = Vec::with_capacity(idx.len() * px);
        for &i in idx {
            x.extend(
                self.pixels[i * px..][..px]
                    .iter()
                    .map(|&p| f32::from(p) / 255.0),
            );
        }
        let y: Vec<i64> = idx.iter().map(|&i| i64::from(self.labels[i])).collect();
        let [c, h, w] = self.shape;
        let x = Tensor::<4>::from_data(TensorData::new(x, [idx.len(), c, h, w]), device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), device);
        (x, y)
    }
}

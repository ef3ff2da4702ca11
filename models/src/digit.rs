//! A drawn or photographed digit made to look like an MNIST digit, the way MNIST itself was
//! made (LeCun et al.): the ink's bounding box is scaled, keeping its aspect ratio, to fit a
//! 20 × 20 box (with area averaging, which anti-aliases as the original normalisation did),
//! then placed in a 28 × 28 field so that its centre of mass sits at the centre.
//!
//! Input is ink intensity in [0, 1] (1 = full ink), row-major `width × height`. Bad input is
//! an error, never a panic: a wrong length, NaN or infinities, or a blank image (no ink, or
//! ink everywhere — an all-white canvas photographed on white paper looks like that).

use std::fmt;

/// Side of an MNIST image.
pub const SIDE: usize = 28;
/// Side of the box the ink is scaled into.
pub const BOX: usize = 20;
/// Pixels at or below this intensity count as background when finding the ink.
pub const INK_THRESHOLD: f32 = 0.1;
/// Largest accepted input side (an upload is downsampled by the page before this).
pub const MAX_SIDE: usize = 4096;

/// Why an image could not be turned into a digit.
#[derive(Debug, Clone, PartialEq)]
pub enum DigitError {
    /// `width × height` does not match the number of values, or a side is 0 or too large.
    Shape {
        /// Stated width.
        width: usize,
        /// Stated height.
        height: usize,
        /// Number of values given.
        values: usize,
    },
    /// A value is NaN or infinite.
    NotFinite {
        /// Index of the first bad value.
        index: usize,
    },
    /// Nothing is drawn.
    Blank,
    /// Ink covers (almost) the whole image, so there is no digit shape to find.
    Flooded,
}

impl fmt::Display for DigitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigitError::Shape {
                width,
                height,
                values,
            } => write!(
                f,
                "a {width}×{height} image needs {} values, got {values} (sides 1–{MAX_SIDE})",
                width.saturating_mul(*height)
            ),
            DigitError::NotFinite { index } => {
                write!(f, "value {index} is not a finite number")
            }
            DigitError::Blank => write!(f, "the image is blank: draw a digit first"),
            DigitError::Flooded => write!(
                f,
                "ink covers the whole image: a digit needs empty space around it"
            ),
        }
    }
}

impl std::error::Error for DigitError {}

/// Checks an image's shape and values.
fn check(ink: &[f32], width: usize, height: usize) -> Result<(), DigitError> {
    let shape = DigitError::Shape {
        width,
        height,
        values: ink.len(),
    };
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(shape);
    }
    if width * height != ink.len() {
        return Err(shape);
    }
    if let Some(index) = ink.iter().position(|v| !v.is_finite()) {
        return Err(DigitError::NotFinite { index });
    }
    Ok(())
}

/// The MNIST-style 28 × 28 digit (row-major, values in [0, 1]) for an ink image.
pub fn mnist_style(ink: &[f32], width: usize, height: usize) -> Result<Vec<f32>, DigitError> {
    check(ink, width, height)?;
    let ink: Vec<f32> = ink.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    // Bounding box of the ink.
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let mut inked = 0usize;
    for (i, &v) in ink.iter().enumerate() {
        if v > INK_THRESHOLD {
            let (x, y) = (i % width, i / width);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            inked += 1;
        }
    }
    if inked == 0 {
        return Err(DigitError::Blank);
    }
    if inked * 100 >= ink.len() * 98 && ink.len() > 1 {
        return Err(DigitError::Flooded);
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    // Scale so the longer side becomes BOX pixels (at least 1 pixel for the other side).
    let scale = BOX as f64 / bw.max(bh) as f64;
    let ow = ((bw as f64 * scale).round() as usize).clamp(1, BOX);
    let oh = ((bh as f64 * scale).round() as usize).clamp(1, BOX);
    let small = area_resample(&ink, width, [x0, y0, bw, bh], ow, oh);
    // Centre of mass of the scaled digit.
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in small.iter().enumerate() {
        let v = f64::from(v);
        mass += v;
        mx += v * ((i % ow) as f64 + 0.5);
        my += v * ((i / ow) as f64 + 0.5);
    }
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        (ow as f64 / 2.0, oh as f64 / 2.0)
    };
    // Integer offset that puts the centre of mass at (14, 14); ink shifted off the field
    // is dropped, as in MNIST.
    let dx = (SIDE as f64 / 2.0 - cx).round() as i64;
    let dy = (SIDE as f64 / 2.0 - cy).round() as i64;
    let mut out = vec![0.0f32; SIDE * SIDE];
    for y in 0..oh {
        for x in 0..ow {
            let (tx, ty) = (x as i64 + dx, y as i64 + dy);
            if (0..SIDE as i64).contains(&tx) && (0..SIDE as i64).contains(&ty) {
                out[ty as usize * SIDE + tx as usize] = small[y * ow + x];
            }
        }
    }
    Ok(out)
}

/// Contrast a photo needs (between its paper and its darkest strokes) to hold a digit.
pub const MIN_CONTRAST: f32 = 0.15;

/// Ink (1 = ink) from a photo's luminance in [0, 1]: the paper's brightness is the median;
/// ink is the distance from it on the side of the strokes (dark ink on light paper, or
/// light on dark), stretched so the strongest strokes reach 1, with faint noise (below a
/// fifth of that) removed. A photo without strokes is [`DigitError::Blank`].
pub fn photo_ink(luma: &[f32]) -> Result<Vec<f32>, DigitError> {
    if luma.is_empty() || luma.len() > MAX_SIDE * MAX_SIDE {
        return Err(DigitError::Shape {
            width: luma.len(),
            height: 1,
            values: luma.len(),
        });
    }
    if let Some(index) = luma.iter().position(|v| !v.is_finite()) {
        return Err(DigitError::NotFinite { index });
    }
    let mut sorted: Vec<f32> = luma.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    sorted.sort_by(f32::total_cmp);
    let paper = sorted[sorted.len() / 2];
    let light_paper = paper >= 0.5;
    let dist = |v: f32| {
        let v = v.clamp(0.0, 1.0);
        if light_paper { paper - v } else { v - paper }.max(0.0)
    };
    // The strongest strokes: the 99.5th percentile of the distance, so a speck does not set
    // the scale.
    let mut d: Vec<f32> = luma.iter().map(|&v| dist(v)).collect();
    d.sort_by(f32::total_cmp);
    let strong = d[((d.len() - 1) as f64 * 0.995).round() as usize];
    if strong < MIN_CONTRAST {
        return Err(DigitError::Blank);
    }
    Ok(luma
        .iter()
        .map(|&v| {
            let x = (dist(v) / strong).min(1.0);
            ((x - 0.2) / 0.8).max(0.0)
        })
        .collect())
}

/// Box-filter resampling of the `[x, y, w, h]` region of a `width`-wide image to `ow × oh`:
/// each output pixel is the exact area-weighted mean of the input it covers.
fn area_resample(img: &[f32], width: usize, region: [usize; 4], ow: usize, oh: usize) -> Vec<f32> {
    let [rx, ry, rw, rh] = region;
    let (sx, sy) = (rw as f64 / ow as f64, rh as f64 / oh as f64);
    let mut out = vec![0.0f32; ow * oh];
    for oy in 0..oh {
        let (fy0, fy1) = (oy as f64 * sy, (oy + 1) as f64 * sy);
        for ox in 0..ow {
            let (fx0, fx1) = (ox as f64 * sx, (ox + 1) as f64 * sx);
            let mut acc = 0.0f64;
            let mut y = fy0.floor() as usize;
            while (y as f64) < fy1 && y < rh {
                let wy = fy1.min(y as f64 + 1.0) - fy0.max(y as f64);
                let mut x = fx0.floor() as usize;
                while (x as f64) < fx1 && x < rw {
                    let wx = fx1.min(x as f64 + 1.0) - fx0.max(x as f64);
                    acc += wx * wy * f64::from(img[(ry + y) * width + rx + x]);
                    x += 1;
                }
                y += 1;
            }
            out[oy * ow + ox] = (acc / (sx * sy)) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre_of_mass(d: &[f32]) -> (f64, f64) {
        let (mut m, mut x, mut y) = (0.0, 0.0, 0.0);
        for (i, &v) in d.iter().enumerate() {
            m += f64::from(v);
            x += f64::from(v) * ((i % SIDE) as f64 + 0.5);
            y += f64::from(v) * ((i / SIDE) as f64 + 0.5);
        }
        (x / m, y / m)
    }

    #[test]
    fn a_bar_in_a_corner_is_scaled_to_20_and_centred() {
        // A 10-wide, 100-tall bar in the top-left corner of a 400 × 300 canvas.
        let (w, h) = (400, 300);
        let mut ink = vec![0.0; w * h];
        for y in 5..105 {
            for x in 7..17 {
                ink[y * w + x] = 1.0;
            }
        }
        let d = mnist_style(&ink, w, h).unwrap();
        let rows: Vec<usize> = (0..SIDE)
            .filter(|&y| d[y * SIDE..][..SIDE].iter().any(|&v| v > 0.5))
            .collect();
        let cols: Vec<usize> = (0..SIDE)
            .filter(|&x| (0..SIDE).any(|y| d[y * SIDE + x] > 0.5))
            .collect();
        assert_eq!(rows.len(), 20, "the long side is 20 pixels");
        assert_eq!(cols.len(), 2, "aspect ratio kept: 10/100 of 20");
        let (cx, cy) = centre_of_mass(&d);
        assert!(
            (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
            "{cx} {cy}"
        );
    }

    #[test]
    fn an_mnist_sized_digit_keeps_its_ink() {
        // A 20 × 20 square of ink on 28 × 28 stays a 20 × 20 square of full ink.
        let mut ink = vec![0.0; SIDE * SIDE];
        for y in 2..22 {
            for x in 3..23 {
                ink[y * SIDE + x] = 1.0;
            }
        }
        let d = mnist_style(&ink, SIDE, SIDE).unwrap();
        let total: f32 = d.iter().sum();
        assert!((total - 400.0).abs() < 1e-3, "{total}");
    }

    #[test]
    fn photo_ink_finds_dark_strokes_on_light_paper() {
        // Grey paper (0.8) with a dark stroke (0.2) and a light speck of noise (0.75).
        let mut luma = vec![0.8; 400];
        for v in &mut luma[100..140] {
            *v = 0.2;
        }
        luma[5] = 0.75;
        let ink = photo_ink(&luma).unwrap();
        assert!(ink[100..140].iter().all(|&v| v == 1.0));
        assert_eq!(ink[5], 0.0);
        assert_eq!(ink[300], 0.0);
        // Inverted photo: the same ink.
        let inverted: Vec<f32> = luma.iter().map(|v| 1.0 - v).collect();
        assert_eq!(photo_ink(&inverted).unwrap(), ink);
        assert_eq!(photo_ink(&[0.8; 400]), Err(DigitError::Blank));
        assert!(photo_ink(&[]).is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(mnist_style(&[0.0; 4], 2, 2), Err(DigitError::Blank));
        assert_eq!(mnist_style(&[1.0; 4], 2, 2), Err(DigitError::Flooded));
        assert!(matches!(
            mnist_style(&[0.0; 5], 2, 2),
            Err(DigitError::Shape { .. })
        ));
        assert!(matches!(
            mnist_style(&[], 0, 0),
            Err(DigitError::Shape { .. })
        ));
        assert_eq!(
            mnist_style(&[0.0, f32::NAN, 1.0, 0.0], 2, 2),
            Err(DigitError::NotFinite { index: 1 })
        );
        // A single dot is a (tiny) digit, scaled up to fill the box.
        let mut dot = vec![0.0; 100];
        dot[55] = 1.0;
        let d = mnist_style(&dot, 10, 10).unwrap();
        assert!(d.iter().filter(|&&v| v > 0.5).count() >= 400);
    }
}

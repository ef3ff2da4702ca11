//! What an uploaded image file claims to be, read from its header **before** anything is
//! decoded: the browser's decoder would otherwise allocate `width × height × 4` bytes for a
//! 20,000 × 20,000 PNG of a few hundred kilobytes (1.6 GB) before the page could refuse it.
//!
//! Reads the formats browsers decode for `<input type=file>` photos: PNG, JPEG, GIF, WebP
//! (lossy, lossless, extended) and BMP. Anything else is [`UploadError::UnknownFormat`].
//! Every read is bounds-checked; a truncated header is an error, never a panic.

use std::fmt;

/// Largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// Largest image accepted, in pixels (the page scales photos to ≤ 512 px a side anyway).
pub const MAX_UPLOAD_PIXELS: u64 = 50_000_000;

/// An image file's format and declared size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// `png`, `jpeg`, `gif`, `webp` or `bmp`.
    pub format: &'static str,
    /// Declared width in pixels (≥ 1).
    pub width: u32,
    /// Declared height in pixels (≥ 1).
    pub height: u32,
}

/// Why an upload is refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// More than [`MAX_UPLOAD_BYTES`].
    TooLarge {
        /// The file's length.
        bytes: usize,
    },
    /// Not one of the formats read here.
    UnknownFormat,
    /// The header ends early or contradicts itself.
    BadHeader {
        /// The format the file starts like.
        format: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// More than [`MAX_UPLOAD_PIXELS`].
    TooManyPixels {
        /// The declared size.
        header: ImageHeader,
    },
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadError::TooLarge { bytes } => write!(
                f,
                "the file is {:.1} MB; the limit is {} MB",
                *bytes as f64 / 1e6,
                MAX_UPLOAD_BYTES / (1024 * 1024)
            ),
            UploadError::UnknownFormat => {
                f.write_str("not an image this page reads (PNG, JPEG, GIF, WebP or BMP)")
            }
            UploadError::BadHeader { format, why } => {
                write!(f, "a damaged {} file ({why})", format.to_uppercase())
            }
            UploadError::TooManyPixels { header } => write!(
                f,
                "the image is {} × {} pixels ({:.0} megapixels); the limit is {} megapixels",
                header.width,
                header.height,
                f64::from(header.width) * f64::from(header.height) / 1e6,
                MAX_UPLOAD_PIXELS / 1_000_000
            ),
        }
    }
}

impl std::error::Error for UploadError {}

/// How much of a file [`check_upload`] needs: its first bytes hold the header (a JPEG's
/// frame header follows its metadata segments, each at most 64 KiB).
pub const UPLOAD_HEAD_BYTES: usize = 1 << 20;

/// Checks an upload from its first bytes (`head`, at least [`UPLOAD_HEAD_BYTES`] of it or the
/// whole file) and its length: the length, the format and the declared size.
pub fn check_upload(head: &[u8], file_len: usize) -> Result<ImageHeader, UploadError> {
    if file_len > MAX_UPLOAD_BYTES {
        return Err(UploadError::TooLarge { bytes: file_len });
    }
    let header = image_header(head)?;
    if u64::from(header.width) * u64::from(header.height) > MAX_UPLOAD_PIXELS {
        return Err(UploadError::TooManyPixels { header });
    }
    Ok(header)
}

/// The format and declared size of an image file, from its first bytes.
pub fn image_header(b: &[u8]) -> Result<ImageHeader, UploadError> {
    let (format, size) = if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("png", png(b))
    } else if b.starts_with(&[0xFF, 0xD8]) {
        ("jpeg", jpeg(b))
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        ("gif", gif(b))
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        ("webp", webp(b))
    } else if b.starts_with(b"BM") {
        ("bmp", bmp(b))
    } else {
        return Err(UploadError::UnknownFormat);
    };
    let (width, height) = size.map_err(|why| UploadError::BadHeader { format, why })?;
    if width == 0 || height == 0 {
        return Err(UploadError::BadHeader {
            format,
            why: "zero width or height",
        });
    }
    Ok(ImageHeader {
        format,
        width,
        height,
    })
}

type Size = Result<(u32, u32), &'static str>;

const TRUNCATED: &str = "truncated header";

fn bytes<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], &'static str> {
    b.get(at..at.checked_add(N).ok_or(TRUNCATED)?)
        .and_then(|s| s.try_into().ok())
        .ok_or(TRUNCATED)
}

fn be16(b: &[u8], at: usize) -> Result<u32, &'static str> {
    bytes::<2>(b, at).map(|x| u32::from(u16::from_be_bytes(x)))
}

fn le16(b: &[u8], at: usize) -> Result<u32, &'static str> {
    bytes::<2>(b, at).map(|x| u32::from(u16::from_le_bytes(x)))
}

fn le24(b: &[u8], at: usize) -> Result<u32, &'static str> {
    bytes::<3>(b, at).map(|[x, y, z]| u32::from_le_bytes([x, y, z, 0]))
}

/// PNG: the first chunk must be IHDR (width, height as big-endian u32).
fn png(b: &[u8]) -> Size {
    if bytes::<4>(b, 12)? != *b"IHDR" {
        return Err("the first chunk is not IHDR");
    }
    let w = u32::from_be_bytes(bytes(b, 16)?);
    let h = u32::from_be_bytes(bytes(b, 20)?);
    if w > i32::MAX as u32 || h > i32::MAX as u32 {
        return Err("size beyond 2³¹ − 1");
    }
    Ok((w, h))
}

/// JPEG: walk the marker segments to the first start-of-frame.
fn jpeg(b: &[u8]) -> Size {
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if *b.get(i).ok_or(TRUNCATED)? != 0xFF {
            return Err("expected a marker");
        }
        while *b.get(i).ok_or(TRUNCATED)? == 0xFF {
            i += 1;
        }
        let marker = b[i];
        i += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return Err("no frame header before the image data"),
            // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Ok((be16(b, i + 5)?, be16(b, i + 3)?));
            }
            _ => {
                let len = be16(b, i)? as usize;
                if len < 2 {
                    return Err("segment length below 2");
                }
                i += len;
            }
        }
    }
}

/// GIF: the logical screen size (little-endian u16s); frames are clipped to it.
fn gif(b: &[u8]) -> Size {
    Ok((le16(b, 6)?, le16(b, 8)?))
}

/// WebP: the size from the first chunk, `VP8 ` (lossy), `VP8L` (lossless) or `VP8X`.
fn webp(b: &[u8]) -> Size {
    match &bytes::<4>(b, 12)? {
        b"VP8 " => {
            if bytes::<3>(b, 23)? != [0x9D, 0x01, 0x2A] {
                return Err("bad VP8 start code");
            }
            Ok((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF))
        }
        b"VP8L" => {
            if bytes::<1>(b, 20)? != [0x2F] {
                return Err("bad VP8L signature");
            }
            let bits = u32::from_le_bytes(bytes(b, 21)?);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Ok((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => Err("unknown first chunk"),
    }
}

/// BMP: the DIB header's width and height (negative height = top-down rows).
fn bmp(b: &[u8]) -> Size {
    let dib = u32::from_le_bytes(bytes(b, 14)?);
    if dib == 12 {
        // OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes.
        return Ok((le16(b, 18)?, le16(b, 20)?));
    }
    if dib < 40 {
        return Err("unknown DIB header");
    }
    let w = i32::from_le_bytes(bytes(b, 18)?);
    let h = i32::from_le_bytes(bytes(b, 22)?);
    if w <= 0 || h == i32::MIN {
        return Err("bad width or height");
    }
    Ok((w as u32, h.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend(w.to_be_bytes());
        b.extend(h.to_be_bytes());
        b.extend([8, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn reads_each_format() {
        let size = |b: &[u8]| image_header(b).map(|h| (h.format, h.width, h.height));
        assert_eq!(size(&png_header(640, 480)), Ok(("png", 640, 480)));
        // JPEG: SOI, an APP0 segment, fill bytes, SOF2 (progressive) 1×3 … height 300, width 200.
        let jpeg = [
            &[
                0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xFF, 0xC2, 0, 11, 8,
            ][..],
            &[0x01, 0x2C, 0x00, 0xC8, 3][..],
        ]
        .concat();
        assert_eq!(size(&jpeg), Ok(("jpeg", 200, 300)));
        assert_eq!(size(b"GIF89a\x10\x00\x20\x00\x00"), Ok(("gif", 16, 32)));
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        vp8x.extend([0x3F, 0x01, 0x00, 0xDF, 0x00, 0x00]); // 320 × 224
        assert_eq!(size(&vp8x), Ok(("webp", 320, 224)));
        let mut vp8l = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2F".to_vec();
        vp8l.extend(((99u32) | (49 << 14)).to_le_bytes()); // 100 × 50
        assert_eq!(size(&vp8l), Ok(("webp", 100, 50)));
        let mut bmp = b"BM".to_vec();
        bmp.resize(14, 0);
        bmp.extend(40u32.to_le_bytes());
        bmp.extend(7i32.to_le_bytes());
        bmp.extend((-9i32).to_le_bytes());
        assert_eq!(size(&bmp), Ok(("bmp", 7, 9)));
    }

    #[test]
    fn refuses_huge_unknown_and_damaged_files() {
        let huge = png_header(20_000, 20_000);
        let err = check_upload(&huge, huge.len()).unwrap_err();
        assert!(matches!(err, UploadError::TooManyPixels { .. }));
        assert!(err.to_string().contains("20000 × 20000"), "{err}");
        assert_eq!(check_upload(b"hello", 5), Err(UploadError::UnknownFormat));
        assert!(matches!(
            check_upload(&png_header(5, 5)[..18], 18),
            Err(UploadError::BadHeader { format: "png", .. })
        ));
        assert!(matches!(
            check_upload(&png_header(0, 5), 30),
            Err(UploadError::BadHeader { .. })
        ));
        // A JPEG whose segment lengths run off the end, and one without a frame header.
        assert!(check_upload(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF], 6).is_err());
        assert!(check_upload(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2], 6).is_err());
        assert!(matches!(
            check_upload(&huge, MAX_UPLOAD_BYTES + 1),
            Err(UploadError::TooLarge { .. })
        ));
    }
}

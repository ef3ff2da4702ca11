//! Checksums.
//!
//! - [`crc32`]: CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) — the checksum of
//!   zlib, PNG and gzip, so artifact files can be checked with standard tools.
//! - [`xxh64`], [`xxh64_f32`], [`layers_checksum`]: XXH64 (Collet's xxHash, 64-bit), for
//!   bulk data checked on every read — the page's kept node rows, 25 MB read back on each
//!   return visit, where CRC-32's byte loop or WebCrypto's SHA-256 (≈ 40 ms here) would
//!   cost more than the read. It detects damage (a changed value, a short write), not an
//!   adversary: whoever can rewrite a browser's storage can rewrite the page too.

/// The byte-wise lookup table, built at compile time.
const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn merge(acc: u64, v: u64) -> u64 {
    (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

/// Stripes (32 bytes) per call of [`accumulate`]: 256 KiB.
const STRIPES_PER_CALL: usize = 8192;

/// Takes `n` stripes (four words each) from `words` into the accumulators. A call per 256 KiB,
/// not one loop over everything: a WebAssembly engine (V8) runs a function's first calls in
/// its baseline compiler and switches to the optimised code only from a later call, so one
/// call over a page's 25 MB of node rows would run unoptimised throughout.
#[inline(never)]
fn accumulate(v: &mut [u64; 4], words: &mut impl Iterator<Item = u64>, n: usize) {
    for _ in 0..n {
        for acc in v.iter_mut() {
            // The caller counts whole groups of four: the word is there.
            *acc = round(*acc, words.next().unwrap_or(0));
        }
    }
}

/// XXH64 of a message given as little-endian 64-bit words (`words`, `8·words.len()` bytes)
/// followed by `tail` (≤ 7 bytes), `len` bytes in all: the one implementation behind
/// [`xxh64`] and [`xxh64_f32`].
fn xxh64_parts(words: impl ExactSizeIterator<Item = u64>, tail: &[u8], len: u64, seed: u64) -> u64 {
    let mut words = words;
    let stripes = words.len() / 4;
    let mut h = if stripes > 0 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        let mut left = stripes;
        while left > 0 {
            let n = left.min(STRIPES_PER_CALL);
            accumulate(&mut v, &mut words, n);
            left -= n;
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for acc in v {
            h = merge(h, acc);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len);
    for w in words {
        h = (h ^ round(0, w))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
    }
    let mut tail = tail;
    if tail.len() >= 4 {
        let w = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        h = (h ^ u64::from(w).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        tail = &tail[4..];
    }
    for &b in tail {
        h = (h ^ u64::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// XXH64 of `bytes` with `seed` (the reference algorithm, xxHash's `XXH64`).
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    let whole = bytes.chunks_exact(8);
    let tail = whole.remainder();
    let words = whole.map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    xxh64_parts(words, tail, bytes.len() as u64, seed)
}

/// XXH64 of `values`' little-endian bytes (what [`xxh64`] gives on them, without a copy).
pub fn xxh64_f32(values: &[f32], seed: u64) -> u64 {
    let pairs = values.chunks_exact(2);
    let last = pairs.remainder().first().map(|v| v.to_bits().to_le_bytes());
    let words = pairs.map(|p| u64::from(p[0].to_bits()) | (u64::from(p[1].to_bits()) << 32));
    let tail: &[u8] = match &last {
        Some(b) => b,
        None => &[],
    };
    xxh64_parts(words, tail, 4 * values.len() as u64, seed)
}

/// The checksum of a list of `f32` arrays (the page's node rows, one per layer): XXH64 over
/// each array's length and XXH64 in order, so no two splits of the same values agree.
pub fn layers_checksum(layers: &[&[f32]]) -> u64 {
    let mut summary = alloc::vec::Vec::with_capacity(16 * layers.len());
    for l in layers {
        summary.extend_from_slice(&(l.len() as u64).to_le_bytes());
        summary.extend_from_slice(&xxh64_f32(l, 0).to_le_bytes());
    }
    xxh64(&summary, 0)
}

#[cfg(test)]
mod tests {
    /// xxHash's reference values (`xxhsum -H64`, and the xxHash repository's sanity tests).
    #[test]
    fn xxh64_reference_values() {
        assert_eq!(super::xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(super::xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(super::xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            super::xxh64(b"Nobody inspects the spammish repetition", 0),
            0xFBCE_A83C_8A37_8BF1
        );
    }

    #[test]
    fn xxh64_of_floats_is_xxh64_of_their_bytes() {
        // Every length through two 32-byte stripes and each tail (odd counts end in 4 bytes).
        let values: alloc::vec::Vec<f32> = (0..41).map(|i| (i as f32 * 0.37).sin()).collect();
        for n in 0..=values.len() {
            let v = &values[..n];
            let bytes: alloc::vec::Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            for seed in [0, 7] {
                assert_eq!(
                    super::xxh64_f32(v, seed),
                    super::xxh64(&bytes, seed),
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn layers_checksum_sees_a_changed_value_and_a_moved_split() {
        let a = [1.0f32, 2.0, 3.0];
        let b = [4.0f32];
        let base = super::layers_checksum(&[&a, &b]);
        assert_eq!(base, super::layers_checksum(&[&a, &b]));
        assert_ne!(base, super::layers_checksum(&[&a[..2], &[3.0, 4.0]]));
        assert_ne!(base, super::layers_checksum(&[&[1.0, 2.0, 3.5], &b]));
        assert_ne!(base, super::layers_checksum(&[&a]));
    }

    #[test]
    fn check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
    }
}

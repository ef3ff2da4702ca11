//! Writes small valid inputs for every fuzz target of `models/fuzz` (its seed corpus):
//!
//! ```text
//! cargo run -p hapscope-models --example fuzz_seeds -- models/fuzz/corpus
//! ```
//!
//! All seeds are synthetic or made by this project's own code (no dataset bytes): tiny
//! `.npy`, IDX (raw and gzipped), CIFAR records, safetensors headers, upload images and a
//! miniature page bundle.

use std::io::Write;
use std::path::Path;

use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::hebbian::HebbianAccumulator;
use hapscope_core::kernel::PlainKernel;
use hapscope_core::library::LibraryBuilder;
use hapscope_models::data::npy;
use hapscope_models::network::LENET;
use hapscope_models::page::bundle::{DIGIT_BYTES, file_ref};
use hapscope_models::page::manifest::{
    Calibration, LayerRef, MANIFEST_FORMAT, Manifest, digit_classes,
};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A `.npy` file by hand: `version` 1 or 2, the header dictionary, the data.
fn npy_raw(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{dict}\n").into_bytes();
    let mut b = b"\x93NUMPY".to_vec();
    b.extend([version, 0]);
    if version == 1 {
        b.extend((h.len() as u16).to_le_bytes());
    } else {
        b.extend((h.len() as u32).to_le_bytes());
    }
    b.append(&mut h);
    b.extend_from_slice(data);
    b
}

fn npy_seeds(dir: &Path) {
    let tmp = std::env::temp_dir().join(format!("hapscope-seed-{}.npy", std::process::id()));
    npy::write_matrix(&tmp, 2, 3, &[0.5, -1.0, 2.0, 0.0, 3.5, 1e-3]).unwrap();
    write(dir, "npy", "matrix-f4", &std::fs::read(&tmp).unwrap());
    npy::write_ints(&tmp, &[3, -1, 7]).unwrap();
    write(dir, "npy", "ints-i8", &std::fs::read(&tmp).unwrap());
    std::fs::remove_file(&tmp).unwrap();
    // Headers numpy also writes: f8, i4, format 2.0.
    let f8: Vec<u8> = [1.0f64, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }";
    write(dir, "npy", "matrix-f8-v2", &npy_raw(2, dict, &f8));
    let i4: Vec<u8> = [5i32, -6].iter().flat_map(|v| v.to_le_bytes()).collect();
    let dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
    write(dir, "npy", "ints-i4", &npy_raw(1, dict, &i4));
}

fn idx_seeds(dir: &Path) {
    let mut images = vec![0, 0, 8, 3];
    for d in [2u32, 3, 4] {
        images.extend(d.to_be_bytes());
    }
    images.extend((0..24).map(|i| (i * 11) as u8));
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(3u32.to_be_bytes());
    labels.extend([7, 2, 1]);
    write(dir, "idx", "images", &images);
    write(dir, "idx", "images.gz", &gzip(&images));
    write(dir, "idx", "labels", &labels);
    write(dir, "idx", "labels.gz", &gzip(&labels));
}

fn cifar_seeds(dir: &Path) {
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend((0..3 * 32 * 32).map(|i| (i * 7 % 256) as u8));
        r
    };
    write(dir, "cifar", "one", &record(3));
    write(dir, "cifar", "two", &[record(9), record(0)].concat());
}

/// A safetensors file of `tensors` (name, shape), F32 zeros.
fn safetensors(tensors: &[(&str, &[usize])]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut offset = 0;
    for (name, shape) in tensors {
        let n: usize = shape.iter().product::<usize>() * 4;
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            dims.join(","),
            offset + n
        ));
        offset += n;
    }
    let header = format!("{{{}}}", entries.join(","));
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend(header.as_bytes());
    b.resize(b.len() + offset, 0);
    b
}

fn weights_seeds(dir: &Path) {
    const NAMES: [&str; 8] = [
        "conv1.bias",
        "conv1.weight",
        "conv2.bias",
        "conv2.weight",
        "fc1.bias",
        "fc1.weight",
        "fc2.bias",
        "fc2.weight",
    ];
    // Every LeNet tensor, each with a wrong (tiny) shape.
    let tiny: Vec<(&str, &[usize])> = NAMES.iter().map(|n| (*n, &[2usize][..])).collect();
    write(
        dir,
        "weights",
        "all-names-wrong-shapes",
        &safetensors(&tiny),
    );
    // The right shapes for the small tensors; fc1.weight too small, conv2.weight missing.
    let some: [(&str, &[usize]); 7] = [
        ("conv1.bias", &[20]),
        ("conv1.weight", &[20, 1, 5, 5]),
        ("conv2.bias", &[50]),
        ("fc1.bias", &[500]),
        ("fc2.bias", &[10]),
        ("fc2.weight", &[500, 10]),
        ("fc1.weight", &[1, 1]),
    ];
    write(dir, "weights", "small-tensors", &safetensors(&some));
    // The committed weights' header and the first bytes of their data (a truncated file).
    let full = std::fs::read(hapscope_models::weights::mnist_lenet_path()).unwrap();
    let n = u64::from_le_bytes(full[..8].try_into().unwrap()) as usize;
    write(dir, "weights", "committed-truncated", &full[..8 + n + 256]);
}

fn upload_seeds(dir: &Path) {
    // An 8 × 8 "photo": light paper with a dark vertical stroke, as bytes.
    let mut photo = vec![7, 7, 0];
    photo.extend((0..64).map(|i| if i % 8 == 3 { 30 } else { 220 }));
    write(dir, "upload", "stroke-bytes", &photo);
    let mut floats = vec![2, 2, 1];
    for v in [0.0f32, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0] {
        floats.extend(v.to_le_bytes());
    }
    write(dir, "upload", "stroke-floats", &floats);
    // Image file headers, as uploads start (the header check reads these).
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(20_000u32.to_be_bytes());
    png.extend(20_000u32.to_be_bytes());
    png.extend([8, 0, 0, 0, 0]);
    write(dir, "upload", "png-header", &png);
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 1, 0x2C, 0, 0xC8, 3,
    ];
    write(dir, "upload", "jpeg-header", &jpeg);
    write(dir, "upload", "gif-header", b"GIF89a\x10\x00\x20\x00\x00");
    let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
    webp.extend([0x3F, 0x01, 0x00, 0xDF, 0x00, 0x00]);
    write(dir, "upload", "webp-header", &webp);
    let mut bmp = b"BM".to_vec();
    bmp.resize(14, 0);
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(7i32.to_le_bytes());
    bmp.extend((-9i32).to_le_bytes());
    write(dir, "upload", "bmp-header", &bmp);
}

fn bundle_seed(dir: &Path) {
    let (dim, rows) = (4, 5);
    let haps: Vec<f32> = (0..rows * dim)
        .map(|k| ((k * 37 % 11) as f32 - 5.0) / 3.0)
        .collect();
    let mut layers = Vec::new();
    let mut files = Vec::new();
    for (name, theta) in [("CN1", 0.5f32), ("FC2", 0.8)] {
        let mut b = LibraryBuilder::new(dim, theta, PlainKernel).unwrap();
        b.push(&haps).unwrap();
        let lib = b.finish();
        let mut acc = HebbianAccumulator::new(lib.len(), 10).unwrap();
        acc.add(&vec![0.9; lib.len()], 3).unwrap();
        let bytes = LibraryArtifact::new(name, &lib, &acc.finish(), false)
            .unwrap()
            .encode();
        layers.push(LayerRef {
            name: name.into(),
            theta,
            nodes: lib.len(),
            file: file_ref(&format!("{name}.haplib"), &bytes),
        });
        files.push(bytes);
    }
    let weights = b"not really weights".to_vec();
    let exemplars: Vec<u8> = (0..rows * DIGIT_BYTES).map(|i| (i % 251) as u8).collect();
    let manifest = Manifest {
        network: LENET.into(),
        input: [1, 28, 28],
        classes: digit_classes(),
        format: MANIFEST_FORMAT,
        source: "fuzz seed".into(),
        weights: file_ref("weights.safetensors", &weights),
        exemplars: file_ref("exemplars.u8", &exemplars),
        exemplar_ids: (0..rows as u32).collect(),
        exemplar_labels: vec![1; rows],
        layers,
        top_a: 3,
        calibration: Calibration {
            variant: "eq5".into(),
            threshold: 0.85,
            false_positive_rate: 0.05,
            digits: 10,
        },
        holdout_every: 10,
        detectors: None,
    };
    let mut seed = serde_json::to_vec(&manifest).unwrap();
    seed.push(0);
    seed.extend(weights);
    seed.extend(exemplars);
    for f in files {
        seed.extend(f);
    }
    write(dir, "bundle", "mini-bundle", &seed);
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fuzz_seeds DIR");
    let dir = Path::new(&dir);
    npy_seeds(dir);
    idx_seeds(dir);
    cifar_seeds(dir);
    weights_seeds(dir);
    upload_seeds(dir);
    bundle_seed(dir);
}

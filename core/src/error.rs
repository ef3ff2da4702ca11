//! The core's one error type.
//!
//! Every fallible function in `hapscope-core` returns [`Error`]. Variants carry the numbers
//! a caller needs to say what went wrong (expected vs. actual sizes, the offending index);
//! panics are kept for broken internal invariants only.

use core::fmt;

/// What went wrong in a core computation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A vector or matrix had the wrong length for the declared dimension.
    DimMismatch {
        /// The length the call required.
        expected: usize,
        /// The length it was given.
        got: usize,
    },
    /// A value was NaN or infinite; `index` is its flat position in the input.
    NonFinite {
        /// Flat index of the first non-finite value.
        index: usize,
    },
    /// A parameter was outside its valid range.
    InvalidParameter {
        /// The parameter's name, e.g. `"theta"`.
        name: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A class index (a network answer or a label) was not below the class count.
    ClassOutOfRange {
        /// The offending class.
        class: usize,
        /// The number of classes.
        classes: usize,
    },
    /// An input that must not be empty was empty.
    Empty {
        /// What was empty, e.g. `"library"`.
        what: &'static str,
    },
    /// More rows than a `u32` source id can name.
    TooManyRows,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DimMismatch { expected, got } => {
                write!(f, "dimension mismatch: expected {expected}, got {got}")
            }
            Error::NonFinite { index } => {
                write!(f, "non-finite value (NaN or Inf) at index {index}")
            }
            Error::InvalidParameter { name, reason } => write!(f, "invalid {name}: {reason}"),
            Error::ClassOutOfRange { class, classes } => {
                write!(
                    f,
                    "class {class} out of range (there are {classes} classes)"
                )
            }
            Error::Empty { what } => write!(f, "{what} is empty"),
            Error::TooManyRows => write!(f, "more than u32::MAX rows"),
        }
    }
}

// Decoding errors of the artifact format are `artifact::ArtifactError`, a type of their own:
// this module depends on no other module of the crate.
impl core::error::Error for Error {}

/// Shorthand for `core::result::Result<T, Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Returns the flat index of the first non-finite value, if any.
pub(crate) fn check_finite(values: &[f32]) -> Result<()> {
    match first_non_finite(values) {
        Some(index) => Err(Error::NonFinite { index }),
        None => Ok(()),
    }
}

/// The index of the first NaN or ±∞ in `values`. A value is non-finite exactly when its
/// exponent bits are all ones, so a block passes when the largest exponent field is below
/// that: a branch-free max that vectorizes (the check runs over every HAP of a build); the
/// exact index is searched only in a failing block.
pub fn first_non_finite(values: &[f32]) -> Option<usize> {
    let mut offset = 0;
    for block in values.chunks(4096) {
        if largest_exponent(block) == EXP {
            return block
                .iter()
                .position(|v| !v.is_finite())
                .map(|i| offset + i);
        }
        offset += block.len();
    }
    None
}

/// An `f32`'s exponent bits.
const EXP: u32 = 0x7f80_0000;

/// The largest exponent field in `block`. A call per block, not one loop over everything: a
/// WebAssembly engine (V8) runs a function's first calls in its baseline compiler and
/// switches to the optimised code only from a later call, so one call over a page's 25 MB
/// of node rows would run unoptimised throughout.
#[inline(never)]
fn largest_exponent(block: &[f32]) -> u32 {
    block.iter().map(|v| v.to_bits() & EXP).fold(0, u32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_non_finite_finds_the_first_in_any_block() {
        let mut v = alloc::vec![1.0f32; 10_000];
        assert_eq!(first_non_finite(&v), None);
        v[9_999] = f32::NAN;
        assert_eq!(first_non_finite(&v), Some(9_999));
        v[4_096] = f32::NEG_INFINITY;
        assert_eq!(first_non_finite(&v), Some(4_096));
        v[3] = f32::INFINITY;
        assert_eq!(first_non_finite(&v), Some(3));
        // The largest finite values and subnormals pass.
        assert_eq!(first_non_finite(&[f32::MAX, -f32::MAX, 1e-45, -0.0]), None);
        assert_eq!(first_non_finite(&[]), None);
    }
}

//! Readers (and writers) of the file formats hapscope consumes.

pub mod npy;

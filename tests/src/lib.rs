//! Cross-crate tests live in `integration/`; this library is empty.

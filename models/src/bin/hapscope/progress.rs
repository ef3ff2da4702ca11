//! Progress bars on stderr (hidden when stderr is not a terminal, as indicatif does).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting rows for one stage, e.g. "θ=0.80 build".
pub fn rows_bar(len: usize, stage: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>16} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(stage.to_string());
    bar
}

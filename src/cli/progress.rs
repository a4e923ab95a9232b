//! Progress on stderr for the commands that can run for more than a few
//! seconds; hidden with `--quiet` and when stderr is not a terminal.

use std::path::Path;
use std::time::Duration;

use accord::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this read in well under a second: no bar.
pub const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// A bar over the bytes of `path` as it is read; hidden for small files.
pub fn reading_bar(path: &Path, quiet: bool) -> Result<ProgressBar, Error> {
    let size = std::fs::metadata(path)
        .map_err(|source| Error::Read {
            path: path.into(),
            source,
        })?
        .len();
    if quiet || size < PROGRESS_MIN_BYTES {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "accord: reading {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {wide_bar}",
        )
        .expect("valid template"),
    );
    Ok(bar)
}

/// A spinner with a message, ticking on its own so a long step still
/// shows it is alive.
pub fn spinner(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("accord: {spinner} {msg} ({elapsed})").expect("template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over the images of a run, its message naming the pass.
pub fn images_bar(images: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(images), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "accord: {msg}: {pos}/{len} images ({per_sec}, {eta}) {wide_bar}",
        )
        .expect("valid template"),
    );
    bar
}

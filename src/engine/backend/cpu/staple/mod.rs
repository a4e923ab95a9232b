//! CPU twins of the STAPLE shaders (`shaders/staple_posterior.wgsl`,
//! `shaders/staple_counts.wgsl`): the E-step of multi-class STAPLE
//! (Warfield, Zou & Wells 2004) with a spatial prior from the smoothed
//! votes, and the soft confusion counts its M-step normalises.
//!
//! Raters are indexed per mask through `mask_rater`, so one confusion table
//! can serve one mask (STAPLE per image) or all masks of a worker (shared
//! across the batch).

mod staple_counts;
mod staple_posterior;

pub use staple_counts::staple_counts;
pub use staple_posterior::staple_posterior_into;

/// Share of a pixel's smoothed votes that every class gets in its prior on
/// top of its own: a class that no worker drew nearby stays possible, at
/// about 1 : 100 against a unanimous neighbourhood.
pub const STAPLE_PRIOR_FLOOR: f32 = 0.01;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::masks::{Mask, MaskBuilder};

    #[test]
    fn posterior_is_the_normalised_product_of_prior_and_confusion() {
        let mut b = MaskBuilder::new(vec!["a".into(), "b".into()]).unwrap();
        for (worker, pixels) in [("w1", [0u8, 1]), ("w2", [1, 1])] {
            b.push(Mask {
                image: "i",
                worker,
                width: 2,
                height: 1,
                pixels: &pixels,
            })
            .unwrap();
        }
        let b = b.finish();
        // Prior votes 3:1 at pixel 0, 0:4 at pixel 1.
        let votes = [3u32, 1, 0, 4];
        // Rater 0 right 90%, rater 1 right 60%; [given][true].
        let theta = |right: f32| [right.ln(), (1. - right).ln(), (1. - right).ln(), right.ln()];
        let log_confusion: Vec<f32> = [theta(0.9), theta(0.6)].concat();
        let (mut post, mut labels, mut conf) = (vec![0.0; 4], vec![0; 2], vec![0.0; 2]);
        staple_posterior_into(
            &b.images,
            &b.labels,
            &votes,
            &[0, 1],
            &log_confusion,
            2,
            &mut post,
            &mut labels,
            &mut conf,
        );
        let floor = STAPLE_PRIOR_FLOOR as f64 * 4.0;
        // Pixel 0: w1 says a (0.9 vs 0.1), w2 says b (0.4 vs 0.6).
        let a = (3.0 + floor) * 0.9 * 0.4;
        let bb = (1.0 + floor) * 0.1 * 0.6;
        assert!((post[0] as f64 - a / (a + bb)).abs() < 1e-6, "{post:?}");
        assert_eq!(labels, vec![0, 1]);
        assert_eq!(conf[0], post[0]);
        assert!((post[2] + post[3] - 1.0).abs() < 1e-6);

        let mut counts = Vec::new();
        staple_counts(&b.images, &b.labels, &post, 2, &mut counts);
        // Mask 0 labelled pixel 0 `a` and pixel 1 `b`: row `given` holds
        // that pixel's posterior.
        assert_eq!(counts.len(), 2 * 4);
        assert_eq!(&counts[0..2], &post[0..2]);
        assert_eq!(&counts[2..4], &post[2..4]);
        // Mask 1 labelled both `b`.
        assert_eq!(&counts[4..6], &[0.0, 0.0]);
        assert!((counts[6] - (post[0] + post[2])).abs() < 1e-6);
    }
}

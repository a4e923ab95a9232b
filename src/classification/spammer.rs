//! Spammer scores: how little a worker's answers depend on the truth.
//!
//! Raykar & Yu (2012, "Eliminating spammers and ranking annotators for
//! crowdsourced labeling tasks", JMLR 13) call a worker a spammer when their
//! confusion matrix `A` (rows: true class, columns: answer) has identical
//! rows, so the answer is independent of the truth (`A` is rank one). Their
//! score for K classes is `S = 1/(K(K−1)) · Σ_{c<c'} Σ_k (A[c][k] − A[c'][k])²`,
//! 0 for a spammer and 1 for a perfect worker (or one who permutes the
//! classes consistently, which a confusion table can undo).
//!
//! accord reports `spammer_score = 1 − √S`: 1 is a spammer, 0 a perfect
//! worker, and the ranking is Raykar & Yu's. The square root makes it read
//! linearly: for a worker right with probability `a` on every class and
//! wrong uniformly, `√S = (K·a − 1)/(K − 1)`, the accuracy above chance
//! rescaled to [0, 1] (for two classes, `|α + β − 1|`, Youden's J), so a
//! spammer score of 0.9 is a worker 10% of the way from chance to perfect.
//! `S` itself is quadratic: a worker right 55% of the time on 4 classes,
//! well above chance, has `1 − S = 0.84`.

use ndarray::ArrayView2;

use super::Consolidation;

/// `1 − √S` for one confusion table `[true][given]` (rows summing to 1),
/// in [0, 1]: 1 when every row is the same (answers independent of the
/// truth), 0 for the identity. A single class has no spammer: 0.
pub fn spammer_score(confusion: ArrayView2<'_, f32>) -> f32 {
    let k = confusion.nrows();
    if k < 2 {
        return 0.0;
    }
    let mut sum = 0f64;
    for c in 0..k {
        for d in c + 1..k {
            for l in 0..k {
                let diff = confusion[[c, l]] as f64 - confusion[[d, l]] as f64;
                sum += diff * diff;
            }
        }
    }
    let s = sum / (k * (k - 1)) as f64;
    (1.0 - s.min(1.0).sqrt()).clamp(0.0, 1.0) as f32
}

/// Every worker's [`spammer_score`] from the fit's confusion tables.
pub fn spammer_scores(fit: &Consolidation) -> Vec<f32> {
    fit.confusion.outer_iter().map(spammer_score).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array2};

    #[test]
    fn identity_scores_0_and_identical_rows_score_1() {
        assert_eq!(spammer_score(Array2::<f32>::eye(4).view()), 0.0);
        let same = arr2(&[[0.5f32, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]);
        assert!((spammer_score(same.view()) - 1.0).abs() < 1e-6);
        // A worker who always swaps two classes is no spammer.
        let swap = arr2(&[[0.0f32, 1.0], [1.0, 0.0]]);
        assert_eq!(spammer_score(swap.view()), 0.0);
        // Accuracy 0.75 on two classes: S = (0.5² + 0.5²)/2 = 0.25, √S = 0.5.
        let fair = arr2(&[[0.75f32, 0.25], [0.25, 0.75]]);
        assert!((spammer_score(fair.view()) - 0.5).abs() < 1e-6);
        // Accuracy 0.55 on four classes, wrong uniformly: √S = (4·0.55 − 1)/3.
        let a = 0.55f32;
        let w = (1.0 - a) / 3.0;
        let four = Array2::from_shape_fn((4, 4), |(t, l)| if t == l { a } else { w });
        assert!((spammer_score(four.view()) - (1.0 - 0.4)).abs() < 1e-5);
    }
}

//! Unit tests of the CPU twins against hand-worked cases.
use super::*;
use crate::engine::backend::ConfusionRule;
use crate::maths::{digamma, fixed_sum, fixed_value, tie_draw, LL_FRAC_BITS};

/// The Ground Truth blog's example: two workers of accuracy 0.6 say owl,
/// one of accuracy 0.8 says falcon; uniform prior over two classes.
#[test]
fn e_step_reproduces_ground_truth_blog_bayes_example() {
    let k = 2;
    let mut log_conf = Vec::new();
    for acc in [0.6f32, 0.6, 0.8] {
        log_conf.extend(symmetric_log_table(acc, k));
    }
    // One item; workers 0 and 1 say owl (0), worker 2 says falcon (1).
    let mut post = vec![0.0; 2];
    let terms = ds_e_step(
        &[0, 3],
        &[0, 1, 2],
        &[0, 0, 1],
        &log_conf,
        &[0.5f32.ln(); 2],
        &[],
        &mut post,
    );
    assert!((post[0] - 0.36).abs() < 1e-6, "P(owl) = {}", post[0]);
    // p = 0.5·0.6·0.6·0.2 + 0.5·0.4·0.4·0.8 = 0.036 + 0.064
    assert!((terms.ll[0] - 0.1f32.ln()).abs() < 1e-6);
    let h = -(0.36f32 * 0.36f32.ln() + 0.64 * 0.64f32.ln());
    assert!((terms.entropy[0] - h).abs() < 1e-6, "{:?}", terms.entropy);
}

#[test]
fn e_step_clamps_a_known_item_and_adds_the_log_probability_of_its_class() {
    // The blog's item twice, the second known to be a falcon (class 1).
    let k = 2;
    let mut log_conf = Vec::new();
    for acc in [0.6f32, 0.6, 0.8] {
        log_conf.extend(symmetric_log_table(acc, k));
    }
    let mut post = vec![0.0; 4];
    let terms = ds_e_step(
        &[0, 3, 6],
        &[0, 1, 2, 0, 1, 2],
        &[0, 0, 1, 0, 0, 1],
        &log_conf,
        &[0.5f32.ln(); 2],
        &[0, 2],
        &mut post,
    );
    assert!((post[0] - 0.36).abs() < 1e-6);
    assert_eq!(&post[2..], &[0.0, 1.0]);
    // log p(answers) + log P(falcon | answers) = log p(answers, falcon).
    assert!((terms.ll[1] - (0.1f32.ln() + 0.64f32.ln())).abs() < 1e-6);
    assert!((terms.ll[1] - 0.064f32.ln()).abs() < 1e-5);
    assert!(terms.entropy[0] > 0.6 && terms.entropy[1] == 0.0);
}

#[test]
fn vote_shares_clamp_known_items_to_one_hot() {
    let shares = vote_shares(vec![2, 1, 0, 0, 3, 1], 2, &[0, 0, 1]);
    assert_eq!(shares[..2], [2.0 / 3.0, 1.0 / 3.0]);
    assert_eq!(shares[2..4], [0.5, 0.5]);
    assert_eq!(shares[4..], [1.0, 0.0]);
    assert_eq!(vote_shares(vec![0, 0], 2, &[]), vec![0.5, 0.5]);
}

#[test]
fn fit_terms_sum_to_the_expected_log_joint_of_the_annotations() {
    // One worker, K = 2, two annotations: item 0 (q = 0.25, 0.75) labelled
    // 1, item 1 (q = 1, 0) labelled 0; the counts C[t][l] are those sums.
    let counts = vec![1.0, 0.25, 0.0, 0.75];
    // log θ stored [given][true]: θ[true 0] = (0.8, 0.2), θ[true 1] = (0.3, 0.7).
    let log_conf: Vec<f32> = [0.8f32, 0.3, 0.2, 0.7].iter().map(|p| p.ln()).collect();
    let log_priors = [0.6f32.ln(), 0.4f32.ln()];
    let f = fit_terms(&counts, &log_conf, &log_priors, 2);
    let by_annotation = 0.25 * (0.2f32.ln() + 0.6f32.ln())
        + 0.75 * (0.7f32.ln() + 0.4f32.ln())
        + 1.0 * (0.8f32.ln() + 0.6f32.ln());
    assert!((f[0] + f[1] - by_annotation).abs() < 1e-5, "{f:?}");
    // A zero probability is clipped at ε as crowd-kit clips it.
    let clipped = fit_terms(&[1.0, 0.0, 0.0, 0.0], &[f32::NEG_INFINITY; 4], &[0.0; 2], 2);
    assert_eq!(clipped[0], LN_EPS);
}

#[test]
fn m_step_counts_sum_posteriors_per_given_label() {
    // Worker 0 labelled item 0 as class 1 and item 1 as class 0.
    let post = vec![0.25, 0.75, 1.0, 0.0];
    let counts = ds_m_step_counts(&[0, 2], &[0, 1], &[1, 0], &post, 2);
    // C[t][l]: t=0,l=1 gets 0.25; t=1,l=1 gets 0.75; t=0,l=0 gets 1.0.
    assert_eq!(counts, vec![1.0, 0.25, 0.0, 0.75]);
}

#[test]
fn digamma_matches_known_values() {
    // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H_9 − γ.
    let gamma = 0.577_215_664_901_532_9_f64;
    assert!((digamma(1.0) + gamma).abs() < 1e-9);
    assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-9);
    let h9: f64 = (1..10).map(|n| 1.0 / n as f64).sum();
    assert!((digamma(10.0) - (h9 - gamma)).abs() < 1e-9);
    assert!((digamma(1e-6) + 1e6).abs() < 1.0);
}

#[test]
fn hierarchical_rule_shrinks_a_sparse_worker_toward_the_population() {
    // K = 2. Worker 0: 100 annotations, right on 90 of each class.
    // Worker 1: one annotation, class 0 labelled 1.
    let counts = vec![90.0, 10.0, 10.0, 90.0, 0.0, 1.0, 0.0, 0.0];
    let population = population_confusion(&counts, 2);
    assert!(
        (population[0] - 90.0 / 101.0).abs() < 1e-6,
        "{population:?}"
    );
    assert!((population[3] - 0.9).abs() < 1e-6);
    let rule = ConfusionRule::Hierarchical {
        strength: 1.0,
        prior_correct: 1.0,
    };
    let (log_conf, _) = confusion_normalise(&counts, &[200.0, 1.0], 2, rule, 0);
    // [worker][given][true]: E[log θ] = ψ(α) − ψ(Σα).
    let row0: [f32; 2] = [90.0 + 90.0 / 101.0 + 1.0, 10.0 + 11.0 / 101.0];
    let expected = (digamma(row0[0] as f64) - digamma((row0[0] + row0[1]) as f64)) as f32;
    assert!((log_conf[0] - expected).abs() < 1e-5);
    // The sparse worker: α for true 0 is (0.89 + 1, 1 + 0.11): its one
    // mistake does not make it worse than chance on class 0.
    let p = |l: usize, t: usize| log_conf[4 + l * 2 + t].exp();
    assert!(p(0, 0) > p(1, 0), "{} vs {}", p(0, 0), p(1, 0));
    // Rows of exp(E[log θ]) sum to under 1 (Jensen).
    assert!(p(0, 0) + p(1, 0) < 1.0);
}

#[test]
fn one_coin_spreads_errors_evenly() {
    let counts = vec![3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let (log_conf, acc) = confusion_normalise(
        &counts,
        &[4.0],
        3,
        ConfusionRule::OneCoin { smoothing: 0.0 },
        0,
    );
    assert!((acc[0] - 0.75).abs() < 1e-6);
    let p = |l: usize, t: usize| log_conf[l * 3 + t].exp();
    assert!((p(0, 0) - 0.75).abs() < 1e-6 && (p(1, 0) - 0.125).abs() < 1e-6);
    assert!((p(2, 2) - 0.75).abs() < 1e-6);
}

#[test]
fn segments_and_combine_equal_the_fused_counts() {
    // One worker with 3 annotations cut into segments [0,2) and [2,3).
    let post = vec![0.2, 0.8, 0.6, 0.4, 1.0, 0.0];
    let fused = ds_m_step_counts(&[0, 3], &[0, 1, 2], &[1, 0, 1], &post, 2);
    let partial = ds_m_step_segments(&[0, 2, 3], &[0, 1, 2], &[1, 0, 1], &post, 2);
    let mut counts = vec![0f32; 4];
    ds_m_step_combine(&[0, 2], &[0], &partial, &mut counts, 2);
    assert_eq!(counts, fused);
}

#[test]
fn fixed_point_reduction_keeps_what_plain_f32_loses() {
    // 1 + 300 × 1e-6 − 2: plain f32 sums lose the small terms.
    let mut values = vec![1.0f32];
    values.extend(std::iter::repeat_n(1e-6f32, 300));
    values.push(-2.0);
    let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
    let pairs = reduce_rows(&bits, 1, false, LL_FRAC_BITS);
    let total = reduce_rows(&pairs, 1, true, LL_FRAC_BITS);
    let sum = fixed_value(total[0], total[1], LL_FRAC_BITS);
    assert!(
        (sum - (-1.0 + 300.0 * 1e-6)).abs() < 301.0 / (1u64 << 20) as f64,
        "{sum}"
    );
    assert_eq!(sum, fixed_sum(&values, LL_FRAC_BITS));
}

#[test]
fn exp_nonpositive_matches_libm() {
    let mut worst = 0f64;
    let mut x = 0f32;
    while x > -87.0 {
        let (fast, exact) = (exp_nonpositive(x) as f64, (x as f64).exp());
        worst = worst.max((fast - exact).abs() / exact);
        x -= 0.001_37;
    }
    assert!(worst < 4e-7, "relative error {worst}");
    assert_eq!(exp_nonpositive(0.0), 1.0);
    assert!(exp_nonpositive(-1000.0) < 1e-37);
}

#[test]
fn tie_draw_is_a_pure_function() {
    assert_eq!(tie_draw(7, 11), tie_draw(7, 11));
    assert_ne!(tie_draw(7, 11), tie_draw(8, 11));
}

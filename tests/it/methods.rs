//! The crowd-kit methods accord reimplements (GLAD, MACE, KOS, M-MSR) and
//! the hierarchical default, on synthetic data with a known truth.

use accord::engine::backend::cpu::CpuBackend;
use accord::engine::pack::Packed;
use accord::{
    classification::fit, classification::Init, classification::Method, classification::Params,
    classification::StartUsed,
};

/// 1,500 items, 5 answers each from 30 workers of accuracy 0.55 to 0.95
/// (the generator's default), and the true classes.
fn synthetic(k: usize, seed: u64) -> (Packed, Vec<u32>) {
    synthetic_of(1500, k, seed)
}

fn synthetic_of(items: usize, k: usize, seed: u64) -> (Packed, Vec<u32>) {
    crate::support::synthetic_set(items, 30, k, 5, seed)
}

fn accuracy(data: &Packed, truth: &[u32], method: Method) -> f64 {
    let f = fit(data, &CpuBackend, &Params::new(method), &mut |_, _| {}).unwrap();
    assert_eq!(f.labels.len(), truth.len());
    for row in f.posteriors.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-4, "{}: {row}", method.name());
    }
    f.labels.iter().zip(truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

#[test]
fn each_method_beats_majority_vote_on_workers_of_mixed_skill() {
    for (k, methods) in [
        (
            2,
            vec![
                Method::Hds,
                Method::Glad,
                Method::Mace,
                Method::Kos,
                Method::Mmsr,
            ],
        ),
        (
            4,
            vec![Method::Hds, Method::Glad, Method::Mace, Method::Mmsr],
        ),
    ] {
        let (data, truth) = synthetic(k, 7);
        let mv = accuracy(&data, &truth, Method::Mv);
        for method in methods {
            let acc = accuracy(&data, &truth, method);
            eprintln!("K={k}: {} {acc:.4}, mv {mv:.4}", method.name());
            assert!(
                acc > mv,
                "K={k}: {} {acc:.4} does not beat mv {mv:.4}",
                method.name()
            );
        }
    }
}

#[test]
fn kos_refuses_more_than_two_classes() {
    let (data, _) = synthetic(3, 1);
    let e = fit(
        &data,
        &CpuBackend,
        &Params::new(Method::Kos),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("two classes"), "{e}");
}

#[test]
fn the_spectral_start_alone_labels_better_than_majority_vote() {
    // One E-step from the spectral tables, no EM: the tables must already
    // carry the workers' skills. The method needs data: 20,000 items here
    // (on 1,500 its per-worker tables are off by up to 0.3).
    for k in [2, 3] {
        let (data, truth) = synthetic_of(20_000, k, 11);
        let (_, log_confusion) = accord::classification::spectral::spectral_start(&data).unwrap();
        // Each worker's estimated accuracy against their accuracy on the truth.
        let mut error = 0.0;
        for w in 0..data.n_workers() {
            let r = data.worker_range(w);
            let right = data.worker_item[r.clone()]
                .iter()
                .zip(&data.worker_label[r.clone()])
                .filter(|&(&i, &l)| truth[i as usize] == u32::from(l))
                .count() as f64
                / r.len() as f64;
            let estimate = (0..k)
                .map(|t| log_confusion[(w * k + t) * k + t].exp() as f64)
                .sum::<f64>()
                / k as f64;
            error += (estimate - right).abs() / data.n_workers() as f64;
        }
        assert!(error < 0.05, "K={k}: mean accuracy error {error:.3}");
        let mv = accuracy(&data, &truth, Method::Mv);
        let mut params = Params::new(Method::Ds);
        params.init = Init::Spectral;
        params.max_iter = 1;
        let f = fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
        assert_eq!(f.start, StartUsed::Spectral);
        let acc =
            f.labels.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
        eprintln!("K={k}: spectral tables {acc:.4}, mv {mv:.4}");
        assert!(acc > mv, "K={k}: spectral {acc:.4} vs mv {mv:.4}");
        // `best` keeps whichever start ends with the higher likelihood.
        params.init = Init::Best;
        params.max_iter = 100;
        let best = fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
        let votes = fit(&data, &CpuBackend, &Params::new(Method::Ds), &mut |_, _| {}).unwrap();
        assert!(best.log_likelihood.last() >= votes.log_likelihood.last());
    }
}

#[test]
fn the_spectral_start_steps_aside_where_it_cannot_run() {
    // Two workers: no three groups.
    let data = accord::engine::pack::pack_triples(
        &[("a", "w1", "x"), ("a", "w2", "y"), ("b", "w1", "y")],
        None,
    )
    .unwrap();
    let mut params = Params::new(Method::Hds);
    params.init = Init::Spectral;
    let f = fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
    assert_eq!(f.start, StartUsed::SpectralUnavailable);
}

#[test]
fn mmsr_refuses_more_worker_pairs_than_memory_holds() {
    // 100,000 workers: 10^10 pairs, hundreds of GiB of pairwise tables.
    let names: Vec<(String, String)> = (0..100_000)
        .map(|i| (format!("i{i}"), format!("w{i}")))
        .collect();
    let triples: Vec<(&str, &str, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, (item, worker))| (item.as_str(), worker.as_str(), ["a", "b"][i % 2]))
        .collect();
    let data = accord::engine::pack::pack_triples(&triples, None).unwrap();
    let e = fit(
        &data,
        &CpuBackend,
        &Params::new(Method::Mmsr),
        &mut |_, _| {},
    )
    .unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("100000 × 100000 pairs of workers") && message.contains("GiB"),
        "{message}"
    );
}

#[test]
fn host_methods_say_they_ran_on_the_host_and_honour_the_iteration_limit() {
    let (data, _) = synthetic(2, 7);
    for info in accord::classification::METHODS {
        let params = Params::new(info.method);
        let f = fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
        // auto runs (and stops) as the candidate it chose.
        let info = f.choice.as_ref().map_or(info, |c| c.method.info());
        let params = Params::new(info.method);
        match info.runs_on {
            accord::classification::RunsOn::Host => assert_eq!(f.ran_on, "host", "{}", info.name),
            accord::classification::RunsOn::Backend => {
                assert!(f.ran_on.starts_with("cpu"), "{}: {}", info.name, f.ran_on)
            }
        }
        assert!(f.iterations <= params.max_iter, "{}", info.name);
        assert_eq!(
            f.has_stopping_test,
            info.tol.is_some() || info.max_iter.is_none()
        );
        if info.max_iter.is_some() {
            // One round allowed: one round run, and no claim of convergence
            // for a method whose test needs two rounds to compare.
            let one = Params {
                max_iter: 1,
                ..Params::new(info.method)
            };
            let f = fit(&data, &CpuBackend, &one, &mut |_, _| {}).unwrap();
            assert_eq!(f.iterations, 1, "{}", info.name);
            assert!(
                !f.converged,
                "{} claims convergence after one round",
                info.name
            );
        }
    }
}

#[test]
fn glad_with_one_round_reports_one_round_not_converged() {
    // Regression: GLAD used to ignore max_iter and report "5 iterations,
    // converged" whatever was asked.
    let (data, _) = synthetic(2, 8);
    let params = Params {
        max_iter: 1,
        ..Params::new(Method::Glad)
    };
    let f = fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
    assert_eq!((f.iterations, f.converged), (1, false));
}

/// The pattern where a full table per worker has least to learn from: ten
/// classes, four answers per item, errors spread evenly (the generator's
/// one-coin workers). The held-out criterion must see that one accuracy per
/// worker predicts hidden answers best, and beat `hds` clearly.
#[test]
fn auto_chooses_one_coin_on_one_coin_data_and_beats_hds() {
    let mut spec = accord::synth::SynthSpec::numbered(1500, 44, 10, 4, 3);
    spec.accuracy = accord::synth::AccuracyDist::Uniform(0.3, 0.9);
    spec.class_skew = 1.0;
    let (data, truth) = crate::support::synthetic_from(&spec);
    let auto = fit(
        &data,
        &CpuBackend,
        &Params::new(Method::Auto),
        &mut |_, _| {},
    )
    .unwrap();
    let choice = auto.choice.as_ref().expect("auto records its choice");
    assert_eq!(choice.chosen, "one-coin", "{:?}", choice.scores);
    assert_eq!(choice.folds, accord::classification::chooser::FOLDS);
    let right = |labels: &[u32]| {
        labels.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
    };
    let hds = accuracy(&data, &truth, Method::Hds);
    assert!(
        right(&auto.labels) > hds + 0.03,
        "auto {} hds {hds}",
        right(&auto.labels)
    );
    assert_eq!(auto.method, Method::Auto);
}

/// Two candidates tie only when their fits are identical; otherwise the
/// chooser's pick must be the candidate whose held-out score is highest.
#[test]
fn auto_picks_the_highest_held_out_score() {
    let (data, _) = synthetic(4, 11);
    let auto = fit(
        &data,
        &CpuBackend,
        &Params::new(Method::Auto),
        &mut |_, _| {},
    )
    .unwrap();
    let choice = auto.choice.unwrap();
    let best =
        choice
            .scores
            .iter()
            .cloned()
            .fold((choice.scores[0].0, f64::NEG_INFINITY), |b, s| {
                if s.1 > b.1 {
                    s
                } else {
                    b
                }
            });
    assert_eq!(choice.chosen, best.0);
    assert!(choice.scores.iter().all(|(_, s)| s.is_finite() && *s < 0.0));
}

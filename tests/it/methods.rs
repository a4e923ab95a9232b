//! The crowd-kit methods accord reimplements (GLAD, MACE, KOS, M-MSR) and
//! the hierarchical default, on synthetic data with a known truth.

use accord::algo::{fit, Method, Params};
use accord::backend::cpu::CpuBackend;
use accord::pack::{pack, AnnotationBuilder, DuplicatePolicy, Packed};

/// 1,500 items, 5 answers each from 30 workers of accuracy 0.55 to 0.95
/// (the generator's default), and the true classes.
fn synthetic(k: usize, seed: u64) -> (Packed, Vec<u32>) {
    let spec = accord::synth::SynthSpec::numbered(1500, 30, k, 5, seed);
    let mut b = AnnotationBuilder::with_categories(&spec.classes).unwrap();
    let mut truth = Vec::new();
    accord::synth::generate(
        &spec,
        |_, c| {
            truth.push(c as u32);
            Ok(())
        },
        |i, w, l| {
            b.push(&format!("i{i}"), &format!("w{w}"), &l.to_string())
                .unwrap();
            Ok(())
        },
    )
    .unwrap();
    (pack(b.finish(), DuplicatePolicy::Keep).unwrap(), truth)
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

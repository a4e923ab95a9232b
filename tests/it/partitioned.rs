//! EM over partitions of the items (what `accord.spark` runs on executors
//! and the driver): on synthetic data cut into partitions, the labels equal
//! the single-machine CPU fit's and the posteriors agree within 1e-6; the
//! partial sums add up exactly in any order.

use std::collections::BTreeMap;

use accord::classification::partitioned::{self, label_partition};
use accord::classification::{fit, Method, Params};
use accord::engine::backend::cpu::CpuBackend;
use accord::engine::pack::Packed;
use accord::engine::partial::{self, row_width, ItemRows, PartialSums, Pass};

/// Items `items` of `data` as one partition's rows.
fn rows_of(data: &Packed, items: &[usize]) -> ItemRows {
    let mut rows = ItemRows {
        item_offsets: vec![0],
        ..ItemRows::default()
    };
    for &i in items {
        let r = data.item_range(i);
        rows.item_worker
            .extend_from_slice(&data.item_worker[r.clone()]);
        rows.item_label.extend_from_slice(&data.item_label[r]);
        rows.item_offsets.push(rows.item_worker.len() as u32);
    }
    rows
}

/// Items dealt to `n` partitions by a hash of their id (as a repartition by
/// item does), each partition's items in id order.
fn partitions(data: &Packed, n: usize) -> Vec<Vec<usize>> {
    let mut parts = vec![Vec::new(); n];
    for i in 0..data.n_items() {
        parts[(i.wrapping_mul(2_654_435_761) >> 7) % n].push(i);
    }
    parts
}

/// One pass: every partition's rows summed by key, partitions in `order`.
fn pass(data: &Packed, parts: &[ItemRows], order: &[usize], p: &Pass) -> PartialSums {
    let k = data.n_classes();
    let mut summed: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &at in order {
        let rows = &parts[at];
        let (q, ll) = partial::posteriors(rows, p, k);
        let sums = partial::partition_sums(rows, &q, ll.as_deref(), k, data.n_workers()).unwrap();
        let (keys, values) = sums.to_rows();
        for (key, row) in keys.iter().zip(values.chunks(row_width(k))) {
            let acc = summed.entry(*key).or_insert_with(|| vec![0; row.len()]);
            acc.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
    }
    let keys: Vec<i64> = summed.keys().copied().collect();
    let values: Vec<i64> = summed.values().flatten().copied().collect();
    PartialSums::from_rows(data.n_workers(), k, &keys, &values).unwrap()
}

fn worker_annotations(data: &Packed) -> Vec<u64> {
    (0..data.n_workers())
        .map(|w| data.worker_range(w).len() as u64)
        .collect()
}

#[test]
fn partitions_give_the_single_machine_fit() {
    for (k, seed) in [(2, 3), (4, 11)] {
        let (data, _) = crate::support::synthetic_set(3000, 40, k, 5, seed);
        let items = partitions(&data, 5);
        let parts: Vec<ItemRows> = items.iter().map(|p| rows_of(&data, p)).collect();
        let order: Vec<usize> = (0..parts.len()).collect();
        for method in [
            Method::Mv,
            Method::Ds,
            Method::Hds,
            Method::OneCoin,
            Method::Mds,
        ] {
            let params = Params::new(method);
            let single = fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
            let mut run = |p: &Pass| Ok(pass(&data, &parts, &order, p));
            let spread = partitioned::fit(
                &params,
                &worker_annotations(&data),
                k,
                &mut run,
                &mut |_, _| {},
            )
            .unwrap();
            assert_eq!(spread.iterations, single.iterations, "{}", method.name());
            assert_eq!(
                spread.log_likelihood,
                single.log_likelihood,
                "{}",
                method.name()
            );
            let mut worst = 0f32;
            for (part, rows) in items.iter().zip(&parts) {
                let (labels, confidence, posteriors) =
                    label_partition(&spread.labels, rows, &[], k);
                for (local, &i) in part.iter().enumerate() {
                    assert_eq!(
                        labels[local],
                        single.labels[i],
                        "{} item {i}",
                        method.name()
                    );
                    assert!((confidence[local] - single.confidence[i]).abs() <= 1e-6);
                    for c in 0..k {
                        worst = worst
                            .max((posteriors[local * k + c] - single.posteriors[[i, c]]).abs());
                    }
                }
            }
            assert!(
                worst <= 1e-6,
                "{}: posteriors differ by {worst}",
                method.name()
            );
            for (a, b) in spread.worker_accuracy.iter().zip(&single.worker_accuracy) {
                assert!(
                    (a - b).abs() <= 1e-6,
                    "{}: accuracy {a} vs {b}",
                    method.name()
                );
            }
        }
    }
}

#[test]
fn the_sums_do_not_depend_on_the_order_of_the_partitions() {
    let (data, _) = crate::support::synthetic_set(2000, 30, 3, 4, 5);
    let parts: Vec<ItemRows> = partitions(&data, 7)
        .iter()
        .map(|p| rows_of(&data, p))
        .collect();
    let tables = Pass::EStep {
        log_priors: vec![-(3f32).ln(); 3],
        log_confusion: (0..data.n_workers() * 9)
            .map(|c| if c % 4 == 0 { 0.8f32.ln() } else { 0.1f32.ln() })
            .collect(),
    };
    let forward: Vec<usize> = (0..parts.len()).collect();
    let backward: Vec<usize> = forward.iter().rev().copied().collect();
    assert_eq!(
        pass(&data, &parts, &forward, &tables),
        pass(&data, &parts, &backward, &tables)
    );
}

#[test]
fn host_methods_and_other_starts_are_refused_with_the_reason() {
    for method in [Method::Glad, Method::Mace, Method::Kos, Method::Wawa] {
        let err = partitioned::check(&Params::new(method))
            .unwrap_err()
            .to_string();
        assert!(err.contains("one machine only"), "{err}");
    }
    let mut params = Params::new(Method::Ds);
    params.init = accord::classification::Init::Spectral;
    let err = partitioned::check(&params).unwrap_err().to_string();
    assert!(err.contains("init"), "{err}");
}

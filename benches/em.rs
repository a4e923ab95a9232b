//! criterion benches: one EM iteration per backend and method (kernels only,
//! the session created outside the timed loop), and end-to-end consolidation
//! (read, pack, fit, write) on the CPU. Throughput is in annotations.
//!
//!     cargo bench --bench em
//!
//! Sizes: 1e5, 1e6 and 1e7 annotations (K = 5, 5 per item);
//! ACCORD_BENCH_LARGE=1 adds 1e8. ACCORD_BENCH_SIZES=1e5,1e6 picks others.
//! The hardware and adapter are printed first.

use std::path::PathBuf;

use accord::classification::{RunsOn, METHODS};
use accord::engine::backend::cpu::CpuBackend;
use accord::engine::backend::gpu::GpuBackend;
use accord::engine::backend::Backend;
use accord::engine::em;
use accord::engine::pack::{self, AnnotationBuilder, DuplicatePolicy, Packed};
use accord::synth::{generate, write_csv_dataset, SynthSpec};
use accord::{
    classification::read::ReadOptions,
    classification::write::WriteOptions,
    io::{self},
};
use accord::{
    classification::Method,
    classification::Params,
    classification::{self},
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn sizes() -> Vec<usize> {
    if let Ok(list) = std::env::var("ACCORD_BENCH_SIZES") {
        return list
            .split(',')
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .map(|v| v as usize)
            .collect();
    }
    let mut sizes = vec![100_000, 1_000_000, 10_000_000];
    if std::env::var("ACCORD_BENCH_LARGE").as_deref() == Ok("1") {
        sizes.push(100_000_000);
    }
    sizes
}

fn spec(annotations: usize) -> SynthSpec {
    accord::bench::bench_spec(annotations, 5, 5)
}

fn packed(annotations: usize) -> Packed {
    let spec = spec(annotations);
    let mut b = AnnotationBuilder::with_categories(&spec.classes).unwrap();
    let classes = spec.classes.clone();
    generate(
        &spec,
        |_, _| Ok(()),
        |i, w, l| {
            b.push(&format!("i{i}"), &format!("w{w}"), &classes[l])
                .unwrap();
            Ok(())
        },
    )
    .unwrap();
    pack::pack(b.finish(), DuplicatePolicy::Keep).unwrap()
}

fn print_hardware(gpu: &Option<GpuBackend>) {
    let cpu = accord::bench::cpu_model();
    eprintln!(
        "accord benches — {cpu}, {} threads",
        rayon::current_num_threads()
    );
    match gpu {
        Some(g) => eprintln!("gpu adapter: {}", g.name()),
        None => eprintln!("gpu adapter: none (GPU benches skipped)"),
    }
}

fn em_iteration(c: &mut Criterion) {
    let gpu = GpuBackend::new().ok();
    print_hardware(&gpu);
    let mut group = c.benchmark_group("em_iteration");
    group.sample_size(10);
    for size in sizes() {
        let data = packed(size);
        group.throughput(Throughput::Elements(data.n_annotations() as u64));
        let mut backends: Vec<(&str, Box<dyn Backend>)> = vec![("cpu", Box::new(CpuBackend))];
        if let Some(g) = &gpu {
            backends.push(("gpu", Box::new(g.clone())));
        }
        for (name, backend) in &backends {
            // Every EM method of the table, its M-step as the EM loop runs it.
            for info in METHODS.iter().filter(|m| m.runs_on == RunsOn::Backend) {
                let Some(rule_of) = info.em_rule else {
                    continue;
                };
                let rule = rule_of(&Params::new(info.method));
                let mut population = rule.initial_population();
                let mut session = backend.em_session(&data).unwrap();
                session.init_posteriors_from_votes().unwrap();
                group.bench_function(
                    BenchmarkId::new(format!("{name}/{}", info.name), size),
                    |b| {
                        b.iter(|| {
                            em::m_step(session.as_mut(), rule, &mut population).unwrap();
                            session.e_step().unwrap()
                        })
                    },
                );
            }
            let mut session = backend.em_session(&data).unwrap();
            group.bench_function(BenchmarkId::new(format!("{name}/mv_counts"), size), |b| {
                b.iter(|| session.mv_counts().unwrap())
            });
        }
    }
    group.finish();
}

fn end_to_end(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);
    for size in sizes() {
        let data_dir: PathBuf = dir.path().join(size.to_string());
        write_csv_dataset(&spec(size), &data_dir).unwrap();
        let labels = data_dir.join("labels.csv");
        let out = data_dir.join("out.csv");
        group.throughput(Throughput::Elements(size as u64));
        for method in [Method::Mv, Method::Ds] {
            group.bench_function(
                BenchmarkId::new(format!("cpu/{}", method.name()), size),
                |b| {
                    b.iter(|| {
                        let input = accord::classification::read::read(
                            &labels,
                            &ReadOptions::default(),
                            &|_| {},
                        )
                        .unwrap();
                        let data = pack::pack(input.annotations, DuplicatePolicy::Keep).unwrap();
                        let fit = classification::fit(
                            &data,
                            &CpuBackend,
                            &Params::new(method),
                            &mut |_, _| {},
                        )
                        .unwrap();
                        io::write_atomic(&out, |w| {
                            accord::classification::write::write_labels(
                                w,
                                &data,
                                &fit,
                                &[],
                                &WriteOptions::default(),
                            )
                        })
                        .unwrap();
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, em_iteration, end_to_end);
criterion_main!(benches);

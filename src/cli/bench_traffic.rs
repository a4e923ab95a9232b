//! `accord bench --backends gpu`: the modelled bytes, dispatches, submits
//! and readbacks of one EM iteration on the GPU, per stage, against the
//! floor (see `accord::engine::backend::gpu::traffic`).

use std::io::Write;

use accord::classification::{Method, Params};
use accord::engine::backend::gpu::traffic::{ds_floor, GpuCounters};
use accord::engine::backend::gpu::GpuBackend;
use accord::engine::backend::Backend;
use accord::engine::em;
use accord::engine::pack::Packed;

/// One EM iteration's counters, split into its E-step and M-step.
#[derive(Debug, serde::Serialize)]
pub struct IterationTraffic {
    annotations: u64,
    /// (E, M) floors in bytes.
    floor_e: u64,
    floor_m: u64,
    e: StepReport,
    m: StepReport,
    /// For a method stopped by crowd-kit's test, the iteration EM runs:
    /// both steps in one submit (`EmSession::e_and_m_step`).
    fused: Option<StepReport>,
}

#[derive(Debug, serde::Serialize)]
struct StepReport {
    stages: Vec<StageReport>,
    read: u64,
    written: u64,
    gathered: u64,
    dispatches: u64,
    submits: u64,
    readbacks: u64,
    readback_bytes: u64,
}

#[derive(Debug, serde::Serialize)]
struct StageReport {
    stage: String,
    dispatches: u64,
    read: u64,
    written: u64,
    gathered: u64,
}

fn step_report(c: &GpuCounters) -> StepReport {
    let total = c.total();
    StepReport {
        stages: c
            .stages
            .iter()
            .map(|(name, s)| StageReport {
                stage: name.to_string(),
                dispatches: s.dispatches,
                read: s.traffic.read,
                written: s.traffic.written,
                gathered: s.traffic.gathered,
            })
            .collect(),
        read: total.traffic.read,
        written: total.traffic.written,
        gathered: total.traffic.gathered,
        dispatches: total.dispatches,
        submits: c.submits,
        readbacks: c.readbacks,
        readback_bytes: c.readback_bytes,
    }
}

/// Counts one steady-state iteration of `method` (after one warm-up
/// iteration, so that lazily built passes exist): None for methods
/// without EM iterations.
pub fn measure(
    data: &Packed,
    gpu: &GpuBackend,
    method: Method,
) -> anyhow::Result<Option<IterationTraffic>> {
    let Some(rule_of) = method.info().em_rule else {
        return Ok(None);
    };
    let rule = rule_of(&Params::new(method));
    let mut population = rule.initial_population();
    let mut session = gpu.em_session(data)?;
    session.init_posteriors_from_votes()?;
    em::m_step(session.as_mut(), rule, &mut population)?;
    session.e_step()?;
    em::m_step(session.as_mut(), rule, &mut population)?;
    let ctx = gpu.context();
    let c0 = ctx.counters();
    session.e_step()?;
    let c1 = ctx.counters();
    em::m_step(session.as_mut(), rule, &mut population)?;
    let c2 = ctx.counters();
    let fused = if method.info().stop_test == em::StopTest::CrowdKitElbo {
        em::e_and_m_step(session.as_mut(), rule, &mut population)?;
        Some(step_report(&ctx.counters().since(&c2)))
    } else {
        None
    };
    let (floor_e, floor_m) = ds_floor(
        data.n_items() as u64,
        data.n_annotations() as u64,
        data.n_workers() as u64,
        data.n_classes() as u64,
    );
    Ok(Some(IterationTraffic {
        annotations: data.n_annotations() as u64,
        floor_e,
        floor_m,
        e: step_report(&c1.since(&c0)),
        m: step_report(&c2.since(&c1)),
        fused,
    }))
}

/// Prints `t` as a table, bytes per annotation.
pub fn print(out: &mut impl Write, method: Method, t: &IterationTraffic) -> std::io::Result<()> {
    let a = t.annotations.max(1) as f64;
    writeln!(
        out,
        "  gpu traffic of one {} iteration, {} annotations: modelled bytes per annotation (every load and store the kernels issue, from each dispatch's sizes)",
        method.name(),
        t.annotations
    )?;
    writeln!(
        out,
        "  {:<4} {:<22} {:>10} {:>10} {:>10} {:>10}",
        "step", "stage", "dispatches", "read B/a", "write B/a", "gather B/a"
    )?;
    let mut total = (0.0, 0, 0, 0, 0);
    for (name, step, floor) in [("E", &t.e, t.floor_e), ("M", &t.m, t.floor_m)] {
        for s in &step.stages {
            writeln!(
                out,
                "  {:<4} {:<22} {:>10} {:>10.2} {:>10.2} {:>10.2}",
                name,
                s.stage,
                s.dispatches,
                s.read as f64 / a,
                s.written as f64 / a,
                s.gathered as f64 / a
            )?;
        }
        let bytes = (step.read + step.written) as f64;
        writeln!(
            out,
            "  {:<4} {:<22} {:>10} {:>10.2} {:>10.2} {:>10.2}   = {:.2} B/a, floor {:.2} B/a, ratio {:.2}; {} submits, {} readbacks ({} B)",
            name,
            "total",
            step.dispatches,
            step.read as f64 / a,
            step.written as f64 / a,
            step.gathered as f64 / a,
            bytes / a,
            floor as f64 / a,
            bytes / floor.max(1) as f64,
            step.submits,
            step.readbacks,
            step.readback_bytes
        )?;
        total.0 += bytes;
        total.1 += floor;
        total.2 += step.dispatches;
        total.3 += step.submits;
        total.4 += step.readbacks;
    }
    writeln!(
        out,
        "  iteration: {:.2} B/a, floor {:.2} B/a, ratio {:.2}; {} dispatches, {} submits, {} readbacks",
        total.0 / a,
        total.1 as f64 / a,
        total.0 / total.1.max(1) as f64,
        total.2,
        total.3,
        total.4
    )?;
    if let Some(f) = &t.fused {
        let bytes = (f.read + f.written) as f64;
        writeln!(
            out,
            "  iteration as EM runs it (crowd-kit's test: E and M in one submit, the objective summed on the device): {:.2} B/a, ratio {:.2}; {} dispatches, {} submits, {} readbacks ({} B)",
            bytes / a,
            bytes / total.1.max(1) as f64,
            f.dispatches,
            f.submits,
            f.readbacks,
            f.readback_bytes
        )?;
    }
    Ok(())
}

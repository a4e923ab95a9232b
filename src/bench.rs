//! Timing of the EM steps on a backend, for `accord bench` and the criterion
//! benches. The session (and so the device upload) is made before timing;
//! each timed step waits for the device (the GPU session's steps submit and
//! wait), so the times are real.

use std::time::Instant;

use crate::classification::{fit, Method, Params, RunsOn};
use crate::engine::backend::Backend;
use crate::engine::em;
use crate::engine::pack::Packed;
use crate::error::Result;
use crate::synth::SynthSpec;

/// The CPU's model name from /proc/cpuinfo, where there is one (printed with
/// every benchmark).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The generated data every benchmark uses: `annotations / per_item` items,
/// workers = items / 50 (20 to 200,000), accuracies uniform on [0.55, 0.95],
/// seed 1.
pub fn bench_spec(annotations: usize, classes: usize, per_item: usize) -> SynthSpec {
    let items = (annotations / per_item.max(1)).max(1);
    let workers = (items / 50).clamp(20.max(per_item), 200_000);
    SynthSpec::numbered(items, workers, classes, per_item, 1)
}

/// Median step times of one method on one backend.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StepTimes {
    /// Seconds per E-step (with its log-likelihood readback); for `mv`, per
    /// vote count (with its readback).
    pub e_step_s: f64,
    /// Seconds per M-step (soft counts, normalisation, class priors).
    pub m_step_s: f64,
}

impl StepTimes {
    /// One EM iteration: E + M.
    pub fn iteration_s(&self) -> f64 {
        self.e_step_s + self.m_step_s
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    v[v.len() / 2]
}

/// Times `iterations` EM iterations of `method` (at least one).
pub fn time_steps(
    data: &Packed,
    backend: &dyn Backend,
    method: Method,
    iterations: usize,
) -> Result<StepTimes> {
    if method.info().runs_on == RunsOn::Host {
        // Host-side votes: time the whole fit as the "E-step".
        let mut e = Vec::new();
        for _ in 0..iterations.max(1) {
            let t = Instant::now();
            fit(data, backend, &Params::new(method), &mut |_, _| {})?;
            e.push(t.elapsed().as_secs_f64());
        }
        return Ok(StepTimes {
            e_step_s: median(e),
            m_step_s: 0.0,
        });
    }
    let mut session = backend.em_session(data)?;
    session.init_posteriors_from_votes()?;
    let (mut e, mut m) = (Vec::new(), Vec::new());
    let Some(rule_of) = method.info().em_rule else {
        // Majority vote has no iterations: time the vote counting.
        for _ in 0..iterations.max(1) {
            let t = Instant::now();
            session.mv_counts()?;
            e.push(t.elapsed().as_secs_f64());
        }
        return Ok(StepTimes {
            e_step_s: median(e),
            m_step_s: 0.0,
        });
    };
    let rule = rule_of(&Params::new(method));
    // The M-step as the EM loop runs it (mds also reads back the mean
    // worker accuracy each time).
    let mut population = rule.initial_population();
    for _ in 0..iterations.max(1) {
        let t = Instant::now();
        em::m_step(session.as_mut(), rule, &mut population)?;
        m.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        session.e_step()?;
        e.push(t.elapsed().as_secs_f64());
    }
    Ok(StepTimes {
        e_step_s: median(e),
        m_step_s: median(m),
    })
}

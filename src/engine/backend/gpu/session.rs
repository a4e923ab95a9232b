//! One EM run's model state on the device. Every buffer and bind group is
//! made once here; each step only records dispatches. Between iterations a
//! single f32 (the log-likelihood) is read back.

use std::sync::Arc;

use ndarray::Array2;

use super::context::{classes_per_thread, GpuContext};
use super::params::{
    CountParams, EStepParams, GroupSumParams, NormaliseParams, PriorParams, ReduceParams,
    VoteParams,
};
use super::plan::{plan_chunks, Chunk};
use super::traffic::{self, Traffic};
use crate::engine::backend::cpu::confusion_from_log;
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::{Error, Result};
use crate::maths::{fixed_value, COUNT_FRAC_BITS, LL_FRAC_BITS, PROB_FRAC_BITS};
use crate::{
    engine::backend::ConfusionRule, engine::backend::EmSession, engine::backend::ModelParams,
    engine::backend::WorkerPrior,
};

/// Private arrays in the shaders are sized K; beyond this they would spill.
pub const MAX_GPU_CLASSES: usize = 256;

/// One dispatch: pipeline, bind group, grid.
struct Dispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    grid: (u32, u32),
    /// The shader's name, the stage it is counted under.
    stage: &'static str,
    /// Its modelled bytes (see `traffic`).
    traffic: Traffic,
    /// The dispatch's uniform (kept alive as long as the bind group; the
    /// vote start's and the E-step's are rewritten by `set_known`).
    uniform: wgpu::Buffer,
}

impl Dispatch {
    fn record(&self, ctx: &GpuContext, pass: &mut wgpu::ComputePass<'_>) {
        ctx.dispatch(
            pass,
            &self.pipeline,
            &self.bind_group,
            self.grid,
            self.stage,
            self.traffic,
        );
    }
}

/// The device buffers of one chunk and its prepared dispatches.
struct ChunkState {
    /// The chunk's first item (global id).
    first_item: usize,
    n_items: usize,
    n_annotations: usize,
    item_offsets: wgpu::Buffer,
    item_label: wgpu::Buffer,
    posteriors: wgpu::Buffer,
    vote_shares: Dispatch,
    e_step: Dispatch,
    /// The E-step's per-workgroup log-likelihood sums to the chunk's one.
    ll_reduce: Vec<Dispatch>,
    /// reduce_rows's first pass over the posteriors into the per-workgroup
    /// sums the E-step otherwise leaves: only after the vote-share start.
    prior_first: Dispatch,
    /// The per-workgroup posterior sums to the chunk's K sums.
    prior_reduce: Vec<Dispatch>,
    m_segments: Option<Dispatch>,
    m_combine: Option<Dispatch>,
    /// Per item, its known class + 1 (0: not known), read by the vote start
    /// and the E-step when the chunk has a known item (`set_known`).
    known_class: wgpu::Buffer,
    /// Whether the chunk has a known item.
    has_known: bool,
    /// The chunk's item group's first log prior.
    prior_base: usize,
    // Held for the bind groups above.
    _buffers: Vec<wgpu::Buffer>,
}

pub struct GpuSession {
    ctx: Arc<GpuContext>,
    k: usize,
    n_workers: usize,
    chunks: Vec<ChunkState>,
    log_confusion: wgpu::Buffer,
    log_priors: wgpu::Buffer,
    counts: wgpu::Buffer,
    /// Each worker's `n` for the confusion rules (annotations, plus past
    /// answers under a [`WorkerPrior`]).
    worker_n: wgpu::Buffer,
    /// A [`WorkerPrior`]'s counts, copied into `counts` where each M-step
    /// would clear it; `None`: no prior.
    prior_counts: Option<wgpu::Buffer>,
    /// Each worker's annotations, `worker_n` without a prior.
    annotations: Vec<f32>,
    normalise_uniform: wgpu::Buffer,
    normalise: Dispatch,
    /// Per item group: its chunks' prior sums reduced to one row.
    prior_final: Vec<Dispatch>,
    /// Per item group: that row to its log priors.
    log_priors_step: Vec<Dispatch>,
    /// Item groups and their priors' length, G · K.
    n_priors: usize,
    /// Workers per population block.
    workers_per_group: usize,
    ll_final: Vec<Dispatch>,
    /// Three fixed-point pairs: the last E-step's log-likelihood and
    /// entropy, and the last fused M-step's fit term (`e_and_m_step`).
    ll_total: wgpu::Buffer,
    /// fit_terms (written by the normaliser when asked) to ll_total's
    /// third pair.
    fit_reduce: Vec<Dispatch>,
    /// True when the posteriors' per-workgroup sums are those of the
    /// current posteriors (the E-step leaves them; the vote-share start
    /// does not).
    sums_fresh: bool,
    accuracy_reduce: Vec<Dispatch>,
    accuracy_total: wgpu::Buffer,
    /// The population table [true][given] as fixed-point pairs, read by
    /// confusion_normalise under the hierarchical rule.
    population_sums: wgpu::Buffer,
    /// Sums every worker's counts into `population_sums`, with its own
    /// K²-wide scratch: built at the first hierarchical M-step, so other
    /// methods do not hold it.
    population_reduce: Option<(Vec<Dispatch>, [wgpu::Buffer; 2])>,
    _buffers: Vec<wgpu::Buffer>,
}

/// One reduce_rows pass: `n_rows` rows of `input` from row `in_row` on
/// (plain f32, or pairs when `pairs_in`) to one row of pairs per 256 rows,
/// written from row `out_row` of `output`.
#[allow(clippy::too_many_arguments)]
fn reduce_pass(
    ctx: &GpuContext,
    input: &wgpu::Buffer,
    pairs_in: bool,
    frac_bits: u32,
    in_row: usize,
    n_rows: usize,
    width: usize,
    output: &wgpu::Buffer,
    out_row: usize,
) -> Result<Dispatch> {
    let pipeline = ctx.pipeline("reduce_rows", 0)?;
    let rows = n_rows.max(1);
    let uniform = ctx.uniform(
        "reduce_rows params",
        &ReduceParams {
            n_rows: rows as u32,
            width: width as u32,
            out_row: out_row as u32,
            input_pairs: pairs_in as u32,
            frac_bits,
            in_row: in_row as u32,
            _pad: [0; 2],
        },
    );
    Ok(Dispatch {
        bind_group: ctx.bind(&pipeline, "reduce_rows", &[&uniform, input, output]),
        grid: ctx.grid_groups(rows.div_ceil(256) as u64),
        pipeline,
        stage: "reduce_rows",
        traffic: traffic::reduce_rows(rows as u64, width as u64, pairs_in),
        uniform,
    })
}

/// Builds the passes that reduce `n_rows` rows of `input` from row
/// `in_row` on (plain f32, or (hi, lo) pairs when `pairs_in`) to one row of
/// pairs written at `out_row` of `output`, ping-ponging through `scratch`.
#[allow(clippy::too_many_arguments)]
fn reduction(
    ctx: &GpuContext,
    input: &wgpu::Buffer,
    pairs_in: bool,
    frac_bits: u32,
    in_row: usize,
    n_rows: usize,
    width: usize,
    output: &wgpu::Buffer,
    out_row: usize,
    scratch: [&wgpu::Buffer; 2],
) -> Result<Vec<Dispatch>> {
    let mut passes = Vec::new();
    let mut rows = n_rows.max(1);
    let mut src = input;
    let mut toggle = 0;
    let mut input_pairs = pairs_in;
    let mut first_row = in_row;
    loop {
        let groups = rows.div_ceil(256);
        let (dst, row) = if groups == 1 {
            (output, out_row)
        } else {
            (scratch[toggle], 0)
        };
        passes.push(reduce_pass(
            ctx,
            src,
            input_pairs,
            frac_bits,
            first_row,
            rows,
            width,
            dst,
            row,
        )?);
        if groups == 1 {
            return Ok(passes);
        }
        src = scratch[toggle];
        toggle ^= 1;
        rows = groups;
        input_pairs = true;
        first_row = 0;
    }
}

/// ds_e_step's uniform for a chunk of `n_items` items.
fn e_params(n_items: usize, prior_base: usize, has_known: bool) -> EStepParams {
    EStepParams {
        n_items: n_items as u32,
        prior_base: prior_base as u32,
        ll_frac_bits: LL_FRAC_BITS,
        prob_frac_bits: PROB_FRAC_BITS,
        has_known: has_known as u32,
        _pad: [0; 3],
    }
}

/// vote_shares's uniform for a chunk of `n_items` items.
fn vote_params(n_items: usize, has_known: bool) -> VoteParams {
    VoteParams {
        n_items: n_items as u32,
        has_known: has_known as u32,
        _pad: [0; 2],
    }
}

impl GpuSession {
    pub fn new(ctx: Arc<GpuContext>, data: &Packed) -> Result<Self> {
        let k = data.n_classes();
        if k > MAX_GPU_CLASSES {
            return Err(Error::Limit(format!(
                "{k} classes: the GPU backend handles at most {MAX_GPU_CLASSES}; use `backend` cpu"
            )));
        }
        let plan = plan_chunks(data, ctx.max_binding_bytes())?;
        let n_workers = data.n_workers();
        let f = std::mem::size_of::<f32>() as u64;
        let wkk = (n_workers * k * k) as u64;

        let log_confusion = ctx.zeroed("log_confusion", wkk * f)?;
        let counts = ctx.zeroed("counts", wkk * f)?;
        let n_groups = data.n_item_groups();
        let n_priors = n_groups * k;
        let log_priors = ctx.storage("log_priors", &vec![-(k as f32).ln(); n_priors])?;
        let workers_per_group = data.groups.worker_block(n_workers);
        let worker_n: Vec<f32> = (0..n_workers)
            .map(|w| data.worker_range(w).len() as f32)
            .collect();
        let worker_n_buffer = ctx.storage("worker_n", &worker_n)?;
        let accuracy = ctx.zeroed("accuracy", n_workers as u64 * f)?;
        let n_chunks = plan.len();
        // Reduction outputs are fixed-point (lo, hi) pairs: two u32 per value.
        let prior_chunk_sums = ctx.zeroed("prior_chunk_sums", (n_chunks * k * 2) as u64 * f)?;
        // Per chunk: the log-likelihood and the entropy.
        let ll_chunk_sums = ctx.zeroed("ll_chunk_sums", (n_chunks * 2 * 2) as u64 * f)?;
        let prior_sums = ctx.zeroed("prior_sums", (n_priors * 2) as u64 * f)?;
        // What an iteration reads back: the log-likelihood, the entropy of
        // the posteriors and crowd-kit's fit term (three pairs).
        let ll_total = ctx.zeroed("ll_total", 6 * f)?;
        let fit_terms = ctx.zeroed("fit_terms", (n_workers * k).max(1) as u64 * f)?;
        let accuracy_total = ctx.zeroed("accuracy_total", 2 * f)?;
        let population_sums = ctx.zeroed(
            "population_sums",
            (data.n_worker_groups() * k * k * 2) as u64 * f,
        )?;
        let largest = plan
            .iter()
            .map(|c| c.n_items())
            .max()
            .unwrap_or(0)
            .max(n_chunks)
            .max(n_workers);
        let scratch_bytes = (largest.div_ceil(256) * k.max(1) * 2) as u64 * f;
        let scratch = [
            ctx.zeroed("reduce scratch a", scratch_bytes)?,
            ctx.zeroed("reduce scratch b", scratch_bytes)?,
        ];
        let scratch_refs = [&scratch[0], &scratch[1]];

        let mut chunks = Vec::with_capacity(n_chunks);
        for (c, chunk) in plan.iter().enumerate() {
            chunks.push(Self::chunk_state(
                &ctx,
                data,
                chunk,
                c,
                [
                    &log_confusion,
                    &log_priors,
                    &counts,
                    &prior_chunk_sums,
                    &ll_chunk_sums,
                ],
                scratch_refs,
            )?);
        }

        let normalise_uniform = ctx.uniform(
            "confusion_normalise params",
            &NormaliseParams {
                n_workers: n_workers as u32,
                rule: 0,
                smoothing: 0.0,
                prior_correct: 0.0,
                prior_accuracy: 0.0,
                strength: 0.0,
                count_frac_bits: COUNT_FRAC_BITS,
                workers_per_group: workers_per_group as u32,
                objective: 0,
                _pad: [0; 3],
            },
        );
        let pipeline = ctx.pipeline("confusion_normalise", k)?;
        let normalise = Dispatch {
            bind_group: ctx.bind(
                &pipeline,
                "confusion_normalise",
                &[
                    &normalise_uniform,
                    &counts,
                    &worker_n_buffer,
                    &log_confusion,
                    &accuracy,
                    &population_sums,
                    &log_priors,
                    &fit_terms,
                ],
            ),
            pipeline,
            grid: ctx.grid((n_workers * k) as u64),
            stage: "confusion_normalise",
            traffic: traffic::confusion_normalise(n_workers as u64, k as u64, false, false),
            uniform: normalise_uniform.clone(),
        };
        // Each item group's chunks are consecutive in the plan.
        let mut prior_final = Vec::new();
        let mut log_priors_step = Vec::with_capacity(n_groups);
        let pipeline = ctx.pipeline("log_priors", 0)?;
        for g in 0..n_groups {
            let first = plan.partition_point(|c| c.group < g);
            let last = plan.partition_point(|c| c.group <= g);
            prior_final.extend(reduction(
                &ctx,
                &prior_chunk_sums,
                true,
                PROB_FRAC_BITS,
                first,
                last - first,
                k,
                &prior_sums,
                g,
                scratch_refs,
            )?);
            let prior_uniform = ctx.uniform(
                "log_priors params",
                &PriorParams {
                    n_classes: k as u32,
                    n_items: data.item_group_range(g).len() as u32,
                    frac_bits: PROB_FRAC_BITS,
                    base: (g * k) as u32,
                },
            );
            log_priors_step.push(Dispatch {
                bind_group: ctx.bind(
                    &pipeline,
                    "log_priors",
                    &[&prior_uniform, &prior_sums, &log_priors],
                ),
                pipeline: pipeline.clone(),
                grid: (k.div_ceil(64) as u32, 1),
                stage: "log_priors",
                traffic: traffic::log_priors(k as u64),
                uniform: prior_uniform,
            });
        }
        let ll_final = reduction(
            &ctx,
            &ll_chunk_sums,
            true,
            LL_FRAC_BITS,
            0,
            n_chunks,
            2,
            &ll_total,
            0,
            scratch_refs,
        )?;
        // Into the third pair of ll_total (row 2 of width 1).
        let fit_reduce = reduction(
            &ctx,
            &fit_terms,
            false,
            LL_FRAC_BITS,
            0,
            n_workers * k,
            1,
            &ll_total,
            2,
            scratch_refs,
        )?;
        let accuracy_reduce = reduction(
            &ctx,
            &accuracy,
            false,
            PROB_FRAC_BITS,
            0,
            n_workers,
            1,
            &accuracy_total,
            0,
            scratch_refs,
        )?;
        ctx.check()?;
        Ok(GpuSession {
            ctx,
            k,
            n_workers,
            chunks,
            log_confusion,
            log_priors,
            counts,
            worker_n: worker_n_buffer,
            prior_counts: None,
            annotations: worker_n,
            normalise_uniform,
            normalise,
            prior_final,
            log_priors_step,
            n_priors,
            workers_per_group,
            ll_final,
            ll_total,
            fit_reduce,
            sums_fresh: false,
            accuracy_reduce,
            accuracy_total,
            population_sums: population_sums.clone(),
            population_reduce: None,
            _buffers: vec![
                population_sums,
                accuracy,
                prior_chunk_sums,
                ll_chunk_sums,
                fit_terms,
                prior_sums,
                scratch[0].clone(),
                scratch[1].clone(),
            ],
        })
    }

    /// The passes that sum each block of workers' soft counts (K² columns)
    /// into its population table, and the scratch they ping-pong through:
    /// one block (every worker) by `reduce_rows` passes, several blocks
    /// (multi-label: one per person) in one `group_sums` dispatch.
    fn build_population_reduce(&self) -> Result<(Vec<Dispatch>, [wgpu::Buffer; 2])> {
        let width = self.k * self.k;
        let f = std::mem::size_of::<f32>() as u64;
        let block = self.workers_per_group;
        if block < self.n_workers {
            let n_groups = self.n_workers.div_ceil(block);
            let pipeline = self.ctx.pipeline("group_sums", 0)?;
            let uniform = self.ctx.uniform(
                "group_sums params",
                &GroupSumParams {
                    n_groups: n_groups as u32,
                    block: block as u32,
                    width: width as u32,
                    n_rows: self.n_workers as u32,
                    frac_bits: COUNT_FRAC_BITS,
                    _pad: [0; 3],
                },
            );
            let dispatch = Dispatch {
                bind_group: self.ctx.bind(
                    &pipeline,
                    "group_sums",
                    &[&uniform, &self.counts, &self.population_sums],
                ),
                pipeline,
                grid: self.ctx.grid((n_groups * width) as u64),
                stage: "group_sums",
                traffic: traffic::group_sums(self.n_workers as u64, width as u64, n_groups as u64),
                uniform,
            };
            let scratch = [
                self.ctx.zeroed("population scratch a", 4)?,
                self.ctx.zeroed("population scratch b", 4)?,
            ];
            self.ctx.check()?;
            return Ok((vec![dispatch], scratch));
        }
        let bytes = (block.min(self.n_workers).div_ceil(256).max(1) * width.max(1) * 2) as u64 * f;
        let scratch = [
            self.ctx.zeroed("population scratch a", bytes)?,
            self.ctx.zeroed("population scratch b", bytes)?,
        ];
        let mut passes = Vec::new();
        for (g, first) in (0..self.n_workers.max(1)).step_by(block).enumerate() {
            passes.extend(reduction(
                &self.ctx,
                &self.counts,
                false,
                COUNT_FRAC_BITS,
                first,
                block.min(self.n_workers - first),
                width,
                &self.population_sums,
                g,
                [&scratch[0], &scratch[1]],
            )?);
        }
        self.ctx.check()?;
        Ok((passes, scratch))
    }

    /// Uploads one chunk and prepares its dispatches. `shared` is
    /// [log_confusion, log_priors, counts, prior_chunk_sums, ll_chunk_sums].
    fn chunk_state(
        ctx: &GpuContext,
        data: &Packed,
        chunk: &Chunk,
        index: usize,
        shared: [&wgpu::Buffer; 5],
        scratch: [&wgpu::Buffer; 2],
    ) -> Result<ChunkState> {
        let [log_confusion, log_priors, counts, prior_chunk_sums, ll_chunk_sums] = shared;
        let k = data.n_classes();
        let n = chunk.n_items();
        let f = std::mem::size_of::<f32>() as u64;
        let range = chunk.annotations.clone();
        let item_offsets = ctx.storage("item_offsets", &chunk.item_offsets)?;
        let item_worker = ctx.storage("item_worker", &data.item_worker[range.clone()])?;
        // The shaders read one class id per u32 word; the host packs two bytes.
        let wide_labels: Vec<u32> = data.item_label[range.clone()]
            .iter()
            .map(|&l| u32::from(l))
            .collect();
        let item_label = ctx.storage("item_label", &wide_labels)?;
        drop(wide_labels);
        let posteriors = ctx.zeroed("posteriors", (n * k) as u64 * f)?;
        // The E-step's per-workgroup sums: one pair per 256 items (and per
        // class), the rows of reduce_rows's first pass.
        let blocks = n.div_ceil(256).max(1);
        // The log-likelihood and entropy sums: two pairs per block.
        let ll_partials = ctx.zeroed("ll_partials", (blocks * 2 * 2) as u64 * f)?;
        let known_class = ctx.zeroed("known_class", n.max(1) as u64 * f)?;
        let prior_partials = ctx.zeroed("prior_partials", (blocks * k * 2) as u64 * f)?;

        let pipeline = ctx.pipeline("vote_shares", k)?;
        let uniform = ctx.uniform("vote_shares params", &vote_params(n, false));
        let vote_shares = Dispatch {
            bind_group: ctx.bind(
                &pipeline,
                "vote_shares",
                &[
                    &uniform,
                    &item_offsets,
                    &item_label,
                    &posteriors,
                    &known_class,
                ],
            ),
            pipeline,
            grid: ctx.grid(n as u64),
            stage: "vote_shares",
            traffic: traffic::vote_shares(n as u64, range.len() as u64, k as u64, false),
            uniform,
        };
        let pipeline = ctx.pipeline("ds_e_step", k)?;
        let uniform = ctx.uniform("e-step params", &e_params(n, chunk.group * k, false));
        let e_step = Dispatch {
            bind_group: ctx.bind(
                &pipeline,
                "ds_e_step",
                &[
                    &uniform,
                    &item_offsets,
                    &item_worker,
                    &item_label,
                    log_confusion,
                    log_priors,
                    &posteriors,
                    &ll_partials,
                    &prior_partials,
                    &known_class,
                ],
            ),
            pipeline,
            grid: ctx.grid(n as u64),
            stage: "ds_e_step",
            traffic: traffic::ds_e_step(n as u64, range.len() as u64, k as u64, false),
            uniform,
        };
        let ll_reduce = reduction(
            ctx,
            &ll_partials,
            true,
            LL_FRAC_BITS,
            0,
            blocks,
            2,
            ll_chunk_sums,
            index,
            scratch,
        )?;
        let prior_first = reduce_pass(
            ctx,
            &posteriors,
            false,
            PROB_FRAC_BITS,
            0,
            n,
            k,
            &prior_partials,
            0,
        )?;
        let prior_reduce = reduction(
            ctx,
            &prior_partials,
            true,
            PROB_FRAC_BITS,
            0,
            blocks,
            k,
            prior_chunk_sums,
            index,
            scratch,
        )?;

        let mut buffers = vec![item_worker, ll_partials, prior_partials];
        let (m_segments, m_combine) = if chunk.wk_item.is_empty() {
            (None, None)
        } else {
            let segment_start = ctx.storage("segment_start", &chunk.segment_start)?;
            let wk_item = ctx.storage("wk_item", &chunk.wk_item)?;
            let wk_label = ctx.storage("wk_label", &chunk.wk_label)?;
            let partial = ctx.zeroed("partial", (chunk.n_segments() * k * k) as u64 * f)?;
            let run_start = ctx.storage("run_start", &chunk.run_start)?;
            let run_worker = ctx.storage("run_worker", &chunk.run_worker)?;
            let pipeline = ctx.pipeline("ds_m_step_segments", k)?;
            let uniform = ctx.uniform("segment params", &CountParams::new(chunk.n_segments()));
            let segments = Dispatch {
                bind_group: ctx.bind(
                    &pipeline,
                    "ds_m_step_segments",
                    &[
                        &uniform,
                        &segment_start,
                        &wk_item,
                        &wk_label,
                        &posteriors,
                        &partial,
                    ],
                ),
                pipeline,
                grid: ctx.grid((chunk.n_segments() * k.div_ceil(classes_per_thread(k))) as u64),
                stage: "ds_m_step_segments",
                traffic: traffic::ds_m_step_segments(
                    chunk.n_segments() as u64,
                    chunk.wk_item.len() as u64,
                    k as u64,
                    classes_per_thread(k) as u64,
                ),
                uniform,
            };
            let pipeline = ctx.pipeline("ds_m_step_combine", k)?;
            let uniform = ctx.uniform("combine params", &CountParams::new(chunk.n_runs()));
            let combine = Dispatch {
                bind_group: ctx.bind(
                    &pipeline,
                    "ds_m_step_combine",
                    &[&uniform, &run_start, &run_worker, &partial, counts],
                ),
                pipeline,
                grid: ctx.grid((chunk.n_runs() * k) as u64),
                stage: "ds_m_step_combine",
                traffic: traffic::ds_m_step_combine(
                    chunk.n_runs() as u64,
                    chunk.n_segments() as u64,
                    k as u64,
                ),
                uniform,
            };
            buffers.extend([
                segment_start,
                wk_item,
                wk_label,
                partial,
                run_start,
                run_worker,
            ]);
            (Some(segments), Some(combine))
        };
        Ok(ChunkState {
            first_item: chunk.items.start,
            n_items: n,
            n_annotations: chunk.annotations.len(),
            item_offsets,
            item_label,
            posteriors,
            vote_shares,
            e_step,
            ll_reduce,
            prior_first,
            prior_reduce,
            m_segments,
            m_combine,
            known_class,
            has_known: false,
            prior_base: chunk.group * k,
            _buffers: buffers,
        })
    }

    /// Writes the normaliser's uniform for `rule` (asking for the fit terms
    /// when `objective`) and builds what the rule needs; returns whether it
    /// is the hierarchical rule.
    fn prepare_m_step(&mut self, rule: ConfusionRule, objective: bool) -> Result<bool> {
        let (rule_id, smoothing, prior_correct, prior_accuracy, strength) = match rule {
            ConfusionRule::Full {
                smoothing,
                prior_correct,
            } => (0, smoothing, prior_correct, 0.0, 0.0),
            ConfusionRule::OneCoin { smoothing } => (1, smoothing, 0.0, 0.0, 0.0),
            ConfusionRule::Modified { prior_accuracy } => (2, 0.0, 0.0, prior_accuracy, 0.0),
            ConfusionRule::Hierarchical {
                strength,
                prior_correct,
            } => (3, 0.0, prior_correct, 0.0, strength),
        };
        let hierarchical = rule_id == 3;
        if hierarchical && self.population_reduce.is_none() {
            self.population_reduce = Some(self.build_population_reduce()?);
        }
        self.ctx.write(
            &self.normalise_uniform,
            &[NormaliseParams {
                n_workers: self.n_workers as u32,
                rule: rule_id,
                smoothing,
                prior_correct,
                prior_accuracy,
                strength,
                count_frac_bits: COUNT_FRAC_BITS,
                workers_per_group: self.workers_per_group as u32,
                objective: objective as u32,
                _pad: [0; 3],
            }],
        );
        Ok(hierarchical)
    }

    /// Records the M-step: the class priors from the posteriors' sums
    /// (their first pass only when the last E-step did not leave them,
    /// `!fresh`), the soft counts, the tables; with `objective`, also the
    /// fit terms summed into ll_total's third pair.
    fn record_m_step(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        fresh: bool,
        hierarchical: bool,
        objective: bool,
    ) {
        let ctx = &self.ctx;
        match &self.prior_counts {
            Some(prior) => {
                encoder.copy_buffer_to_buffer(prior, 0, &self.counts, 0, self.counts.size());
                ctx.note("copy_buffer", traffic::copy(self.counts.size()));
            }
            None => {
                encoder.clear_buffer(&self.counts, 0, None);
                ctx.note("clear_buffer", traffic::clear(self.counts.size()));
            }
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("m_step"),
            timestamp_writes: None,
        });
        for chunk in &self.chunks {
            if !fresh {
                chunk.prior_first.record(ctx, &mut pass);
            }
            chunk
                .prior_reduce
                .iter()
                .for_each(|d| d.record(ctx, &mut pass));
            if let (Some(segments), Some(combine)) = (&chunk.m_segments, &chunk.m_combine) {
                segments.record(ctx, &mut pass);
                combine.record(ctx, &mut pass);
            }
        }
        self.prior_final
            .iter()
            .for_each(|d| d.record(ctx, &mut pass));
        self.log_priors_step
            .iter()
            .for_each(|d| d.record(ctx, &mut pass));
        if let (true, Some((passes, _))) = (hierarchical, &self.population_reduce) {
            passes.iter().for_each(|d| d.record(ctx, &mut pass));
        }
        let normalise = &self.normalise;
        ctx.dispatch(
            &mut pass,
            &normalise.pipeline,
            &normalise.bind_group,
            normalise.grid,
            normalise.stage,
            traffic::confusion_normalise(
                self.n_workers as u64,
                self.k as u64,
                hierarchical,
                objective,
            ),
        );
        if objective {
            self.fit_reduce
                .iter()
                .for_each(|d| d.record(ctx, &mut pass));
        }
    }

    /// Records the E-step: posteriors (known items clamped), and the
    /// log-likelihood and entropy summed into ll_total's first two pairs.
    fn record_e_step(&self, encoder: &mut wgpu::CommandEncoder) {
        let ctx = &self.ctx;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("e_step"),
            timestamp_writes: None,
        });
        for chunk in &self.chunks {
            chunk.e_step.record(ctx, &mut pass);
            chunk
                .ll_reduce
                .iter()
                .for_each(|d| d.record(ctx, &mut pass));
        }
        self.ll_final.iter().for_each(|d| d.record(ctx, &mut pass));
    }

    fn run(&self, label: &str, record: impl FnOnce(&mut wgpu::ComputePass<'_>)) -> Result<()> {
        self.ctx.run_pass(label, record)
    }
}

impl EmSession for GpuSession {
    fn mv_counts(&mut self) -> Result<Array2<u32>> {
        let k = self.k;
        let pipeline = self.ctx.pipeline("mv_counts", k)?;
        let mut all = Vec::new();
        for chunk in &self.chunks {
            let counts = self
                .ctx
                .zeroed("mv counts", (chunk.n_items * k * 4) as u64)?;
            let uniform = self
                .ctx
                .uniform("mv params", &CountParams::new(chunk.n_items));
            let dispatch = Dispatch {
                bind_group: self.ctx.bind(
                    &pipeline,
                    "mv_counts",
                    &[&uniform, &chunk.item_offsets, &chunk.item_label, &counts],
                ),
                pipeline: pipeline.clone(),
                grid: self.ctx.grid(chunk.n_items as u64),
                stage: "mv_counts",
                traffic: traffic::mv_counts(
                    chunk.n_items as u64,
                    chunk.n_annotations as u64,
                    k as u64,
                ),
                uniform,
            };
            self.run("mv_counts", |pass| dispatch.record(&self.ctx, pass))?;
            all.extend(
                self.ctx
                    .read::<u32>(&counts, 0, (chunk.n_items * k) as u64)?,
            );
        }
        let n_items = all.len() / k.max(1);
        Ok(Array2::from_shape_vec((n_items, k), all).expect("shape"))
    }

    fn init_posteriors_from_votes(&mut self) -> Result<()> {
        self.sums_fresh = false;
        self.run("vote_shares", |pass| {
            for chunk in &self.chunks {
                chunk.vote_shares.record(&self.ctx, pass);
            }
        })
    }

    fn set_worker_prior(&mut self, prior: &WorkerPrior) -> Result<()> {
        if prior.is_empty() {
            self.prior_counts = None;
            self.ctx.write(&self.worker_n, &self.annotations);
            return Ok(());
        }
        self.prior_counts = Some(self.ctx.storage("prior_counts", &prior.counts)?);
        let past = prior.answers(self.k);
        let n: Vec<f32> = self
            .annotations
            .iter()
            .zip(&past)
            .map(|(a, p)| a + p)
            .collect();
        self.ctx.write(&self.worker_n, &n);
        Ok(())
    }

    fn set_known(&mut self, known: &KnownClasses) -> Result<()> {
        let (k, lists) = (self.k as u64, known.len());
        for chunk in &mut self.chunks {
            let (items, classes) =
                known.in_range(chunk.first_item..chunk.first_item + chunk.n_items);
            chunk.has_known = !items.is_empty();
            if chunk.has_known {
                // Dense per item: class + 1, 0 where not known.
                let mut dense = vec![0u32; chunk.n_items];
                for (&i, &y) in items.iter().zip(&classes) {
                    dense[i as usize] = y + 1;
                }
                self.ctx.write(&chunk.known_class, &dense);
            }
            let (n, a) = (chunk.n_items as u64, chunk.n_annotations as u64);
            self.ctx.write(
                &chunk.vote_shares.uniform,
                &[vote_params(chunk.n_items, chunk.has_known)],
            );
            chunk.vote_shares.traffic = traffic::vote_shares(n, a, k, chunk.has_known);
            self.ctx.write(
                &chunk.e_step.uniform,
                &[e_params(chunk.n_items, chunk.prior_base, chunk.has_known)],
            );
            chunk.e_step.traffic = traffic::ds_e_step(n, a, k, chunk.has_known);
        }
        debug_assert!(lists == 0 || self.chunks.iter().any(|c| c.has_known));
        self.ctx.check()
    }

    fn init_params(&mut self, log_priors: &[f32], log_confusion: &[f32]) -> Result<()> {
        self.ctx.write(&self.log_confusion, log_confusion);
        let tiled: Vec<f32> = log_priors
            .iter()
            .copied()
            .cycle()
            .take(self.n_priors)
            .collect();
        self.ctx.write(&self.log_priors, &tiled);
        self.run("init_params", |_| {})
    }

    fn m_step(&mut self, rule: ConfusionRule) -> Result<()> {
        let hierarchical = self.prepare_m_step(rule, false)?;
        let mut encoder = self.ctx.encoder("m_step");
        let fresh = self.sums_fresh;
        self.record_m_step(&mut encoder, fresh, hierarchical, false);
        self.ctx.submit(encoder)?;
        // The posteriors' sums are those the last E-step left: the same
        // posteriors, so the next M-step may use them again.
        self.sums_fresh = fresh;
        Ok(())
    }

    fn e_step(&mut self) -> Result<f64> {
        let mut encoder = self.ctx.encoder("e_step");
        self.record_e_step(&mut encoder);
        // The log-likelihood comes back in the same submit.
        let pair = self
            .ctx
            .submit_and_read::<u32>(encoder, &self.ll_total, 0, 2)?;
        self.sums_fresh = true;
        Ok(fixed_value(pair[0], pair[1], LL_FRAC_BITS))
    }

    fn e_and_m_step(&mut self, rule: ConfusionRule) -> Result<(f64, f64)> {
        let hierarchical = self.prepare_m_step(rule, true)?;
        let mut encoder = self.ctx.encoder("e_and_m_step");
        self.record_e_step(&mut encoder);
        self.record_m_step(&mut encoder, true, hierarchical, true);
        // One read-back: the log-likelihood, the entropy, the fit term.
        let v = self
            .ctx
            .submit_and_read::<u32>(encoder, &self.ll_total, 0, 6)?;
        self.sums_fresh = true;
        let ll = fixed_value(v[0], v[1], LL_FRAC_BITS);
        let entropy = fixed_value(v[2], v[3], LL_FRAC_BITS);
        let fit = fixed_value(v[4], v[5], LL_FRAC_BITS);
        Ok((ll, fit + entropy))
    }

    fn mean_worker_accuracy(&mut self) -> Result<f32> {
        if self.n_workers == 0 {
            return Ok(0.0);
        }
        self.run("mean_worker_accuracy", |pass| {
            self.accuracy_reduce
                .iter()
                .for_each(|d| d.record(&self.ctx, pass));
        })?;
        let pair = self.ctx.read::<u32>(&self.accuracy_total, 0, 2)?;
        Ok((fixed_value(pair[0], pair[1], PROB_FRAC_BITS) / self.n_workers as f64) as f32)
    }

    fn read_posteriors(&mut self) -> Result<Array2<f32>> {
        let mut all = Vec::new();
        for chunk in &self.chunks {
            all.extend(self.ctx.read::<f32>(
                &chunk.posteriors,
                0,
                (chunk.n_items * self.k) as u64,
            )?);
        }
        let n_items = all.len() / self.k.max(1);
        Ok(Array2::from_shape_vec((n_items, self.k), all).expect("shape"))
    }

    fn read_params(&mut self) -> Result<ModelParams> {
        let k = self.k;
        let log_priors = self
            .ctx
            .read::<f32>(&self.log_priors, 0, self.n_priors as u64)?;
        let log_confusion =
            self.ctx
                .read::<f32>(&self.log_confusion, 0, (self.n_workers * k * k) as u64)?;
        Ok(ModelParams {
            class_priors: log_priors.iter().map(|l| l.exp()).collect(),
            confusion: confusion_from_log(&log_confusion, self.n_workers, k),
        })
    }
}

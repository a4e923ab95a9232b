//! Uniform blocks shared with the shaders. `#[repr(C)]`, u32/f32 only,
//! padded to 16 bytes.

use bytemuck::{Pod, Zeroable};

/// `Params` of mv_counts, ds_m_step_segments and
/// ds_m_step_combine (keep in sync with those shaders): how many threads'
/// worth of work the chunk has (items, segments or runs).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct CountParams {
    pub n: u32,
    pub _pad: [u32; 3],
}

impl CountParams {
    pub fn new(n: usize) -> Self {
        CountParams {
            n: n as u32,
            _pad: [0; 3],
        }
    }
}

/// `Params` of ds_e_step.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct EStepParams {
    pub n_items: u32,
    /// Where the chunk's group's log priors start.
    pub prior_base: u32,
    /// Fractional bits of the log-likelihood block sums.
    pub ll_frac_bits: u32,
    /// Fractional bits of the posterior block sums.
    pub prob_frac_bits: u32,
    /// 1 when the chunk's known classes are to be read and clamped.
    pub has_known: u32,
    pub _pad: [u32; 3],
}

/// `Params` of vote_shares.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct VoteParams {
    pub n_items: u32,
    /// 1 when the chunk's known classes are to be read and clamped.
    pub has_known: u32,
    pub _pad: [u32; 2],
}

/// `Params` of confusion_normalise.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct NormaliseParams {
    pub n_workers: u32,
    /// 0: full, 1: one-coin, 2: modified, 3: hierarchical.
    pub rule: u32,
    pub smoothing: f32,
    pub prior_correct: f32,
    pub prior_accuracy: f32,
    pub strength: f32,
    pub count_frac_bits: u32,
    /// Hierarchical rule: workers per population block.
    pub workers_per_group: u32,
    /// 1: write each (worker, true class) part of crowd-kit's objective.
    pub objective: u32,
    pub _pad: [u32; 3],
}

/// `Params` of reduce_rows.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct ReduceParams {
    pub n_rows: u32,
    pub width: u32,
    pub out_row: u32,
    /// 1 when the input rows are fixed-point (lo, hi) pairs, 0 for f32.
    pub input_pairs: u32,
    pub frac_bits: u32,
    /// First input row.
    pub in_row: u32,
    pub _pad: [u32; 2],
}

/// `Params` of group_sums.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct GroupSumParams {
    pub n_groups: u32,
    /// Rows per group.
    pub block: u32,
    pub width: u32,
    pub n_rows: u32,
    pub frac_bits: u32,
    pub _pad: [u32; 3],
}

/// `Params` of log_priors.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct PriorParams {
    pub n_classes: u32,
    pub n_items: u32,
    pub frac_bits: u32,
    /// The item group's first entry, group · K.
    pub base: u32,
}

/// `Params` of loop_probe.wgsl (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct LoopParams {
    pub iterations: u32,
    pub seed: u32,
    pub _pad: [u32; 2],
}

/// `Params` of the segmentation shaders `seg_*.wgsl` (keep in sync).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct SegParams {
    /// Output pixels of the chunk.
    pub n_pixels: u32,
    pub n_images: u32,
    pub n_taps: u32,
    /// Batch index of the chunk's first image (for the tie-break seed).
    pub image_base: u32,
    pub seed: u32,
    pub random_ties: u32,
    /// Masks of the chunk.
    pub n_masks: u32,
    /// seg_smooth: 1 along rows, 0 along columns.
    pub along_rows: u32,
}

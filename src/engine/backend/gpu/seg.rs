//! The segmentation session on the GPU: masks uploaded once, in chunks of
//! whole images that fit the device's binding limit; each `decide` runs
//! vote → smooth along rows → along columns → argmax per chunk in scratch
//! buffers, keeping only the consensus and confidence on the device.

use std::sync::Arc;

use super::context::GpuContext;
use super::params::SegParams;
use crate::engine::backend::SegSession;
use crate::engine::pack::masks::MaskBatch;
use crate::error::{Error, Result};
use crate::maths::TieBreak;

/// Whole images whose buffers fit one binding, and their device data.
struct Chunk {
    first_image: usize,
    n_images: usize,
    first_mask: usize,
    n_masks: usize,
    n_pixels: usize,
    /// Per image: output_start, width, height, n_masks, first_mask,
    /// label_byte_start, all chunk-local (see seg_vote.wgsl).
    images: wgpu::Buffer,
    /// Per mask: label_byte_start, output_start, pixels (seg_agreement.wgsl).
    masks: wgpu::Buffer,
    labels: wgpu::Buffer,
    consensus: wgpu::Buffer,
    confidence: wgpu::Buffer,
}

pub struct GpuSegSession<'a> {
    ctx: Arc<GpuContext>,
    batch: &'a MaskBatch,
    chunks: Vec<Chunk>,
    mask_weight: Vec<u32>,
    taps: Vec<u32>,
}

impl<'a> GpuSegSession<'a> {
    pub fn new(ctx: Arc<GpuContext>, batch: &'a MaskBatch) -> Result<Self> {
        let k = batch.n_classes() as u64;
        let limit = ctx.max_binding_bytes();
        let mut chunks = Vec::new();
        let mut first = 0;
        while first < batch.images.len() {
            let (mut label_bytes, mut vote_bytes, mut end) = (0u64, 0u64, first);
            while end < batch.images.len() {
                let slot = &batch.images[end];
                let labels = slot.pixels() as u64 * slot.n_masks as u64;
                let votes = slot.pixels() as u64 * k * 4;
                if (label_bytes + labels).next_multiple_of(4) > limit || vote_bytes + votes > limit
                {
                    break;
                }
                label_bytes += labels;
                vote_bytes += votes;
                end += 1;
            }
            if end == first {
                let slot = &batch.images[first];
                return Err(Error::Limit(format!(
                    "image {:?} ({}×{}, {} masks, {} classes) needs more than the GPU's binding limit of {limit} bytes; use `backend` cpu",
                    batch.image_names.get(first),
                    slot.width,
                    slot.height,
                    slot.n_masks,
                    k
                )));
            }
            chunks.push(upload_chunk(&ctx, batch, first, end)?);
            first = end;
        }
        Ok(GpuSegSession {
            ctx,
            batch,
            chunks,
            mask_weight: Vec::new(),
            taps: vec![1],
        })
    }

    fn params(&self, chunk: &Chunk, ties: TieBreak, seed: u32) -> SegParams {
        SegParams {
            n_pixels: chunk.n_pixels as u32,
            n_images: chunk.n_images as u32,
            n_taps: self.taps.len() as u32,
            // The run's image index, as the CPU twin's tie draws use.
            image_base: (self.batch.first_image as usize + chunk.first_image) as u32,
            seed,
            random_ties: (ties == TieBreak::Random) as u32,
            n_masks: chunk.n_masks as u32,
            along_rows: 1,
        }
    }

    /// The chunk's votes under the session's mask weights, smoothed with
    /// its taps: vote → along rows → along columns, in a scratch buffer.
    fn smoothed_votes(&self, chunk: &Chunk, params: &wgpu::Buffer) -> Result<wgpu::Buffer> {
        let k = self.batch.n_classes() as u64;
        let weights = self.ctx.storage(
            "seg mask weights",
            &self.mask_weight[chunk.first_mask..chunk.first_mask + chunk.n_masks],
        )?;
        let pixels = chunk.n_pixels as u64;
        let votes = self.ctx.zeroed("seg votes", pixels * k * 4)?;
        self.stage(
            "seg_vote",
            pixels,
            &[params, &chunk.images, &chunk.labels, &weights, &votes],
        )?;
        if self.taps.len() > 1 {
            let taps = self.ctx.storage("seg taps", &self.taps)?;
            let rows = self.ctx.zeroed("seg smoothed rows", pixels * k * 4)?;
            let mut along_columns = self.params(chunk, TieBreak::Lowest, 0);
            along_columns.along_rows = 0;
            let along_columns = self.ctx.uniform("seg params", &along_columns);
            self.stage(
                "seg_smooth",
                pixels * k,
                &[params, &chunk.images, &taps, &votes, &rows],
            )?;
            self.stage(
                "seg_smooth",
                pixels * k,
                &[&along_columns, &chunk.images, &taps, &rows, &votes],
            )?;
        }
        Ok(votes)
    }

    /// Runs one stage over `threads` threads.
    fn stage(&self, name: &'static str, threads: u64, buffers: &[&wgpu::Buffer]) -> Result<()> {
        self.stage_groups(name, threads.div_ceil(super::context::WORKGROUP), buffers)
    }

    /// Runs one stage over `groups` workgroups (the shaders
    /// that give a workgroup a mask, or a mask and a class).
    fn stage_groups(
        &self,
        name: &'static str,
        groups: u64,
        buffers: &[&wgpu::Buffer],
    ) -> Result<()> {
        let pipeline = self.ctx.pipeline(name, self.batch.n_classes())?;
        let bind_group = self.ctx.bind(&pipeline, name, buffers);
        let (x, y) = self.ctx.grid_groups(groups.max(1));
        self.ctx.run_pass(name, |pass| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        })
    }
}

/// The raters of a chunk's masks renumbered from 0, and their confusion
/// tables (`K·K` each) in that order, so a chunk uploads only its own.
fn chunk_raters(mask_rater: &[u32], log_confusion: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
    let mut local = std::collections::HashMap::new();
    let mut tables = Vec::new();
    let renumbered = mask_rater
        .iter()
        .map(|&rater| {
            *local.entry(rater).or_insert_with(|| {
                tables.extend_from_slice(&log_confusion[rater as usize * k * k..][..k * k]);
                (tables.len() / (k * k) - 1) as u32
            })
        })
        .collect();
    (renumbered, tables)
}

fn upload_chunk(ctx: &GpuContext, batch: &MaskBatch, first: usize, end: usize) -> Result<Chunk> {
    let slots = &batch.images[first..end];
    let base = slots[0];
    let mut images = Vec::with_capacity(slots.len() * 6);
    let mut masks = Vec::new();
    for slot in slots {
        let output_start = (slot.output_start - base.output_start) as u32;
        let byte_start = (slot.pixel_start - base.pixel_start) as u32;
        images.extend([
            output_start,
            slot.width,
            slot.height,
            slot.n_masks,
            slot.first_mask - base.first_mask,
            byte_start,
        ]);
        for r in 0..slot.n_masks {
            masks.extend([
                byte_start + r * slot.pixels() as u32,
                output_start,
                slot.pixels() as u32,
            ]);
        }
    }
    let last = slots[slots.len() - 1];
    let byte_end = (last.pixel_start + last.pixels() as u64 * last.n_masks as u64) as usize;
    let words: Vec<u32> = batch.labels[base.pixel_start as usize..byte_end]
        .chunks(4)
        .map(|b| {
            let mut word = [0u8; 4];
            word[..b.len()].copy_from_slice(b);
            u32::from_le_bytes(word)
        })
        .collect();
    let n_pixels = (last.output_start + last.pixels() as u64 - base.output_start) as usize;
    Ok(Chunk {
        first_image: first,
        n_images: slots.len(),
        first_mask: base.first_mask as usize,
        n_masks: masks.len() / 3,
        n_pixels,
        images: ctx.storage("seg images", &images)?,
        masks: ctx.storage("seg masks", &masks)?,
        labels: ctx.storage("seg labels", &words)?,
        consensus: ctx.zeroed("seg consensus", n_pixels as u64 * 4)?,
        confidence: ctx.zeroed("seg confidence", n_pixels as u64 * 4)?,
    })
}

impl SegSession for GpuSegSession<'_> {
    fn vote(&mut self, mask_weight: &[u32], taps: &[u32]) -> Result<()> {
        self.mask_weight = mask_weight.to_vec();
        self.taps = taps.to_vec();
        Ok(())
    }

    fn decide(&mut self, ties: TieBreak, seed: u32) -> Result<()> {
        for chunk in &self.chunks {
            let params = self
                .ctx
                .uniform("seg params", &self.params(chunk, ties, seed));
            let votes = self.smoothed_votes(chunk, &params)?;
            self.stage(
                "seg_argmax",
                chunk.n_pixels as u64,
                &[
                    &params,
                    &chunk.images,
                    &votes,
                    &chunk.consensus,
                    &chunk.confidence,
                ],
            )?;
        }
        Ok(())
    }

    fn staple_step(&mut self, mask_rater: &[u32], log_confusion: &[f32]) -> Result<Vec<f32>> {
        let k = self.batch.n_classes();
        let mut counts = Vec::with_capacity(self.batch.mask_worker.len() * k * k);
        for chunk in &self.chunks {
            let params = self
                .ctx
                .uniform("seg params", &self.params(chunk, TieBreak::Lowest, 0));
            let votes = self.smoothed_votes(chunk, &params)?;
            let (local_rater, local_tables) = chunk_raters(
                &mask_rater[chunk.first_mask..chunk.first_mask + chunk.n_masks],
                log_confusion,
                k,
            );
            let local_rater = self.ctx.storage("staple mask raters", &local_rater)?;
            let local_tables = self.ctx.storage("staple log confusion", &local_tables)?;
            let pixels = chunk.n_pixels as u64;
            let posterior = self.ctx.zeroed("staple posterior", pixels * k as u64 * 4)?;
            self.stage(
                "staple_posterior",
                pixels,
                &[
                    &params,
                    &chunk.images,
                    &chunk.labels,
                    &votes,
                    &local_rater,
                    &local_tables,
                    &posterior,
                    &chunk.consensus,
                    &chunk.confidence,
                ],
            )?;
            let n_counts = (chunk.n_masks * k * k) as u64;
            let chunk_counts = self.ctx.zeroed("staple counts", n_counts * 4)?;
            // One workgroup per (mask, true class).
            self.stage_groups(
                "staple_counts",
                (chunk.n_masks * k) as u64,
                &[
                    &params,
                    &chunk.masks,
                    &chunk.labels,
                    &posterior,
                    &chunk_counts,
                ],
            )?;
            counts.extend(self.ctx.read::<f32>(&chunk_counts, 0, n_counts)?);
        }
        Ok(counts)
    }

    fn agreement(&mut self) -> Result<Vec<u32>> {
        let mut all = Vec::with_capacity(self.batch.mask_worker.len());
        for chunk in &self.chunks {
            let params = self
                .ctx
                .uniform("seg params", &self.params(chunk, TieBreak::Lowest, 0));
            let agreement = self.ctx.zeroed("seg agreement", chunk.n_masks as u64 * 4)?;
            // One workgroup per mask.
            self.stage_groups(
                "seg_agreement",
                chunk.n_masks as u64,
                &[
                    &params,
                    &chunk.masks,
                    &chunk.labels,
                    &chunk.consensus,
                    &agreement,
                ],
            )?;
            all.extend(self.ctx.read::<u32>(&agreement, 0, chunk.n_masks as u64)?);
        }
        Ok(all)
    }

    fn read_consensus(&mut self) -> Result<(Vec<u8>, Vec<f32>)> {
        let n = self.batch.output_pixels();
        let (mut labels, mut confidence) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for chunk in &self.chunks {
            let pixels = chunk.n_pixels as u64;
            let classes = self.ctx.read::<u32>(&chunk.consensus, 0, pixels)?;
            labels.extend(classes.iter().map(|&c| c as u8));
            confidence.extend(self.ctx.read::<f32>(&chunk.confidence, 0, pixels)?);
        }
        Ok((labels, confidence))
    }
}

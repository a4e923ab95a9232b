//! The GPU backend: the EM steps and majority vote as WGSL compute shaders
//! (`shaders/*.wgsl`) through wgpu. Data is uploaded once per fit and stays
//! on the device; only the log-likelihood comes back per iteration.

mod context;
mod params;
pub mod plan;
mod seg;
mod session;
pub mod traffic;

pub use context::{
    list_adapters, specialise, GpuContext, MAX_BINDING_ENV, NO_ADAPTER_HELP, SHADERS,
};
pub use session::MAX_GPU_CLASSES;

use std::sync::Arc;

use super::{Backend, EmSession, SegBackend, SegHostBytes, SegSession};
use crate::engine::pack::masks::MaskBatch;
use crate::engine::pack::Packed;
use crate::error::Result;

/// Runs the kernels on the process's shared GPU context.
#[derive(Clone)]
pub struct GpuBackend {
    ctx: Arc<GpuContext>,
}

impl GpuBackend {
    /// The backend on the best adapter, or an error naming what to install.
    pub fn new() -> Result<Self> {
        Ok(GpuBackend {
            ctx: GpuContext::shared()?,
        })
    }

    /// A backend on a device the caller opened (see
    /// [`GpuContext::from_device`]): bring your own `wgpu::Device` and
    /// `wgpu::Queue`. The device should be opened with the adapter's own
    /// limits (`required_limits: adapter.limits()`), or accord chunks its
    /// buffers to wgpu's smaller defaults.
    pub fn from_device(info: wgpu::AdapterInfo, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        GpuBackend {
            ctx: Arc::new(GpuContext::from_device(info, device, queue)),
        }
    }

    /// A backend on its own device whose buffers are cut to at most
    /// `bytes` per binding: forces chunking at small sizes.
    pub fn with_binding_limit(bytes: u64) -> Result<Self> {
        Ok(GpuBackend {
            ctx: Arc::new(GpuContext::with_binding_limit(Some(bytes))?),
        })
    }

    /// True when the adapter is a software rasteriser (lavapipe, llvmpipe):
    /// slower than the CPU backend, so `--backend auto` passes it over.
    pub fn is_software(&self) -> bool {
        self.ctx.adapter_info.device_type == wgpu::DeviceType::Cpu
    }

    /// The context, for `accord info` and kernel-level tests.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Runs `shaders/group_sums.wgsl` over `input` (`[n][width]` f32): the
    /// exact column sums of each block of `block` rows as fixed-point
    /// (lo, hi) pairs. For parity tests.
    pub fn group_sums(
        &self,
        input: &[f32],
        width: usize,
        block: usize,
        frac_bits: u32,
    ) -> Result<Vec<u32>> {
        self.ctx.group_sums_once(input, width, block, frac_bits)
    }

    /// Runs `shaders/reduce_rows.wgsl` once over `input` (`[n][width]` f32
    /// bits, or fixed-point pairs): the exact sums of each block of 256 rows
    /// as fixed-point (lo, hi) pairs. For parity tests.
    pub fn reduce_rows(
        &self,
        input: &[u32],
        width: usize,
        input_pairs: bool,
        frac_bits: u32,
    ) -> Result<Vec<u32>> {
        self.ctx
            .reduce_rows_once(input, width, input_pairs, frac_bits)
    }

    /// Runs `shaders/loop_probe.wgsl`: a hash chain of `iterations` steps in
    /// one invocation. Returns (hash, steps).
    pub fn loop_probe(&self, iterations: u32, seed: u32) -> Result<(u32, u32)> {
        self.ctx.loop_probe(iterations, seed)
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        let info = &self.ctx.adapter_info;
        format!("gpu ({}, {:?})", info.name, info.backend)
    }

    fn em_session<'a>(&'a self, data: &'a Packed) -> Result<Box<dyn EmSession + 'a>> {
        Ok(Box::new(session::GpuSession::new(self.ctx.clone(), data)?))
    }
}

impl SegBackend for GpuBackend {
    fn name(&self) -> String {
        Backend::name(self)
    }

    fn seg_session<'a>(&'a self, batch: &'a MaskBatch) -> Result<Box<dyn SegSession + 'a>> {
        Ok(Box::new(seg::GpuSegSession::new(self.ctx.clone(), batch)?))
    }

    fn seg_host_bytes(&self, _k: usize) -> SegHostBytes {
        SegHostBytes {
            // Read back: the u32 consensus and f32 confidence, their
            // staging copies, then the u8 labels kept.
            per_pixel: 17,
            // Upload: the masks packed four to a word, and its staging copy.
            per_mask_byte: 2,
            // Votes live on the device.
            per_largest_pixel: 0,
        }
    }
}

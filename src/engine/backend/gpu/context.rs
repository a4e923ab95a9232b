//! The wgpu context: instance, adapter, device and queue, created once per
//! process; pipelines compiled once and cached; wgpu errors captured and
//! turned into accord errors instead of wgpu's default panic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use wgpu::util::DeviceExt;

use super::traffic::{GpuCounters, Traffic};
use crate::error::{Error, Result};

/// What to install when no adapter is found.
pub const NO_ADAPTER_HELP: &str = "no GPU adapter found: install a Vulkan driver (on Debian/Ubuntu: \
     apt-get install mesa-vulkan-drivers libvulkan1 for the software lavapipe driver, or your GPU vendor's \
     driver), or use `backend` cpu";

/// Environment variable that lowers the per-binding byte limit, so tests can
/// force chunking at small sizes.
pub const MAX_BINDING_ENV: &str = "ACCORD_GPU_MAX_BINDING_BYTES";

/// Threads per workgroup of every 1-D kernel (keep in sync with the shaders).
pub const WORKGROUP: u64 = 256;

/// A device and everything built on it, shared by all sessions.
pub struct GpuContext {
    /// The adapter's name, vendor, type and driver.
    pub adapter_info: wgpu::AdapterInfo,
    /// The device's limits (the adapter's own, as requested).
    pub limits: wgpu::Limits,
    /// The features the adapter offers.
    pub features: wgpu::Features,
    device: wgpu::Device,
    queue: wgpu::Queue,
    errors: Arc<Mutex<Vec<String>>>,
    pipelines: Mutex<HashMap<(&'static str, usize), Arc<wgpu::ComputePipeline>>>,
    max_binding_bytes: u64,
    counters: Mutex<GpuCounters>,
}

/// The backends tried unless WGPU_BACKEND says otherwise: the primary ones
/// only, because wgpu's GL fallback on Debian 12 is the old Mesa that cuts
/// shader loops short.
fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc.with_env())
}

/// Describes every adapter the instance finds, for `accord info`.
pub fn list_adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| a.get_info())
        .collect()
}

/// Every compute stage, by the name its file, pipeline label and CPU twin
/// share (`shaders/<name>.wgsl`, `cpu/<name>.rs`).
pub const SHADERS: &[&str] = &[
    "mv_counts",
    "vote_shares",
    "ds_e_step",
    "ds_m_step_segments",
    "ds_m_step_combine",
    "confusion_normalise",
    "reduce_rows",
    "group_sums",
    "log_priors",
    "loop_probe",
    "seg_vote",
    "seg_smooth",
    "seg_argmax",
    "seg_agreement",
    "staple_posterior",
    "staple_counts",
];

fn shader_source(name: &str) -> &'static str {
    match name {
        "mv_counts" => include_str!("../../../../shaders/mv_counts.wgsl"),
        "vote_shares" => include_str!("../../../../shaders/vote_shares.wgsl"),
        "ds_e_step" => include_str!("../../../../shaders/ds_e_step.wgsl"),
        "ds_m_step_segments" => include_str!("../../../../shaders/ds_m_step_segments.wgsl"),
        "ds_m_step_combine" => include_str!("../../../../shaders/ds_m_step_combine.wgsl"),
        "confusion_normalise" => include_str!("../../../../shaders/confusion_normalise.wgsl"),
        "reduce_rows" => include_str!("../../../../shaders/reduce_rows.wgsl"),
        "group_sums" => include_str!("../../../../shaders/group_sums.wgsl"),
        "log_priors" => include_str!("../../../../shaders/log_priors.wgsl"),
        "loop_probe" => include_str!("../../../../shaders/loop_probe.wgsl"),
        "seg_vote" => include_str!("../../../../shaders/seg_vote.wgsl"),
        "seg_smooth" => include_str!("../../../../shaders/seg_smooth.wgsl"),
        "seg_argmax" => include_str!("../../../../shaders/seg_argmax.wgsl"),
        "seg_agreement" => include_str!("../../../../shaders/seg_agreement.wgsl"),
        "staple_posterior" => include_str!("../../../../shaders/staple_posterior.wgsl"),
        "staple_counts" => include_str!("../../../../shaders/staple_counts.wgsl"),
        other => panic!("unknown shader {other}"),
    }
}

/// Pieces that shaders share (WGSL has no includes): a line
/// `// #include NAME` stands for the piece's text.
fn include_source(name: &str) -> &'static str {
    match name {
        "seg_params.wgsl" => include_str!("../../../../shaders/seg_params.wgsl"),
        "seg_images.wgsl" => include_str!("../../../../shaders/seg_images.wgsl"),
        other => panic!("unknown shader include {other}"),
    }
}

const INCLUDE_LINE: &str = "// #include ";

/// The line each class-dependent shader declares; replaced by the real K.
const K_LINE: &str = "const K: u32 = 4u;";

/// The line ds_m_step_segments declares; replaced by
/// [`classes_per_thread`]`(K)`.
const TB_LINE: &str = "const TB: u32 = 4u;";

/// The line ds_e_step declares; replaced by [`sum_columns`].
const COLS_LINE: &str = "const COLS: u32 = 7u;";

/// WebGPU's default workgroup memory, what [`specialise`] assumes.
const DEFAULT_WORKGROUP_BYTES: u64 = 16384;

/// Columns ds_e_step sums at once: its K log priors and two u32 per row of
/// 256 and column must fit `workgroup_bytes`; more columns, fewer barriers.
pub fn sum_columns(k: usize, workgroup_bytes: u64) -> usize {
    let free = workgroup_bytes.saturating_sub(4 * k as u64);
    ((free / (256 * 2 * 4)) as usize).clamp(1, k + 2)
}

/// True classes one ds_m_step_segments thread accumulates: all K while its
/// K × K accumulator stays small (at most 128 f32, K ≤ 11), else as many
/// rows of K as fit in 128 values (at least one). Each block re-reads the
/// segment's ids, so fewer blocks means fewer bytes.
pub fn classes_per_thread(k: usize) -> usize {
    (128 / k.max(1)).clamp(1, k.max(1))
}

/// A shader's source with its includes expanded and K substituted (and for
/// ds_m_step_segments, TB). Shaders without K are returned with K as is.
/// Panics on a name not in [`SHADERS`].
pub fn specialise(name: &str, k: usize) -> String {
    specialise_for(name, k, DEFAULT_WORKGROUP_BYTES)
}

/// [`specialise`] for a device with `workgroup_bytes` of workgroup memory.
fn specialise_for(name: &str, k: usize, workgroup_bytes: u64) -> String {
    let mut source = String::new();
    for line in shader_source(name).lines() {
        match line.strip_prefix(INCLUDE_LINE) {
            Some(piece) => source.push_str(include_source(piece.trim())),
            None => {
                source.push_str(line);
                source.push('\n');
            }
        }
    }
    source
        .replacen(K_LINE, &format!("const K: u32 = {k}u;"), 1)
        .replacen(
            TB_LINE,
            &format!("const TB: u32 = {}u;", classes_per_thread(k)),
            1,
        )
        .replacen(
            COLS_LINE,
            &format!("const COLS: u32 = {}u;", sum_columns(k, workgroup_bytes)),
            1,
        )
}

impl GpuContext {
    /// The process-wide context, created on first use. The error is kept, so
    /// a machine without an adapter answers quickly the second time.
    pub fn shared() -> Result<Arc<GpuContext>> {
        static SHARED: OnceLock<std::result::Result<Arc<GpuContext>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                GpuContext::new().map(Arc::new).map_err(|e| match e {
                    Error::Gpu(message) => message,
                    other => other.to_string(),
                })
            })
            .clone()
            .map_err(Error::Gpu)
    }

    /// Opens the best adapter with its own limits.
    pub fn new() -> Result<GpuContext> {
        Self::with_binding_limit(None)
    }

    /// Like [`GpuContext::new`], with the per-binding byte limit lowered to
    /// `limit` (tests use it to force chunking at small sizes).
    pub fn with_binding_limit(limit: Option<u64>) -> Result<GpuContext> {
        let instance = instance();
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("{NO_ADAPTER_HELP} ({e})")))?;
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("accord"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("cannot open the device: {e}")))?;
        Ok(Self::from_parts(
            adapter.get_info(),
            adapter.features(),
            device,
            queue,
            limit,
        ))
    }

    /// A context on a device the caller opened (an application that already
    /// renders or computes with wgpu shares its device instead of opening a
    /// second one). `info` is the adapter's `get_info()`. accord installs its
    /// own uncaptured-error and device-lost handlers on `device`, so that a
    /// failed dispatch becomes an `Err` from the step that caused it.
    pub fn from_device(info: wgpu::AdapterInfo, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let features = device.features();
        Self::from_parts(info, features, device, queue, None)
    }

    fn from_parts(
        adapter_info: wgpu::AdapterInfo,
        features: wgpu::Features,
        device: wgpu::Device,
        queue: wgpu::Queue,
        limit: Option<u64>,
    ) -> GpuContext {
        let limits = device.limits();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().expect("error sink").push(e.to_string());
        }));
        let lost = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            lost.lock()
                .expect("error sink")
                .push(format!("device lost ({reason:?}): {message}"));
        });
        let mut max_binding_bytes = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let from_env = std::env::var(MAX_BINDING_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(v) = limit.or(from_env) {
            max_binding_bytes = max_binding_bytes.min(v.max(256));
        }
        GpuContext {
            adapter_info,
            features,
            limits,
            device,
            queue,
            errors,
            pipelines: Mutex::new(HashMap::new()),
            max_binding_bytes,
            counters: Mutex::new(GpuCounters::default()),
        }
    }

    /// What this context has dispatched, submitted and read back so far,
    /// with the modelled bytes of each stage (see
    /// [`super::traffic`]); subtract two snapshots with
    /// [`GpuCounters::since`].
    pub fn counters(&self) -> GpuCounters {
        self.counters.lock().expect("counters").clone()
    }

    /// Records one dispatch of `pipeline` over `grid` workgroups into
    /// `pass`, counting it under `stage` with its modelled `traffic`.
    pub(crate) fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        grid: (u32, u32),
        stage: &'static str,
        traffic: Traffic,
    ) {
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(grid.0, grid.1, 1);
        self.counters
            .lock()
            .expect("counters")
            .note(stage, 1, traffic);
    }

    /// Counts device work that is not a dispatch (a clear, a copy) under
    /// `stage`.
    pub(crate) fn note(&self, stage: &'static str, traffic: Traffic) {
        self.counters
            .lock()
            .expect("counters")
            .note(stage, 0, traffic);
    }

    /// The largest buffer one binding may hold, in bytes (the device's limit,
    /// lowered by `ACCORD_GPU_MAX_BINDING_BYTES`).
    pub fn max_binding_bytes(&self) -> u64 {
        self.max_binding_bytes
    }

    /// Fails with the first error wgpu reported since the last check.
    pub fn check(&self) -> Result<()> {
        let mut errors = self.errors.lock().expect("error sink");
        if errors.is_empty() {
            return Ok(());
        }
        let first = errors.remove(0);
        let more = errors.len();
        errors.clear();
        Err(Error::Gpu(if more > 0 {
            format!("{first} (and {more} more errors)")
        } else {
            first
        }))
    }

    /// The pipeline of `shaders/<name>.wgsl` for `k` classes, compiled once.
    pub fn pipeline(&self, name: &'static str, k: usize) -> Result<Arc<wgpu::ComputePipeline>> {
        let mut cache = self.pipelines.lock().expect("pipeline cache");
        if let Some(p) = cache.get(&(name, k)) {
            return Ok(p.clone());
        }
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(
                    specialise_for(
                        name,
                        k,
                        self.limits.max_compute_workgroup_storage_size as u64,
                    )
                    .into(),
                ),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        self.check()?;
        let pipeline = Arc::new(pipeline);
        cache.insert((name, k), pipeline.clone());
        Ok(pipeline)
    }

    /// A storage buffer holding `data` (at least 4 bytes, as empty bindings
    /// are invalid).
    pub fn storage<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        self.check_size(label, bytes.len() as u64)?;
        let padded;
        let contents = if bytes.is_empty() {
            padded = [0u8; 4];
            &padded[..]
        } else {
            bytes
        };
        Ok(self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            }))
    }

    /// A zeroed storage buffer of `bytes` bytes (at least 4).
    pub fn zeroed(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.check_size(label, bytes)?;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// A uniform buffer holding `value`.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    fn check_size(&self, label: &str, bytes: u64) -> Result<()> {
        if bytes > self.max_binding_bytes {
            return Err(Error::Limit(format!(
                "GPU buffer {label} needs {bytes} bytes, over the device's binding limit of {} bytes",
                self.max_binding_bytes
            )));
        }
        Ok(())
    }

    /// A bind group binding `buffers` to bindings 0, 1, 2, ... of `pipeline`.
    pub fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// The workgroup grid covering `threads` threads of 256: 2-D when one
    /// dimension's limit would be exceeded.
    pub fn grid(&self, threads: u64) -> (u32, u32) {
        self.grid_groups(threads.div_ceil(WORKGROUP).max(1))
    }

    /// The 2-D grid for `groups` workgroups.
    pub fn grid_groups(&self, groups: u64) -> (u32, u32) {
        let max_x = self.limits.max_compute_workgroups_per_dimension as u64;
        let x = groups.min(max_x);
        (x as u32, groups.div_ceil(x) as u32)
    }

    /// Records one compute pass with `record`, submits it and waits.
    pub fn run_pass(
        &self,
        label: &str,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> Result<()> {
        let mut encoder = self.encoder(label);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            record(&mut pass);
        }
        self.submit(encoder)
    }

    /// A command encoder labelled `label` (labels show in driver tools).
    pub fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Queues `data` to be written at the start of `buffer`.
    pub fn write<T: bytemuck::Pod>(&self, buffer: &wgpu::Buffer, data: &[T]) {
        self.queue
            .write_buffer(buffer, 0, bytemuck::cast_slice(data));
    }

    /// Submits `encoder` and waits for the device to finish it.
    pub fn submit(&self, encoder: wgpu::CommandEncoder) -> Result<()> {
        let index = self.queue.submit(Some(encoder.finish()));
        self.counters.lock().expect("counters").submits += 1;
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        self.check()
    }

    /// Copies `count` elements of `buffer` from element `first` back to the
    /// host, after the work already submitted.
    pub fn read<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        first: u64,
        count: u64,
    ) -> Result<Vec<T>> {
        self.submit_and_read(self.encoder("readback"), buffer, first, count)
    }

    /// Appends to `encoder` a copy of `count` elements of `buffer` from
    /// element `first`, submits it (one submit for the work and the copy)
    /// and returns the elements.
    pub fn submit_and_read<T: bytemuck::Pod>(
        &self,
        mut encoder: wgpu::CommandEncoder,
        buffer: &wgpu::Buffer,
        first: u64,
        count: u64,
    ) -> Result<Vec<T>> {
        let size = std::mem::size_of::<T>() as u64;
        if count == 0 {
            self.submit(encoder)?;
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("accord readback"),
            size: count * size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_buffer_to_buffer(buffer, first * size, &staging, 0, count * size);
        {
            let mut counters = self.counters.lock().expect("counters");
            counters.readbacks += 1;
            counters.readback_bytes += count * size;
        }
        self.submit(encoder)?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for a readback: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Gpu("readback callback was dropped".into()))?
            .map_err(|e| Error::Gpu(format!("mapping a readback buffer: {e}")))?;
        let data = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| Error::Gpu(format!("reading a mapped buffer: {e}")))?;
            bytemuck::pod_collect_to_vec::<u8, T>(&view)
        };
        staging.unmap();
        self.check()?;
        Ok(data)
    }
}

/// Single-kernel runs for the parity tests.
impl GpuContext {
    pub(crate) fn reduce_rows_once(
        &self,
        input: &[u32],
        width: usize,
        input_pairs: bool,
        frac_bits: u32,
    ) -> Result<Vec<u32>> {
        use super::params::ReduceParams;
        let n_rows = input.len() / (width * if input_pairs { 2 } else { 1 }).max(1);
        let groups = n_rows.div_ceil(256).max(1);
        let pipeline = self.pipeline("reduce_rows", 0)?;
        let input_buffer = self.storage("reduce input", input)?;
        let output = self.zeroed("reduce output", (groups * width * 2 * 4) as u64)?;
        let uniform = self.uniform(
            "reduce params",
            &ReduceParams {
                n_rows: n_rows as u32,
                width: width as u32,
                out_row: 0,
                input_pairs: input_pairs as u32,
                frac_bits,
                in_row: 0,
                _pad: [0; 2],
            },
        );
        let bind_group = self.bind(
            &pipeline,
            "reduce_rows",
            &[&uniform, &input_buffer, &output],
        );
        let (x, y) = self.grid_groups(groups as u64);
        self.run_pass("reduce_rows", |pass| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        })?;
        self.read(&output, 0, (groups * width * 2) as u64)
    }

    pub(crate) fn group_sums_once(
        &self,
        input: &[f32],
        width: usize,
        block: usize,
        frac_bits: u32,
    ) -> Result<Vec<u32>> {
        use super::params::GroupSumParams;
        let n_rows = input.len() / width.max(1);
        let n_groups = n_rows.div_ceil(block.max(1));
        let pipeline = self.pipeline("group_sums", 0)?;
        let input_buffer = self.storage("group_sums input", input)?;
        let output = self.zeroed(
            "group_sums output",
            (n_groups * width * 2 * 4).max(4) as u64,
        )?;
        let uniform = self.uniform(
            "group_sums params",
            &GroupSumParams {
                n_groups: n_groups as u32,
                block: block as u32,
                width: width as u32,
                n_rows: n_rows as u32,
                frac_bits,
                _pad: [0; 3],
            },
        );
        let bind_group = self.bind(&pipeline, "group_sums", &[&uniform, &input_buffer, &output]);
        let (x, y) = self.grid((n_groups * width) as u64);
        self.run_pass("group_sums", |pass| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        })?;
        self.read(&output, 0, (n_groups * width * 2) as u64)
    }

    pub(crate) fn loop_probe(&self, iterations: u32, seed: u32) -> Result<(u32, u32)> {
        use super::params::LoopParams;
        let pipeline = self.pipeline("loop_probe", 0)?;
        let result = self.zeroed("loop_probe result", 8)?;
        let uniform = self.uniform(
            "loop_probe params",
            &LoopParams {
                iterations,
                seed,
                _pad: [0; 2],
            },
        );
        let bind_group = self.bind(&pipeline, "loop_probe", &[&uniform, &result]);
        self.run_pass("loop_probe", |pass| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        })?;
        let out = self.read::<u32>(&result, 0, 2)?;
        Ok((out[0], out[1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_expand_once_and_leave_no_directive() {
        for name in [
            "seg_vote",
            "seg_smooth",
            "seg_argmax",
            "seg_agreement",
            "staple_posterior",
            "staple_counts",
        ] {
            let source = specialise(name, 7);
            assert!(
                !source.lines().any(|l| l.starts_with(INCLUDE_LINE)),
                "{name}"
            );
            assert_eq!(source.matches("struct Params {").count(), 1, "{name}");
            assert!(source.matches("fn image_of(").count() <= 1, "{name}");
            if shader_source(name).contains(K_LINE) {
                assert!(source.contains("const K: u32 = 7u;"), "{name}");
            }
        }
        assert_eq!(specialise("seg_vote", 3).matches("fn image_of(").count(), 1);
    }

    #[test]
    fn e_step_columns_fit_the_workgroup_memory() {
        // 16 KiB: 7 columns of 256 pairs (14 KiB) beside K priors.
        assert_eq!(sum_columns(10, 16384), 7);
        // lavapipe's 32 KiB: all K + 2 columns of K = 10 in one round.
        assert_eq!(sum_columns(10, 32768), 12);
        assert_eq!(sum_columns(2, 1 << 20), 4);
        assert_eq!(sum_columns(256, 1024), 1);
        let source = specialise_for("ds_e_step", 10, 32768);
        assert!(source.contains("const COLS: u32 = 12u;"));
        assert!(!source.contains(COLS_LINE));
    }
}

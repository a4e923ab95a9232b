use accord::bench::cpu_model;
use accord::engine::backend::gpu::{list_adapters, GpuBackend, MAX_BINDING_ENV, MAX_GPU_CLASSES};
use std::io::Write;

pub fn run() -> anyhow::Result<()> {
    // Through io::Write: a closed pipe (`accord info | head`) is an io error
    // main treats as success, where println! would panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "accord {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(
        out,
        "cpu: {} ({} threads)",
        cpu_model(),
        rayon::current_num_threads()
    )?;
    let adapters = list_adapters();
    if adapters.is_empty() {
        writeln!(out, "adapters: none")?;
    }
    for (i, a) in adapters.iter().enumerate() {
        writeln!(
            out,
            "adapter {i}: {} ({:?}, {:?}, driver {} {})",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        )?;
    }
    match GpuBackend::new() {
        Ok(gpu) => {
            let ctx = gpu.context();
            let l = &ctx.limits;
            let software = if gpu.is_software() {
                ", a software rasteriser"
            } else {
                ""
            };
            writeln!(
                out,
                "gpu backend: {}{software}",
                accord::engine::backend::Backend::name(&gpu)
            )?;
            writeln!(out, "  max_buffer_size: {} bytes", l.max_buffer_size)?;
            writeln!(
                out,
                "  max_storage_buffer_binding_size: {} bytes",
                l.max_storage_buffer_binding_size
            )?;
            writeln!(
                out,
                "  binding limit used: {} bytes ({MAX_BINDING_ENV} lowers it)",
                ctx.max_binding_bytes()
            )?;
            writeln!(
                out,
                "  max_compute_workgroups_per_dimension: {}",
                l.max_compute_workgroups_per_dimension
            )?;
            writeln!(
                out,
                "  max_compute_invocations_per_workgroup: {}",
                l.max_compute_invocations_per_workgroup
            )?;
            writeln!(
                out,
                "  max_compute_workgroup_storage_size: {} bytes",
                l.max_compute_workgroup_storage_size
            )?;
            writeln!(out, "  classes handled: up to {MAX_GPU_CLASSES}")?;
            writeln!(out, "  features: {:?}", ctx.features)?;
            if gpu.is_software() {
                writeln!(out, "backend (auto): cpu (the only adapter is a software rasteriser; --backend gpu uses it)")?;
            } else {
                writeln!(out, "backend (auto): gpu")?;
            }
        }
        Err(e) => writeln!(
            out,
            "backend (auto): cpu ({})",
            super::flags(&e.to_string())
        )?,
    }
    Ok(())
}

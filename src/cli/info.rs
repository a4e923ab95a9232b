use accord::backend::gpu::{list_adapters, GpuBackend, MAX_BINDING_ENV, MAX_GPU_CLASSES};
use accord::bench::cpu_model;

pub fn run() -> anyhow::Result<()> {
    println!("accord {}", env!("CARGO_PKG_VERSION"));
    println!(
        "cpu: {} ({} threads)",
        cpu_model(),
        rayon::current_num_threads()
    );
    let adapters = list_adapters();
    if adapters.is_empty() {
        println!("adapters: none");
    }
    for (i, a) in adapters.iter().enumerate() {
        println!(
            "adapter {i}: {} ({:?}, {:?}, driver {} {})",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        );
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
            println!(
                "gpu backend: {}{software}",
                accord::backend::Backend::name(&gpu)
            );
            println!("  max_buffer_size: {} bytes", l.max_buffer_size);
            println!(
                "  max_storage_buffer_binding_size: {} bytes",
                l.max_storage_buffer_binding_size
            );
            println!(
                "  binding limit used: {} bytes ({MAX_BINDING_ENV} lowers it)",
                ctx.max_binding_bytes()
            );
            println!(
                "  max_compute_workgroups_per_dimension: {}",
                l.max_compute_workgroups_per_dimension
            );
            println!(
                "  max_compute_invocations_per_workgroup: {}",
                l.max_compute_invocations_per_workgroup
            );
            println!(
                "  max_compute_workgroup_storage_size: {} bytes",
                l.max_compute_workgroup_storage_size
            );
            println!("  classes handled: up to {MAX_GPU_CLASSES}");
            println!("  features: {:?}", ctx.features);
            if gpu.is_software() {
                println!("backend (auto): cpu (the only adapter is a software rasteriser; --backend gpu uses it)");
            } else {
                println!("backend (auto): gpu");
            }
        }
        Err(e) => println!("backend (auto): cpu ({e})"),
    }
    Ok(())
}

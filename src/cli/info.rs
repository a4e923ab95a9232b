use accord::bench::cpu_model;
use accord::engine::backend::gpu::{list_adapters, GpuBackend, MAX_BINDING_ENV, MAX_GPU_CLASSES};
use std::io::Write;

/// `accord info`'s flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// List every feature the adapter offers, not just those accord uses.
    #[arg(short, long)]
    verbose: bool,
}

/// The adapter features accord's kernels can use, in the summary line.
const FEATURES_OF_INTEREST: [(wgpu::Features, &str); 6] = [
    (wgpu::Features::SHADER_F64, "SHADER_F64"),
    (wgpu::Features::SHADER_F16, "SHADER_F16"),
    (wgpu::Features::SHADER_INT64, "SHADER_INT64"),
    (wgpu::Features::SUBGROUP, "SUBGROUP"),
    (
        wgpu::Features::SHADER_FLOAT32_ATOMIC,
        "SHADER_FLOAT32_ATOMIC",
    ),
    (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
];

pub fn run(args: Args) -> anyhow::Result<()> {
    // Through io::Write: a closed pipe (`accord info | head`) is an io error
    // main treats as success, where println! would panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "accord {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(
        out,
        "cpu: {} ({})",
        cpu_model(),
        super::consolidate::count(rayon::current_num_threads(), "thread")
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
            if args.verbose {
                writeln!(out, "  features: {:?}", ctx.features)?;
            } else {
                let offered: Vec<&str> = FEATURES_OF_INTEREST
                    .iter()
                    .filter(|(f, _)| ctx.features.contains(*f))
                    .map(|(_, name)| *name)
                    .collect();
                writeln!(
                    out,
                    "  features: {} of {} offered ({}); --verbose lists all",
                    offered.len(),
                    FEATURES_OF_INTEREST.len(),
                    if offered.is_empty() {
                        "none".to_string()
                    } else {
                        offered.join(", ")
                    }
                )?;
            }
            if gpu.is_software() {
                writeln!(out, "backend (auto): cpu (the only adapter is a software rasteriser; --backend gpu uses it)")?;
            } else {
                writeln!(out, "backend (auto): gpu")?;
            }
        }
        Err(e) => {
            writeln!(out, "backend (auto): cpu, as the GPU backend cannot start:")?;
            for line in wrapped(&super::flags(&e.to_string()), 96) {
                writeln!(out, "  {line}")?;
            }
        }
    }
    Ok(())
}

/// `text` cut at spaces into lines of at most `width` characters (a longer
/// word keeps its own line), so a driver's long message stays readable.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrapped;

    #[test]
    fn wrapping_keeps_every_word_in_order_within_the_width() {
        let text = "no GPU adapter found: install a Vulkan driver (on Debian/Ubuntu: apt-get install mesa-vulkan-drivers) or use --backend cpu";
        let lines = wrapped(text, 30);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        let long = "a-word-longer-than-the-width x";
        assert_eq!(wrapped(long, 10), ["a-word-longer-than-the-width", "x"]);
        assert!(wrapped("", 10).is_empty());
    }
}

//! Which backend runs the kernels: the user's choice, `auto`'s rule (a
//! hardware GPU when there is one, else the CPU), and the retry on the CPU
//! when a GPU chosen by `auto` fails mid-fit.

#[cfg(feature = "gpu")]
use super::backend::gpu::GpuBackend;
use super::backend::{cpu::CpuBackend, Backend, SegBackend};
use crate::error::{Error, Result};

/// Which backend runs the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum BackendChoice {
    /// The GPU when a hardware adapter is found, else the CPU.
    #[default]
    Auto,
    /// The CPU backend (rayon).
    Cpu,
    /// The GPU backend; an error when no adapter is found.
    Gpu,
}

/// Set to 1, `auto` also takes a software adapter (so CI can run auto's GPU
/// path on lavapipe).
pub const AUTO_SOFTWARE_ENV: &str = "ACCORD_AUTO_SOFTWARE_GPU";

/// A backend for both tasks.
pub trait AnyBackend: Backend + SegBackend {}
impl<T: Backend + SegBackend> AnyBackend for T {}

/// The backend a choice resolved to, and why.
pub struct Selected {
    /// The backend.
    pub backend: Box<dyn AnyBackend>,
    /// Whether it is a GPU.
    pub is_gpu: bool,
    /// Why `auto` chose the CPU, when it did (no adapter, or only a software
    /// one): worth telling a user who expected the GPU.
    pub notice: Option<String>,
    choice: BackendChoice,
}

impl std::fmt::Debug for Selected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selected")
            .field("backend", &Backend::name(self.backend.as_ref()))
            .field("notice", &self.notice)
            .finish()
    }
}

impl Selected {
    /// The CPU backend, as chosen by the user.
    pub fn cpu() -> Self {
        Selected {
            backend: Box::new(CpuBackend),
            is_gpu: false,
            notice: None,
            choice: BackendChoice::Cpu,
        }
    }

    /// A GPU backend the caller built (for instance on its own device).
    #[cfg(feature = "gpu")]
    pub fn gpu(gpu: GpuBackend) -> Self {
        Selected {
            backend: Box::new(gpu),
            is_gpu: true,
            notice: None,
            choice: BackendChoice::Gpu,
        }
    }

    /// Runs `work` on the backend; when `auto` chose a GPU and it fails
    /// (device lost, out of memory, data beyond its limits), runs it again on
    /// the CPU and calls `on_retry` with the GPU's error. Afterwards the
    /// backend is the one that finished.
    pub fn run_with_fallback<T>(
        &mut self,
        mut work: impl FnMut(&dyn AnyBackend) -> Result<T>,
        on_retry: impl FnOnce(&Error),
    ) -> Result<T> {
        match work(self.backend.as_ref()) {
            Err(e @ (Error::Gpu(_) | Error::Limit(_)))
                if self.choice == BackendChoice::Auto && self.is_gpu =>
            {
                on_retry(&e);
                self.backend = Box::new(CpuBackend);
                self.is_gpu = false;
                work(self.backend.as_ref())
            }
            other => other,
        }
    }
}

/// A backend choice, with the caller's own GPU backend when one is given:
/// what a front door holds until it fits.
#[derive(Clone, Default)]
pub struct BackendRequest {
    /// Which backend to use.
    pub choice: BackendChoice,
    /// A GPU backend the caller built (used instead of opening one).
    #[cfg(feature = "gpu")]
    pub gpu: Option<GpuBackend>,
}

impl BackendRequest {
    /// The backend this request resolves to (see [`select()`]).
    pub fn select(&self) -> Result<Selected> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &self.gpu {
            return Ok(Selected::gpu(gpu.clone()));
        }
        select(self.choice)
    }
}

/// What [`Selected::run`] ran: the value, and what a user may want told.
#[derive(Debug)]
pub struct Ran<T> {
    /// The work's result.
    pub value: T,
    /// The backend it finished on.
    pub backend: String,
    /// Why `auto` chose the CPU, when it did.
    pub notice: Option<String>,
    /// The GPU error after which `auto` finished on the CPU.
    pub gpu_failure: Option<String>,
}

impl Selected {
    /// [`Selected::run_with_fallback`], keeping the notice and any GPU
    /// failure with the result.
    pub fn run<T>(mut self, work: impl FnMut(&dyn AnyBackend) -> Result<T>) -> Result<Ran<T>> {
        let notice = self.notice.take();
        let mut gpu_failure = None;
        let value = self.run_with_fallback(work, |e| gpu_failure = Some(e.to_string()))?;
        Ok(Ran {
            value,
            backend: Backend::name(self.backend.as_ref()),
            notice,
            gpu_failure,
        })
    }
}

/// Resolves `choice`: `Cpu` always works; `Gpu` is an error without an
/// adapter (or without the `gpu` feature); `Auto` takes a hardware adapter,
/// and otherwise the CPU with a [`Selected::notice`] saying why.
pub fn select(choice: BackendChoice) -> Result<Selected> {
    let cpu_because = |notice: String| Selected {
        backend: Box::new(CpuBackend),
        is_gpu: false,
        notice: Some(notice),
        choice,
    };
    match choice {
        BackendChoice::Cpu => Ok(Selected::cpu()),
        #[cfg(feature = "gpu")]
        BackendChoice::Gpu => Ok(Selected {
            choice,
            ..Selected::gpu(GpuBackend::new()?)
        }),
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Gpu => Err(Error::Gpu(NO_GPU_FEATURE.into())),
        #[cfg(feature = "gpu")]
        BackendChoice::Auto => match GpuBackend::new() {
            // A software rasteriser (lavapipe, llvmpipe) is slower than the
            // CPU backend: auto leaves it to an explicit GPU choice.
            Ok(gpu)
                if gpu.is_software() && std::env::var(AUTO_SOFTWARE_ENV).as_deref() != Ok("1") =>
            {
                Ok(cpu_because(format!(
                    "using the CPU backend: the only adapter, {}, is a software rasteriser (`backend` gpu forces it)",
                    gpu.context().adapter_info.name
                )))
            }
            Ok(gpu) => Ok(Selected {
                choice,
                ..Selected::gpu(gpu)
            }),
            Err(e) => Ok(cpu_because(format!("using the CPU backend: {e}"))),
        },
        #[cfg(not(feature = "gpu"))]
        BackendChoice::Auto => Ok(cpu_because(format!(
            "using the CPU backend: {NO_GPU_FEATURE}"
        ))),
    }
}

/// Why there is no GPU in a build without the `gpu` feature.
#[cfg(not(feature = "gpu"))]
const NO_GPU_FEATURE: &str = "accord was built without its gpu feature";

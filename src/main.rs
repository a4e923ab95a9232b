//! The `accord` command line: glue around the library.

#[macro_use]
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    return_large_buffers_to_the_system();
    // Ctrl-C (or SIGTERM from a batch scheduler): remove the outputs still
    // being written, so no half file or folder is left, and exit 130.
    let _ = ctrlc::set_handler(|| {
        say!("accord: interrupted; unfinished outputs removed");
        accord::io::remove_pending_and_exit(130);
    });
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (e.g. `accord ... | head`) is not a failure.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            say!("accord: error: {}", cli::describe(&err));
            let code = err
                .downcast_ref::<accord::Error>()
                .map_or(1, accord::Error::exit_code);
            ExitCode::from(code)
        }
    }
}

/// glibc raises its mmap threshold each time a large block is freed (up to
/// 32 MiB), after which the readers' per-block buffers come from the heap
/// and linger there once freed: 15% more peak memory on a 20M-annotation
/// run. A fixed 1 MiB threshold keeps large buffers as their own mappings,
/// returned to the system when freed.
fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

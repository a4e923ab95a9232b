//! The `accord` command line: glue around the library.

#[macro_use]
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
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

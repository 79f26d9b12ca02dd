//! The `ecr-ship` binary: parses the command line, runs the library, and maps the outcome to an exit code
//! (0 success, 1 failure talking to AWS, the registry or the engine, 2 bad input, 3 the vulnerability gate failed)
//! with the whole cause chain on standard error.

use std::process::ExitCode;

use clap::Parser;
use ecr_ship::error::{EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, bad_input, exit_code};

fn main() -> ExitCode {
    let ecr_ship::ci::ProcessEnv { vars: env, not_utf8 } = ecr_ship::ci::process_env();
    ecr_ship::advice::init(env.get(ecr_ship::advice::VIA_VARIABLE).map(String::as_str));
    // Called as docker-credential-ecr-ship, the binary is the credential helper.
    let args = ecr_ship::cli::effective_args(std::env::args_os().collect());
    let cli = match ecr_ship::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) if error.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            // clap names neither the argument nor the variable: say which it was.
            match ecr_ship::cli::not_utf8(&args, &not_utf8) {
                Some(message) => ecr_ship::commands::report::failure(&bad_input(message), &env),
                None => {
                    let _ = error.print();
                }
            }
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { EXIT_BAD_INPUT } else { EXIT_OK });
        }
    };
    // A CI variable ecr-ship reads whose value is not text is refused, never dropped.
    if let Err(error) = ecr_ship::ci::refuse_not_utf8(&not_utf8) {
        ecr_ship::commands::report::failure(&error, &env);
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let mut runtime = match cli.runs_on_one_thread() {
        true => tokio::runtime::Builder::new_current_thread(),
        false => tokio::runtime::Builder::new_multi_thread(),
    };
    let outcome = match runtime.enable_all().build() {
        Ok(runtime) => match std::env::current_dir() {
            Ok(cwd) => runtime.block_on(ecr_ship::commands::run(cli, &env, &cwd, &mut std::io::stdout().lock())),
            Err(error) => Err(anyhow::Error::new(error).context("reading the current directory")),
        },
        Err(error) => Err(anyhow::Error::new(error).context("starting the async runtime")),
    };
    match outcome {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            ecr_ship::commands::report::failure(&error, &env);
            ExitCode::from(exit_code(&error).max(EXIT_FAILURE))
        }
    }
}

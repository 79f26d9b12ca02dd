//! The commands layer: one thin file per command, each resolve → plan → act → report, and the dispatch here.
//!
//! Dispatch resolves the command's options once (`config::resolve`, offline, bad input is exit 2), applies the
//! whole-command time limit, and runs the command. A command plans what it can without the network (tags, the
//! image source, the engine), then acts; everything it does from its first network call on is marked
//! [`after_contact`](crate::error::after_contact), so exit code 2 always means "nothing was sent". Nothing below
//! this layer imports from it.

mod ecr_auth;
mod login;
mod logout;
mod policy;
mod push;
pub mod report;
mod retag;
mod tags;

use std::io::Write;
use std::path::Path;

use crate::ci::EnvMap;
use crate::cli::Cli;
use crate::config::{self, Settings};

/// Runs one command. `env` is the process environment, `cwd` the working directory, `stdout` where the result goes.
pub async fn run(cli: Cli, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let settings = config::resolve(&cli.command, env, cwd)?;
    let limit = settings.time_limit();
    let what = describe(&settings);
    let work = async move {
        match settings {
            Settings::Push(settings) => push::run(&settings, env, cwd, stdout).await,
            Settings::Login(settings) => login::run(&settings, env, stdout).await,
            Settings::Logout(settings) => logout::run(&settings, env, stdout).await,
            Settings::Tags(settings) => tags::run(&settings, cwd, stdout),
            Settings::Retag(settings) => retag::run(&settings, env, cwd, stdout).await,
            Settings::Policy(settings) => policy::run(&settings, stdout),
        }
    };
    match limit {
        Some(limit) => tokio::time::timeout(limit, work).await.map_err(|_| {
            crate::error::after_contact(anyhow::anyhow!(
                "{what} did not finish within --timeout {}s (the limit set by --timeout, ECR_SHIP_TIMEOUT or \
                 timeout: in the config file); raise it, or look at the last lines above for the step that hung",
                limit.as_secs()
            ))
        })?,
        None => work.await,
    }
}

/// The command in words, for the time-limit message.
fn describe(settings: &Settings) -> String {
    match settings {
        Settings::Push(push) => format!("push to '{}'", push.repository),
        Settings::Login(_) => "login".to_string(),
        Settings::Logout(_) => "logout".to_string(),
        Settings::Retag(retag) => format!("retag in '{}'", retag.repository),
        Settings::Tags(_) => "tags".to_string(),
        Settings::Policy(_) => "policy".to_string(),
    }
}

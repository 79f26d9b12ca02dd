//! The commands layer: one thin file per command (scan.rs also holds the gate push runs), each resolve → plan → act → report, and the dispatch here.
//!
//! Dispatch resolves the command's options once (`config::resolve`, offline, bad input is exit 2), applies the
//! whole-command time limit, and runs the command. A command plans what it can without the network (tags, the
//! image source, the engine), then acts; everything it does from its first network call on is marked
//! [`after_contact`](crate::error::after_contact), so exit code 2 always means "nothing was sent". Nothing below
//! this layer imports from it.

mod credential_helper;
mod login;
mod logout;
mod merge;
mod policy;
mod prune;
mod push;
mod registry_client;
pub mod report;
mod retag;
mod scan;
mod tags;
mod undo;

use std::io::Write;
use std::path::Path;

use crate::ci::EnvMap;
use crate::cli::Cli;
use crate::config::{self, Settings};
use undo::UndoList;

/// Runs one command. `env` is the process environment, `cwd` the working directory, `stdout` where the result goes.
pub async fn run(cli: Cli, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    if let crate::cli::Command::CredentialHelper(args) = &cli.command {
        return credential_helper::run(args, env, stdout).await;
    }
    let instance_env;
    let (settings, env) = match config::resolve(&cli.command, env, cwd) {
        // No region configured: on EC2 the instance's own, from instance metadata, as the AWS CLI and the SDKs do.
        Err(error) if crate::aws::is_no_region(&error) => match crate::aws::instance_region(env).await {
            Some(region) => {
                crate::log::info(format!("region {region}, from EC2 instance metadata"));
                instance_env = with_region(env, region);
                (config::resolve(&cli.command, &instance_env, cwd)?, &instance_env)
            }
            None => return Err(error),
        },
        resolved => (resolved?, env),
    };
    let limit = settings.time_limit();
    let what = describe(&settings);
    let undo = UndoList::new(crate::ci::in_github_actions(env));
    let work = async {
        match settings {
            Settings::Push(settings) => push::run(&settings, env, cwd, stdout, &undo).await,
            Settings::Login(settings) => login::run(&settings, env, stdout).await,
            Settings::Logout(settings) => logout::run(&settings, env, stdout).await,
            Settings::Tags(settings) => tags::run(&settings, cwd, stdout),
            Settings::Retag(settings) => retag::run(&settings, env, cwd, stdout).await,
            Settings::Policy(settings) => policy::run(&settings, stdout),
            Settings::Scan(settings) => scan::run(&settings, env, cwd, stdout).await,
            Settings::Merge(settings) => merge::run(&settings, env, cwd, stdout).await,
            Settings::Prune(settings) => prune::run(&settings, env, cwd, stdout).await,
        }
    };
    let limited = async {
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
    };
    // The time limit and the signals bound the work, never the undo: the command's future is dropped first,
    // then whatever it registered (engine logins, temporary names) is undone.
    let outcome = tokio::select! {
        outcome = limited => outcome,
        signal = stop_signal() => Err(crate::error::after_contact(anyhow::anyhow!(
            "{what} was stopped by {signal}; the engine logins, temporary names and temporary files it made were removed"
        ))),
    };
    undo.run().await;
    outcome
}

/// The environment with the instance's region as `AWS_REGION`, so every later step (and the engine) sees the
/// region the command was planned for.
fn with_region(env: &EnvMap, region: String) -> EnvMap {
    let mut env = env.clone();
    env.insert("AWS_REGION".to_string(), region);
    env
}

/// Resolves when SIGINT or SIGTERM arrives, naming it; never, where signals cannot be watched.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
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
        Settings::Scan(scan) => format!("scan of '{}:{}'", scan.repository, scan.reference),
        Settings::Merge(merge) => format!("merge in '{}'", merge.repository),
        Settings::Prune(prune) => format!("prune of '{}'", prune.repository),
    }
}

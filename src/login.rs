//! `ecr-ship login` and `ecr-ship logout`: the container engine's registry login, and exactly its undoing.
//!
//! Login gets one authorization token per region (a token is valid for every registry of its region) and hands
//! the password to the engine on standard input only. So that a later `ecr-ship logout`, a separate process, removes
//! exactly what login added, login records the hosts it logged in to (host names only, never a credential) in a
//! file beside the engine's credential store.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::aws::{AwsOptions, AwsPlan, Session};
use crate::ci::EnvMap;
use crate::cli::LoginArgs;
use crate::engine::{Engine, EngineChoice};
use crate::host::RegistryHost;
use crate::settings::ConfigFile;
use crate::{app, log, settings};

const STATE_FILE: &str = "ecr-ship-logins.json";

pub async fn login(args: &LoginArgs, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let plan = app::aws_plan(&args.common, &args.aws, &file, env)?;
    let extra = app::extra_registries(&args.aws, &file)?;
    let engine =
        Engine::detect(EngineChoice::parse(args.engine.as_deref().or(file.engine.as_deref()).unwrap_or("auto"))?, env)
            .await?;
    let json = settings::target(&args.common, &file).json;
    // The plans of the other regions are checked now, before anything is contacted: a registry in another
    // partition than the role, say, is bad input and must not surface only after the first login.
    let mut regional_plans: BTreeMap<String, AwsPlan> = BTreeMap::new();
    for host in extra.iter().filter(|h| h.region != plan.region()) {
        if !regional_plans.contains_key(&host.region) {
            // Same credentials and roles, another region (and no registry: that would pin the first region).
            let options = AwsOptions {
                region: Some(host.region.clone()),
                registry: None,
                ..app::aws_options(&args.common, &args.aws, &file)?
            };
            let regional = AwsPlan::validate(options, env)
                .map_err(|e| crate::error::bad_input(format!("--registries {}: {e:#}", host.host())))?;
            regional_plans.insert(host.region.clone(), regional);
        }
    }

    let session = plan.connect(env).await?;
    let token = session.authorization_token().await?;
    let target = match plan.registry() {
        Some(host) => host.clone(),
        None => RegistryHost::parse(&token.proxy_endpoint)
            .with_context(|| format!("GetAuthorizationToken returned proxy endpoint '{}'", token.proxy_endpoint))?,
    };
    let mut hosts = vec![target];
    for host in extra {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    // One token per region: the target's session serves its region, other regions get a session of their own.
    let mut logged_in = Vec::new();
    let result = login_all(&engine, &hosts, &session, &token, &mut regional_plans, env, &mut logged_in).await;
    // What succeeded before a later failure is recorded too, so `logout` can undo it.
    remember(&engine, &logged_in)?;
    result?;
    let text = if json {
        format!("{}\n", json!({ "registries": logged_in }))
    } else {
        logged_in.iter().map(|h| format!("{h}\n")).collect()
    };
    stdout.write_all(text.as_bytes()).context("writing to standard output")
}

pub async fn logout(args: &LoginArgs, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let engine =
        Engine::detect(EngineChoice::parse(args.engine.as_deref().or(file.engine.as_deref()).unwrap_or("auto"))?, env)
            .await?;
    let state = state_path(&engine)?;
    let hosts = read_state(&state)?;
    if hosts.is_empty() {
        log::info(format!("no ecr-ship login recorded in {}: nothing to remove", state.display()));
    }
    for host in &hosts {
        engine.logout_host(host).await?;
        log::info(format!("{} logged out of {host}", engine.kind()));
    }
    if state.exists() {
        std::fs::remove_file(&state).with_context(|| format!("removing {}", state.display()))?;
    }
    let text: String = hosts.iter().map(|h| format!("{h}\n")).collect();
    stdout.write_all(text.as_bytes()).context("writing to standard output")
}

fn state_path(engine: &Engine) -> anyhow::Result<PathBuf> {
    let auth_file = engine.auth_file()?;
    let dir = auth_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    Ok(dir.join(STATE_FILE))
}

fn read_state(path: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let value: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("reading the login record {}", path.display()))?;
            Ok(value["hosts"].as_array().into_iter().flatten().filter_map(|h| h.as_str().map(String::from)).collect())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error).with_context(|| format!("reading the login record {}", path.display())),
    }
}

/// Adds `hosts` to the login record (host names only).
fn remember(engine: &Engine, hosts: &[String]) -> anyhow::Result<()> {
    let path = state_path(engine)?;
    let mut all = read_state(&path)?;
    for host in hosts {
        if !all.contains(host) {
            all.push(host.clone());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, format!("{}\n", json!({ "hosts": all })))
        .with_context(|| format!("writing the login record {}", path.display()))
}

/// Logs in to every host in order, pushing each success onto `logged_in` as it happens.
async fn login_all(
    engine: &Engine,
    hosts: &[RegistryHost],
    session: &Session,
    token: &crate::aws::RegistryCredentials,
    regional_plans: &mut BTreeMap<String, AwsPlan>,
    env: &EnvMap,
    logged_in: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut sessions: BTreeMap<String, Session> = BTreeMap::new();
    for host in hosts {
        let credentials = if host.region == session.region() {
            token.clone()
        } else {
            if !sessions.contains_key(&host.region) {
                let regional = regional_plans
                    .remove(&host.region)
                    .with_context(|| format!("no plan was made for region {}", host.region))?;
                sessions.insert(host.region.clone(), regional.connect(env).await?);
            }
            let regional = &sessions[&host.region];
            regional.authorization_token().await?
        };
        engine.login(host.host(), &credentials.username, &credentials.password).await?;
        log::info(format!("{} logged in to {}", engine.kind(), host.host()));
        logged_in.push(host.host().to_string());
    }
    Ok(())
}

//! `ecr-ship login`: the container engine's registry login, recorded so that `ecr-ship logout` (a separate
//! process) removes exactly what was added.
//!
//! One authorization token per region (a token is valid for every registry of its region); the password goes only
//! into the engine's own credential store. The engine remembers each login, and the credentials it replaced, for
//! logout.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use serde_json::json;

use super::registry_client::image_registry;
use super::report;
use crate::aws::{RegistryCredentials, Session};
use crate::ci::EnvMap;
use crate::config::LoginSettings;
use crate::engine::{Engine, EngineChoice, LoginRecord};
use crate::error::after_contact;
use crate::host::RegistryHost;
use crate::log;

pub async fn run(settings: &LoginSettings, env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    // An engine named on the command line is only looked up on PATH, and a missing one is bad input: checked before
    // anything is sent. Detecting one (a `docker version` round trip to the daemon) needs nothing from AWS, so it
    // runs while the token is fetched.
    let (engine, credentials) = if settings.engine == EngineChoice::Auto {
        tokio::join!(Engine::detect(settings.engine, env), credentials(settings, env))
    } else {
        let engine = Engine::detect(settings.engine, env).await?;
        (Ok(engine), credentials(settings, env).await)
    };
    let engine = engine?;
    let (session, token) = credentials.map_err(after_contact)?;
    let logged_in = act(settings, &engine, env, session, token).await.map_err(after_contact)?;
    if let (Some(path), Some(registry)) = (&settings.github_output, logged_in.first()) {
        // The registry the job pushes to, as amazon-ecr-login's `registry` output names it; never a credential.
        let targets = crate::outputs::OutputTargets { github_output: Some(path.clone()), ..Default::default() };
        let fields = [("registry", "REGISTRY", registry.clone())];
        crate::outputs::append_fields(&fields, ("registry", &json!(registry)), &targets, std::path::Path::new("."))
            .map_err(after_contact)?;
    }
    if settings.reporting.json {
        let text = format!("{}\n", json!({ "registries": logged_in }));
        stdout.write_all(text.as_bytes()).context("writing to standard output")
    } else {
        report::lines(&logged_in, stdout)
    }
}

async fn credentials(settings: &LoginSettings, env: &EnvMap) -> anyhow::Result<(Session, RegistryCredentials)> {
    let session = settings.aws.connect(env).await?;
    let token = session.authorization_token().await?;
    Ok((session, token))
}

async fn act(
    settings: &LoginSettings,
    engine: &Engine,
    env: &EnvMap,
    session: Session,
    token: RegistryCredentials,
) -> anyhow::Result<Vec<String>> {
    let target = image_registry(&settings.aws, &session, &token).await?;
    let hosts: Vec<RegistryHost> =
        settings.extra_registries.iter().filter(|host| host.host() != target.host()).cloned().collect();
    // Each login is remembered as it is made (under the store's lock), so one that succeeded is undone by logout
    // even when a later one fails.
    let mut records = Vec::new();
    records.push(engine.login_remembered(target.host(), &token.username, &token.password).await?);
    log::info(format!("{} logged in to {}", engine.kind(), target.host()));
    login_all(settings, engine, &hosts, &session, &token, env, &mut records).await?;
    Ok(records.iter().map(|r| r.host().to_string()).collect())
}

/// Logs in to each other host in turn, one token per region: the target's session serves its region (unless the
/// target is ECR Public, whose token is for public.ecr.aws only), other regions get a session of their own.
async fn login_all(
    settings: &LoginSettings,
    engine: &Engine,
    hosts: &[RegistryHost],
    session: &Session,
    token: &RegistryCredentials,
    env: &EnvMap,
    records: &mut Vec<LoginRecord>,
) -> anyhow::Result<()> {
    let mut sessions: BTreeMap<String, Session> = BTreeMap::new();
    for host in hosts {
        let credentials = if host.region == session.region() && !session.is_public() {
            token.clone()
        } else {
            if !sessions.contains_key(&host.region) {
                let regional = settings
                    .regional_plans
                    .get(&host.region)
                    .with_context(|| format!("no plan was made for region {}", host.region))?;
                sessions.insert(host.region.clone(), regional.connect(env).await?);
            }
            sessions[&host.region].authorization_token().await?
        };
        records.push(engine.login_remembered(host.host(), &credentials.username, &credentials.password).await?);
        log::info(format!("{} logged in to {}", engine.kind(), host.host()));
    }
    Ok(())
}

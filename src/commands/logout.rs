//! `ecr-ship logout`: removes exactly the registry logins an earlier `ecr-ship login` recorded.

use std::io::Write;

use anyhow::Context;

use super::{login_record, report};
use crate::ci::EnvMap;
use crate::config::LogoutSettings;
use crate::engine::Engine;
use crate::log;

pub async fn run(settings: &LogoutSettings, env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let engine = Engine::detect(settings.engine.as_deref(), env)?;
    let state = login_record::state_path(&engine)?;
    let hosts = login_record::read_state(&state)?;
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
    report::lines(&hosts, stdout)
}

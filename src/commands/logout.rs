//! `ecr-ship logout`: removes exactly the registry logins an earlier `ecr-ship login` recorded, and puts back the
//! credentials those logins replaced.

use std::io::Write;

use super::report;
use crate::ci::EnvMap;
use crate::config::LogoutSettings;
use crate::engine::Engine;
use crate::log;

pub async fn run(settings: &LogoutSettings, env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let engine = Engine::detect(settings.engine, env).await?;
    let hosts = engine.logout_remembered().await?;
    if hosts.is_empty() {
        let record = engine.record_path()?;
        log::info(format!("no ecr-ship login recorded in {}: nothing to remove", record.display()));
    }
    for host in &hosts {
        log::info(format!("{} logged out of {host}", engine.kind()));
    }
    report::lines(&hosts, stdout)
}

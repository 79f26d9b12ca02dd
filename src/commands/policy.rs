//! `ecr-ship policy`: prints the least-privilege IAM policy for pushing, and the GitHub OIDC trust policy. Offline.

use std::io::Write;

use anyhow::Context;
use serde_json::json;

use crate::aws::{github_trust_policy, push_policy};
use crate::config::PolicySettings;

pub fn run(settings: &PolicySettings, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let (partition, account) = (settings.partition, settings.account.as_str());
    let mut document = json!({
        "push_policy": push_policy(partition, account, &settings.region, &settings.repository, settings.create_repository)
    });
    if let Some(repo) = &settings.github_repo {
        document["github_trust_policy"] = github_trust_policy(partition, account, repo);
    }
    let text = serde_json::to_string_pretty(&document).context("serialising the policy")?;
    stdout.write_all(format!("{text}\n").as_bytes()).context("writing to standard output")
}

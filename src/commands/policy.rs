//! `ecr-ship policy`: prints the least-privilege IAM policy for pushing, the GitHub OIDC trust policy, and with
//! `--lifecycle` the ECR lifecycle policy made from the tag rules. Offline.

use std::io::Write;

use anyhow::Context;
use serde_json::json;

use crate::aws::policy::prune_statement;
use crate::aws::{GithubSubject, github_trust_policy, public_push_policy, push_policy};
use crate::config::PolicySettings;

pub fn run(settings: &PolicySettings, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let (partition, account) = (settings.partition, settings.account.as_str());
    let mut push = match &settings.public {
        Some(public) => {
            public_push_policy(account, &settings.repository, settings.create_repository, public.alias.is_none())
        }
        None => push_policy(partition, account, &settings.region, &settings.repository, settings.create_repository),
    };
    if settings.prune
        && let Some(statements) = push["Statement"].as_array_mut()
    {
        statements.push(prune_statement(partition, account, &settings.region, &settings.repository));
    }
    let mut document = json!({ "push_policy": push });
    for note in &settings.github_notes {
        crate::log::warn(note, settings.github_warnings);
    }
    if let Some((repo, subjects)) = &settings.github {
        if subjects.contains(&GithubSubject::AnyRef) {
            crate::log::warn(
                format!(
                    "the trust policy admits every job of {repo}: any branch, tag, environment and pull request from \
                     the repository may push; prefer --github-ref refs/heads/main, --github-environment NAME or \
                     --from-workflow"
                ),
                settings.github_warnings,
            );
        }
        document["github_trust_policy"] = github_trust_policy(partition, account, repo, subjects);
    }
    if let Some(lifecycle) = &settings.lifecycle {
        for note in &lifecycle.notes {
            crate::log::warn(note, settings.github_warnings);
        }
        document["lifecycle_policy"] = lifecycle.document.clone();
    }
    for (file, key) in [
        (&settings.trust_policy_file, "github_trust_policy"),
        (&settings.push_policy_file, "push_policy"),
        (&settings.lifecycle_policy_file, "lifecycle_policy"),
    ] {
        if let Some(file) = file {
            let text = serde_json::to_string_pretty(&document[key]).context("serialising the policy")?;
            crate::outputs::write_file(file, format!("{text}\n").as_bytes(), false)?;
        }
    }
    let text = serde_json::to_string_pretty(&document).context("serialising the policy")?;
    stdout.write_all(format!("{text}\n").as_bytes()).context("writing to standard output")
}

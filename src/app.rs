//! Command dispatch: each subcommand parses and validates its options into a plan, then acts.
//!
//! Options are merged (flags > environment > `.ecr-ship.yml` > CI defaults) and checked here before any network
//! call, so bad input always fails with exit code 2 and nothing sent.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::bail_input;
use crate::ci::{self, EnvMap, LocalWorkspace};
use crate::cli::{Cli, Command, TagsArgs};
use crate::host::RegistryHost;
use crate::outputs::{self, ImageOutputs};
use crate::settings::{self, ConfigFile};
use crate::{log, names, tags};

/// Runs one command. `env` is the process environment, `cwd` the working directory, `stdout` where the result goes.
pub async fn run(cli: Cli, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Tags(args) => tags_command(&args, env, cwd, stdout),
        Command::Push(_) | Command::Login(_) | Command::Logout(_) | Command::Retag(_) | Command::Policy(_) => {
            anyhow::bail!("this subcommand is not available in this build yet")
        }
    }
}

/// Prints the whole cause chain on stderr, and an annotation when running in GitHub Actions.
pub fn report(error: &anyhow::Error, env: &EnvMap) {
    eprintln!("ecr-ship: error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if ci::var(env, "GITHUB_ACTIONS") == Some("true") {
        let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
        eprintln!("{}", outputs::github_error_annotation(&chain.join(": ")));
    }
}

/// Today's date in UTC as `YYYYMMDD`, honouring SOURCE_DATE_EPOCH for reproducible runs.
fn today(env: &EnvMap) -> String {
    let now = ci::var(env, "SOURCE_DATE_EPOCH").and_then(|s| s.parse::<i64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    });
    tags::utc_date(now)
}

/// The registry host from `--registry`, or from an account id and region.
fn registry_host(
    registry: Option<&str>,
    account: Option<&str>,
    region: Option<&str>,
) -> anyhow::Result<Option<RegistryHost>> {
    match (registry, account) {
        (Some(host), _) => {
            let parsed = RegistryHost::parse(host)?;
            if let Some(region) = region.filter(|r| *r != parsed.region) {
                bail_input!("--registry '{host}' is in region {} but --region is '{region}'", parsed.region);
            }
            Ok(Some(parsed))
        }
        (None, Some(account)) => match region {
            Some(region) => Ok(Some(RegistryHost::for_account(account, region, false, crate::host::Stack::Ipv4)?)),
            None => {
                bail_input!("--account-id '{account}' needs a region (--region or AWS_REGION) to name the registry")
            }
        },
        (None, None) => Ok(None),
    }
}

fn tags_command(args: &TagsArgs, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let target = settings::target(&args.common, &file);
    if let Some(repository) = &target.repository {
        names::validate_repository(repository)?;
    }
    let region = target
        .region
        .clone()
        .or_else(|| ci::var(env, "AWS_REGION").or(ci::var(env, "AWS_DEFAULT_REGION")).map(String::from));
    let account = args.account_id.clone().or_else(|| file.account_id.clone());
    let registry = registry_host(target.registry.as_deref(), account.as_deref(), region.as_deref())?;
    let (rules, overrides) = settings::tag_rules(&args.tags, &file)?;
    let (targets, export) = settings::output_targets(&args.outputs, &file, env);
    let wants_files = targets.image_definitions.is_some()
        || targets.image_detail
        || targets.properties_file.is_some()
        || targets.dotenv_file.is_some()
        || targets.json_file.is_some()
        || export;
    if wants_files && target.repository.is_none() {
        bail_input!("image outputs (--export, --image-definitions, --image-detail, output files) need --repository");
    }

    let context = ci::detect(env, &LocalWorkspace { dir: cwd.to_path_buf() }, &overrides)?;
    let planned = tags::plan(&context, &rules, &today(env))?;
    log::info(format!(
        "{} build: branch {}, commit {}, git tag {}, pull request {}; tags: {}",
        context.system,
        context.branch.as_deref().unwrap_or("-"),
        context.sha.as_deref().map_or("-", |s| &s[..s.len().min(12)]),
        context.git_tag.as_deref().unwrap_or("-"),
        context.pr.map_or("-".to_string(), |n| n.to_string()),
        planned.join(", ")
    ));

    let result = ImageOutputs {
        registry: registry.as_ref().map(|r| r.host().to_string()),
        repository: target.repository.clone().unwrap_or_default(),
        tags: planned.clone(),
        digest: None,
        tag_mutability: None,
    };
    let text;
    if target.repository.is_some() {
        outputs::write_files(&result, &targets, "planned tags", cwd)?;
        if target.json {
            let mut value = result.to_json();
            value["context"] = serde_json::to_value(&context).context("serialising the CI context")?;
            text = format!("{value}\n");
        } else if export {
            text = outputs::export_lines(&result);
        } else {
            let lines = if result.registry.is_some() { result.references() } else { planned.clone() };
            text = lines.iter().map(|line| format!("{line}\n")).collect();
        }
    } else {
        if let Some(path) = &targets.github_output {
            let entry = ImageOutputs { repository: String::new(), ..result.clone() };
            let tags_only: String =
                outputs::github_output(&entry)?.split_inclusive('\n').skip_while(|l| !l.starts_with("tags")).collect();
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(tags_only.as_bytes()))
                .with_context(|| format!("writing GITHUB_OUTPUT '{}'", path.display()))?;
        }
        if target.json {
            text = format!("{}\n", json!({ "tags": planned, "context": context }));
        } else {
            text = planned.iter().map(|tag| format!("{tag}\n")).collect();
        }
    }
    stdout.write_all(text.as_bytes()).context("writing to standard output")?;
    Ok(())
}

//! Command dispatch: each subcommand parses and validates its options into a plan, then acts.
//!
//! Options are merged (flags > environment > `.ecr-ship.yml` > CI defaults) and checked here before any network
//! call, so bad input always fails with exit code 2 and nothing sent.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::aws::{AwsOptions, AwsPlan, RepositoryOptions, RepositorySettings};
use crate::bail_input;
use crate::ci::{self, EnvMap, LocalWorkspace};
use crate::cli::{AwsArgs, Cli, Command, CommonArgs, PolicyArgs, RepositoryArgs, TagsArgs};
use crate::host::RegistryHost;
use crate::outputs::{self, ImageOutputs};
use crate::settings::{self, ConfigFile};
use crate::{log, names, tags};

/// Runs one command. `env` is the process environment, `cwd` the working directory, `stdout` where the result goes.
pub async fn run(cli: Cli, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Tags(args) => tags_command(&args, env, cwd, stdout),
        Command::Push(args) => crate::push::run(&args, env, cwd, stdout).await,
        Command::Login(args) => crate::login::login(&args, env, cwd, stdout).await,
        Command::Logout(args) => crate::login::logout(&args, env, cwd, stdout).await,
        Command::Retag(args) => crate::retag::run(&args, env, cwd, stdout).await,
        Command::Policy(args) => policy_command(&args, env, cwd, stdout),
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
pub fn today(env: &EnvMap) -> String {
    let now = ci::var(env, "SOURCE_DATE_EPOCH").and_then(|s| s.parse::<i64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    });
    tags::utc_date(now)
}

/// The region for commands that never contact AWS: `--region`, then AWS_REGION, then AWS_DEFAULT_REGION.
fn offline_region(target: &settings::Target, env: &EnvMap) -> Option<String> {
    target
        .region
        .clone()
        .or_else(|| ci::var(env, "AWS_REGION").or(ci::var(env, "AWS_DEFAULT_REGION")).map(String::from))
}

/// The registry host for commands that never contact AWS (`tags`, `policy`): `--registry`, or an account id and
/// the region.
fn offline_registry(
    target: &settings::Target,
    account_flag: Option<&str>,
    file: &ConfigFile,
    env: &EnvMap,
) -> anyhow::Result<Option<RegistryHost>> {
    let account = account_flag.or(file.account_id.as_deref());
    registry_host(target.registry.as_deref(), account, offline_region(target, env).as_deref())
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
    let registry = offline_registry(&target, args.account_id.as_deref(), &file, env)?;
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

/// The AWS plan from flags, environment and config file (no network).
pub fn aws_plan(common: &CommonArgs, aws: &AwsArgs, file: &ConfigFile, env: &EnvMap) -> anyhow::Result<AwsPlan> {
    AwsPlan::validate(aws_options(common, aws, file)?, env)
}

/// The AWS options from flags and config file, before validation.
pub fn aws_options(common: &CommonArgs, aws: &AwsArgs, file: &ConfigFile) -> anyhow::Result<AwsOptions> {
    let registry =
        common.registry.clone().or_else(|| file.registry.clone()).map(|h| RegistryHost::parse(&h)).transpose()?;
    let role_arns = if aws.role_arn.is_empty() {
        file.role_arn.clone().map(|r| r.into_vec()).unwrap_or_default()
    } else {
        aws.role_arn.clone()
    };
    let options = AwsOptions {
        region: common.region.clone().or_else(|| file.region.clone()),
        registry,
        role_arns: role_arns.into_iter().map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect(),
        external_id: aws.external_id.clone().or_else(|| file.external_id.clone()),
        session_name: aws.role_session_name.clone().or_else(|| file.role_session_name.clone()),
        role_duration: aws.role_duration.or(file.role_duration).map(std::time::Duration::from_secs),
        timeout: aws.timeout.or(file.timeout).map(std::time::Duration::from_secs),
    };
    Ok(options)
}

/// Other registries to log in to (`--registries`), parsed.
pub fn extra_registries(aws: &AwsArgs, file: &ConfigFile) -> anyhow::Result<Vec<RegistryHost>> {
    let hosts =
        if aws.registries.is_empty() { file.registries.clone().unwrap_or_default() } else { aws.registries.clone() };
    hosts.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).map(RegistryHost::parse).collect()
}

/// Repository settings from flags and the config file's `repository-settings:`, checked; with the create and
/// update switches.
pub fn repository_settings(
    args: &RepositoryArgs,
    file: &ConfigFile,
    cwd: &Path,
) -> anyhow::Result<(RepositorySettings, bool, bool)> {
    let section = file.repository_settings.as_ref();
    let inline = |value: Option<&serde_json::Value>| -> Option<String> {
        value.map(|v| match v {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    };
    let exclusions = if args.mutability_exclusion.is_empty() {
        section.and_then(|s| s.mutability_exclusions.clone()).unwrap_or_default()
    } else {
        args.mutability_exclusion.clone()
    };
    let resource_tags = if args.resource_tag.is_empty() {
        section
            .and_then(|s| s.resource_tags.clone())
            .map(|tags| tags.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
            .unwrap_or_default()
    } else {
        args.resource_tag.clone()
    };
    let options = RepositoryOptions {
        tag_mutability: args.tag_mutability.clone().or_else(|| section.and_then(|s| s.tag_mutability.clone())),
        immutable_tags: false,
        mutability_exclusions: exclusions,
        scan_on_push: args.scan_on_push.or(section.and_then(|s| s.scan_on_push)),
        encryption: args.encryption.clone().or_else(|| section.and_then(|s| s.encryption.clone())),
        kms_key: args.kms_key.clone().or_else(|| section.and_then(|s| s.kms_key.clone())),
        lifecycle_policy_file: args
            .lifecycle_policy
            .clone()
            .or_else(|| section.and_then(|s| s.lifecycle_policy_file.clone()))
            .map(|p| cwd.join(p)),
        lifecycle_policy_inline: inline(section.and_then(|s| s.lifecycle_policy.as_ref())),
        repository_policy_file: args
            .repository_policy
            .clone()
            .or_else(|| section.and_then(|s| s.repository_policy_file.clone()))
            .map(|p| cwd.join(p)),
        repository_policy_inline: inline(section.and_then(|s| s.repository_policy.as_ref())),
        tags: resource_tags,
    };
    let settings = RepositorySettings::validate(options)?;
    let create = args.create_repository.or(section.and_then(|s| s.create)).unwrap_or(false);
    let update = args.update_repository_settings.or(section.and_then(|s| s.update)).unwrap_or(false);
    Ok((settings, create, update))
}

/// Writes the file outputs and the result on standard output (the image URI, `export` lines, or JSON).
pub fn finish(
    result: &ImageOutputs,
    targets: &outputs::OutputTargets,
    export: bool,
    json: bool,
    title: &str,
    cwd: &Path,
    stdout: &mut dyn Write,
) -> anyhow::Result<()> {
    outputs::write_files(result, targets, title, cwd)?;
    let text = if json {
        format!("{}\n", result.to_json())
    } else if export {
        outputs::export_lines(result)
    } else {
        format!("{}\n", result.image_uri())
    };
    stdout.write_all(text.as_bytes()).context("writing to standard output")
}

fn policy_command(args: &PolicyArgs, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let target = settings::target(&args.common, &file);
    let Some(repository) = target.repository.clone() else {
        bail_input!("policy needs --repository");
    };
    names::validate_repository(&repository)?;
    let host = offline_registry(&target, args.account_id.as_deref(), &file, env)?;
    let (account, region) = match &host {
        Some(host) => (host.account.clone(), host.region.clone()),
        None => ("*".to_string(), offline_region(&target, env).unwrap_or_else(|| "*".to_string())),
    };
    if let Some(repo) = &args.github_repo {
        crate::aws::policy::validate_github_repo(repo)?;
    }
    let partition = crate::host::Partition::of_region(&region);
    let create = args.create_repository.unwrap_or(false);
    let mut document =
        json!({ "push_policy": crate::aws::push_policy(partition, &account, &region, &repository, create) });
    if let Some(repo) = &args.github_repo {
        document["github_trust_policy"] = crate::aws::github_trust_policy(partition, &account, repo);
    }
    let text = serde_json::to_string_pretty(&document).context("serialising the policy")?;
    stdout.write_all(format!("{text}\n").as_bytes()).context("writing to standard output")
}

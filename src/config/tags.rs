//! The tag rules and the build they apply to ([`TagSettings`], shared by push, merge and tags), and the settings of
//! `ecr-ship tags`, the offline dry run.

use std::path::Path;

use super::aws::offline_registry;
use super::common::{OutputSettings, Reporting, output_settings, reporting, repository};
use super::file::ConfigFile;
use crate::ci::{CiContext, EnvMap, LocalWorkspace, Overrides};
use crate::cli::{TagArgs, TagsArgs};
use crate::host::{ImageRegistry, PUBLIC_HOST, RegistryTarget};
use crate::tags::metadata::{self, Flavor};
use crate::tags::{TagLine, TagRules};
use crate::{bail_input, ci, names, tags};

/// The build the tags are for, and the rules that turn it into tags.
#[derive(Debug, Clone)]
pub struct TagSettings {
    pub context: CiContext,
    pub rules: TagRules,
    /// The instant the tags are planned for (honours SOURCE_DATE_EPOCH), for `{date}` and `{{date}}`.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Running in GitHub Actions: planning warnings become annotations.
    pub github: bool,
    /// The user's extra labels and annotations (`KEY=VALUE`, metadata-action expressions allowed).
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
}

impl TagSettings {
    /// The tags this build gets, in order (the first is the primary one).
    pub fn plan(&self) -> anyhow::Result<Vec<String>> {
        let mut warnings = Vec::new();
        let planned = tags::plan_noting(&self.context, &self.rules, self.now, &mut warnings)?;
        for warning in warnings {
            crate::log::warn(warning, self.github);
        }
        Ok(planned)
    }

    /// The OCI labels and annotations (`key=value` each) of an image whose primary tag is `primary`.
    pub fn labels(&self, primary: Option<&str>) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let refs = tags::ref_context(&self.context, self.rules.sha_length, self.now);
        let labels = tags::labels::oci_labels(&self.context, &refs, primary, self.now, &self.labels)?;
        let annotations = tags::labels::oci_labels(&self.context, &refs, primary, self.now, &self.annotations)?;
        Ok((labels, annotations))
    }
}

#[derive(Debug)]
pub struct TagsSettings {
    pub repository: Option<String>,
    /// The registry as image references begin (`<host>` or `public.ecr.aws/<alias>`), when it can be named
    /// without contacting AWS (`--registry`, or an account id and a region).
    pub registry: Option<String>,
    pub tags: TagSettings,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
}

pub(super) fn resolve(args: &TagsArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<TagsSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let repository = repository(&args.common, &file);
    if let Some(repository) = &repository {
        names::validate_repository(repository)?;
    }
    let registry = match offline_registry(&args.common, args.account_id.as_deref(), &file, env)? {
        Some(RegistryTarget::Private(host)) => Some(host.host().to_string()),
        Some(RegistryTarget::Public(public)) => match &public.alias {
            Some(alias) => Some(ImageRegistry::public(alias).name()),
            None => bail_input!(
                "tags runs offline and cannot look up the default alias of --registry {PUBLIC_HOST}: name it as \
                 --registry {PUBLIC_HOST}/ALIAS"
            ),
        },
        None => codebuild_registry(env),
    };
    if let (Some(repository), Some(name)) = (&repository, &registry)
        && name.starts_with(PUBLIC_HOST)
    {
        names::validate_public_repository(repository)?;
    }
    let tags = tag_settings(&args.tags, &file, env, cwd)?;
    let outputs = output_settings(&args.outputs, &file, env, cwd)?;
    let wants_files = outputs.targets.image_definitions.is_some()
        || outputs.targets.image_detail
        || outputs.targets.properties_file.is_some()
        || outputs.targets.dotenv_file.is_some()
        || outputs.targets.json_file.is_some()
        || outputs.export;
    if wants_files && repository.is_none() {
        bail_input!("image outputs (--export, --image-definitions, --image-detail, output files) need --repository");
    }
    Ok(TagsSettings { repository, registry, tags, outputs, reporting: reporting(&args.common, env) })
}

/// In CodeBuild, the build's own registry, named offline: the account and region of `CODEBUILD_BUILD_ARN`
/// (`arn:aws:codebuild:REGION:ACCOUNT:build/PROJECT:ID`), where a push without `--registry` would go (the service
/// role's account). Anything else there names no registry.
fn codebuild_registry(env: &EnvMap) -> Option<String> {
    let arn = ci::var(env, "CODEBUILD_BUILD_ARN")?;
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "codebuild", region, account, resource] = fields.as_slice() else { return None };
    if !resource.starts_with("build/") {
        return None;
    }
    let host = crate::host::RegistryHost::for_account(account, region, false, crate::host::Stack::Ipv4).ok()?;
    Some(host.host().to_string())
}

/// docker/metadata-action's short-sha setting, honoured so its users' jobs keep their tags.
pub(super) fn metadata_sha_length(env: &EnvMap) -> Option<anyhow::Result<usize>> {
    let text = ci::var(env, "DOCKER_METADATA_SHORT_SHA_LENGTH")?;
    Some(text.parse().map_err(|_| {
        crate::error::bad_input(format!(
            "invalid DOCKER_METADATA_SHORT_SHA_LENGTH '{text}': expected a number of characters from 4 to 40"
        ))
    }))
}

/// Now, or SOURCE_DATE_EPOCH for reproducible runs: whole seconds since 1970-01-01 UTC. A malformed value is bad
/// input, not a fall back to the clock (the reproducible-builds specification asks a build to stop on one).
pub(super) fn now(env: &EnvMap) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let Some(text) = ci::var(env, "SOURCE_DATE_EPOCH") else { return Ok(chrono::Utc::now()) };
    let seconds = text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse::<i64>().ok()).flatten();
    match seconds.and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)) {
        Some(instant) => Ok(instant),
        None => bail_input!(
            "invalid SOURCE_DATE_EPOCH '{text}': expected the build's time as whole seconds since 1970-01-01 UTC \
             (such as the output of git log -1 --format=%ct); unset it to use the clock"
        ),
    }
}

/// A list option: its flags (or the one value of their variable), else the config file's key; with where it came
/// from, for the errors.
fn list_option(
    flags: &[String],
    (flag, variable): (&str, &str),
    file: Option<&Vec<String>>,
    key: &str,
    env: &EnvMap,
) -> (Vec<String>, String) {
    if flags.is_empty() {
        (file.cloned().unwrap_or_default(), format!("{key} in the config file"))
    } else if flags.len() == 1 && env.get(variable) == Some(&flags[0]) {
        (flags.to_vec(), variable.to_string())
    } else {
        (flags.to_vec(), flag.to_string())
    }
}

/// The entries of a list input as metadata-action reads it, each value a block of lines (comment and blank lines
/// skipped, its CSV quoting): the text of each (`tags:`, `flavor:`, parsed again) or its joined fields
/// (`labels:`, `annotations:`).
fn list_entries(values: &[String], origin: &str, joined: bool) -> anyhow::Result<Vec<String>> {
    let mut entries = Vec::new();
    for value in values {
        let parsed =
            metadata::input_entries(value).map_err(|reason| crate::error::bad_input(format!("{origin}: {reason}")))?;
        entries.extend(parsed.into_iter().map(|entry| if joined { entry.joined } else { entry.text }));
    }
    Ok(entries)
}

/// Bad input about a value, with where the value came from, in one line.
fn from_origin<T>(origin: &str, result: anyhow::Result<T>) -> anyhow::Result<T> {
    result.map_err(|error| match crate::error::exit_code(&error) {
        crate::error::EXIT_BAD_INPUT => crate::error::bad_input(format!("{origin}: {error:#}")),
        _ => error,
    })
}

/// The tag rules (flags, else the file's `tags:`) and the build they apply to (CI detection under the explicit
/// `--branch/--sha/--git-tag/--pr/--default-branch`).
pub(super) fn tag_settings(args: &TagArgs, file: &ConfigFile, env: &EnvMap, cwd: &Path) -> anyhow::Result<TagSettings> {
    let section = file.tag_section();
    let (templates, templates_from) =
        list_option(&args.tags, ("--tag", "ECR_SHIP_TAGS"), section.templates.as_ref(), "tags: templates:", env);
    let (flavor, flavor_from) =
        list_option(&args.flavor, ("--flavor", "ECR_SHIP_FLAVOR"), section.flavor.as_ref(), "tags: flavor:", env);
    let (labels, labels_from) =
        list_option(&args.labels, ("--label", "ECR_SHIP_LABELS"), section.labels.as_ref(), "tags: labels:", env);
    let (annotations, annotations_from) = list_option(
        &args.annotations,
        ("--annotation", "ECR_SHIP_ANNOTATIONS"),
        section.annotations.as_ref(),
        "tags: annotations:",
        env,
    );
    let lines = from_origin(&templates_from, TagLine::parse_all(&list_entries(&templates, &templates_from, false)?))?;
    let flavor = list_entries(&flavor, &flavor_from, false)?;
    let flavor = if flavor.is_empty() { None } else { Some(from_origin(&flavor_from, Flavor::parse(&flavor))?) };
    let rules = TagRules::from_parts(
        lines,
        flavor,
        args.sha_length.or(section.sha_length).map(Ok).or_else(|| metadata_sha_length(env)).transpose()?,
        args.latest.or(section.latest).unwrap_or(false),
        args.semver.or(section.semver).unwrap_or(false),
        args.semver_prefix.clone().or_else(|| section.semver_prefix.clone()),
    )?;
    let overrides = Overrides {
        branch: args.branch.clone(),
        sha: args.sha.clone(),
        git_tag: args.git_tag.clone(),
        pr: args.pr.clone(),
        default_branch: args.default_branch.clone().or_else(|| section.default_branch.clone()),
    };
    let context = ci::detect(env, &LocalWorkspace { dir: cwd.to_path_buf() }, &overrides)?;
    let settings = TagSettings {
        context,
        rules,
        now: now(env)?,
        github: ci::in_github_actions(env),
        labels: list_entries(&labels, &labels_from, true)?,
        annotations: list_entries(&annotations, &annotations_from, true)?,
    };
    // The labels' expressions are checked now, before anything is contacted.
    let refs = tags::ref_context(&settings.context, settings.rules.sha_length, settings.now);
    for (extra, origin) in [(&settings.labels, &labels_from), (&settings.annotations, &annotations_from)] {
        from_origin(origin, tags::labels::oci_labels(&settings.context, &refs, None, settings.now, extra))?;
    }
    Ok(settings)
}

//! Option resolution: the one place where flags, `ECR_SHIP_*` variables, `.ecr-ship.yml` and CI defaults meet.
//!
//! Precedence is flags > environment > config file > CI defaults. clap already folds a flag and its environment
//! variable into one `Option`, so each setting here is "the command line's value, else the file's, else the CI
//! system's or the built-in default". Every command's options are resolved once, into a typed and validated
//! settings value ([`PushSettings`], [`LoginSettings`], …); commands receive that value and never read flags, the
//! environment or the file again. Everything here is offline: a bad value is a [`BadInput`](crate::error::BadInput)
//! error (exit 2) before anything is contacted.

pub(crate) mod file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(test)]
use file::DEFAULT_CONFIG;
use file::{ConfigFile, OneOrMany};

use crate::aws::{AwsOptions, AwsSettings, CatalogOptions, RepositoryOptions, RepositorySettings};
use crate::bail_input;
use crate::ci::{self, CiContext, EnvMap, LocalWorkspace, Overrides};
use crate::cli::{
    AwsArgs, Command, CommonArgs, LoginArgs, MergeArgs, OutputArgs, PolicyArgs, PushArgs, RepositoryArgs, RetagArgs,
};
use crate::cli::{ScanArgs, ScanGateArgs};
use crate::cli::{TagArgs, TagsArgs};
use crate::engine::EngineChoice;
use crate::host::{ImageRegistry, PUBLIC_HOST, Partition, PublicRegistry, RegistryHost, RegistryTarget, Stack};
use crate::oci::{Compression, ImageSource};
use crate::outputs::OutputTargets;
use crate::tags::TagRules;
use crate::{names, tags};

/// One command's resolved settings.
#[derive(Debug)]
pub enum Settings {
    Push(Box<PushSettings>),
    Login(LoginSettings),
    Logout(LogoutSettings),
    Tags(Box<TagsSettings>),
    Retag(Box<RetagSettings>),
    Policy(PolicySettings),
    Scan(Box<ScanSettings>),
    Merge(Box<MergeSettings>),
}

impl Settings {
    /// The limit for the whole command (`--timeout`, `ECR_SHIP_TIMEOUT` or `timeout:` in the file).
    pub fn time_limit(&self) -> Option<Duration> {
        match self {
            Settings::Push(push) => push.time_limit,
            Settings::Login(login) => login.time_limit,
            Settings::Logout(logout) => logout.time_limit,
            Settings::Retag(retag) => retag.time_limit,
            Settings::Scan(scan) => scan.time_limit,
            Settings::Merge(merge) => merge.time_limit,
            Settings::Tags(_) | Settings::Policy(_) => None,
        }
    }
}

/// How results are reported, whatever the command.
#[derive(Debug, Clone)]
pub struct Reporting {
    /// Running in GitHub Actions: warnings and errors also become annotations.
    pub github: bool,
    /// `--json`: the result as JSON on standard output.
    pub json: bool,
}

/// Where the step outputs go.
#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub targets: OutputTargets,
    /// `--export`: `export NAME='value'` lines on standard output instead of the image URI.
    pub export: bool,
}

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

/// Where a pushed image comes from, checked.
#[derive(Debug, Clone)]
pub enum SourceSettings {
    /// A local image pushed through docker or podman.
    Engine { engine: EngineChoice, image: String },
    /// An OCI layout or docker archive pushed natively.
    Native(ImageSource),
}

#[derive(Debug)]
pub struct PushSettings {
    pub repository: String,
    pub tags: TagSettings,
    pub source: SourceSettings,
    pub aws: AwsSettings,
    pub repository_settings: RepositorySettings,
    pub create_repository: bool,
    pub update_repository: bool,
    pub skip_existing: bool,
    /// Write the annotations into the pushed manifest or index (native sources only).
    pub annotate: bool,
    /// Push under no tag, by digest only.
    pub by_digest: bool,
    /// An --image is exported by the engine and pushed natively (`--transfer native`, and always by digest).
    pub native_transfer: bool,
    /// How a docker archive's uncompressed layers are sent (native sources only).
    pub compression: Compression,
    pub logout: bool,
    /// Push even when CodeBuild reports the build as failing.
    pub force: bool,
    /// CodeBuild reports this build as failing (`CODEBUILD_BUILD_SUCCEEDING=0`).
    pub build_failing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
    /// `--scan-fail-on`: the vulnerability gate on the pushed digest, after the push.
    pub scan: Option<ScanGateSettings>,
}

/// The vulnerability gate, checked: the threshold, how long to wait, the ignore list, the SARIF file.
#[derive(Debug, Clone)]
pub struct ScanGateSettings {
    /// `None`: report the findings, never fail (`scan` without `--scan-fail-on`).
    pub threshold: Option<crate::scan::Severity>,
    pub timeout: Duration,
    /// Every ignore, flags' and the file's; which have expired is decided at `now`.
    pub ignores: Vec<crate::scan::Ignore>,
    pub sarif: Option<PathBuf>,
    /// The instant expiry dates compare against (honours SOURCE_DATE_EPOCH).
    pub now: chrono::DateTime<chrono::Utc>,
}

/// `ecr-ship scan`.
#[derive(Debug)]
pub struct ScanSettings {
    pub repository: String,
    /// A tag or a `sha256:` digest.
    pub reference: String,
    pub aws: AwsSettings,
    pub gate: ScanGateSettings,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

#[derive(Debug)]
pub struct LoginSettings {
    pub aws: AwsSettings,
    /// Other registries to log in to as well, each with the plan of its region when that differs from `aws`'s.
    pub extra_registries: Vec<RegistryHost>,
    pub regional_plans: BTreeMap<String, AwsSettings>,
    pub engine: EngineChoice,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

#[derive(Debug)]
pub struct LogoutSettings {
    pub engine: EngineChoice,
    pub time_limit: Option<Duration>,
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

#[derive(Debug)]
pub struct MergeSettings {
    pub repository: String,
    /// Tags or `sha256:` digests, in the order the index lists them.
    pub sources: Vec<String>,
    pub tags: TagSettings,
    pub aws: AwsSettings,
    pub skip_existing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

#[derive(Debug)]
pub struct RetagSettings {
    pub repository: String,
    /// An existing tag or a `sha256:` digest.
    pub source: String,
    pub new_tags: Vec<String>,
    pub aws: AwsSettings,
    pub skip_existing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

#[derive(Debug)]
pub struct PolicySettings {
    pub repository: String,
    pub partition: Partition,
    /// The registry's account, or `*` when unknown.
    pub account: String,
    /// The registry's region, or `*` when unknown.
    pub region: String,
    /// The ECR Public registry, when the policy is for one.
    pub public: Option<PublicRegistry>,
    /// The repository and which of its jobs the GitHub OIDC trust policy admits.
    pub github: Option<(String, crate::aws::GithubSubject)>,
    pub create_repository: bool,
    /// Running in GitHub Actions: warnings become annotations.
    pub github_warnings: bool,
}

/// Resolves and validates one command's options. `env` is the process environment, `cwd` the working directory
/// relative paths are read from.
pub fn resolve(command: &Command, env: &EnvMap, cwd: &Path) -> anyhow::Result<Settings> {
    Ok(match command {
        Command::Push(args) => Settings::Push(Box::new(push(args, env, cwd)?)),
        Command::Login(args) => Settings::Login(login(args, env, cwd)?),
        Command::Logout(args) => Settings::Logout(logout(args, cwd)?),
        Command::Tags(args) => Settings::Tags(Box::new(tags(args, env, cwd)?)),
        Command::Retag(args) => Settings::Retag(Box::new(retag(args, env, cwd)?)),
        Command::Policy(args) => Settings::Policy(policy(args, env, cwd)?),
        Command::Scan(args) => Settings::Scan(Box::new(scan(args, env, cwd)?)),
        Command::Merge(args) => Settings::Merge(Box::new(merge(args, env, cwd)?)),
    })
}

fn push(args: &PushArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<PushSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let Some(repository) = repository(&args.common, &file) else {
        bail_input!("push needs --repository (or ECR_SHIP_REPOSITORY, or repository: in .ecr-ship.yml)");
    };
    names::validate_repository(&repository)?;
    let tags = tag_settings(&args.tags, &file, env, cwd)?;
    let outputs = output_settings(&args.outputs, &file, env);
    let aws = aws_plan(&args.common, &args.aws, &file, env)?;
    let (repository_settings, create_repository, update_repository) =
        repository_settings(&args.repository, &file, cwd)?;
    kms_key_in_partition(&repository_settings, &aws)?;
    settings_fit_registry(&repository_settings, &aws)?;
    if aws.public().is_some() {
        names::validate_public_repository(&repository)?;
    }
    let source = match (&args.image, &args.from) {
        (Some(image), None) => {
            if image.trim().is_empty() || image.starts_with('-') {
                bail_input!("invalid --image '{image}': expected a local image reference such as app:latest");
            }
            SourceSettings::Engine { engine: engine(args.engine.as_deref(), &file)?, image: image.clone() }
        }
        (None, Some(from)) => SourceSettings::Native(ImageSource::parse(&absolute_source(from, cwd))?),
        (Some(_), Some(_)) => bail_input!("--image and --from are mutually exclusive: give one image source"),
        (None, None) => bail_input!(
            "push needs an image: --image LOCAL_REF (through docker or podman) or --from oci:DIR[:REF] / \
             oci-archive:FILE[:REF] / docker-archive:FILE[:TAG]"
        ),
    };
    let annotate = args.annotate.or(file.annotate).unwrap_or(false);
    let by_digest = args.by_digest.or(file.by_digest).unwrap_or(false);
    if by_digest && (!args.tags.tags.is_empty() || args.tags.latest == Some(true) || args.tags.semver == Some(true)) {
        bail_input!(
            "--by-digest pushes under no tag: drop --tag, --latest and --semver (tag the merged index instead)"
        );
    }
    if annotate && matches!(source, SourceSettings::Engine { .. }) {
        bail_input!(
            "--annotate writes into the pushed manifest, which only a native push (--from) builds; with --image, pass \
             the annotations output to the image build instead (docker buildx build --annotation)"
        );
    }
    let native_transfer = match args.transfer.as_deref().or(file.transfer.as_deref()).map(str::trim) {
        None | Some("engine") => false,
        Some("native") if matches!(source, SourceSettings::Engine { .. }) => true,
        Some("native") => bail_input!(
            "--transfer native applies to --image (the engine exports it, ecr-ship pushes it); a --from source is \
             always pushed natively: drop --transfer"
        ),
        Some(other) => bail_input!("invalid --transfer '{other}': expected engine (the default) or native"),
    };
    let compression = match args.compression.as_deref().or(file.compression.as_deref()) {
        None => Compression::DEFAULT,
        Some(_) if matches!(source, SourceSettings::Engine { .. }) && !native_transfer && !by_digest => bail_input!(
            "--compression applies to native pushes (--from docker-archive:FILE, or --image with --transfer native); \
             with --image the engine compresses the layers itself: drop --compression (or compression: in the \
             config file)"
        ),
        Some(value) => Compression::parse(value)?,
    };
    let scan = push_gate(&args.scan, &file, &aws, env, cwd)?;
    Ok(PushSettings {
        repository,
        tags,
        source,
        annotate,
        by_digest,
        native_transfer: native_transfer || by_digest,
        compression,
        aws,
        repository_settings,
        create_repository,
        update_repository,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        logout: args.logout.unwrap_or(true),
        force: args.force.unwrap_or(false),
        build_failing: ci::var(env, "CODEBUILD_BUILD_SUCCEEDING") == Some("0"),
        outputs,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
        scan,
    })
}

fn login(args: &LoginArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<LoginSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let aws = aws_plan(&args.common, &args.aws, &file, env)?;
    let extra_registries = extra_registries(&args.aws, &file)?;
    // The plans of the other regions are checked now, before anything is contacted: a registry in another
    // partition than the role, say, is bad input and must not surface only after the first login.
    let mut regional_plans = BTreeMap::new();
    // An ECR Public target's session serves public.ecr.aws only: every private registry then needs its own.
    for host in extra_registries.iter().filter(|h| h.region != aws.region() || aws.public().is_some()) {
        if !regional_plans.contains_key(&host.region) {
            // Same credentials and roles, another region (and no registry: that would pin the first region).
            let options = AwsOptions {
                region: Some(host.region.clone()),
                registry: None,
                public: None,
                ..aws_options(&args.common, &args.aws, &file)?
            };
            let regional = AwsSettings::validate(options, env)
                .map_err(|e| crate::error::bad_input(format!("--registries {}: {e:#}", host.host())))?;
            regional_plans.insert(host.region.clone(), regional);
        }
    }
    Ok(LoginSettings {
        aws,
        extra_registries,
        regional_plans,
        engine: engine(args.engine.as_deref(), &file)?,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}

fn logout(args: &LoginArgs, cwd: &Path) -> anyhow::Result<LogoutSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    Ok(LogoutSettings { engine: engine(args.engine.as_deref(), &file)?, time_limit: time_limit(&args.aws, &file) })
}

fn tags(args: &TagsArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<TagsSettings> {
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
        None => None,
    };
    if let (Some(repository), Some(name)) = (&repository, &registry)
        && name.starts_with(PUBLIC_HOST)
    {
        names::validate_public_repository(repository)?;
    }
    let tags = tag_settings(&args.tags, &file, env, cwd)?;
    let outputs = output_settings(&args.outputs, &file, env);
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

fn merge(args: &MergeArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<MergeSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let Some(repository) = repository(&args.common, &file) else {
        bail_input!("merge needs --repository");
    };
    names::validate_repository(&repository)?;
    let sources = one_per_line(&args.sources);
    if sources.is_empty() {
        bail_input!("merge needs at least one SOURCE: a sha256 digest or a tag of an image in '{repository}'");
    }
    for source in &sources {
        if !crate::digest::is_digest(source) {
            names::validate_tag(source).map_err(|e| {
                crate::error::bad_input(format!("merge SOURCE '{source}' is neither a sha256 digest nor a tag ({e})"))
            })?;
        }
        if sources.iter().filter(|s| *s == source).count() > 1 {
            bail_input!("merge SOURCE '{source}' is given twice");
        }
    }
    let aws = aws_plan(&args.common, &args.aws, &file, env)?;
    if aws.public().is_some() {
        names::validate_public_repository(&repository)?;
    }
    Ok(MergeSettings {
        repository,
        sources,
        tags: tag_settings(&args.tags, &file, env, cwd)?,
        aws,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        outputs: output_settings(&args.outputs, &file, env),
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}

fn retag(args: &RetagArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<RetagSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let Some(repository) = repository(&args.common, &file) else {
        bail_input!("retag needs --repository");
    };
    names::validate_repository(&repository)?;
    if !crate::digest::is_digest(&args.source) {
        names::validate_tag(&args.source)
            .map_err(|e| e.context("SOURCE_TAG_OR_DIGEST is neither a tag nor a sha256 digest"))?;
    }
    for tag in &args.new_tags {
        names::validate_tag(tag)?;
    }
    let outputs = output_settings(&args.outputs, &file, env);
    let aws = aws_plan(&args.common, &args.aws, &file, env)?;
    Ok(RetagSettings {
        repository,
        source: args.source.clone(),
        new_tags: args.new_tags.clone(),
        aws,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        outputs,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}

fn scan(args: &ScanArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<ScanSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let Some(repository) = repository(&args.common, &file) else {
        bail_input!("scan needs --repository (or ECR_SHIP_REPOSITORY, or repository: in .ecr-ship.yml)");
    };
    names::validate_repository(&repository)?;
    if !crate::digest::is_digest(&args.reference) {
        names::validate_tag(&args.reference)
            .map_err(|e| e.context("TAG_OR_DIGEST is neither a tag nor a sha256 digest"))?;
    }
    let aws = aws_plan(&args.common, &args.aws, &file, env)?;
    let gate = gate_settings(&args.gate, &file, env, cwd)?;
    gate_fits_registry(&aws)?;
    Ok(ScanSettings {
        repository,
        reference: args.reference.clone(),
        aws,
        gate,
        outputs: output_settings(&args.outputs, &file, env),
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}

/// The gate of a push: on with `--scan-fail-on` (or `scan: fail-on:` in the file); the other scan flags without it
/// would do nothing, so they are refused.
fn push_gate(
    args: &ScanGateArgs,
    file: &ConfigFile,
    aws: &AwsSettings,
    env: &EnvMap,
    cwd: &Path,
) -> anyhow::Result<Option<ScanGateSettings>> {
    let gate = gate_settings(args, file, env, cwd)?;
    if gate.threshold.is_none() {
        if args.scan_timeout.is_some() || !args.scan_ignore.is_empty() || args.sarif.is_some() {
            bail_input!(
                "--scan-timeout, --scan-ignore and --sarif judge the pushed image's scan, which push waits for only \
                 with --scan-fail-on SEVERITY (or scan: fail-on: in the config file); add it, or use `ecr-ship scan`"
            );
        }
        return Ok(None);
    }
    gate_fits_registry(aws)?;
    Ok(Some(gate))
}

/// The gate's options: flags, else the file's `scan:` section; the ignore list is both (flags have no expiry).
fn gate_settings(args: &ScanGateArgs, file: &ConfigFile, env: &EnvMap, cwd: &Path) -> anyhow::Result<ScanGateSettings> {
    let section = file.scan.as_ref();
    let threshold = match args.scan_fail_on.as_deref().or(section.and_then(|s| s.fail_on.as_deref())) {
        Some(value) => Some(crate::scan::Severity::parse_threshold(value)?),
        None => None,
    };
    let seconds = args.scan_timeout.or(section.and_then(|s| s.timeout)).unwrap_or(600);
    if !(1..=86_400).contains(&seconds) {
        bail_input!("invalid --scan-timeout {seconds}: give the seconds to wait for the scan, from 1 to 86400");
    }
    let mut ignores = Vec::new();
    for id in one_per_line(&args.scan_ignore) {
        ignores.push(crate::scan::Ignore::from_flag(&id)?);
    }
    for entry in section.and_then(|s| s.ignore.as_deref()).unwrap_or_default() {
        ignores.push(crate::scan::Ignore::from_config(&entry.id, entry.expires.as_deref(), entry.reason.as_deref())?);
    }
    let sarif = args.sarif.clone().or_else(|| section.and_then(|s| s.sarif.clone())).map(|p| cwd.join(p));
    Ok(ScanGateSettings { threshold, timeout: Duration::from_secs(seconds), ignores, sarif, now: now(env) })
}

/// ECR Public does not scan images: a gate there could never pass or fail.
fn gate_fits_registry(aws: &AwsSettings) -> anyhow::Result<()> {
    if let Some(public) = aws.public() {
        bail_input!(
            "registry '{public}' is ECR Public, which does not scan images: the vulnerability gate (--scan-fail-on, \
             `ecr-ship scan`) is for private ECR repositories"
        );
    }
    Ok(())
}

fn policy(args: &PolicyArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<PolicySettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let Some(repository) = repository(&args.common, &file) else {
        bail_input!("policy needs --repository");
    };
    names::validate_repository(&repository)?;
    let target = offline_registry(&args.common, args.account_id.as_deref(), &file, env)?;
    let (account, region, public) = match target {
        Some(RegistryTarget::Private(host)) => (host.account.clone(), host.region.clone(), None),
        Some(RegistryTarget::Public(public)) => {
            names::validate_public_repository(&repository)?;
            let account = args.account_id.clone().or_else(|| file.account_id.clone());
            if let Some(account) = &account {
                crate::host::validate_account(account)?;
            }
            (account.unwrap_or_else(|| "*".to_string()), crate::host::PUBLIC_API_REGION.to_string(), Some(public))
        }
        None => ("*".to_string(), offline_region(&args.common, &file, env).unwrap_or_else(|| "*".to_string()), None),
    };
    let github = github_subject(args)?;
    Ok(PolicySettings {
        repository,
        partition: Partition::of_region(&region),
        account,
        region,
        public,
        github,
        create_repository: args.create_repository.unwrap_or(false),
        github_warnings: ci::in_github_actions(env),
    })
}

/// The trust policy's subject: narrow by default, the whole repository only when asked for.
fn github_subject(args: &PolicyArgs) -> anyhow::Result<Option<(String, crate::aws::GithubSubject)>> {
    use crate::aws::GithubSubject;
    let subject = match (&args.github_ref, &args.github_environment, args.github_any_ref.unwrap_or(false)) {
        (Some(reference), None, false) => Some(GithubSubject::Ref(reference.clone())),
        (None, Some(name), false) => Some(GithubSubject::Environment(name.clone())),
        (None, None, true) => Some(GithubSubject::AnyRef),
        (None, None, false) => None,
        _ => bail_input!("give one of --github-ref, --github-environment and --github-any-ref, not several"),
    };
    match (&args.github_repo, subject) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            bail_input!("--github-ref, --github-environment and --github-any-ref need --github-repo OWNER/NAME")
        }
        (Some(repo), None) => bail_input!(
            "--github-repo {repo} needs the jobs it admits: --github-ref refs/heads/main (one branch or tag), \
             --github-environment prod (a deployment environment), or --github-any-ref (every branch, tag and pull \
             request of the repository)"
        ),
        (Some(repo), Some(subject)) => {
            crate::aws::policy::validate_github_repo(repo)?;
            subject.validate()?;
            Ok(Some((repo.clone(), subject)))
        }
    }
}

fn repository(common: &CommonArgs, file: &ConfigFile) -> Option<String> {
    common.repository.clone().or_else(|| file.repository.clone())
}

fn reporting(common: &CommonArgs, env: &EnvMap) -> Reporting {
    Reporting { github: ci::in_github_actions(env), json: common.json.unwrap_or(false) }
}

fn engine(flag: Option<&str>, file: &ConfigFile) -> anyhow::Result<EngineChoice> {
    flag.or(file.engine.as_deref()).map_or(Ok(EngineChoice::Auto), EngineChoice::parse)
}

/// The whole-command limit; the same value also bounds each AWS call (see [`aws_options`]).
fn time_limit(aws: &AwsArgs, file: &ConfigFile) -> Option<Duration> {
    aws.timeout.or(file.timeout).map(Duration::from_secs)
}

/// docker/metadata-action's short-sha setting, honoured so its users' jobs keep their tags.
fn metadata_sha_length(env: &EnvMap) -> Option<anyhow::Result<usize>> {
    let text = ci::var(env, "DOCKER_METADATA_SHORT_SHA_LENGTH")?;
    Some(text.parse().map_err(|_| {
        crate::error::bad_input(format!(
            "invalid DOCKER_METADATA_SHORT_SHA_LENGTH '{text}': expected a number of characters from 4 to 40"
        ))
    }))
}

/// Lists given one item per line (an action input, ECR_SHIP_TAGS) or one per flag, trimmed, blank lines dropped.
fn one_per_line(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// Now, or SOURCE_DATE_EPOCH for reproducible runs.
fn now(env: &EnvMap) -> chrono::DateTime<chrono::Utc> {
    ci::var(env, "SOURCE_DATE_EPOCH")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .unwrap_or_else(chrono::Utc::now)
}

/// The tag rules (flags, else the file's `tags:`) and the build they apply to (CI detection under the explicit
/// `--branch/--sha/--git-tag/--pr/--default-branch`).
fn tag_settings(args: &TagArgs, file: &ConfigFile, env: &EnvMap, cwd: &Path) -> anyhow::Result<TagSettings> {
    let section = file.tag_section();
    let templates =
        if args.tags.is_empty() { section.templates.clone().unwrap_or_default() } else { args.tags.clone() };
    let flavor = if args.flavor.is_empty() { section.flavor.clone().unwrap_or_default() } else { args.flavor.clone() };
    let labels = if args.labels.is_empty() { section.labels.clone().unwrap_or_default() } else { args.labels.clone() };
    let annotations = if args.annotations.is_empty() {
        section.annotations.clone().unwrap_or_default()
    } else {
        args.annotations.clone()
    };
    let rules = TagRules::new(
        &one_per_line(&templates),
        &one_per_line(&flavor),
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
        now: now(env),
        github: ci::in_github_actions(env),
        labels: one_per_line(&labels),
        annotations: one_per_line(&annotations),
    };
    // The labels' expressions are checked now, before anything is contacted.
    settings.labels(None)?;
    Ok(settings)
}

/// Output destinations (flags, else the file's `outputs:`); GitHub's files come from the environment in Actions.
fn output_settings(args: &OutputArgs, file: &ConfigFile, env: &EnvMap) -> OutputSettings {
    let section = file.output_section();
    let in_github = ci::in_github_actions(env);
    let github_file = |key: &str| in_github.then(|| ci::var(env, key).map(PathBuf::from)).flatten();
    let targets = OutputTargets {
        github_output: github_file("GITHUB_OUTPUT"),
        github_summary: github_file("GITHUB_STEP_SUMMARY"),
        image_definitions: args.image_definitions.clone().or(section.image_definitions),
        image_definitions_file: args.image_definitions_file.clone().or(section.image_definitions_file),
        image_detail: args.image_detail.or(section.image_detail).unwrap_or(false),
        properties_file: args.properties_file.clone().or(section.properties_file),
        dotenv_file: args.dotenv_file.clone().or(section.dotenv_file),
        json_file: args.output_json.clone().or(section.output_json),
    };
    OutputSettings { targets, export: args.export.unwrap_or(false) }
}

/// The AWS plan from flags, environment and config file (no network).
fn aws_plan(common: &CommonArgs, aws: &AwsArgs, file: &ConfigFile, env: &EnvMap) -> anyhow::Result<AwsSettings> {
    AwsSettings::validate(aws_options(common, aws, file)?, env)
}

/// The AWS options from flags and config file, before validation.
fn aws_options(common: &CommonArgs, aws: &AwsArgs, file: &ConfigFile) -> anyhow::Result<AwsOptions> {
    let target =
        common.registry.clone().or_else(|| file.registry.clone()).map(|h| RegistryTarget::parse(&h)).transpose()?;
    let (registry, public) = match target {
        Some(RegistryTarget::Private(host)) => (Some(host), None),
        Some(RegistryTarget::Public(public)) => (None, Some(public)),
        None => (None, None),
    };
    let role_arns = if aws.role_arn.is_empty() {
        file.role_arn.clone().map(OneOrMany::into_vec).unwrap_or_default()
    } else {
        aws.role_arn.clone()
    };
    Ok(AwsOptions {
        region: common.region.clone().or_else(|| file.region.clone()),
        registry,
        public,
        role_arns: role_arns.into_iter().map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect(),
        external_id: aws.external_id.clone().or_else(|| file.external_id.clone()),
        session_name: aws.role_session_name.clone().or_else(|| file.role_session_name.clone()),
        role_duration: aws.role_duration.or(file.role_duration).map(Duration::from_secs),
        timeout: time_limit(aws, file),
    })
}

/// Other registries to log in to (`--registries`, else the file's `registries:`), parsed.
fn extra_registries(aws: &AwsArgs, file: &ConfigFile) -> anyhow::Result<Vec<RegistryHost>> {
    let hosts =
        if aws.registries.is_empty() { file.registries.clone().unwrap_or_default() } else { aws.registries.clone() };
    let parse = |host: &str| match RegistryTarget::parse(host)? {
        RegistryTarget::Private(host) => Ok(host),
        RegistryTarget::Public(_) => bail_input!(
            "--registries '{host}': the other registries are private ECR hosts; log in to ECR Public with its own \
             `ecr-ship login --registry {PUBLIC_HOST}`"
        ),
    };
    hosts.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).map(parse).collect()
}

/// Repository settings from flags and the file's `repository-settings:`, checked; with the create and update
/// switches.
fn repository_settings(
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
        catalog: CatalogOptions {
            description: args.description.clone().or_else(|| section.and_then(|s| s.description.clone())),
            about_text: section.and_then(|s| s.about_text.clone()),
            about_text_file: args
                .about_text
                .clone()
                .or_else(|| section.and_then(|s| s.about_text_file.clone()))
                .map(|p| cwd.join(p)),
            usage_text: section.and_then(|s| s.usage_text.clone()),
            usage_text_file: args
                .usage_text
                .clone()
                .or_else(|| section.and_then(|s| s.usage_text_file.clone()))
                .map(|p| cwd.join(p)),
            architectures: if args.architecture.is_empty() {
                section.and_then(|s| s.architectures.clone()).unwrap_or_default()
            } else {
                args.architecture.clone()
            },
            operating_systems: if args.operating_system.is_empty() {
                section.and_then(|s| s.operating_systems.clone()).unwrap_or_default()
            } else {
                args.operating_system.clone()
            },
            logo_file: args.logo.clone().or_else(|| section.and_then(|s| s.logo_file.clone())).map(|p| cwd.join(p)),
        },
    };
    let settings = RepositorySettings::validate(options)?;
    let create = args.create_repository.or(section.and_then(|s| s.create)).unwrap_or(false);
    let update = args.update_repository_settings.or(section.and_then(|s| s.update)).unwrap_or(false);
    Ok((settings, create, update))
}

/// Each registry kind has its own repository settings: ECR Public repositories have catalog data and tags, and
/// none of private ECR's (mutability, scanning, encryption, policies); a setting that does not exist for the target
/// would otherwise be dropped without a word.
fn settings_fit_registry(settings: &RepositorySettings, aws: &AwsSettings) -> anyhow::Result<()> {
    if let Some(public) = aws.public() {
        let private_only = [
            ("--tag-mutability", settings.tag_mutability.is_some() || !settings.exclusion_filters.is_empty()),
            ("--scan-on-push", settings.scan_on_push.is_some()),
            ("--encryption/--kms-key", settings.encryption.is_some()),
            ("--lifecycle-policy", settings.lifecycle_policy.is_some()),
            ("--repository-policy", settings.repository_policy.is_some()),
        ];
        if let Some((flag, _)) = private_only.iter().find(|(_, given)| *given) {
            bail_input!(
                "{flag} (or its repository-settings: key) is a private ECR repository setting, and registry \
                 '{public}' is ECR Public, whose repositories have catalog data instead (--description, --about-text, \
                 --usage-text, --architecture, --operating-system, --logo)"
            );
        }
    } else if !settings.catalog.is_empty() {
        bail_input!(
            "catalog data (--description, --about-text, --usage-text, --architecture, --operating-system, --logo) is \
             for ECR Public repositories: pass --registry public.ecr.aws/ALIAS, or drop it"
        );
    }
    Ok(())
}

/// A KMS key ARN must be in the repository's partition and region (ECR uses only keys of its own region); ECR would
/// refuse it only at CreateRepository, after the push had started.
fn kms_key_in_partition(settings: &RepositorySettings, aws: &AwsSettings) -> anyhow::Result<()> {
    let Some(crate::aws::Encryption::Kms { key: Some(key) }) = &settings.encryption else { return Ok(()) };
    let Some(rest) = key.strip_prefix("arn:") else { return Ok(()) };
    let fields: Vec<&str> = rest.splitn(4, ':').collect();
    if let [partition, _, region, _] = fields.as_slice()
        && (*partition != aws.partition().arn_name() || *region != aws.region())
    {
        bail_input!(
            "KMS key '{key}' is in {partition} {region}, but the repository is in {} {}: use a key of the \
             repository's region",
            aws.partition().arn_name(),
            aws.region()
        );
    }
    Ok(())
}

/// The region for commands that never contact AWS: `--region` (or the file's), then AWS_REGION, then
/// AWS_DEFAULT_REGION.
fn offline_region(common: &CommonArgs, file: &ConfigFile, env: &EnvMap) -> Option<String> {
    common
        .region
        .clone()
        .or_else(|| file.region.clone())
        .or_else(|| ci::var(env, "AWS_REGION").or(ci::var(env, "AWS_DEFAULT_REGION")).map(String::from))
}

/// The registry for commands that never contact AWS (`tags`, `policy`): `--registry`, or an account id and the
/// region.
fn offline_registry(
    common: &CommonArgs,
    account_flag: Option<&str>,
    file: &ConfigFile,
    env: &EnvMap,
) -> anyhow::Result<Option<RegistryTarget>> {
    let registry = common.registry.as_deref().or(file.registry.as_deref());
    let account = account_flag.or(file.account_id.as_deref());
    let region = offline_region(common, file, env);
    match (registry, account) {
        (Some(host), _) => match RegistryTarget::parse(host)? {
            RegistryTarget::Private(parsed) => {
                if let Some(region) = region.filter(|r| *r != parsed.region) {
                    bail_input!("--registry '{host}' is in region {} but --region is '{region}'", parsed.region);
                }
                Ok(Some(RegistryTarget::Private(parsed)))
            }
            public => Ok(Some(public)),
        },
        (None, Some(account)) => match region {
            Some(region) => {
                Ok(Some(RegistryTarget::Private(RegistryHost::for_account(account, &region, false, Stack::Ipv4)?)))
            }
            None => {
                bail_input!("--account-id '{account}' needs a region (--region or AWS_REGION) to name the registry")
            }
        },
        (None, None) => Ok(None),
    }
}

/// `oci:DIR`, `oci-archive:FILE` and `docker-archive:FILE` relative to the working directory the command was given.
fn absolute_source(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((kind, rest)) if !rest.starts_with('/') && ["oci", "oci-archive", "docker-archive"].contains(&kind) => {
            format!("{kind}:{}", cwd.join(rest).display())
        }
        _ => spec.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn resolve_in(dir: &Path, config: &str, args: &[&str]) -> anyhow::Result<Settings> {
        std::fs::write(dir.join(DEFAULT_CONFIG), config).unwrap();
        let mut argv = vec!["ecr-ship"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).unwrap();
        let env: EnvMap =
            [("AWS_EC2_METADATA_DISABLED", "true")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        resolve(&cli.command, &env, dir)
    }

    fn push_args(extra: &[&'static str]) -> Vec<&'static str> {
        let mut args =
            vec!["push", "--repository", "team/app", "--image", "app:1", "--region", "us-east-1", "--sha", SHA];
        args.extend_from_slice(extra);
        args
    }

    #[test]
    fn public_catalog_data_comes_from_the_file_and_fits_only_ecr_public() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("about.md"), "# About\n").unwrap();
        let config = "registry: public.ecr.aws/my-alias\nrepository-settings:\n  create: true\n  description: From \
                      the file\n  about-text-file: about.md\n  usage-text: docker pull it\n  architectures: [x86-64, \
                      ARM 64]\n  operating-systems: [Linux]\n";
        let public_push = ["push", "--repository", "app", "--image", "app:1", "--sha", SHA];
        let Settings::Push(push) = resolve_in(dir.path(), config, &public_push).unwrap() else { panic!("push") };
        let catalog = &push.repository_settings.catalog;
        assert_eq!(catalog.description.as_deref(), Some("From the file"));
        assert_eq!(catalog.about_text.as_deref(), Some("# About\n"));
        assert_eq!(catalog.usage_text.as_deref(), Some("docker pull it"));
        assert_eq!(catalog.architectures, ["x86-64", "ARM 64"]);
        assert_eq!(push.aws.public().and_then(|p| p.alias.as_deref()), Some("my-alias"));
        assert_eq!(push.aws.region(), "us-east-1", "ECR Public's API region when the job names none");
        assert!(push.create_repository);

        let flag = resolve_in(dir.path(), config, &[&public_push[..], &["--description", "flag wins"]].concat());
        let Settings::Push(push) = flag.unwrap() else { panic!("push") };
        assert_eq!(push.repository_settings.catalog.description.as_deref(), Some("flag wins"));

        let private =
            "registry: 123456789012.dkr.ecr.us-east-1.amazonaws.com\nrepository-settings:\n  description: x\n";
        let error = resolve_in(dir.path(), private, &public_push).unwrap_err();
        assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
        assert!(error.to_string().contains("for ECR Public repositories"), "{error}");
        let mixed = "registry: public.ecr.aws\nrepository-settings:\n  scan-on-push: true\n";
        let error = resolve_in(dir.path(), mixed, &public_push).unwrap_err();
        assert!(error.to_string().contains("--scan-on-push"), "{error}");
    }

    #[test]
    fn the_file_timeout_is_the_whole_command_limit_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        let settings = resolve_in(dir.path(), "timeout: 7\n", &push_args(&[])).unwrap();
        assert_eq!(settings.time_limit(), Some(Duration::from_secs(7)));
        let Settings::Push(push) = &settings else { panic!("push settings") };
        assert_eq!(push.aws.timeout(), Duration::from_secs(7), "the same value bounds each AWS call");
        let settings = resolve_in(dir.path(), "timeout: 7\n", &push_args(&["--timeout", "3"])).unwrap();
        assert_eq!(settings.time_limit(), Some(Duration::from_secs(3)));
        for args in [
            vec!["retag", "--repository", "team/app", "--region", "us-east-1", "v1", "v2"],
            vec!["login", "--region", "us-east-1"],
            vec!["logout"],
        ] {
            let settings = resolve_in(dir.path(), "timeout: 9\n", &args).unwrap();
            assert_eq!(settings.time_limit(), Some(Duration::from_secs(9)), "{args:?}");
        }
    }

    #[test]
    fn switches_fall_through_from_flag_to_file_to_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = "skip-existing: true\nengine: podman\ntags:\n  templates: [\"{branch}-x\"]\n";
        let Settings::Push(push) = resolve_in(dir.path(), file, &push_args(&["--branch", "dev"])).unwrap() else {
            panic!("push settings")
        };
        assert!(push.skip_existing && push.logout && !push.force);
        assert!(matches!(&push.source, SourceSettings::Engine { engine: EngineChoice::Podman, .. }));
        assert_eq!(push.tags.plan().unwrap(), ["dev-x"]);
        let args = push_args(&["--branch", "dev", "--skip-existing=false", "--engine", "docker", "--tag", "t"]);
        let Settings::Push(push) = resolve_in(dir.path(), file, &args).unwrap() else { panic!("push settings") };
        assert!(!push.skip_existing);
        assert!(matches!(&push.source, SourceSettings::Engine { engine: EngineChoice::Docker, .. }));
        assert_eq!(push.tags.plan().unwrap(), ["t"]);
    }

    #[test]
    fn compression_defaults_to_gzip_reads_the_file_lets_the_flag_win_and_is_for_native_pushes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.tar"), b"").unwrap();
        let native = |extra: &[&'static str]| {
            let mut args = vec!["push", "--repository", "team/app", "--from", "docker-archive:app.tar"];
            args.extend_from_slice(&["--region", "us-east-1", "--sha", SHA]);
            args.extend_from_slice(extra);
            args
        };
        let compression = |config: &str, args: &[&str]| match resolve_in(dir.path(), config, args).unwrap() {
            Settings::Push(push) => push.compression,
            _ => panic!("push settings"),
        };
        assert_eq!(compression("", &native(&[])), Compression::Gzip);
        assert_eq!(compression("compression: zstd\n", &native(&[])), Compression::Zstd);
        assert_eq!(compression("compression: zstd\n", &native(&["--compression", "NONE"])), Compression::None);
        for (config, args, needle) in [
            ("", native(&["--compression", "xz"]), "unknown --compression 'xz': use gzip, zstd or none"),
            ("compression: brotli\n", native(&[]), "unknown --compression 'brotli': use gzip, zstd or none"),
            ("", push_args(&["--compression", "zstd"]), "--compression applies to native pushes"),
        ] {
            let error = resolve_in(dir.path(), config, &args).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{args:?}: {error:#}");
            assert_eq!(format!("{error:#}").lines().count(), 1, "one line: {error:#}");
            assert!(format!("{error:#}").contains(needle), "{args:?}: {error:#}");
        }
    }

    #[test]
    fn bad_values_are_exit_2_and_name_the_value() {
        let dir = tempfile::tempdir().unwrap();
        for (config, args, needle) in [
            ("", vec!["push", "--image", "app"], "push needs --repository"),
            ("", vec!["push", "--repository", "Team/App", "--image", "app"], "Team/App"),
            (
                "",
                vec!["push", "--repository", "team/app", "--image=-x", "--region", "us-east-1"],
                "invalid --image '-x'",
            ),
            ("registry: nope.example.com\n", push_args(&[]), "nope.example.com"),
            ("", push_args(&["--sha-length", "2"]), "invalid sha length 2"),
            ("", push_args(&["--tag", "{nope}"]), "{nope}"),
            ("", vec!["retag", "--repository", "team/app", "--region", "us-east-1", "v1", "bad tag"], "bad tag"),
            ("", vec!["tags", "--sha", SHA, "--export"], "need --repository"),
            ("", vec!["policy"], "policy needs --repository"),
            ("engine: containerd\n", push_args(&[]), "unknown container engine 'containerd'"),
            ("", vec!["logout", "--engine", "rkt"], "unknown container engine 'rkt'"),
            ("", push_args(&["--kms-key", "arn:aws:s3:::bucket"]), "invalid KMS key 'arn:aws:s3:::bucket'"),
            (
                "",
                push_args(&["--kms-key", "arn:aws-cn:kms:cn-north-1:123456789012:alias/ecr"]),
                "is in aws-cn cn-north-1, but the repository is in aws us-east-1",
            ),
            (
                "",
                push_args(&["--kms-key", "arn:aws:kms:eu-west-1:123456789012:alias/ecr"]),
                "is in aws eu-west-1, but the repository is in aws us-east-1",
            ),
        ] {
            let error = resolve_in(dir.path(), config, &args).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{args:?}: {error:#}");
            assert!(format!("{error:#}").contains(needle), "{args:?}: {error:#}");
        }
    }
}

//! The checked AWS plan: region, partition, role chain, session name and durations, built from flags and the
//! environment map without any network call.
//!
//! Everything a user can get wrong about the AWS side is caught here as `BadInput` (exit 2), with the bad value
//! in the message, so that `connect` only ever fails for reasons that lie outside the command line.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::bail_input;
use crate::host::{PUBLIC_API_REGION, Partition, PublicRegistry, RegistryHost, validate_region};

/// AssumeRole session length when none is given: one hour is the STS default, the cap for chained roles, and far
/// longer than a push needs.
pub const DEFAULT_ROLE_DURATION: Duration = Duration::from_secs(3600);
/// Bounds STS puts on `DurationSeconds`.
pub const ROLE_DURATION_SECS: std::ops::RangeInclusive<u64> = 900..=43200;
/// STS caps a session obtained with role credentials (role chaining) at one hour.
pub const CHAINED_ROLE_MAX_SECS: u64 = 3600;
/// Per-operation timeout (all retries included) when `--timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts per AWS call when `AWS_MAX_ATTEMPTS` is not set: enough to ride out STS throttling when many jobs of
/// a matrix assume the same role at once.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// The AWS-related flags, as the CLI or config file gave them.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    /// The registry the push goes to, when it was given explicitly (cross-account or to derive the region).
    pub registry: Option<RegistryHost>,
    /// The ECR Public registry the push goes to, instead of a private one.
    pub public: Option<PublicRegistry>,
    /// Roles to assume, chained in order: each one is assumed with the credentials of the one before.
    pub role_arns: Vec<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    pub role_duration: Option<Duration>,
    /// Upper bound for one AWS operation, retries included.
    pub timeout: Option<Duration>,
}

/// A parsed IAM role ARN: `arn:<partition>:iam::<account>:role/<path/><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub arn: String,
    pub partition: Partition,
    pub account: String,
    pub name: String,
}

impl RoleArn {
    pub fn parse(input: &str) -> anyhow::Result<RoleArn> {
        let expected = "expected arn:<partition>:iam::<12-digit account>:role/<optional path/><name>, \
                        for example arn:aws:iam::123456789012:role/ci-push";
        let parts: Vec<&str> = input.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            bail_input!("invalid role ARN '{input}': {expected}");
        };
        if arn != "arn" || service != "iam" || !region.is_empty() {
            bail_input!("invalid role ARN '{input}': {expected}");
        }
        let Some(partition) = Partition::from_arn_name(partition) else {
            bail_input!("invalid role ARN '{input}': unknown partition '{partition}'; {expected}");
        };
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            bail_input!("invalid role ARN '{input}': account '{account}' is not 12 digits; {expected}");
        }
        let Some(path_and_name) = resource.strip_prefix("role/") else {
            bail_input!("invalid role ARN '{input}': '{resource}' is not a role; {expected}");
        };
        let segments: Vec<&str> = path_and_name.split('/').collect();
        let name = segments.last().copied().unwrap_or_default();
        let name_ok = (1..=64).contains(&name.len()) && name.chars().all(is_iam_name_char);
        // IAM paths are printable ASCII between slashes, 512 characters at most.
        let path_ok = path_and_name.len() <= 512 + 64
            && segments[..segments.len() - 1]
                .iter()
                .all(|s| !s.is_empty() && s.bytes().all(|b| (0x21..0x7f).contains(&b)));
        if !name_ok || !path_ok {
            bail_input!(
                "invalid role ARN '{input}': role name '{name}' must be 1-64 characters of [A-Za-z0-9_+=,.@-] \
                 (after an optional path of non-empty segments); {expected}"
            );
        }
        Ok(RoleArn { arn: input.to_string(), partition, account: account.to_string(), name: name.to_string() })
    }
}

/// Where the region came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionSource {
    Flag,
    Registry,
    Environment,
}

/// A validated AWS plan. Only [`AwsSettings::validate`] makes one, so every field holds by construction.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub(super) region: String,
    pub(super) region_source: RegionSource,
    pub(super) partition: Partition,
    pub(super) registry: Option<RegistryHost>,
    pub(super) public: Option<PublicRegistry>,
    pub(super) roles: Vec<RoleArn>,
    pub(super) external_id: Option<String>,
    pub(super) session_name: String,
    pub(super) role_duration: Duration,
    pub(super) timeout: Duration,
    pub(super) max_attempts: u32,
    /// Instance metadata is asked once, with short timeouts ([`AwsSettings::with_quick_instance_metadata`]).
    pub(super) quick_instance_metadata: bool,
    /// The session only fetches registry tokens ([`AwsSettings::for_token_only`]): no GetCallerIdentity.
    pub(super) token_only: bool,
}

impl AwsSettings {
    /// Checks the options against each other and the environment map. Pure: no network, no files.
    pub fn validate(opts: AwsOptions, env: &BTreeMap<String, String>) -> anyhow::Result<AwsSettings> {
        let (region, region_source) = resolve_region(&opts, env)?;
        validate_region(&region)?;
        let partition = Partition::of_region(&region);
        if let Some(public) = &opts.public
            && partition != Partition::Aws
        {
            bail_input!(
                "registry '{public}' is Amazon ECR Public, which is only in the aws partition (its API is in \
                 {PUBLIC_API_REGION}), but region '{region}' is in {}: drop --region or use an aws region",
                partition.arn_name()
            );
        }
        if let Some(registry) = &opts.registry
            && registry.region != region
        {
            bail_input!(
                "registry '{registry}' is in region '{}' but --region is '{region}': ECR login tokens are per region, \
                 so drop --region or make it '{}'",
                registry.region,
                registry.region
            );
        }

        let mut roles = Vec::with_capacity(opts.role_arns.len());
        for input in &opts.role_arns {
            let role = RoleArn::parse(input.trim())?;
            if role.partition != partition {
                bail_input!(
                    "role ARN '{input}' is in partition '{}' but region '{region}' is in partition '{}': a role can \
                     only be assumed inside its own partition",
                    role.partition.arn_name(),
                    partition.arn_name()
                );
            }
            roles.push(role);
        }

        let external_id = non_empty(opts.external_id.as_deref());
        if let Some(id) = external_id {
            let ok = (2..=1224).contains(&id.len()) && id.chars().all(|c| is_iam_name_char(c) || c == ':' || c == '/');
            if !ok {
                bail_input!("invalid external id '{id}': expected 2-1224 characters of [A-Za-z0-9_+=,.@:/-]");
            }
            if roles.is_empty() {
                bail_input!("external id '{id}' given without a role to assume: add --role-arn");
            }
        }

        let session_name = match non_empty(opts.session_name.as_deref()) {
            Some(name) => {
                if !is_valid_session_name(name) {
                    bail_input!("invalid role session name '{name}': expected 2-64 characters of [A-Za-z0-9_+=,.@-]");
                }
                name.to_string()
            }
            None => default_session_name(env),
        };

        let role_duration = match opts.role_duration {
            Some(duration) => {
                let secs = duration.as_secs();
                if roles.is_empty() {
                    bail_input!("role duration {secs}s given without a role to assume: add --role-arn");
                }
                if !ROLE_DURATION_SECS.contains(&secs) || duration.subsec_nanos() != 0 {
                    bail_input!(
                        "invalid role duration {duration:?}: STS accepts whole seconds from 900 (15 minutes) to \
                         43200 (12 hours)"
                    );
                }
                if roles.len() > 1 && secs > CHAINED_ROLE_MAX_SECS {
                    bail_input!(
                        "invalid role duration {secs}s: with {} chained roles STS caps every session at 3600 seconds \
                         (role chaining)",
                        roles.len()
                    );
                }
                duration
            }
            None => DEFAULT_ROLE_DURATION,
        };

        let timeout = match opts.timeout {
            Some(t) if t < Duration::from_secs(1) || t > Duration::from_secs(3600) => {
                bail_input!("invalid timeout {t:?}: expected 1 second to 1 hour")
            }
            Some(t) => t,
            None => DEFAULT_TIMEOUT,
        };

        // The SDK would read AWS_MAX_ATTEMPTS itself, but only when code sets no retry config; we set one, so honour
        // the variable here and check it like any other input.
        let max_attempts = match non_empty(env.get("AWS_MAX_ATTEMPTS").map(String::as_str)) {
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=20).contains(&n) => n,
                _ => bail_input!("invalid AWS_MAX_ATTEMPTS '{raw}': expected a whole number from 1 to 20"),
            },
            None => DEFAULT_MAX_ATTEMPTS,
        };

        Ok(AwsSettings {
            region,
            region_source,
            partition,
            registry: opts.registry,
            public: opts.public,
            roles,
            external_id: external_id.map(str::to_string),
            session_name,
            role_duration,
            timeout,
            max_attempts,
            quick_instance_metadata: false,
            token_only: false,
        })
    }

    /// Bounds the wait on EC2 instance metadata for credentials to one short attempt (see
    /// `credentials::QUICK_METADATA`): for the credential helper, whose callers wait on it for every pull, and
    /// where "no credentials" must be answered at once rather than after the SDK's four attempts.
    pub fn with_quick_instance_metadata(mut self) -> AwsSettings {
        self.quick_instance_metadata = true;
        self
    }

    /// A session that only asks GetAuthorizationToken (the credential helper): it never asks who the caller is,
    /// not even for ECR Public, whose token names no account. The helper keys its cache by the credentials'
    /// access key id, which needs no call, so a cached token costs no round trip on either kind of host.
    pub fn for_token_only(mut self) -> AwsSettings {
        self.token_only = true;
        self
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn region_source(&self) -> RegionSource {
        self.region_source
    }

    pub fn partition(&self) -> Partition {
        self.partition
    }

    pub fn registry(&self) -> Option<&RegistryHost> {
        self.registry.as_ref()
    }

    /// The ECR Public registry, when the target is one.
    pub fn public(&self) -> Option<&PublicRegistry> {
        self.public.as_ref()
    }

    pub fn roles(&self) -> &[RoleArn] {
        &self.roles
    }

    pub fn session_name(&self) -> &str {
        &self.session_name
    }

    pub fn role_duration(&self) -> Duration {
        self.role_duration
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

/// `--region`, then the registry host's region, then `AWS_REGION` / `AWS_DEFAULT_REGION`.
///
/// The registry host beats the environment on purpose: its region is where the login token must come from, while
/// `AWS_REGION` is often left behind by an unrelated earlier step (configure-aws-credentials sets it for the job).
fn resolve_region(opts: &AwsOptions, env: &BTreeMap<String, String>) -> anyhow::Result<(String, RegionSource)> {
    if let Some(region) = non_empty(opts.region.as_deref()) {
        return Ok((region.to_string(), RegionSource::Flag));
    }
    if let Some(registry) = &opts.registry {
        return Ok((registry.region.clone(), RegionSource::Registry));
    }
    for key in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(region) = non_empty(env.get(key).map(String::as_str)) {
            return Ok((region.to_string(), RegionSource::Environment));
        }
    }
    if let Some(region) = profile_region(env) {
        return Ok((region, RegionSource::Environment));
    }
    // ECR Public's API has one region; STS is in every region, so the job's own region is only preferred above.
    if opts.public.is_some() {
        return Ok((PUBLIC_API_REGION.to_string(), RegionSource::Registry));
    }
    bail_input!("{NO_REGION}")
}

/// The message when no region is configured; [`is_no_region`] recognises it, so that the commands can ask EC2
/// instance metadata before giving up.
const NO_REGION: &str = "no region: pass --region, set AWS_REGION, or give a registry host such as \
                         123456789012.dkr.ecr.eu-west-1.amazonaws.com (on EC2, instance metadata is asked too, \
                         unless AWS_EC2_METADATA_DISABLED is set)";

/// True when `error` is the bad input "no region was configured".
pub fn is_no_region(error: &anyhow::Error) -> bool {
    error.downcast_ref::<crate::error::BadInput>().is_some_and(|bad| bad.0 == NO_REGION)
}

/// The `region` of the active profile (`AWS_PROFILE`, else `default`) in the shared config file
/// (`AWS_CONFIG_FILE`, else `~/.aws/config`), as the SDK's own region chain reads it.
fn profile_region(env: &BTreeMap<String, String>) -> Option<String> {
    let path = match non_empty(env.get("AWS_CONFIG_FILE").map(String::as_str)) {
        Some(path) => std::path::PathBuf::from(path),
        None => std::path::Path::new(non_empty(env.get("HOME").map(String::as_str))?).join(".aws/config"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let profile = non_empty(env.get("AWS_PROFILE").map(String::as_str)).unwrap_or("default");
    let wanted = |section: &str| {
        let name = section.strip_prefix("profile ").unwrap_or(section).trim();
        name == profile && (section.starts_with("profile ") || section == "default")
    };
    let mut in_profile = false;
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = wanted(section.trim());
        } else if in_profile
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "region"
        {
            return non_empty(Some(value)).map(String::from);
        }
    }
    None
}

/// CI inputs that are "not set" often arrive as empty strings (composite actions, templated buildspecs).
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `[\w+=,.@-]`, the character set IAM uses for role and session names.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

pub(super) fn is_valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(is_iam_name_char)
}

/// `ecr-ship-<run id>` from the first CI run id found, so CloudTrail ties the session to the build that made it.
/// Valid by construction: other characters become `-` and the result is cut to 64.
fn default_session_name(env: &BTreeMap<String, String>) -> String {
    const RUN_IDS: [&str; 8] = [
        "GITHUB_RUN_ID",
        "CODEBUILD_BUILD_NUMBER",
        "CI_JOB_ID",
        "CIRCLE_BUILD_NUM",
        "BITBUCKET_BUILD_NUMBER",
        "BUILDKITE_BUILD_NUMBER",
        "BUILD_BUILDID",
        "BUILD_NUMBER",
    ];
    let run = RUN_IDS.iter().find_map(|key| non_empty(env.get(*key).map(String::as_str)));
    let mut name = match run {
        Some(id) => {
            let attempt = match (env.get("GITHUB_RUN_ID"), non_empty(env.get("GITHUB_RUN_ATTEMPT").map(String::as_str)))
            {
                (Some(_), Some(attempt)) => format!("-{attempt}"),
                _ => String::new(),
            };
            format!("ecr-ship-{id}{attempt}")
        }
        None => "ecr-ship".to_string(),
    };
    name = name.chars().map(|c| if is_iam_name_char(c) { c } else { '-' }).collect();
    name.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn opts() -> AwsOptions {
        AwsOptions { region: Some("us-east-1".into()), ..AwsOptions::default() }
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/ci-push";

    #[test]
    fn bad_inputs_are_exit_2_and_name_the_value() {
        let registry = |h: &str| Some(RegistryHost::parse(h).unwrap());
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: Vec<(AwsOptions, &str)> = vec![
            (AwsOptions { region: Some("mars".into()), ..opts() }, "mars"),
            (AwsOptions { region: Some("US-EAST-1".into()), ..opts() }, "US-EAST-1"),
            (AwsOptions { role_arns: roles(&["ci-push"]), ..opts() }, "ci-push"),
            (AwsOptions { role_arns: roles(&["arn:aws:iam::12345678901:role/x"]), ..opts() }, "12345678901"),
            (AwsOptions { role_arns: roles(&["arn:aws:iam::123456789012:user/x"]), ..opts() }, "user/x"),
            (AwsOptions { role_arns: roles(&["arn:aws:sts::123456789012:role/x"]), ..opts() }, "arn:aws:sts"),
            (AwsOptions { role_arns: roles(&["arn:aws:iam:us-east-1:123456789012:role/x"]), ..opts() }, "us-east-1"),
            (AwsOptions { role_arns: roles(&["arn:aws:iam::123456789012:role/"]), ..opts() }, "role/"),
            (AwsOptions { role_arns: roles(&["arn:aws:iam::123456789012:role/a b"]), ..opts() }, "a b"),
            (AwsOptions { role_arns: roles(&["arn:aws:iam::123456789012:role//x"]), ..opts() }, "role//x"),
            (AwsOptions { role_arns: roles(&["arn:mars:iam::123456789012:role/x"]), ..opts() }, "mars"),
            (AwsOptions { role_arns: roles(&[""]), ..opts() }, "''"),
            (AwsOptions { role_arns: roles(&[&format!("{ROLE}{}", "x".repeat(60))]), ..opts() }, "xxxx"),
            (AwsOptions { role_arns: roles(&["arn:aws-cn:iam::123456789012:role/x"]), ..opts() }, "aws-cn"),
            (
                AwsOptions {
                    region: Some("cn-north-1".into()),
                    role_arns: roles(&["arn:aws:iam::123456789012:role/x"]),
                    ..opts()
                },
                "arn:aws:iam::123456789012:role/x",
            ),
            (AwsOptions { role_arns: roles(&[ROLE]), session_name: Some("x".into()), ..opts() }, "'x'"),
            (AwsOptions { role_arns: roles(&[ROLE]), session_name: Some("has space".into()), ..opts() }, "has space"),
            (AwsOptions { role_arns: roles(&[ROLE]), session_name: Some("s".repeat(65)), ..opts() }, "sssss"),
            (AwsOptions { role_arns: roles(&[ROLE]), session_name: Some("a/b".into()), ..opts() }, "a/b"),
            (AwsOptions { role_arns: roles(&[ROLE]), role_duration: Some(Duration::from_secs(899)), ..opts() }, "899"),
            (
                AwsOptions { role_arns: roles(&[ROLE]), role_duration: Some(Duration::from_secs(43201)), ..opts() },
                "43201",
            ),
            (
                AwsOptions {
                    role_arns: roles(&[ROLE, ROLE]),
                    role_duration: Some(Duration::from_secs(3601)),
                    ..opts()
                },
                "3601",
            ),
            (AwsOptions { role_duration: Some(Duration::from_secs(900)), ..opts() }, "900"),
            (AwsOptions { external_id: Some("only-id".into()), ..opts() }, "only-id"),
            (AwsOptions { role_arns: roles(&[ROLE]), external_id: Some("a b".into()), ..opts() }, "a b"),
            (AwsOptions { role_arns: roles(&[ROLE]), external_id: Some("x".into()), ..opts() }, "'x'"),
            (AwsOptions { timeout: Some(Duration::from_millis(10)), ..opts() }, "10ms"),
            (AwsOptions { timeout: Some(Duration::from_secs(7200)), ..opts() }, "7200"),
            (
                AwsOptions {
                    region: Some("eu-west-1".into()),
                    registry: registry("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
                    ..opts()
                },
                "us-east-1",
            ),
            (AwsOptions { region: None, ..opts() }, "no region"),
            (AwsOptions { region: Some("  ".into()), ..opts() }, "no region"),
        ];
        for (options, needle) in cases {
            let shown = format!("{options:?}");
            let error = AwsSettings::validate(options, &BTreeMap::new()).expect_err(&shown);
            assert_eq!(exit_code(&error), 2, "{shown}: {error:#}");
            assert!(format!("{error:#}").contains(needle), "{shown}: {error:#} lacks {needle:?}");
        }
        let error = AwsSettings::validate(opts(), &env(&[("AWS_MAX_ATTEMPTS", "lots")])).unwrap_err();
        assert_eq!(exit_code(&error), 2);
        assert!(error.to_string().contains("lots"));
    }

    #[test]
    fn region_precedence() {
        let host = RegistryHost::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        let from_env = env(&[("AWS_REGION", "us-west-2"), ("AWS_DEFAULT_REGION", "ap-south-1")]);
        let plan = AwsSettings::validate(opts(), &from_env).unwrap();
        assert_eq!((plan.region(), plan.region_source()), ("us-east-1", RegionSource::Flag));

        let plan = AwsSettings::validate(AwsOptions { region: None, ..opts() }, &from_env).unwrap();
        assert_eq!((plan.region(), plan.region_source()), ("us-west-2", RegionSource::Environment));

        let plan = AwsSettings::validate(AwsOptions::default(), &env(&[("AWS_DEFAULT_REGION", "ap-south-1")])).unwrap();
        assert_eq!(plan.region(), "ap-south-1");

        let with_host = AwsOptions { region: None, registry: Some(host.clone()), ..opts() };
        let plan = AwsSettings::validate(with_host, &from_env).unwrap();
        assert_eq!((plan.region(), plan.region_source()), ("eu-west-1", RegionSource::Registry));

        let agreeing = AwsOptions { region: Some("eu-west-1".into()), registry: Some(host), ..opts() };
        assert!(AwsSettings::validate(agreeing, &BTreeMap::new()).is_ok());
    }

    #[test]
    fn roles_and_defaults() {
        let options = AwsOptions {
            role_arns: vec![ROLE.into(), "arn:aws:iam::210987654321:role/team/deploy/pusher".into()],
            external_id: Some("ext-123".into()),
            ..opts()
        };
        let plan = AwsSettings::validate(options, &BTreeMap::new()).unwrap();
        assert_eq!(plan.roles()[1].name, "pusher");
        assert_eq!(plan.roles()[1].account, "210987654321");
        assert_eq!(plan.role_duration(), DEFAULT_ROLE_DURATION);
        assert_eq!(plan.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(plan.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        assert_eq!(plan.session_name(), "ecr-ship");

        let cn = AwsOptions {
            region: Some("cn-north-1".into()),
            role_arns: vec!["arn:aws-cn:iam::123456789012:role/x".into()],
            role_duration: Some(Duration::from_secs(43200)),
            ..opts()
        };
        let plan = AwsSettings::validate(cn, &env(&[("AWS_MAX_ATTEMPTS", "2")])).unwrap();
        assert_eq!(plan.partition(), Partition::AwsCn);
        assert_eq!(plan.max_attempts(), 2);
    }

    #[test]
    fn default_session_names_are_valid_by_construction() {
        let cases = [
            (env(&[("GITHUB_RUN_ID", "987654321"), ("GITHUB_RUN_ATTEMPT", "2")]), "ecr-ship-987654321-2"),
            (env(&[("CODEBUILD_BUILD_NUMBER", "42")]), "ecr-ship-42"),
            (env(&[("BUILD_NUMBER", "7 (nightly)/x")]), "ecr-ship-7--nightly--x"),
            (env(&[("CI_JOB_ID", &"9".repeat(100))]), "ecr-ship-999"),
            (env(&[("BUILD_NUMBER", "ü")]), "ecr-ship--"),
            (BTreeMap::new(), "ecr-ship"),
        ];
        for (vars, prefix) in cases {
            let name = default_session_name(&vars);
            assert!(name.starts_with(prefix), "{name} vs {prefix}");
            assert!(is_valid_session_name(&name), "{name}");
        }
    }

    #[test]
    fn region_comes_from_the_active_profile_last() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, "[default]\nregion = eu-west-1\n\n[profile ci]\nrole_arn = x\nregion = ap-south-1\n")
            .unwrap();
        let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            let mut map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            map.insert("AWS_CONFIG_FILE".into(), config.display().to_string());
            map
        };
        assert_eq!(profile_region(&env(&[])).as_deref(), Some("eu-west-1"));
        assert_eq!(profile_region(&env(&[("AWS_PROFILE", "ci")])).as_deref(), Some("ap-south-1"));
        assert_eq!(profile_region(&env(&[("AWS_PROFILE", "nope")])), None);
        let opts = AwsOptions::default();
        assert_eq!(resolve_region(&opts, &env(&[("AWS_REGION", "us-west-2")])).unwrap().0, "us-west-2");
        assert_eq!(resolve_region(&opts, &env(&[("AWS_PROFILE", "ci")])).unwrap().0, "ap-south-1");
    }
}

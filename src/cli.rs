//! The command line: subcommands, flags, their environment variables and help texts.
//!
//! Flag names are shared across subcommands so scripts and the GitHub Action can rely on them. Every option can
//! also come from an `ECR_SHIP_*` environment variable (clap reads those, so flags win) and from `.ecr-ship.yml`
//! (merged in `settings`). Optional booleans are `Option<bool>` so that "not given" can fall through to the file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  # Plan the tags for this build without contacting AWS
  ecr-ship tags --repository team/app

  # Build with docker, then push with branch and commit tags, assuming a role (OIDC works alike)
  IMAGE_URI=$(ecr-ship push --repository team/app --image app:latest \\
    --role-arn arn:aws:iam::123456789012:role/push)

  # Push an OCI layout, an OCI archive or a docker save archive without a daemon
  ecr-ship push --repository team/app --from oci:./build/oci
  ecr-ship push --repository team/app --from oci-archive:image.tar
  ecr-ship push --repository team/app --from docker-archive:app.tar

  # Promote an image already in ECR to new tags, server-side
  ecr-ship retag --repository team/app sha-0123abc v1.4.0 stable

  # Fail the job when the pushed image has a HIGH or CRITICAL finding (ECR's scan)
  ecr-ship push --repository team/app --from oci:./oci --scan-fail-on HIGH --sarif ecr-scan.sarif

Exit codes: 0 success, 1 a failure talking to AWS, the registry or the engine,
2 bad input (nothing was contacted), 3 the vulnerability gate failed (a finding at or
above --scan-fail-on).";

#[derive(Debug, Parser)]
#[command(name = "ecr-ship", version, about, after_long_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the command waits on one request at a time, so that worker threads would only add their start-up
    /// to its time: the credential helper, which docker starts for every pull and push and which usually answers
    /// from its cache, and `login` and `logout`, whose token request and credential-store writes follow each other
    /// (a login's engine detection runs beside its token request on the same thread, as both mostly wait).
    pub fn runs_on_one_thread(&self) -> bool {
        matches!(self.command, Command::CredentialHelper(_) | Command::Login(_) | Command::Logout(_))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in, tag and push an image to Amazon ECR, then write the step outputs.
    #[command(after_long_help = "Examples:
  ecr-ship push --repository team/app --image app:latest
  ecr-ship push --repository team/app --from oci:./oci --tag '{branch}-{sha:7}' --tag latest
  # CodeBuild: assign first, so a failed push fails the step (eval \"$(…)\" would hide it)
  exports=$(ecr-ship push --repository team/app --image app:latest --export \\
    --image-definitions app) && eval \"$exports\"")]
    Push(Box<PushArgs>),
    /// Log the container engine in to Amazon ECR and print the registry host(s).
    #[command(after_long_help = "Examples:
  ecr-ship login --region eu-west-1
  ecr-ship login --registries 210987654321.dkr.ecr.eu-west-1.amazonaws.com   # another account
  ecr-ship login --region eu-west-1 --registries 210987654321,111122223333   # by account id")]
    Login(LoginArgs),
    /// Remove the registry logins that `ecr-ship login` added.
    Logout(LoginArgs),
    /// Print the tags this build would push (a dry plan; never contacts AWS).
    #[command(after_long_help = "Examples:
  ecr-ship tags
  ecr-ship tags --repository team/app --registry 123456789012.dkr.ecr.eu-west-1.amazonaws.com --json
  ecr-ship tags --tag '{branch}-{sha:7}' --tag 'build-{run}' --branch feature/x \\
    --sha \"$(git rev-parse HEAD)\"")]
    Tags(TagsArgs),
    /// Add tags to an image already in ECR, server-side (no pull, no engine).
    #[command(after_long_help = "Examples:
  ecr-ship retag --repository team/app sha-0123abc v1.4.0 stable
  ecr-ship retag --repository team/app \"$DIGEST\" release-2026-11   # DIGEST: a push's digest")]
    Retag(RetagArgs),
    /// Print the least-privilege IAM policy for pushing, the GitHub OIDC trust policy, and with --lifecycle an ECR
    /// lifecycle policy that follows the tag rules.
    #[command(after_long_help = "Examples:
  ecr-ship policy --repository team/app --account-id 123456789012 --region eu-west-1
  ecr-ship policy --repository team/app --region eu-west-1 --lifecycle --keep-tag prod --pr-days 7
  ecr-ship policy --repository team/app --account-id 123456789012 --region eu-west-1 \\
    --github-repo octo/app --github-ref refs/heads/main --github-ref 'refs/tags/v*' \\
    --github-pull-requests --create-repository
  ecr-ship policy --repository team/app --account-id 123456789012 --region eu-west-1 \\
    --github-repo octo/app --github-environment prod \\
    --trust-policy-file trust.json --push-policy-file push.json")]
    Policy(PolicyArgs),
    /// Wait for an image's ECR scan, print the counts by severity, and fail (exit 3) at --scan-fail-on.
    #[command(after_long_help = "Examples:
  ecr-ship scan --repository team/app sha-0123abc --scan-fail-on HIGH
  ecr-ship scan --repository team/app \"$DIGEST\" --sarif ecr-scan.sarif --scan-ignore CVE-2024-1234

Exit codes: 0 the gate passed (or no --scan-fail-on), 1 a failure (the scan failed or
timed out), 2 bad input, 3 the gate failed.")]
    Scan(ScanArgs),
    /// Join images already in the repository (one per platform, or indexes) into one multi-platform index, put
    /// server-side under the planned tags (no blob moves, no engine).
    #[command(after_long_help = "Examples:
  # the digests of two --by-digest pushes
  ecr-ship merge --repository team/app \"$DIGEST_AMD64\" \"$DIGEST_ARM64\"
  ecr-ship merge --repository team/app build-amd64 build-arm64 --tag '{branch}' --tag latest")]
    Merge(Box<MergeArgs>),
    /// Remove pull-request and superseded images from a repository: a dry plan by default (each image, its tags,
    /// its size and why it goes or stays), carried out with --apply. Never removes an image a tag outside the
    /// rules names, a child of a kept index, or an attestation of a kept image.
    #[command(after_long_help = "Examples:
  ecr-ship prune --repository team/app --pr 42                 # the plan only
  ecr-ship prune --repository team/app --pr 42 --apply
  ecr-ship prune --repository team/app --keep-last 20 --match 'sha-*' \\
    --untagged-older-than 14 --apply

In GitHub Actions, a pull_request event with action `closed` gives --pr.")]
    Prune(Box<PruneArgs>),
    /// Be a docker credential helper (also when called as docker-credential-ecr-ship): get, store, erase, list,
    /// version; the token comes from the host's region and is cached until shortly before it expires. `install
    /// --registries HOST,…` sets it up for docker and podman, `uninstall` undoes that.
    CredentialHelper(CredentialHelperArgs),
}

/// `credential-helper VERB`.
#[derive(Debug, Clone, Args)]
pub struct CredentialHelperArgs {
    /// The protocol verb: get, store, erase, list or version (the request, if any, is on standard input); or
    /// install (link the helper, name it in docker's and containers' configs for --registries) or uninstall.
    #[arg(value_name = "VERB")]
    pub verb: String,
    /// With install: the registry hosts (comma-separated) to name the helper for in credHelpers.
    #[arg(long, value_name = "HOST", value_delimiter = ',')]
    pub registries: Vec<String>,
    /// With install and uninstall: the directory of the docker-credential-ecr-ship link (default: this binary's,
    /// which must be on PATH).
    #[arg(long, value_name = "DIR")]
    pub link_dir: Option<PathBuf>,
}

/// Options every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Config file (default: .ecr-ship.yml in the current directory, when present).
    #[arg(long, env = "ECR_SHIP_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// ECR repository name, e.g. team/app.
    #[arg(long, env = "ECR_SHIP_REPOSITORY", value_name = "NAME")]
    pub repository: Option<String>,
    /// AWS region (default: the region of --registry, then AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    #[arg(long, env = "ECR_SHIP_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// Registry host, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com (default: the caller's account).
    #[arg(long, env = "ECR_SHIP_REGISTRY", value_name = "HOST")]
    pub registry: Option<String>,
    /// Print the result as JSON on standard output instead of the image URI.
    #[arg(long, env = "ECR_SHIP_JSON", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub json: Option<bool>,
}

/// How to get AWS credentials.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Role to assume; give it twice to chain roles in order. In GitHub Actions with `id-token: write` the first
    /// role is assumed with the workflow's OIDC token.
    #[arg(long, env = "ECR_SHIP_ROLE_ARN", value_name = "ARN", value_delimiter = ',')]
    pub role_arn: Vec<String>,
    /// External id for AssumeRole.
    #[arg(long, env = "ECR_SHIP_EXTERNAL_ID", value_name = "ID")]
    pub external_id: Option<String>,
    /// Role session name (default: derived from the CI run).
    #[arg(long, env = "ECR_SHIP_ROLE_SESSION_NAME", value_name = "NAME")]
    pub role_session_name: Option<String>,
    /// Role session duration in seconds (900-43200; at most 3600 when chaining).
    #[arg(long, env = "ECR_SHIP_ROLE_DURATION", value_name = "SECONDS")]
    pub role_duration: Option<u64>,
    /// With `login`: other registries to log in to as well, e.g. another account's for base images: hosts, or bare
    /// account ids (that account's registry in this job's region, as amazon-ecr-login's `registries` input).
    #[arg(long, env = "ECR_SHIP_REGISTRIES", value_name = "HOST_OR_ACCOUNT", value_delimiter = ',')]
    pub registries: Vec<String>,
    /// Time limit for the whole operation, in seconds.
    #[arg(long, env = "ECR_SHIP_TIMEOUT", value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// Where the tags come from.
#[derive(Debug, Clone, Args)]
pub struct TagArgs {
    /// Tag line, repeatable (ECR_SHIP_TAGS: one per line); replaces the default tags. Either an ecr-ship template
    /// ({branch} {sha} {sha:N} {git_tag} {pr} {run} {date}) or a docker/metadata-action line such as
    /// `type=semver,pattern={{version}}`.
    #[arg(long = "tag", env = "ECR_SHIP_TAGS", value_name = "LINE")]
    pub tags: Vec<String>,
    /// docker/metadata-action flavor line, repeatable (ECR_SHIP_FLAVOR: one per line): latest=auto|true|false,
    /// prefix=…, suffix=…, onlatest=true.
    #[arg(long = "flavor", env = "ECR_SHIP_FLAVOR", value_name = "LINE")]
    pub flavor: Vec<String>,
    /// Extra image label KEY=VALUE, repeatable (ECR_SHIP_LABELS: one per line), added to the OCI labels in the
    /// `labels` output; metadata-action's {{…}} expressions work in it.
    #[arg(long = "label", env = "ECR_SHIP_LABELS", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Extra annotation KEY=VALUE, repeatable (ECR_SHIP_ANNOTATIONS: one per line), for the `annotations` output.
    #[arg(long = "annotation", env = "ECR_SHIP_ANNOTATIONS", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Branch name (default: detected from the CI system or git).
    #[arg(long, env = "ECR_SHIP_BRANCH")]
    pub branch: Option<String>,
    /// Full 40-character commit sha (default: detected).
    #[arg(long, env = "ECR_SHIP_SHA")]
    pub sha: Option<String>,
    /// Git tag being built (default: detected).
    #[arg(long, env = "ECR_SHIP_GIT_TAG")]
    pub git_tag: Option<String>,
    /// Pull request number (default: detected).
    #[arg(long, env = "ECR_SHIP_PR")]
    pub pr: Option<String>,
    /// Default branch, which alone gets `latest` (default: from the CI system, else main).
    #[arg(long, env = "ECR_SHIP_DEFAULT_BRANCH", value_name = "BRANCH")]
    pub default_branch: Option<String>,
    /// Length of the commit id in `sha-<hex>` tags (4-40, default 7).
    #[arg(long, env = "ECR_SHIP_SHA_LENGTH", value_name = "N")]
    pub sha_length: Option<usize>,
    /// Also tag `latest` on the default branch.
    #[arg(long, env = "ECR_SHIP_LATEST", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub latest: Option<bool>,
    /// On a git tag vX.Y.Z also tag X.Y.Z, X.Y and X.
    #[arg(long, env = "ECR_SHIP_SEMVER", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub semver: Option<bool>,
    /// Monorepo release tags: `--semver` reads the version after this prefix (`app1/` for `app1/v1.2.3`).
    #[arg(long, env = "ECR_SHIP_SEMVER_PREFIX", value_name = "PREFIX")]
    pub semver_prefix: Option<String>,
}

/// Step outputs beyond standard output (GitHub outputs and summary are written automatically in Actions).
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print `export IMAGE_URI=…` lines for `eval` (CodeBuild exported-variables) instead of the image URI.
    #[arg(long, env = "ECR_SHIP_EXPORT", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub export: Option<bool>,
    /// Write imagedefinitions.json for this container name (CodePipeline ECS deploy).
    #[arg(long, env = "ECR_SHIP_IMAGE_DEFINITIONS", value_name = "CONTAINER")]
    pub image_definitions: Option<String>,
    /// Path for imagedefinitions.json.
    #[arg(long, env = "ECR_SHIP_IMAGE_DEFINITIONS_FILE", value_name = "FILE")]
    pub image_definitions_file: Option<PathBuf>,
    /// Write imageDetail.json (CodePipeline ECS blue/green deploy).
    #[arg(long, env = "ECR_SHIP_IMAGE_DETAIL", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub image_detail: Option<bool>,
    /// Write a Java properties file (Jenkins readProperties).
    #[arg(long, env = "ECR_SHIP_PROPERTIES_FILE", value_name = "FILE")]
    pub properties_file: Option<PathBuf>,
    /// Write a dotenv file (GitLab artifacts:reports:dotenv).
    #[arg(long, env = "ECR_SHIP_DOTENV_FILE", value_name = "FILE")]
    pub dotenv_file: Option<PathBuf>,
    /// Write all outputs as JSON to this file.
    #[arg(long, env = "ECR_SHIP_OUTPUT_JSON", value_name = "FILE")]
    pub output_json: Option<PathBuf>,
    /// Write an output file (--output-json, --sarif, imageDetail.json, …) that is a symlink to the file it points
    /// at; without this a symlink there is refused (one in a checkout could point at any file). Not settable in the
    /// config file, which may come from that checkout.
    #[arg(long, env = "ECR_SHIP_FOLLOW_SYMLINKS", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub follow_symlinks: Option<bool>,
}

/// Repository creation and settings.
#[derive(Debug, Clone, Args)]
pub struct RepositoryArgs {
    /// Create the repository when it does not exist.
    #[arg(long, env = "ECR_SHIP_CREATE_REPOSITORY", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub create_repository: Option<bool>,
    /// Apply the settings below to an existing repository too.
    #[arg(long, env = "ECR_SHIP_UPDATE_REPOSITORY_SETTINGS", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub update_repository_settings: Option<bool>,
    /// Scan images on push (repository-level; registry-level scanning is the newer way).
    #[arg(long, env = "ECR_SHIP_SCAN_ON_PUSH", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub scan_on_push: Option<bool>,
    /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
    #[arg(long, env = "ECR_SHIP_TAG_MUTABILITY", value_name = "MODE")]
    pub tag_mutability: Option<String>,
    /// Wildcard filter excluded from the mutability rule (repeatable, 1-5), e.g. latest or main*.
    #[arg(
        long,
        alias = "mutability-exclusions",
        env = "ECR_SHIP_MUTABILITY_EXCLUSION",
        value_name = "FILTER",
        value_delimiter = ','
    )]
    pub mutability_exclusion: Vec<String>,
    /// AES256 (default) or KMS.
    #[arg(long, env = "ECR_SHIP_ENCRYPTION", value_name = "TYPE")]
    pub encryption: Option<String>,
    /// KMS key id or ARN, with --encryption KMS.
    #[arg(long, env = "ECR_SHIP_KMS_KEY", value_name = "KEY")]
    pub kms_key: Option<String>,
    /// Lifecycle policy JSON file.
    #[arg(long, env = "ECR_SHIP_LIFECYCLE_POLICY", value_name = "FILE")]
    pub lifecycle_policy: Option<PathBuf>,
    /// Repository policy JSON file.
    #[arg(long, env = "ECR_SHIP_REPOSITORY_POLICY", value_name = "FILE")]
    pub repository_policy: Option<PathBuf>,
    /// Resource tag KEY=VALUE for a created repository (repeatable).
    #[arg(
        long,
        alias = "resource-tags",
        env = "ECR_SHIP_RESOURCE_TAGS",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    pub resource_tag: Vec<String>,
    /// ECR Public: the repository's short description in the Gallery (catalog data, up to 1024 characters).
    #[arg(long, env = "ECR_SHIP_DESCRIPTION", value_name = "TEXT")]
    pub description: Option<String>,
    /// ECR Public: Markdown file with the repository's about text (catalog data).
    #[arg(long, env = "ECR_SHIP_ABOUT_TEXT", value_name = "FILE")]
    pub about_text: Option<PathBuf>,
    /// ECR Public: Markdown file with the repository's usage text (catalog data).
    #[arg(long, env = "ECR_SHIP_USAGE_TEXT", value_name = "FILE")]
    pub usage_text: Option<PathBuf>,
    /// ECR Public: architecture badge (repeatable): ARM, ARM 64, x86, x86-64.
    #[arg(long, env = "ECR_SHIP_ARCHITECTURES", value_name = "NAME", value_delimiter = ',')]
    pub architecture: Vec<String>,
    /// ECR Public: operating system badge (repeatable): Linux, Windows.
    #[arg(long, env = "ECR_SHIP_OPERATING_SYSTEMS", value_name = "NAME", value_delimiter = ',')]
    pub operating_system: Vec<String>,
    /// ECR Public: PNG or JPEG logo file for the repository (catalog data).
    #[arg(long, env = "ECR_SHIP_LOGO", value_name = "FILE")]
    pub logo: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub tags: TagArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub repository: RepositoryArgs,
    /// Local image to push from the container engine (docker: exported and pushed natively; see --transfer), e.g.
    /// app:latest.
    #[arg(long, env = "ECR_SHIP_IMAGE", value_name = "REF", conflicts_with = "from")]
    pub image: Option<String>,
    /// Push without a daemon from oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:TAG].
    #[arg(long, env = "ECR_SHIP_FROM", value_name = "SOURCE")]
    pub from: Option<String>,
    /// docker, podman, or auto (default: auto).
    #[arg(long, env = "ECR_SHIP_ENGINE", value_name = "ENGINE")]
    pub engine: Option<String>,
    /// How the uncompressed layers of a docker-archive: source are sent: gzip (default; Docker v2 schema 2), zstd
    /// (an OCI manifest) or none (as they are in the archive). Compressed layers and oci: sources are pushed
    /// unchanged.
    #[arg(long, env = "ECR_SHIP_COMPRESSION", value_name = "FORMAT")]
    pub compression: Option<String>,
    /// How an --image reaches ECR: auto (default: native for docker, engine for podman), engine (`docker push` /
    /// `podman push`) or native (the engine exports it with `save`, and ecr-ship uploads it itself: blobs in
    /// parallel over kept-alive connections, every tag at once; the layers are compressed by ecr-ship, see
    /// --compression, so the image id is the engine's but the manifest digest is not the one its push gives).
    #[arg(long, env = "ECR_SHIP_TRANSFER", value_name = "HOW")]
    pub transfer: Option<String>,
    /// Skip tags that already point at another image in an immutable repository, with a warning.
    #[arg(long, env = "ECR_SHIP_SKIP_EXISTING", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub skip_existing: Option<bool>,
    /// Remove the engine's registry login again after the push (default true; --logout=false keeps it).
    #[arg(long, env = "ECR_SHIP_LOGOUT", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub logout: Option<bool>,
    /// Push even when CodeBuild reports the build as failing (CODEBUILD_BUILD_SUCCEEDING=0).
    #[arg(long, env = "ECR_SHIP_FORCE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub force: Option<bool>,
    /// Write the annotations (the OCI set and --annotation) into the pushed OCI manifest or index (--from only;
    /// the digest changes).
    #[arg(long, env = "ECR_SHIP_ANNOTATE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub annotate: Option<bool>,
    /// Push the image under no tag, by digest only (any source: --from, or --image exported from the engine): the
    /// per-platform half of a matrix build, joined later by `ecr-ship merge`. The digest goes to every output.
    #[arg(long, env = "ECR_SHIP_BY_DIGEST", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub by_digest: Option<bool>,
    #[command(flatten)]
    pub scan: ScanGateArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// The repository's stored size and its month's price, in the job summary after a push or a prune.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Measure the repository's stored size (each layer once) and its storage price for the job summary: auto
    /// (default: after a prune that writes a job summary, as in GitHub Actions; never after a push, since reading
    /// every manifest counts as a pull of every image to ECR), true (also a log line elsewhere), false.
    #[arg(long, env = "ECR_SHIP_STORAGE_SUMMARY", value_name = "WHEN")]
    pub storage_summary: Option<String>,
    /// Storage price in USD per GB-month for the summary (default: the region's public price, $0.10; for ECR
    /// Public, the price beyond its 50 GB free tier).
    #[arg(long, env = "ECR_SHIP_PRICE_PER_GB", value_name = "USD")]
    pub price_per_gb: Option<String>,
}

/// The vulnerability gate: ECR's scan of the image, judged against a threshold.
#[derive(Debug, Clone, Args)]
pub struct ScanGateArgs {
    /// Fail (exit 3) when a finding not ignored is at or above this severity: INFORMATIONAL, LOW, MEDIUM, HIGH or
    /// CRITICAL. On push, the pushed digest's scan is waited for after the push.
    #[arg(long, env = "ECR_SHIP_SCAN_FAIL_ON", value_name = "SEVERITY")]
    pub scan_fail_on: Option<String>,
    /// How long to wait for the scan's result, in seconds (default 600).
    #[arg(long, env = "ECR_SHIP_SCAN_TIMEOUT", value_name = "SECONDS")]
    pub scan_timeout: Option<u64>,
    /// A finding id to accept, repeatable (ECR_SHIP_SCAN_IGNORE: comma-separated), e.g. CVE-2024-1234; config-file
    /// ignores carry an expiry date and a reason.
    #[arg(long, env = "ECR_SHIP_SCAN_IGNORE", value_name = "ID", value_delimiter = ',')]
    pub scan_ignore: Vec<String>,
    /// Write the findings as SARIF 2.1.0 to this file (for github/codeql-action/upload-sarif).
    #[arg(long, env = "ECR_SHIP_SARIF", value_name = "FILE")]
    pub sarif: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub gate: ScanGateArgs,
    /// Tag or sha256 digest of the image in the repository.
    #[arg(value_name = "TAG_OR_DIGEST", env = "ECR_SHIP_SCAN_REF")]
    pub reference: String,
}

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// docker, podman, or auto (default: auto).
    #[arg(long, env = "ECR_SHIP_ENGINE", value_name = "ENGINE")]
    pub engine: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TagsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub tags: TagArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    /// Account id for the full references, with --region, when --registry is not given.
    #[arg(long, env = "ECR_SHIP_ACCOUNT_ID", value_name = "ACCOUNT")]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub tags: TagArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    /// Skip tags that already point at another image in an immutable repository, with a warning.
    #[arg(long, env = "ECR_SHIP_SKIP_EXISTING", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub skip_existing: Option<bool>,
    /// The platforms the index must hold, exactly, e.g. linux/amd64,linux/arm64 (os/arch[/variant]): a source
    /// missing or one too many is refused (exit 2) before anything is tagged.
    #[arg(long, env = "ECR_SHIP_PLATFORMS", value_name = "OS/ARCH", value_delimiter = ',')]
    pub platforms: Vec<String>,
    /// Images in the repository to join, by sha256 digest or tag: single-platform images, or indexes whose
    /// children are added (ECR_SHIP_SOURCES: one per line or comma-separated). An empty one is refused (exit 2):
    /// it is a platform left out.
    #[arg(value_name = "SOURCE", env = "ECR_SHIP_SOURCES", value_delimiter = ',', required = true)]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RetagArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    /// Skip tags that already point at another image in an immutable repository, with a warning.
    #[arg(long, env = "ECR_SHIP_SKIP_EXISTING", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub skip_existing: Option<bool>,
    /// Existing tag or sha256 digest of the image.
    #[arg(value_name = "SOURCE_TAG_OR_DIGEST")]
    pub source: String,
    /// New tags.
    #[arg(value_name = "NEW_TAG", required = true)]
    pub new_tags: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    /// Prune pull request N: its `pr-N` tag, and the images it leaves with no tag but commit tags (`sha-…`).
    /// Default: in GitHub Actions, the number of a closed pull_request event.
    #[arg(long, env = "ECR_SHIP_PRUNE_PR", value_name = "N")]
    pub pr: Option<String>,
    /// Keep the N newest images with a tag matching --match; prune those tags from the older ones.
    #[arg(long, env = "ECR_SHIP_KEEP_LAST", value_name = "N")]
    pub keep_last: Option<String>,
    /// The tags --keep-last counts, as a pattern: `*` any characters, `?` one, e.g. 'sha-*'.
    #[arg(long = "match", env = "ECR_SHIP_MATCH", value_name = "GLOB")]
    pub match_tags: Option<String>,
    /// Prune untagged images pushed more than DAYS days ago (0: any untagged image), unless a kept image needs them.
    #[arg(long, env = "ECR_SHIP_UNTAGGED_OLDER_THAN", value_name = "DAYS")]
    pub untagged_older_than: Option<String>,
    /// Carry the plan out (default: print it and delete nothing).
    #[arg(long, env = "ECR_SHIP_APPLY", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub apply: Option<bool>,
    /// Refuse, before deleting anything, a plan that deletes more than N images (default 50).
    #[arg(long, env = "ECR_SHIP_MAX", value_name = "N")]
    pub max: Option<String>,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Account id of the registry (default: from --registry).
    #[arg(long, env = "ECR_SHIP_ACCOUNT_ID", value_name = "ACCOUNT")]
    pub account_id: Option<String>,
    /// GitHub repository (owner/name) for the OIDC trust policy; with --github-ref, --github-environment,
    /// --github-pull-requests, --from-workflow or --github-any-ref.
    #[arg(long, env = "ECR_SHIP_GITHUB_REPO", value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// Admit jobs on this ref, e.g. refs/heads/main or refs/tags/v* (`*` and `?` as IAM wildcards); repeatable.
    #[arg(
        long,
        env = "ECR_SHIP_GITHUB_REF",
        value_name = "REF",
        value_delimiter = ',',
        conflicts_with = "github_any_ref"
    )]
    pub github_ref: Vec<String>,
    /// Admit jobs that run in this GitHub deployment environment, e.g. prod; repeatable.
    #[arg(
        long,
        env = "ECR_SHIP_GITHUB_ENVIRONMENT",
        value_name = "NAME",
        value_delimiter = ',',
        conflicts_with = "github_any_ref"
    )]
    pub github_environment: Vec<String>,
    /// Admit jobs of pull request events (`sub` repo:OWNER/NAME:pull_request) that name no environment.
    #[arg(long, env = "ECR_SHIP_GITHUB_PULL_REQUESTS", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", conflicts_with = "github_any_ref")]
    pub github_pull_requests: Option<bool>,
    /// Admit exactly the jobs this workflow file runs: its `on:` triggers and its jobs' `environment:`; the push
    /// policy gets the create actions when a step of ecr-ship sets `create-repository: true`.
    #[arg(long, env = "ECR_SHIP_FROM_WORKFLOW", value_name = "FILE", conflicts_with = "github_any_ref")]
    pub from_workflow: Option<PathBuf>,
    /// The repository's default branch, on which `schedule` and other default-branch events run (default: main).
    #[arg(long, env = "ECR_SHIP_GITHUB_DEFAULT_BRANCH", value_name = "BRANCH", requires = "from_workflow")]
    pub github_default_branch: Option<String>,
    /// Admit every job of the repository (any branch, tag, environment or pull request), with a warning.
    #[arg(long, env = "ECR_SHIP_GITHUB_ANY_REF", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub github_any_ref: Option<bool>,
    /// Also write the trust policy alone to this file (for `aws iam create-role --assume-role-policy-document`).
    #[arg(long, env = "ECR_SHIP_TRUST_POLICY_FILE", value_name = "FILE")]
    pub trust_policy_file: Option<PathBuf>,
    /// Also write the push policy alone to this file (for `aws iam put-role-policy --policy-document`).
    #[arg(long, env = "ECR_SHIP_PUSH_POLICY_FILE", value_name = "FILE")]
    pub push_policy_file: Option<PathBuf>,
    /// Include the permissions needed by --create-repository.
    #[arg(long, env = "ECR_SHIP_CREATE_REPOSITORY", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub create_repository: Option<bool>,
    /// Include the permissions `ecr-ship prune` needs: ListImages, DescribeImages, BatchGetImage and
    /// BatchDeleteImage, on the repository only.
    #[arg(long, env = "ECR_SHIP_POLICY_PRUNE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub prune: Option<bool>,
    /// Also print an ECR lifecycle policy made from the tag rules (`lifecycle_policy`): pull-request images expire
    /// after --pr-days, the last --keep-commits commit images stay, untagged images expire after --untagged-days,
    /// and the default branch's and release tags never expire.
    #[arg(long, env = "ECR_SHIP_LIFECYCLE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub lifecycle: Option<bool>,
    /// Lifecycle policy: days after which pull-request images expire (default 14).
    #[arg(long, env = "ECR_SHIP_PR_DAYS", value_name = "DAYS")]
    pub pr_days: Option<u32>,
    /// Lifecycle policy: how many of the newest commit-tagged images to keep (default 30).
    #[arg(long, env = "ECR_SHIP_KEEP_COMMITS", value_name = "N")]
    pub keep_commits: Option<u32>,
    /// Lifecycle policy: days after which untagged images expire (default 7; 0: no untagged rule).
    #[arg(long, env = "ECR_SHIP_UNTAGGED_DAYS", value_name = "DAYS")]
    pub untagged_days: Option<u32>,
    /// Lifecycle policy: a further tag pattern never to expire, e.g. prod or release-* (`*` wildcards); repeatable.
    #[arg(long = "keep-tag", env = "ECR_SHIP_KEEP_TAGS", value_name = "PATTERN", value_delimiter = ',')]
    pub keep_tags: Vec<String>,
    /// Also write the lifecycle policy alone to this file (for --lifecycle-policy FILE with --create-repository,
    /// or `aws ecr put-lifecycle-policy --lifecycle-policy-text file://FILE`).
    #[arg(long, env = "ECR_SHIP_LIFECYCLE_POLICY_FILE", value_name = "FILE")]
    pub lifecycle_policy_file: Option<PathBuf>,
    // The tag rules the lifecycle policy follows: push's own, with .ecr-ship.yml's `tags:`.
    #[command(flatten)]
    pub tags: TagArgs,
}

/// What clap's "invalid UTF-8 was detected" was about, in one sentence: the first argument whose text is not UTF-8
/// (with the flag it is the value of), or else the first `ECR_SHIP_*` variable of this command line among
/// `not_utf8` (names and shown values, as `ci::process_env` gives them).
/// The program name the binary answers the credential-helper protocol under (docker looks for
/// `docker-credential-<name>` on PATH).
pub const HELPER_PROGRAM: &str = "docker-credential-ecr-ship";

/// The arguments to parse: as given, or, when the binary was called as [`HELPER_PROGRAM`] (a link or a copy),
/// `ecr-ship credential-helper` followed by them.
pub fn effective_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let called_as_helper = args
        .first()
        .and_then(|first| std::path::Path::new(first).file_name())
        .is_some_and(|name| name == HELPER_PROGRAM);
    if !called_as_helper {
        return args;
    }
    let mut out: Vec<std::ffi::OsString> = vec!["ecr-ship".into(), "credential-helper".into()];
    out.extend(args.into_iter().skip(1));
    out
}

pub fn not_utf8(args: &[std::ffi::OsString], not_utf8: &[(String, String)]) -> Option<String> {
    let bad = args.iter().enumerate().skip(1).find(|(_, arg)| arg.to_str().is_none());
    if let Some((at, arg)) = bad {
        let shown = crate::ci::escaped_bytes(arg.as_encoded_bytes());
        let flag = match shown.split_once('=') {
            Some((flag, _)) if flag.starts_with("--") => Some(flag.to_string()),
            _ => args[at - 1].to_str().filter(|before| before.starts_with('-')).map(str::to_string),
        };
        return Some(match flag {
            Some(flag) => format!("the value of {flag} is not UTF-8 ('{shown}'): give it as UTF-8 text"),
            None => format!("command-line argument {at} is not UTF-8 ('{shown}'): give it as UTF-8 text"),
        });
    }
    let mut variables = Vec::new();
    let mut commands = vec![<Cli as clap::CommandFactory>::command()];
    while let Some(command) = commands.pop() {
        variables.extend(command.get_arguments().filter_map(|arg| arg.get_env()?.to_str().map(str::to_string)));
        commands.extend(command.get_subcommands().cloned());
    }
    let (key, shown) = not_utf8.iter().find(|(key, _)| variables.contains(key))?;
    Some(format!(
        "the environment variable {key} is not UTF-8 ('{shown}'): ecr-ship reads it as text; set it to UTF-8 text or \
         unset it"
    ))
}

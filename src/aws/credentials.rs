//! Resolving AWS credentials into a [`Session`]: the SDK default chain, then each role of the chain in order
//! (GitHub OIDC web identity for the first one when the runner offers a token, AssumeRole otherwise), and who the
//! caller is: from an assumed role's answer, a given registry host, or GetCallerIdentity for ECR Public; private ECR
//! needs no answer (its calls default to the caller's own registry, whose token names it).
//!
//! Every hop is resolved eagerly during `connect`, so a wrong role, trust policy or external id fails here with a
//! message about that hop instead of surfacing later as a vague "failed to load credentials" inside a push. Each
//! hop also stays a live credentials provider that re-assumes its role when the session nears expiry, so a push
//! that outlasts a session keeps working.
//!
//! The SDK reads the environment from the map handed to `connect` (through `ConfigLoader::env`), never from the
//! process, which keeps the whole chain, the endpoint overrides (`AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL_STS`)
//! and the profile lookup under the caller's control. Proxies (`HTTPS_PROXY`, `NO_PROXY`) are the exception: the
//! SDK's default HTTPS client reads them from the process, which is the same thing for the CLI.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use super::ecr::EcrApi;
use super::errors::ApiCall;
use super::oidc::{self, GithubOidc};
use super::session::Session;
use super::settings::{AwsSettings, RoleArn};

/// Connect timeout for every AWS endpoint: the SDK default (3.1 s) is tight for a busy CI runner behind a proxy.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Re-assume a role this long before its session expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Instance metadata answers in milliseconds on EC2 and not at all elsewhere: one attempt, short timeouts, so a
/// host without it (a laptop, a container without the endpoint) learns so well under a second, where the SDK's
/// default client tries four times with a second each.
const QUICK_METADATA_CONNECT: Duration = Duration::from_millis(250);
const QUICK_METADATA_READ: Duration = Duration::from_millis(500);
const QUICK_METADATA_TOTAL: Duration = Duration::from_millis(900);

/// An IMDSv2 client bounded as described at [`QUICK_METADATA_CONNECT`], over `http`. It reads its endpoint
/// (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`) from the process environment.
fn quick_metadata_client(http: &SharedHttpClient) -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .configure(&sdk_provider_config(http))
        .connect_timeout(QUICK_METADATA_CONNECT)
        .read_timeout(QUICK_METADATA_READ)
        .operation_attempt_timeout(QUICK_METADATA_TOTAL)
        .operation_timeout(QUICK_METADATA_TOTAL)
        .max_attempts(1)
        .build()
}

/// The configuration the SDK's own credential and region providers start from, with ecr-ship's HTTP client
/// (`tls::sdk_http_client`): the SDK is built without a default client of its own.
fn sdk_provider_config(http: &SharedHttpClient) -> aws_config::provider_config::ProviderConfig {
    aws_config::provider_config::ProviderConfig::default().with_http_client(http.clone())
}

/// True when the environment switches instance metadata off, as the SDK reads `AWS_EC2_METADATA_DISABLED`.
fn metadata_disabled(env: &BTreeMap<String, String>) -> bool {
    env.get("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The instance's region from EC2 instance metadata (IMDSv2, `placement/region`), within the bound of
/// [`quick_metadata_client`]; `None` off EC2 or when the environment disables instance metadata. The AWS CLI and
/// the SDKs ask it too when no region is configured.
pub async fn instance_region(env: &BTreeMap<String, String>) -> Option<String> {
    if metadata_disabled(env) {
        return None;
    }
    let provider = aws_config::imds::region::ImdsRegionProvider::builder()
        .imds_client(quick_metadata_client(&crate::tls::sdk_http_client()))
        .build();
    provider.region().await.map(|region| region.as_ref().to_string())
}

impl AwsSettings {
    /// Resolves credentials and the caller's account where it is needed (see `identity`). `env` is the
    /// environment to use (the CLI passes the process environment).
    pub async fn connect(&self, env: &BTreeMap<String, String>) -> anyhow::Result<Session> {
        let base = self.load_sdk_config(env).await;
        let base_chain = base
            .credentials_provider()
            .ok_or_else(|| anyhow::anyhow!("the AWS SDK configuration has no credentials chain"))?;
        let base_hop = Hop::new(HopKind::Chain(base_chain));
        let github_actions = crate::ci::in_github_actions(env);
        let sts_endpoint = endpoint_of(env, "STS", "sts", &self.region);
        // Only a role can be assumed with the OIDC token; without one, don't even build its HTTP client.
        let oidc = if self.roles.is_empty() {
            None
        } else {
            GithubOidc::from_env(env, self.partition.sts_audience(), self.timeout)?
        };

        let mut current = match (self.roles.first(), oidc) {
            (Some(role), Some(oidc)) => {
                let hop = Hop::new(HopKind::WebIdentity {
                    sts: sts_client(&base, None),
                    endpoint: sts_endpoint.clone(),
                    role: role.clone(),
                    session_name: self.session_name.clone(),
                    duration: self.role_duration,
                    oidc,
                });
                hop.credentials().await?;
                hop
            }
            (first_role, _) => {
                if let Err(error) = base_hop.credentials().await {
                    return Err(no_base_credentials(error, first_role, github_actions, env));
                }
                match first_role {
                    Some(role) => self.assume(&base, base_hop, role, &sts_endpoint).await?,
                    None => base_hop,
                }
            }
        };
        for role in self.roles.iter().skip(1) {
            current = self.assume(&base, current, role, &sts_endpoint).await?;
        }

        let assumed_arn = current.assumed_arn();
        let credentials = SharedCredentialsProvider::new(current);
        let sdk_config = base.to_builder().credentials_provider(credentials).build();
        let identity = self.identity(&sdk_config, assumed_arn, &sts_endpoint).await?;
        let registry_id =
            self.registry.as_ref().map(|r| r.account.clone()).filter(|id| Some(id) != identity.account.as_ref());
        let api = EcrApi {
            client: aws_sdk_ecr::Client::new(&sdk_config),
            region: self.region.clone(),
            partition: self.partition,
            caller_arn: identity.arn.clone(),
            account: identity.account.clone(),
            registry_id,
            endpoint: endpoint_of(env, "ECR", "api.ecr", &self.region),
        };
        let public = match &self.public {
            Some(public) => {
                let config = aws_sdk_ecrpublic::config::Builder::from(&sdk_config)
                    .region(Region::new(crate::host::PUBLIC_API_REGION))
                    .build();
                let account = match identity.account.clone() {
                    Some(account) => Some(account),
                    None if self.token_only => None,
                    None => anyhow::bail!("the caller's account, which ECR Public needs, is unknown"),
                };
                Some(super::public::PublicApi {
                    client: aws_sdk_ecrpublic::Client::from_conf(config),
                    caller_arn: identity.arn.clone(),
                    account,
                    alias: public.alias.clone(),
                    endpoint: endpoint_of(env, "ECR_PUBLIC", "api.ecr-public", crate::host::PUBLIC_API_REGION),
                    resolved_alias: tokio::sync::OnceCell::new(),
                })
            }
            None => None,
        };
        Ok(Session::new(sdk_config, api, public))
    }

    /// The SDK configuration for the plan's region, with explicit retries and timeouts. The SDK reads the process
    /// environment, which is the map the binary passes in; in-process tests, which run several stand-ins at once,
    /// hand it their own map instead (the `test-env` feature, which only the tests enable).
    async fn load_sdk_config(&self, env: &BTreeMap<String, String>) -> SdkConfig {
        // Standard mode retries throttling and transient network errors with exponential backoff and jitter; the
        // explicit config beats AWS_RETRY_MODE, which is why AWS_MAX_ATTEMPTS is read in `validate`.
        let retry = RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(Duration::from_millis(500))
            .with_max_backoff(Duration::from_secs(10));
        // The SDK sets no operation timeout by default, so a silent endpoint would hang the job until CI kills it.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_timeout(self.timeout)
            .operation_attempt_timeout((self.timeout / 2).max(Duration::from_secs(1)))
            .build();
        // One client, so one connection pool, for the service calls and the credential providers alike.
        let http = crate::tls::sdk_http_client();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http.clone());
        if self.quick_instance_metadata {
            // The default chain, but with the bounded metadata client. It reads the process environment (the
            // binary's, which is the map handed in), so this path is for the binary only, never in-process tests.
            let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                .configure(sdk_provider_config(&http))
                .region(Region::new(self.region.clone()))
                .imds_client(quick_metadata_client(&http))
                .build()
                .await;
            loader = loader.credentials_provider(chain);
        }
        #[cfg(feature = "test-env")]
        let loader = {
            let env: std::collections::HashMap<String, String> =
                env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            loader.env(aws_types::os_shim_internal::Env::from(env))
        };
        #[cfg(not(feature = "test-env"))]
        let _ = env;
        loader.region(Region::new(self.region.clone())).retry_config(retry).timeout_config(timeouts).load().await
    }

    /// Who the final credentials belong to, asking GetCallerIdentity only when an answer is needed and nothing else
    /// gives it: an assumed role's answer already names the session (and its account), a given private registry
    /// host names the account every call goes to, and without one the private ECR calls need no account at all
    /// (a call without registryId is on the caller's own registry, and GetAuthorizationToken's answer names its
    /// host), so the call would only cost a connection and a round trip before the first useful one. ECR Public
    /// always needs the caller's account (its registry is the caller's), so there the call is made unless a role was
    /// assumed or the session is token-only.
    async fn identity(
        &self,
        sdk_config: &SdkConfig,
        assumed_arn: Option<String>,
        sts_endpoint: &str,
    ) -> anyhow::Result<Identity> {
        if let Some(arn) = assumed_arn
            && let Some(account) = account_of_arn(&arn)
        {
            crate::log::info(format!("authenticated as {arn}"));
            return Ok(Identity { account: Some(account), arn: Some(arn) });
        }
        if self.public.is_none()
            && let Some(registry) = &self.registry
        {
            crate::log::info(format!(
                "using the credentials of the default chain for registry account {} (named by --registry, so no \
                 GetCallerIdentity call)",
                registry.account
            ));
            return Ok(Identity { account: Some(registry.account.clone()), arn: None });
        }
        // A token-only session's one call needs no account either: ECR Public's GetAuthorizationToken names none.
        if self.public.is_none() || self.token_only {
            return Ok(Identity { account: None, arn: None });
        }
        let identity = sts_client(sdk_config, sdk_config.credentials_provider());
        let call = ApiCall {
            operation: "GetCallerIdentity",
            action: "sts:GetCallerIdentity",
            subject: format!("in {}", self.region),
            resource: "*".into(),
            principal: None,
            hint: "GetCallerIdentity needs no permission, so the credentials themselves are the problem".into(),
            endpoint: sts_endpoint.to_string(),
        };
        let who = identity.get_caller_identity().send().await.map_err(|e| call.error(e))?;
        let (Some(caller_arn), Some(account)) = (who.arn(), who.account()) else {
            anyhow::bail!("{}: the response lacks the caller ARN or account", call.describe());
        };
        crate::log::info(format!("authenticated as {caller_arn}"));
        Ok(Identity { account: Some(account.to_string()), arn: Some(caller_arn.to_string()) })
    }

    /// Assumes `role` with the credentials of `previous`, eagerly, and returns the new hop.
    async fn assume(&self, base: &SdkConfig, previous: Hop, role: &RoleArn, endpoint: &str) -> anyhow::Result<Hop> {
        let hop = Hop::new(HopKind::AssumeRole {
            sts: sts_client(base, Some(SharedCredentialsProvider::new(previous))),
            endpoint: endpoint.to_string(),
            role: role.clone(),
            session_name: self.session_name.clone(),
            external_id: self.external_id.clone(),
            duration: self.role_duration,
        });
        hop.credentials().await?;
        Ok(hop)
    }
}

/// Who calls: the account always, the principal's ARN when an answer named it.
struct Identity {
    /// `None` when no answer named it yet: private ECR calls then go to the caller's own registry.
    account: Option<String>,
    arn: Option<String>,
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`), when it has a 12-digit one.
fn account_of_arn(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
}

/// The error when the default chain found nothing. On GitHub Actions with a role but no OIDC variables, the
/// missing `id-token: write` permission is by far the likeliest cause, so say that first.
fn no_base_credentials(
    error: anyhow::Error,
    role: Option<&RoleArn>,
    github_actions: bool,
    env: &BTreeMap<String, String>,
) -> anyhow::Error {
    if github_actions && let Some(role) = role {
        let has = |key: &str| env.get(key).is_some_and(|v| !v.trim().is_empty());
        let missing: Vec<&str> = [oidc::URL_VAR, oidc::TOKEN_VAR].into_iter().filter(|k| !has(k)).collect();
        return error.context(format!(
            "cannot assume role {}: GitHub Actions did not provide an OIDC token ({} not set) and no other AWS \
             credentials were found. Add `permissions: id-token: write` to the workflow or job (fork pull requests \
             never get one), or provide AWS credentials another way",
            role.arn,
            missing.join(" and ")
        ));
    }
    let mut message = String::from(
        "no AWS credentials found (looked at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared profile, \
         AWS_WEB_IDENTITY_TOKEN_FILE, container credentials and EC2 instance metadata)",
    );
    if github_actions {
        message.push_str(&format!(
            "; on GitHub Actions {} and grant `permissions: id-token: write`",
            crate::advice::pass("role-arn", Some("ARN"))
        ));
    }
    error.context(message)
}

/// Where a service's calls go, for messages: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else the
/// regional default (the order the SDK follows).
fn endpoint_of(env: &BTreeMap<String, String>, service_key: &str, service_host: &str, region: &str) -> String {
    let configured = [format!("AWS_ENDPOINT_URL_{service_key}"), "AWS_ENDPOINT_URL".to_string()]
        .into_iter()
        .find_map(|key| env.get(&key).filter(|v| !v.trim().is_empty()).cloned());
    super::errors::endpoint(configured.as_deref(), service_host, region)
}

/// An STS client on the base configuration (region, endpoint overrides, retries, timeouts) with the given
/// credentials; `None` for the unsigned AssumeRoleWithWebIdentity.
fn sts_client(base: &SdkConfig, credentials: Option<SharedCredentialsProvider>) -> aws_sdk_sts::Client {
    let mut config = aws_sdk_sts::config::Builder::from(base);
    config.set_credentials_provider(credentials);
    aws_sdk_sts::Client::from_conf(config.build())
}

/// One link of the credential chain, with its own small cache so eager resolution in `connect` and later use by
/// the SDK's identity cache share one STS call.
struct Hop {
    kind: HopKind,
    cached: tokio::sync::Mutex<Option<Credentials>>,
    /// The session ARN of the last AssumeRole answer (`AssumedRoleUser.Arn`): the caller, without asking again.
    assumed_arn: std::sync::Mutex<Option<String>>,
}

enum HopKind {
    /// The SDK default chain (environment, profile, web identity file, container, IMDSv2).
    Chain(SharedCredentialsProvider),
    AssumeRole {
        sts: aws_sdk_sts::Client,
        endpoint: String,
        role: RoleArn,
        session_name: String,
        external_id: Option<String>,
        duration: Duration,
    },
    WebIdentity {
        sts: aws_sdk_sts::Client,
        endpoint: String,
        role: RoleArn,
        session_name: String,
        duration: Duration,
        oidc: GithubOidc,
    },
}

impl fmt::Debug for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            HopKind::Chain(_) => f.write_str("Hop(default chain)"),
            HopKind::AssumeRole { role, .. } => write!(f, "Hop(AssumeRole {})", role.arn),
            HopKind::WebIdentity { role, .. } => write!(f, "Hop(AssumeRoleWithWebIdentity {})", role.arn),
        }
    }
}

impl Hop {
    fn new(kind: HopKind) -> Hop {
        Hop { kind, cached: tokio::sync::Mutex::new(None), assumed_arn: std::sync::Mutex::new(None) }
    }

    fn assumed_arn(&self) -> Option<String> {
        self.assumed_arn.lock().ok().and_then(|arn| arn.clone())
    }

    fn remember_assumed(&self, user: Option<&aws_sdk_sts::types::AssumedRoleUser>) {
        if let (Some(user), Ok(mut arn)) = (user, self.assumed_arn.lock()) {
            *arn = Some(user.arn().to_string());
        }
    }

    async fn credentials(&self) -> anyhow::Result<Credentials> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref()
            && credentials.expiry().is_none_or(|expiry| expiry > SystemTime::now() + REFRESH_MARGIN)
        {
            return Ok(credentials.clone());
        }
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    async fn fetch(&self) -> anyhow::Result<Credentials> {
        match &self.kind {
            HopKind::Chain(chain) => chain.provide_credentials().await.map_err(|e| {
                // The chain's own report names each provider and why it had nothing; say it shorter.
                let words = super::errors::chain_in_words(&e);
                anyhow::anyhow!(
                    "{}",
                    words
                        .replace("the credential provider was not enabled: ", "skipped, ")
                        .replace("the credential provider was not enabled", "skipped")
                )
            }),
            HopKind::AssumeRole { sts, endpoint, role, session_name, external_id, duration } => {
                let call = ApiCall {
                    operation: "AssumeRole",
                    action: "sts:AssumeRole",
                    subject: format!("of {} (session '{session_name}')", role.arn),
                    resource: role.arn.clone(),
                    principal: None,
                    endpoint: endpoint.clone(),
                    hint: format!(
                        "The trust policy of {} must allow this principal to call sts:AssumeRole{}",
                        role.arn,
                        if external_id.is_some() { " with this external id" } else { "" }
                    ),
                };
                let output = sts
                    .assume_role()
                    .role_arn(&role.arn)
                    .role_session_name(session_name)
                    .set_external_id(external_id.clone())
                    .duration_seconds(duration_secs(*duration))
                    .send()
                    .await
                    .map_err(|e| call.error(e))?;
                self.remember_assumed(output.assumed_role_user());
                session_credentials(output.credentials(), &call, "ecr-ship-assume-role")
            }
            HopKind::WebIdentity { sts, endpoint, role, session_name, duration, oidc } => {
                let call = ApiCall {
                    operation: "AssumeRoleWithWebIdentity",
                    action: "sts:AssumeRoleWithWebIdentity",
                    subject: format!("of {} (session '{session_name}')", role.arn),
                    resource: role.arn.clone(),
                    principal: None,
                    endpoint: endpoint.clone(),
                    hint: format!(
                        "The trust policy of {} must trust the IAM OIDC provider token.actions.githubusercontent.com \
                         for audience '{}' and this workflow's `sub` claim; `ecr-ship policy` prints a matching trust \
                         policy",
                        role.arn,
                        oidc.audience()
                    ),
                };
                // Fetched right before the call: the JWT lives about five minutes.
                let jwt = oidc.token().await.map_err(|e| e.context(call.describe()))?;
                let output = sts
                    .assume_role_with_web_identity()
                    .role_arn(&role.arn)
                    .role_session_name(session_name)
                    .web_identity_token(jwt.expose())
                    .duration_seconds(duration_secs(*duration))
                    .send()
                    .await
                    .map_err(|e| call.error(e))?;
                self.remember_assumed(output.assumed_role_user());
                session_credentials(output.credentials(), &call, "ecr-ship-web-identity")
            }
        }
    }
}

impl ProvideCredentials for Hop {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(
            async move { self.credentials().await.map_err(CredentialsError::provider_error) },
        )
    }
}

/// `validate` keeps durations within 900..=43200 s, so this never saturates in practice.
fn duration_secs(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

fn session_credentials(
    credentials: Option<&aws_sdk_sts::types::Credentials>,
    call: &ApiCall,
    provider_name: &'static str,
) -> anyhow::Result<Credentials> {
    let Some(c) = credentials else {
        anyhow::bail!("{}: the response carries no credentials", call.describe());
    };
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        provider_name,
    ))
}

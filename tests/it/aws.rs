//! The AWS layer against a real moto server: role assumption (external id, GitHub OIDC, chaining), the ECR login
//! token, repository creation with settings read back by boto3, and the denial messages under enforced IAM.
//!
//! Each test starts its own moto and passes its own environment map, so they run in parallel without sharing
//! state or touching the process environment.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use ecr_ship::aws::{
    AccessDenied, AwsOptions, AwsSettings, CredentialsRejected, RepositoryOptions, RepositorySettings, Session,
};
use ecr_ship::error::exit_code;
use serde_json::Value;

use crate::support::moto::{ACCOUNT, Moto, PASSWORD, REGION};
use crate::support::oidc::{self, OidcServer};

const ROLE: &str = "arn:aws:iam::123456789012:role/ci-push";

fn env_of(moto: &Moto) -> BTreeMap<String, String> {
    moto.env().into_iter().collect()
}

fn options(roles: &[&str]) -> AwsOptions {
    AwsOptions { role_arns: roles.iter().map(|r| r.to_string()).collect(), ..AwsOptions::default() }
}

async fn connect(options: AwsOptions, env: &BTreeMap<String, String>) -> anyhow::Result<Session> {
    AwsSettings::validate(options, env)?.connect(env).await
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn assume_role_with_external_id() {
    let moto = Moto::start();
    let env = env_of(&moto);
    let opts = AwsOptions { external_id: Some("ext-42".into()), session_name: Some("s1".into()), ..options(&[ROLE]) };
    let session = connect(opts, &env).await.expect("connect");
    assert_eq!(session.caller_arn(), Some("arn:aws:sts::123456789012:assumed-role/ci-push/s1"));
    assert_eq!(session.account(), Some(ACCOUNT));
    // The ECR client signs with the assumed credentials too.
    assert_eq!(session.authorization_token().await.expect("token").password.expose(), PASSWORD);
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn github_oidc_web_identity() {
    let moto = Moto::start();
    let server = OidcServer::start("sts.amazonaws.com");
    let mut env = env_of(&moto);
    // No static keys: the web identity hop must not need any base credentials.
    env.remove("AWS_ACCESS_KEY_ID");
    env.remove("AWS_SECRET_ACCESS_KEY");
    env.extend(server.env());
    env.insert("GITHUB_RUN_ID".into(), "4242".into());
    let session = connect(options(&["arn:aws:iam::123456789012:role/gha-push"]), &env).await.expect("connect");
    assert_eq!(session.caller_arn(), Some("arn:aws:sts::123456789012:assumed-role/gha-push/ecr-ship-4242"));
    assert_eq!(server.requests(), 1, "the token endpoint is asked exactly once");
    assert_eq!(server.audiences(), vec!["sts.amazonaws.com".to_string()]);
    assert_eq!(session.authorization_token().await.expect("token").username, "AWS");
    assert_eq!(server.requests(), 1, "ECR calls reuse the assumed credentials");
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn github_oidc_token_request_is_retried() {
    let moto = Moto::start();
    let server = OidcServer::start_flaky("sts.amazonaws.com", 2);
    let mut env = env_of(&moto);
    env.extend(server.env());
    let session = connect(options(&[ROLE]), &env).await.expect("connect after two 503s");
    assert!(session.caller_arn().unwrap_or_default().contains("assumed-role/ci-push/"), "{:?}", session.caller_arn());
    assert_eq!(server.requests(), 3);
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn github_oidc_audience_follows_the_partition() {
    let moto = Moto::start();
    let server = OidcServer::start("sts.amazonaws.com.cn");
    let mut env = env_of(&moto);
    env.extend(server.env());
    env.insert("AWS_REGION".into(), "cn-north-1".into());
    let session = connect(options(&["arn:aws-cn:iam::123456789012:role/gha-push"]), &env).await.expect("connect");
    // The caller is the assumed session of AssumeRoleWithWebIdentity's answer (moto spells its ARN in the aws
    // partition whatever the region; real STS says aws-cn); the audience is what this test is about.
    let caller = session.caller_arn().unwrap_or_default();
    assert!(caller.contains(":sts::123456789012:assumed-role/gha-push/"), "{caller}");
    assert_eq!(server.audiences(), vec!["sts.amazonaws.com.cn".to_string()]);
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn github_oidc_refused_request_token_is_not_echoed() {
    let moto = Moto::start();
    let server = OidcServer::start("sts.amazonaws.com");
    let mut env = env_of(&moto);
    env.extend(server.env());
    env.insert("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), "wrong-request-token-value".into());
    let error = connect(options(&[ROLE]), &env).await.expect_err("refused");
    let message = format!("{error:#}");
    assert!(message.contains("HTTP 401") && message.contains("AssumeRoleWithWebIdentity"), "{message}");
    assert!(!message.contains("wrong-request-token-value"), "{message}");
    assert_eq!(server.requests(), 1, "a 401 is final, not retried");
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn role_chaining_of_two_roles() {
    let moto = Moto::start();
    let env = env_of(&moto);
    let opts = AwsOptions {
        session_name: Some("chain".into()),
        role_duration: Some(Duration::from_secs(900)),
        ..options(&[ROLE, "arn:aws:iam::123456789012:role/team/deployer"])
    };
    let session = connect(opts, &env).await.expect("connect");
    assert_eq!(session.caller_arn(), Some("arn:aws:sts::123456789012:assumed-role/deployer/chain"));
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn role_chaining_signs_each_hop_with_the_previous_one() {
    let moto = Moto::start();
    // The user may assume only `first`, and only `first` may assume `second`: under enforced auth the chain works
    // only if the second AssumeRole is signed with the first role's credentials.
    let (key_id, secret) = moto.chain_identities();
    let mut env = env_of(&moto);
    env.insert("AWS_ACCESS_KEY_ID".into(), key_id);
    env.insert("AWS_SECRET_ACCESS_KEY".into(), secret);
    moto.post("/moto-api/reset-auth", "0");

    let first = "arn:aws:iam::123456789012:role/first";
    let second = "arn:aws:iam::123456789012:role/second";
    let opts = AwsOptions { session_name: Some("hop".into()), ..options(&[first, second]) };
    let session = connect(opts, &env).await.expect("chained connect under enforced auth");
    assert_eq!(session.caller_arn(), Some("arn:aws:sts::123456789012:assumed-role/second/hop"));
    assert_eq!(session.authorization_token().await.expect("second may log in").password.expose(), PASSWORD);

    // Skipping the first hop is refused, and the message names sts:AssumeRole on the role.
    let error = connect(options(&[second]), &env).await.expect_err("user may not assume second directly");
    let message = format!("{error:#}");
    let denied = error.downcast_ref::<AccessDenied>().expect("AccessDenied in the chain");
    assert_eq!(
        (denied.action.as_str(), denied.resource.as_str(), denied.status),
        ("sts:AssumeRole", second, Some(403))
    );
    assert!(message.starts_with(&format!("AssumeRole of {second}")), "{message}");
    assert!(message.contains("trust policy"), "{message}");

    moto.post("/moto-api/reset-auth", "inf");
}

#[tokio::test]
async fn missing_id_token_permission_is_explained() {
    // No moto: with no credentials anywhere the chain fails before any AWS call.
    let mut env: BTreeMap<String, String> = [
        ("GITHUB_ACTIONS", "true"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("GITHUB_RUN_ID", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let error = connect(options(&[ROLE]), &env).await.expect_err("no credentials");
    let message = format!("{error:#}");
    assert!(message.contains("permissions: id-token: write"), "{message}");
    assert!(message.contains(ROLE) && message.contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), "{message}");
    assert_eq!(exit_code(&error), 1);

    env.insert("ACTIONS_ID_TOKEN_REQUEST_URL".into(), "http://127.0.0.1:9/x?a=1".into());
    let message = format!("{:#}", connect(options(&[ROLE]), &env).await.expect_err("no token"));
    assert!(message.contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN not set"), "{message}");
    assert!(!message.contains("ACTIONS_ID_TOKEN_REQUEST_URL and"), "{message}");
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn authorization_token_is_decoded_and_old_expiry_accepted() {
    let moto = Moto::start();
    let session = connect(options(&[]), &env_of(&moto)).await.expect("connect");
    let token = session.authorization_token().await.expect("token");
    assert_eq!(token.username, "AWS");
    assert_eq!(token.password.expose(), PASSWORD);
    assert_eq!(token.proxy_endpoint, "https://123456789012.dkr.ecr.us-east-1.amazonaws.com");
    // moto stamps 2015-01-01: reported, never enforced.
    let expires = token.expires_at.expect("expiry");
    assert_eq!(expires, SystemTime::UNIX_EPOCH + Duration::from_secs(1_420_070_400));
    assert!(!format!("{token:?}").contains(PASSWORD));
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn a_given_registry_names_the_account_so_sts_is_never_called() {
    let moto = Moto::start();
    let mut env = env_of(&moto);
    // Nothing listens on the STS endpoint: any STS call fails the connect.
    let refused = format!("http://127.0.0.1:{}", crate::support::free_port());
    env.insert("AWS_ENDPOINT_URL_STS".into(), refused.clone());
    env.insert("AWS_MAX_ATTEMPTS".into(), "1".into());
    let registry = ecr_ship::aws::RegistryHost::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap();
    let with_registry = AwsOptions { registry: Some(registry), ..options(&[]) };
    let session = connect(with_registry, &env).await.expect("no STS call with a registry given");
    assert_eq!(session.caller_arn(), None, "the caller was never asked");
    assert_eq!(session.registry_account(), Some(ACCOUNT));
    assert_eq!(session.authorization_token().await.expect("token").password.expose(), PASSWORD);

    // Without the registry every private call goes to the caller's own registry, whose token names it: still no
    // STS call, and the account is learned from ECR's answer.
    let session = connect(options(&[]), &env).await.expect("no STS call without a registry either");
    assert_eq!((session.caller_arn(), session.registry_account()), (None, None), "nobody was asked");
    let token = session.authorization_token().await.expect("token");
    assert_eq!(token.proxy_endpoint, format!("https://{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"));
    assert!(session.describe_repository("absent").await.expect("describe without a registry id").is_none());

    // ECR Public's registry is the caller's, so there GetCallerIdentity is asked (and here cannot be).
    let public = AwsOptions { public: Some(ecr_ship::aws::PublicRegistry { alias: None }), ..options(&[]) };
    let message = format!("{:#}", connect(public, &env).await.expect_err("STS is needed"));
    assert!(message.contains("GetCallerIdentity") && message.contains(&refused), "{message}");
}

/// A TCP forwarder to moto that counts the ECR operations crossing it, by their `X-Amz-Target` header. Its
/// listener thread stops when the handle drops; connection threads end when the client closes them.
struct CountingProxy {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingProxy {
    fn start(upstream: u16) -> CountingProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen_in, stop_in) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop_in.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).expect("blocking");
                let server = std::net::TcpStream::connect(("127.0.0.1", upstream)).expect("connect moto");
                let (mut client_read, mut server_write) =
                    (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                let (mut server_read, mut client_write) = (server, client);
                let seen = seen_in.clone();
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 16384];
                    while let Ok(n) = client_read.read(&mut buffer) {
                        if n == 0 || server_write.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        seen.lock().expect("lock").extend_from_slice(&buffer[..n]);
                    }
                    let _ = server_write.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_read, &mut client_write);
                    let _ = client_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        CountingProxy { port, seen, stop, thread: Some(thread) }
    }

    /// How many requests for this ECR operation crossed the proxy.
    fn count(&self, operation: &str) -> usize {
        let text = String::from_utf8_lossy(&self.seen.lock().expect("lock")).to_ascii_lowercase();
        text.matches(&format!("amazonec2containerregistry_v20150921.{}", operation.to_ascii_lowercase())).count()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The token is fetched once per session, counted on the wire; a fresh one is another call.
#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn authorization_token_is_fetched_once_per_session() {
    let moto = Moto::start();
    let proxy = CountingProxy::start(moto.port);
    let mut env = env_of(&moto);
    env.insert("AWS_ENDPOINT_URL_ECR".into(), format!("http://127.0.0.1:{}", proxy.port));
    let session = connect(options(&[]), &env).await.expect("connect");
    let (first, second) = tokio::join!(session.authorization_token(), session.authorization_token());
    let (first, second) = (first.expect("token"), second.expect("token"));
    let third = session.authorization_token().await.expect("cached token");
    assert_eq!(proxy.count("GetAuthorizationToken"), 1, "three uses, one call");
    assert_eq!(
        (first.password.expose(), second.password.expose(), third.password.expose()),
        (PASSWORD, PASSWORD, PASSWORD)
    );
    session.fresh_authorization_token().await.expect("fresh token");
    assert_eq!(proxy.count("GetAuthorizationToken"), 2, "a fresh token is a second call");
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn create_with_settings_reads_back() {
    let moto = Moto::start();
    let dir = crate::support::scratch_dir("aws-create");
    let lifecycle = dir.path().join("lifecycle.json");
    let lifecycle_text = r#"{"rules":[{"rulePriority":1,"description":"keep 10","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}"#;
    std::fs::write(&lifecycle, lifecycle_text).unwrap();
    let repo_policy = dir.path().join("policy.json");
    let repo_policy_text = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["ecr:BatchGetImage"]}]}"#;
    std::fs::write(&repo_policy, repo_policy_text).unwrap();
    let settings = RepositorySettings::validate(RepositoryOptions {
        immutable_tags: true,
        mutability_exclusions: vec!["latest".into(), "main-*".into()],
        scan_on_push: Some(true),
        kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-000000000000".into()),
        lifecycle_policy_file: Some(lifecycle),
        repository_policy_file: Some(repo_policy),
        tags: vec!["team=platform".into(), "env=ci".into()],
        ..RepositoryOptions::default()
    })
    .expect("settings");

    let session = connect(options(&[]), &env_of(&moto)).await.expect("connect");
    assert!(session.describe_repository("team/app").await.expect("describe").is_none());
    let info = session.ensure_repository("team/app", &settings, true, false).await.expect("create");
    assert!(info.created && !info.updated);
    assert_eq!(info.uri, "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app");
    assert_eq!(info.tag_mutability, "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(info.exclusion_filters, vec!["latest", "main-*"]);
    assert!(info.scan_on_push);
    assert_eq!(info.encryption, "KMS");

    let read_back = json(&moto.python(
        r#"
ecr = client("ecr")
repo = ecr.describe_repositories(repositoryNames=["team/app"])["repositories"][0]
print(json.dumps({
    "mutability": repo["imageTagMutability"],
    "filters": repo.get("imageTagMutabilityExclusionFilters", []),
    "scan": repo["imageScanningConfiguration"]["scanOnPush"],
    "encryption": repo["encryptionConfiguration"],
    "lifecycle": ecr.get_lifecycle_policy(repositoryName="team/app")["lifecyclePolicyText"],
    "policy": ecr.get_repository_policy(repositoryName="team/app")["policyText"],
    "tags": ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"],
}))
"#,
    ));
    assert_eq!(read_back["mutability"], "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(
        read_back["filters"],
        serde_json::json!([{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "main-*"}])
    );
    assert_eq!(read_back["scan"], true);
    assert_eq!(read_back["encryption"]["encryptionType"], "KMS");
    assert!(
        read_back["encryption"]["kmsKey"]
            .as_str()
            .unwrap_or_default()
            .ends_with("0f1e2d3c-aaaa-bbbb-cccc-000000000000")
    );
    assert_eq!(json(read_back["lifecycle"].as_str().unwrap()), json(lifecycle_text));
    assert_eq!(json(read_back["policy"].as_str().unwrap()), json(repo_policy_text));
    let mut tags: Vec<(String, String)> = read_back["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["Key"].as_str().unwrap().to_string(), t["Value"].as_str().unwrap().to_string()))
        .collect();
    tags.sort();
    assert_eq!(tags, vec![("env".into(), "ci".into()), ("team".into(), "platform".into())]);

    // A second run finds it and changes nothing.
    let again = session.ensure_repository("team/app", &settings, true, false).await.expect("existing");
    assert!(!again.created && !again.updated);
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn existing_repository_left_alone_unless_update_existing() {
    let moto = Moto::start();
    moto.python(r#"client("ecr").create_repository(repositoryName="team/app")"#);
    let dir = crate::support::scratch_dir("aws-update");
    let lifecycle = dir.path().join("lifecycle.json");
    std::fs::write(
        &lifecycle,
        r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#,
    )
    .unwrap();
    let settings = RepositorySettings::validate(RepositoryOptions {
        tag_mutability: Some("IMMUTABLE".into()),
        scan_on_push: Some(true),
        lifecycle_policy_file: Some(lifecycle),
        tags: vec!["owner=ci".into()],
        ..RepositoryOptions::default()
    })
    .expect("settings");
    let read = r#"
ecr = client("ecr")
repo = ecr.describe_repositories(repositoryNames=["team/app"])["repositories"][0]
try:
    lifecycle = ecr.get_lifecycle_policy(repositoryName="team/app")["lifecyclePolicyText"]
except ecr.exceptions.LifecyclePolicyNotFoundException:
    lifecycle = None
print(json.dumps({"mutability": repo["imageTagMutability"], "scan": repo["imageScanningConfiguration"]["scanOnPush"],
    "lifecycle": lifecycle, "tags": ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]}))
"#;

    let session = connect(options(&[]), &env_of(&moto)).await.expect("connect");
    let left = session.ensure_repository("team/app", &settings, true, false).await.expect("left alone");
    assert!(!left.created && !left.updated);
    assert_eq!(left.tag_mutability, "MUTABLE");
    let before = json(&moto.python(read));
    assert_eq!(before["mutability"], "MUTABLE");
    assert_eq!(before["scan"], false);
    assert_eq!(before["lifecycle"], Value::Null);
    assert_eq!(before["tags"], serde_json::json!([]));

    let updated = session.ensure_repository("team/app", &settings, false, true).await.expect("updated");
    assert!(updated.updated && !updated.created);
    assert_eq!(updated.tag_mutability, "IMMUTABLE");
    assert!(updated.scan_on_push);
    let after = json(&moto.python(read));
    assert_eq!(after["mutability"], "IMMUTABLE");
    assert_eq!(after["scan"], true);
    assert!(after["lifecycle"].as_str().is_some_and(|t| t.contains("untagged")));
    assert_eq!(after["tags"], serde_json::json!([{"Key": "owner", "Value": "ci"}]));
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn missing_repository_without_create_says_how() {
    let moto = Moto::start();
    let session = connect(options(&[]), &env_of(&moto)).await.expect("connect");
    let error = session
        .ensure_repository("team/absent", &RepositorySettings::default(), false, false)
        .await
        .expect_err("missing");
    let message = format!("{error:#}");
    assert!(message.contains("'team/absent' does not exist") && message.contains("--create-repository"), "{message}");
    let bad = session.describe_repository("Team/App").await.expect_err("bad name");
    assert_eq!(exit_code(&bad), 2);
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn access_denied_names_the_iam_action_and_resource() {
    let moto = Moto::start();
    // While auth is off: a user allowed to assume ci-push, and ci-push allowed only to log in and describe.
    let keys = json(&moto.python(
        r#"
iam = client("iam")
pol = lambda acts: json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": acts, "Resource": "*"}]})
iam.create_user(UserName="pusher")
iam.put_user_policy(UserName="pusher", PolicyName="p", PolicyDocument=pol(["sts:AssumeRole", "sts:GetCallerIdentity"]))
key = iam.create_access_key(UserName="pusher")["AccessKey"]
iam.create_role(RoleName="ci-push", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
iam.put_role_policy(RoleName="ci-push", PolicyName="ro",
    PolicyDocument=pol(["ecr:GetAuthorizationToken", "ecr:DescribeRepositories"]))
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#,
    ));
    let (key_id, secret) = (keys["id"].as_str().unwrap().to_string(), keys["secret"].as_str().unwrap().to_string());
    let mut env = env_of(&moto);
    env.insert("AWS_ACCESS_KEY_ID".into(), key_id.clone());
    env.insert("AWS_SECRET_ACCESS_KEY".into(), secret.clone());
    moto.post("/moto-api/reset-auth", "0");

    let opts = AwsOptions { session_name: Some("s1".into()), ..options(&[ROLE]) };
    let session = connect(opts, &env).await.expect("connect under enforced auth");
    assert_eq!(session.caller_arn(), Some("arn:aws:sts::123456789012:assumed-role/ci-push/s1"));
    assert_eq!(session.authorization_token().await.expect("allowed").password.expose(), PASSWORD);

    let error = session
        .ensure_repository("team/app", &RepositorySettings::default(), true, false)
        .await
        .expect_err("CreateRepository is not allowed");
    let message = format!("{error:#}");
    let denied = error.downcast_ref::<AccessDenied>().expect("an AccessDenied in the chain");
    assert_eq!(denied.status, Some(403), "moto answers denials with HTTP 403 and an XML body");
    assert_eq!(denied.action, "ecr:CreateRepository");
    assert!(message.contains("CreateRepository for 'team/app' in us-east-1"), "{message}");
    assert!(message.contains("ecr:CreateRepository"), "{message}");
    assert!(message.contains("arn:aws:ecr:us-east-1:123456789012:repository/team/app"), "{message}");
    assert!(message.contains("ecr-ship policy --repository team/app"), "{message}");
    assert!(message.contains("assumed-role/ci-push/s1"), "{message}");
    assert!(!message.contains(&secret) && !message.contains(&key_id), "{message}");
    assert_eq!(exit_code(&error), 1);

    // Unknown keys are refused as credentials, not as a missing permission: by STS when it is asked (ECR Public),
    // else by the first ECR call (nothing is asked before it).
    let mut bogus = env.clone();
    bogus.insert("AWS_ACCESS_KEY_ID".into(), "AKIAUNKNOWNUNKNOWN00".into());
    let public = AwsOptions { public: Some(ecr_ship::aws::PublicRegistry { alias: None }), ..options(&[]) };
    let error = connect(public, &bogus).await.expect_err("unknown key");
    let rejected = error.downcast_ref::<CredentialsRejected>().expect("CredentialsRejected in the chain");
    assert_eq!(rejected.code, "InvalidClientTokenId");
    let session = connect(options(&[]), &bogus).await.expect("nothing is asked yet");
    let error = session.authorization_token().await.expect_err("unknown key");
    let rejected = error.downcast_ref::<CredentialsRejected>().expect("CredentialsRejected in the chain");
    assert!(error.to_string().contains("GetAuthorizationToken"), "{error:#}");
    assert!(["InvalidClientTokenId", "UnrecognizedClientException"].contains(&rejected.code.as_str()), "{error:#}");
    assert!(!format!("{error:#}").contains(&secret));
    assert!(!format!("{error:#}").contains(&secret));

    moto.post("/moto-api/reset-auth", "inf");
}

#[test]
fn oidc_stand_in_checks_token_and_audience() {
    let server = OidcServer::start("sts.amazonaws.com");
    let get = |path: &str, token: &str| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let ok = get("/t?api-version=2.0&audience=sts.amazonaws.com", oidc::REQUEST_TOKEN);
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("\"value\""), "{ok}");
    assert!(get("/t?audience=sts.amazonaws.com", "nope").starts_with("HTTP/1.1 401"));
    assert!(get("/t?audience=other", oidc::REQUEST_TOKEN).starts_with("HTTP/1.1 400"));
    assert_eq!(server.requests(), 3);
    let port = server.port;
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "stopped on drop");
}

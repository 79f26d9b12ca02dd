//! The stand-in is also ECR Public: these tests hold it to ECR Public's answers, with the clients real users have:
//! boto3's `ecr-public` client (the SDK's own wire protocol: SpencerFrontendService, JSON 1.1, SigV4 for
//! us-east-1), and docker, podman, skopeo and curl doing the registry's real Bearer challenge and token exchange.
//! Each check fails against a stand-in that skips the rule it names (plain distribution creates repositories on push,
//! a Basic-auth registry has no token service, moto has no ECR Public).

use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::dockerd::Dockerd;
use crate::support::ecr::{Ecr, PUBLIC_ALIAS, PUBLIC_HOST};
use crate::support::images::single_image_layout;
use crate::support::podman::Podman;
use crate::support::scratch_dir;

const REALM: &str = "https://public.ecr.aws/token/";

/// Python run before a snippet of these tests: `raw(op, body, ...)` is one signed (or unsigned) ecr-public call
/// answered as (status, x-amzn-ErrorType, JSON), to see the wire shapes boto3 would parse away; `code(call)` is the
/// error code and message a boto3 call raises, or None.
const PRELUDE: &str = r#"
import base64, urllib.request, urllib.error, botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
def raw(op, body, region='us-east-1', service='ecr-public', sign=True):
    request = AWSRequest(method='POST', url=ENDPOINT + '/', data=json.dumps(body).encode(),
        headers={'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'SpencerFrontendService.' + op})
    if sign:
        SigV4Auth(Credentials('testing', 'testing'), service, region).add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method='POST')
    try:
        response = urllib.request.urlopen(http)
    except urllib.error.HTTPError as error:
        response = error
    return [response.status, response.headers.get('x-amzn-ErrorType'), json.loads(response.read() or b'{}')]
def code(call):
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return [error.response['Error']['Code'], error.response['Error']['Message']]
    return None
"#;

fn python(ecr: &Ecr, snippet: &str) -> Value {
    let out = ecr.moto.python(&format!("{PRELUDE}\n{snippet}"));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("snippet output is not JSON ({e}): {out}"))
}

/// One raw HTTPS request to `public.ecr.aws` on the stand-in's address (curl, the test CA): status, headers, body.
fn public(ecr: &Ecr, method: &str, path: &str, authorization: Option<&str>, body: Option<&[u8]>) -> Answer {
    let work = scratch_dir("curl-public");
    let head = work.path().join("head");
    let mut command = Command::new("curl");
    command.args(["-sS", "-o", "-", "-D"]).arg(&head).args(["-X", method, "--cacert"]).arg(ecr.ca());
    command.args(["--resolve", &format!("{PUBLIC_HOST}:443:{}", ecr.ip)]);
    if let Some(value) = authorization {
        command.args(["-H", &format!("Authorization: {value}")]);
    }
    if method == "HEAD" {
        command.arg("-I");
    }
    command.args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"]);
    if let Some(bytes) = body {
        let file = work.path().join("body");
        std::fs::write(&file, bytes).unwrap();
        command.args(["-H", "Content-Type: application/vnd.oci.image.manifest.v1+json"]);
        command.arg("--data-binary").arg(format!("@{}", file.display()));
    }
    let output = command.arg(format!("https://{PUBLIC_HOST}{path}")).output().expect("curl");
    let headers = std::fs::read_to_string(&head).unwrap_or_default();
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, headers, body: String::from_utf8_lossy(&output.stdout).into_owned() }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.headers, self.body))
    }
}

fn basic(password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}")))
}

/// A bearer token from the token service for `scopes` (Basic `AWS:<password>`, or anonymous with `None`).
fn exchange(ecr: &Ecr, password: Option<&str>, scopes: &[&str]) -> String {
    let query: String = scopes.iter().map(|s| format!("&scope={s}")).collect();
    let answer =
        public(ecr, "GET", &format!("/token/?service={PUBLIC_HOST}{query}"), password.map(basic).as_deref(), None);
    assert_eq!(answer.status, 200, "token exchange: {} {}", answer.headers, answer.body);
    let document = answer.json();
    assert_eq!(document["token"], document["access_token"], "both names docker and the spec read");
    assert!(document["expires_in"].as_u64().is_some_and(|n| n >= 60), "{document}");
    document["token"].as_str().expect("token").to_string()
}

/// The `access` claim of a JWT (the registry verifies the signature; here only what it grants is read).
fn access_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice::<Value>(&bytes).expect("claims JSON")["access"].clone()
}

/// skopeo copy of an OCI layout's `latest` to `public.ecr.aws/<path>:<tag>` (`creds` None: anonymous).
fn skopeo_push(ecr: &Ecr, layout: &Path, path: &str, creds: Option<&str>) -> std::process::Output {
    let mut command = ecr.wrap("skopeo");
    command.args(["copy", "-q", "--preserve-digests", "--dest-cert-dir"]).arg(ecr.ca().parent().unwrap());
    match creds {
        Some(password) => command.args(["--dest-creds", &format!("AWS:{password}")]),
        // Anonymous for sure: no auth file of the machine (a root's /run/containers/0/auth.json) may lend credentials.
        None => command.arg("--dest-no-creds"),
    };
    command.arg(format!("oci:{}:latest", layout.display())).arg(format!("docker://{PUBLIC_HOST}/{path}"));
    command.output().expect("skopeo")
}

#[test]
fn the_public_api_answers_as_ecr_public_does() {
    let ecr = Ecr::start();
    let answers = python(
        &ecr,
        r#"
pub = client('ecr-public')
out = {}
out['registries'] = raw('DescribeRegistries', {})
catalog = {'description': 'The app', 'aboutText': '# About', 'usageText': 'docker pull it',
           'architectures': ['x86-64', 'ARM 64'], 'operatingSystems': ['Linux'],
           'logoImageBlob': base64.b64encode(b'\x89PNG-logo').decode()}
out['created'] = raw('CreateRepository', {'repositoryName': 'team/app', 'catalogData': catalog,
                                          'tags': [{'Key': 'team', 'Value': 'ci'}]})
out['again'] = code(lambda: pub.create_repository(repositoryName='team/app'))
out['bad_name'] = code(lambda: pub.create_repository(repositoryName='team__app'))
out['long_name'] = code(lambda: pub.create_repository(repositoryName='a' * 206))
out['long_description'] = code(lambda: pub.create_repository(repositoryName='other', catalogData={'description': 'd' * 1025}))
out['long_about'] = code(lambda: pub.create_repository(repositoryName='other', catalogData={'aboutText': 'a' * 25601}))
out['many_architectures'] = code(lambda: pub.create_repository(repositoryName='other',
    catalogData={'architectures': ['a%d' % i for i in range(51)]}))
out['big_logo'] = code(lambda: pub.create_repository(repositoryName='other', catalogData={'logoImageBlob': b'x' * 512001}))
out['too_many_tags'] = code(lambda: pub.create_repository(repositoryName='other',
    tags=[{'Key': 'k%d' % i, 'Value': 'v'} for i in range(51)]))
out['edge_ok'] = pub.create_repository(repositoryName='edge', catalogData={'description': 'd' * 1024,
    'architectures': ['x' * 50] * 50, 'logoImageBlob': b'x' * 512000})['repository']['repositoryName']
out['described'] = raw('DescribeRepositories', {'repositoryNames': ['team/app']})
out['missing'] = raw('DescribeRepositories', {'repositoryNames': ['missing']})
out['missing_catalog'] = code(lambda: pub.get_repository_catalog_data(repositoryName='missing'))
out['put_catalog'] = pub.put_repository_catalog_data(repositoryName='edge', catalogData={'description': 'new'})['catalogData']
out['no_images'] = raw('DescribeImages', {'repositoryName': 'team/app'})
out['no_tags'] = raw('DescribeImageTags', {'repositoryName': 'team/app'})
out['image_missing'] = code(lambda: pub.describe_images(repositoryName='team/app', imageIds=[{'imageTag': 'nope'}]))
out['token'] = raw('GetAuthorizationToken', {})
out['token2'] = raw('GetAuthorizationToken', {})
out['wrong_region'] = raw('DescribeRegistries', {}, region='eu-west-1')
out['wrong_region_sdk'] = code(lambda: client('ecr-public', region='eu-central-1').describe_registries())
out['wrong_service'] = raw('DescribeRegistries', {}, service='ecr')
out['unsigned'] = raw('DescribeRegistries', {}, sign=False)
out['unknown'] = raw('ListImages', {'repositoryName': 'team/app'})
out['deleted'] = pub.delete_repository(repositoryName='edge')['repository']['repositoryName']
out['names'] = [r['repositoryName'] for r in pub.describe_repositories()['repositories']]
print(json.dumps(out))
"#,
    );
    let registries = &answers["registries"];
    assert_eq!(registries[0], 200, "{registries}");
    let registry = &registries[2]["registries"][0];
    assert_eq!(registry["registryId"], "123456789012");
    assert_eq!(registry["registryUri"], format!("{PUBLIC_HOST}/{PUBLIC_ALIAS}"));
    assert_eq!(
        registry["aliases"],
        json!([{"name": PUBLIC_ALIAS, "status": "ACTIVE", "primaryRegistryAlias": true, "defaultRegistryAlias": true}])
    );
    assert_eq!(registry["verified"], false);

    let created = &answers["created"];
    assert_eq!(created[0], 200, "{created}");
    let repository = &created[2]["repository"];
    assert_eq!(repository["repositoryArn"], "arn:aws:ecr-public::123456789012:repository/team/app");
    assert_eq!(repository["repositoryUri"], format!("{PUBLIC_HOST}/{PUBLIC_ALIAS}/team/app"));
    assert!(repository["createdAt"].is_f64(), "timestamps are epoch seconds numbers: {repository}");
    let catalog = &created[2]["catalogData"];
    for (key, value) in [
        ("description", json!("The app")),
        ("aboutText", json!("# About")),
        ("usageText", json!("docker pull it")),
        ("architectures", json!(["x86-64", "ARM 64"])),
        ("operatingSystems", json!(["Linux"])),
        ("marketplaceCertified", json!(false)),
    ] {
        assert_eq!(catalog[key], value, "{key}: {catalog}");
    }
    assert!(catalog.get("logoImageBlob").is_none(), "the answer has a logoUrl, not the blob: {catalog}");
    let logo_url = catalog["logoUrl"].as_str().expect("logoUrl");
    let logo = public(&ecr, "GET", logo_url.trim_start_matches("https://public.ecr.aws"), None, None);
    assert_eq!((logo.status, logo.body.as_str()), (200, "\u{fffd}PNG-logo"), "the logo is served at its URL");
    assert_eq!(&ecr.public_catalog("team/app"), catalog, "GetRepositoryCatalogData reads back what was created");
    assert_eq!(answers["put_catalog"], json!({"description": "new", "marketplaceCertified": false}));

    let refused = |key: &str, code: &str, words: &str| {
        let answer = &answers[key];
        assert_eq!(answer[0], code, "{key}: {answer}");
        assert!(answer[1].as_str().unwrap_or_default().contains(words), "{key}: {answer}");
    };
    refused("again", "RepositoryAlreadyExistsException", "already exists in the registry with id '123456789012'");
    refused("bad_name", "InvalidParameterException", "repositoryName");
    refused("long_name", "InvalidParameterException", "repositoryName");
    refused("long_description", "InvalidParameterException", "catalogData.description");
    refused("long_about", "InvalidParameterException", "catalogData.aboutText");
    refused("many_architectures", "InvalidParameterException", "catalogData.architectures");
    refused("big_logo", "InvalidParameterException", "catalogData.logoImageBlob");
    refused("too_many_tags", "TooManyTagsException", "50");
    refused("missing_catalog", "RepositoryNotFoundException", "'missing'");
    refused("image_missing", "ImageNotFoundException", "imageTag:'nope'");
    refused("wrong_region_sdk", "InvalidSignatureException", "Credential should be scoped to a valid region.");
    assert_eq!(answers["edge_ok"], "edge", "the limits themselves are allowed");
    assert_eq!(answers["deleted"], "edge");
    assert_eq!(answers["names"], json!(["team/app"]));

    let described = &answers["described"][2]["repositories"][0];
    assert_eq!(described, repository, "DescribeRepositories answers the repository as created");
    let error = |key: &str, status: u64, code: &str, message: &str| {
        let answer = &answers[key];
        assert_eq!(answer[0], status, "{key}: {answer}");
        assert_eq!(answer[1], code, "{key}: x-amzn-ErrorType: {answer}");
        assert_eq!(answer[2]["__type"], code, "{key}: {answer}");
        assert!(answer[2]["message"].as_str().unwrap_or_default().contains(message), "{key}: {answer}");
    };
    error("missing", 400, "RepositoryNotFoundException", "The repository with name 'missing' does not exist");
    error("wrong_region", 400, "InvalidSignatureException", "Credential should be scoped to a valid region.");
    error("wrong_service", 400, "InvalidSignatureException", "Credential should be scoped to correct service");
    error("unsigned", 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    error("unknown", 400, "UnknownOperationException", "");
    assert_eq!(answers["no_images"][2], json!({"imageDetails": []}));
    assert_eq!(answers["no_tags"][2], json!({"imageTagDetails": []}));

    let token = &answers["token"][2]["authorizationData"];
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(token["authorizationToken"].as_str().unwrap()).unwrap();
    let decoded = String::from_utf8(decoded).unwrap();
    assert!(decoded.starts_with("AWS:") && decoded.len() > 40, "{decoded}");
    let expires = token["expiresAt"].as_f64().expect("expiresAt is epoch seconds");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((expires - now - 43200.0).abs() < 3600.0, "12 h from now: {expires} vs {now}");
    assert_ne!(answers["token2"][2]["authorizationData"]["authorizationToken"], token["authorizationToken"], "fresh");
    let stats = ecr.stats();
    assert!(stats["public_api_requests"].as_u64().unwrap() >= 25, "{stats}");
    assert_eq!(stats["public_api_CreateRepository"], 2, "{stats}");
    assert_eq!(stats.get("api_requests"), None, "nothing of ECR Public went to moto: {stats}");
}

#[test]
fn public_calls_are_authorized_by_iam_and_belong_to_the_callers_account() {
    let ecr = Ecr::start();
    let answers = python(
        &ecr,
        r#"
iam = client('iam')
allow = lambda acts, res: json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': acts, 'Resource': res}]})
keys = {}
for user, actions in [('half', ['ecr-public:GetAuthorizationToken']),
                      ('login', ['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken'])]:
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName='p', PolicyDocument=allow(actions, '*'))
    keys[user] = iam.create_access_key(UserName=user)['AccessKey']
iam.put_user_policy(UserName='login', PolicyName='repo', PolicyDocument=allow(['ecr-public:CreateRepository'],
    'arn:aws:ecr-public::123456789012:repository/team/*'))
other = client('sts').assume_role(RoleArn='arn:aws:iam::111122223333:role/publisher', RoleSessionName='s1')['Credentials']
as_user = lambda u: client('ecr-public', key=keys[u]['AccessKeyId'], secret=keys[u]['SecretAccessKey'])
out = {}
out['other_account'] = client('ecr-public', key=other['AccessKeyId'], secret=other['SecretAccessKey'],
    token=other['SessionToken']).describe_registries()['registries'][0]
reset_auth = lambda value: urllib.request.urlopen(urllib.request.Request(ENDPOINT + '/moto-api/reset-auth',
    data=value, method='POST', headers={'Content-Type': 'text/plain'}))
reset_auth(b'0')
try:
    out['half'] = code(lambda: as_user('half').get_authorization_token())
    out['login'] = code(lambda: as_user('login').get_authorization_token())
    out['create_allowed'] = code(lambda: as_user('login').create_repository(repositoryName='team/app'))
    out['create_denied'] = code(lambda: as_user('login').create_repository(repositoryName='other/app'))
    out['describe_denied'] = code(lambda: as_user('login').describe_registries())
    out['bad_secret'] = code(lambda: client('ecr-public', key=keys['login']['AccessKeyId'], secret='wrong').describe_registries())
    out['unknown_key'] = code(lambda: client('ecr-public', key='AKIAUNKNOWNKEY000000', secret='x').describe_registries())
finally:
    reset_auth(b'inf')
out['names'] = [r['repositoryName'] for r in client('ecr-public').describe_repositories()['repositories']]
print(json.dumps(out))
"#,
    );
    let other = &answers["other_account"];
    assert_eq!(other["registryId"], "111122223333", "an assumed role's keys belong to the role's account: {other}");
    assert_eq!(other["aliases"][0]["name"], "a111122223333");
    let half = &answers["half"];
    assert_eq!(half[0], "AccessDeniedException", "{half}");
    assert!(
        half[1]
            .as_str()
            .unwrap()
            .contains("user/half is not authorized to perform: sts:GetServiceBearerToken on resource: *"),
        "GetAuthorizationToken needs both permissions: {half}"
    );
    assert_eq!(answers["login"], Value::Null, "with both it works");
    assert_eq!(answers["create_allowed"], Value::Null);
    let denied = answers["create_denied"][1].as_str().unwrap_or_default();
    assert!(
        denied.contains(
            "user/login is not authorized to perform: ecr-public:CreateRepository on resource: \
             arn:aws:ecr-public::123456789012:repository/other/app"
        ),
        "{}",
        answers["create_denied"]
    );
    assert_eq!(answers["describe_denied"][0], "AccessDeniedException");
    assert_eq!(answers["bad_secret"][0], "InvalidSignatureException", "{}", answers["bad_secret"]);
    assert_eq!(answers["unknown_key"][0], "UnrecognizedClientException", "{}", answers["unknown_key"]);
    assert_eq!(answers["names"], json!(["team/app"]), "the denied call created nothing");
}

#[test]
fn docker_and_podman_log_in_and_push_by_the_real_host_name() {
    let ecr = Ecr::start();
    ecr.public_create_repository("app", json!({"description": "pushed by engines"}));
    let image = format!("{PUBLIC_HOST}/{PUBLIC_ALIAS}/app");

    let dockerd = Dockerd::start_trusting(&ecr.hosts_file, &ecr.ca_bundle());
    let config = dockerd.dir.path().join("client-config");
    std::fs::create_dir_all(&config).unwrap();
    dockerd.build_scratch_image(&format!("{image}:t1"), &[("hello.txt", b"hello from docker" as &[u8])]);
    let docker = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new("docker")
            .args(args)
            .env_clear()
            .envs(dockerd.env(&config))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker");
        if let Some(text) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("docker")
    };
    let login = docker(&["login", PUBLIC_HOST, "-u", "AWS", "--password-stdin"], Some(&ecr.public_token()));
    assert!(login.status.success(), "docker login: {}", String::from_utf8_lossy(&login.stderr));
    let push = docker(&["push", &format!("{image}:t1")], None);
    let pushed = String::from_utf8_lossy(&push.stdout).into_owned();
    assert!(push.status.success(), "docker push: {pushed}{}\n{}", String::from_utf8_lossy(&push.stderr), dockerd.log());
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("docker push names the digest: {pushed}"))
        .to_string();
    assert_eq!(ecr.public_api_tags("app").get("t1"), Some(&digest), "in DescribeImageTags when the push returns");
    assert_eq!(ecr.public_pull_digest("app", "t1").as_deref(), Some(digest.as_str()), "skopeo pulls it back");
    let pull = docker(&["pull", &format!("{image}@{digest}")], None);
    assert!(pull.status.success(), "docker pull: {}", String::from_utf8_lossy(&pull.stderr));

    let podman = Podman::new(&[]);
    podman.build_scratch_image(&format!("{image}:t2"), &[("hello.txt", b"hello from podman" as &[u8])]);
    let certs = format!("--cert-dir={}", ecr.ca().parent().unwrap().display());
    let podman_run = |args: &[&str], stdin: Option<&str>| {
        let mut child = ecr
            .wrap("podman")
            .args(args)
            .env_clear()
            .envs(podman.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("podman");
        if let Some(text) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().expect("podman");
        assert!(output.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        output
    };
    podman_run(&["login", &certs, "-u", "AWS", "--password-stdin", PUBLIC_HOST], Some(&ecr.public_token()));
    let digest_file = podman.dir.path().join("digest");
    let digest_arg = format!("--digestfile={}", digest_file.display());
    podman_run(&["push", "-q", &certs, &digest_arg, &format!("{image}:t2")], None);
    let podman_digest = std::fs::read_to_string(&digest_file).expect("podman's digest file").trim().to_string();
    assert_eq!(ecr.public_api_tags("app").get("t2"), Some(&podman_digest));
    assert_eq!(ecr.public_pull_digest("app", "t2").as_deref(), Some(podman_digest.as_str()));

    let stats = ecr.stats();
    assert_eq!(stats.get("public_basic_on_registry"), None, "Basic credentials went only to the realm: {stats}");
    assert_eq!(stats.get("credentials_on_wrong_host"), None, "{stats}");
    assert!(stats["public_bearer_issued_authenticated"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert_eq!(stats.get("registry_requests"), None, "nothing reached the private registry: {stats}");
}

#[test]
fn pushes_need_an_existing_repository_of_the_callers_alias() {
    let ecr = Ecr::start();
    let work = scratch_dir("public-missing");
    let layout = work.path().join("oci");
    let digest = single_image_layout(&layout, "public-missing");
    let password = ecr.public_token();

    let missing = skopeo_push(&ecr, &layout, &format!("{PUBLIC_ALIAS}/missing:t1"), Some(&password));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && stderr.contains("name unknown"), "{stderr}");
    assert!(ecr.public_repositories().is_empty(), "nothing created a repository");
    // Nor did the registry keep anything of the push: once the repository is created, it is empty.
    ecr.public_create_repository("missing", json!({}));
    assert!(ecr.public_api_tags("missing").is_empty());
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap(),
    )
    .unwrap();
    let layers: Vec<&str> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
    let check = python(
        &ecr,
        &format!(
            "print(json.dumps(client('ecr-public').batch_check_layer_availability(repositoryName='missing', \
             layerDigests={layers:?})['failures']))"
        ),
    );
    assert_eq!(check.as_array().map(Vec::len), Some(2), "no layer reached the repository: {check}");
    assert!(check.as_array().unwrap().iter().all(|f| f["failureCode"] == "MissingLayerDigest"), "{check}");
    let stranger = skopeo_push(&ecr, &layout, "nobody-has-this/app:t1", Some(&password));
    assert!(!stranger.status.success(), "an alias no registry has");

    // Another account's repository: anyone may pull from it, only its owner may push.
    let owner = ecr.moto.python(
        "c = client('sts').assume_role(RoleArn='arn:aws:iam::111122223333:role/owner', RoleSessionName='s1')\
         ['Credentials']\npub = client('ecr-public', key=c['AccessKeyId'], secret=c['SecretAccessKey'], \
         token=c['SessionToken'])\npub.create_repository(repositoryName='theirs')\nimport base64\n\
         print(base64.b64decode(pub.get_authorization_token()['authorizationData']['authorizationToken']).decode()[4:])",
    );
    let theirs = skopeo_push(&ecr, &layout, "a111122223333/theirs:t1", Some(&password));
    let stderr = String::from_utf8_lossy(&theirs.stderr);
    assert!(!theirs.status.success() && stderr.contains("denied"), "{stderr}");
    let bearer = exchange(&ecr, Some(&password), &["repository:a111122223333/theirs:pull,push"]);
    assert_eq!(
        access_of(&bearer),
        json!([{"type": "repository", "name": "a111122223333/theirs", "actions": ["pull"]}])
    );
    let by_owner = skopeo_push(&ecr, &layout, "a111122223333/theirs:t1", Some(owner.trim()));
    assert!(by_owner.status.success(), "the owner pushes: {}", String::from_utf8_lossy(&by_owner.stderr));
    assert!(ecr.stat("registry_NAME_UNKNOWN") >= 1, "{}", ecr.stats());
}

#[test]
fn an_expired_bearer_token_is_challenged_and_a_new_exchange_works() {
    let ecr = Ecr::start();
    ecr.public_create_repository("app", json!({}));
    let name = format!("{PUBLIC_ALIAS}/app");
    let tags = format!("/v2/{name}/tags/list");

    // The challenge is distribution's own: Bearer, the realm and the service, the scope the request needs.
    let anonymous = public(&ecr, "GET", &tags, None, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(
        anonymous.header("www-authenticate").as_deref(),
        Some(format!(r#"Bearer realm="{REALM}",service="{PUBLIC_HOST}",scope="repository:{name}:pull""#).as_str())
    );
    let basic_on_registry = public(&ecr, "GET", &tags, Some(&basic(&ecr.public_token())), None);
    assert_eq!(basic_on_registry.status, 401, "the registry takes bearer tokens only");
    assert_eq!(ecr.stat("public_basic_on_registry"), 1);

    ecr.configure(json!({"public_bearer_requests": 2}));
    let password = ecr.public_token();
    let bearer = exchange(&ecr, Some(&password), &[&format!("repository:{name}:pull")]);
    let with = |token: &str| public(&ecr, "GET", &tags, Some(&format!("Bearer {token}")), None);
    for _ in 0..2 {
        let listed = with(&bearer);
        assert_eq!(listed.status, 200, "{}", listed.body);
        assert_eq!(listed.json()["name"], name.as_str(), "an existing repository, no tags yet");
    }
    let expired = with(&bearer);
    assert_eq!(expired.status, 401, "{}", expired.body);
    assert_eq!(
        expired.header("www-authenticate").as_deref(),
        Some(
            format!(
                r#"Bearer realm="{REALM}",service="{PUBLIC_HOST}",scope="repository:{name}:pull",error="invalid_token""#
            )
            .as_str()
        )
    );
    assert_eq!(expired.json()["errors"][0]["code"], "UNAUTHORIZED");
    let renewed = exchange(&ecr, Some(&password), &[&format!("repository:{name}:pull")]);
    for _ in 0..3 {
        assert_eq!(with(&renewed).status, 200, "the setting applied to one token only");
    }
    assert_eq!(ecr.stat("public_bearer_expired_answers"), 1);

    // A password the API never issued, or one past its lifetime, gets no token.
    let refused = public(&ecr, "GET", &format!("/token/?service={PUBLIC_HOST}"), Some(&basic("not-a-token")), None);
    assert_eq!(refused.status, 401, "{}", refused.body);
    ecr.configure(json!({"public_token_lifetime_seconds": -1}));
    let stale = ecr.public_token();
    let expired_password = public(&ecr, "GET", &format!("/token/?service={PUBLIC_HOST}"), Some(&basic(&stale)), None);
    assert_eq!(expired_password.status, 401, "{}", expired_password.body);
    assert!(expired_password.body.contains("expired"), "{}", expired_password.body);
    assert_eq!(ecr.stat("public_bearer_refused"), 2);
}

#[test]
fn put_image_through_the_api_is_pullable_at_once() {
    let ecr = Ecr::start();
    ecr.public_create_repository("app", json!({}));
    let work = scratch_dir("public-put-image");
    let layout = work.path().join("oci");
    let digest = single_image_layout(&layout, "public-put");
    let pushed = skopeo_push(&ecr, &layout, &format!("{PUBLIC_ALIAS}/app:base"), Some(&ecr.public_token()));
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let manifest = String::from_utf8(ecr.public_pull_manifest("app", "base").expect("base")).unwrap();
    assert_eq!(ecr_ship::digest::sha256_digest(manifest.as_bytes()), digest);
    let document: Value = serde_json::from_str(&manifest).unwrap();
    let layer = document["layers"][0]["digest"].as_str().unwrap().to_string();

    let answers = python(
        &ecr,
        &format!(
            r#"
pub = client('ecr-public')
manifest = {manifest:?}
document = json.loads(manifest)
out = {{}}
out['put'] = raw('PutImage', {{'repositoryName': 'app', 'imageManifest': manifest, 'imageTag': 'v2',
    'imageManifestMediaType': document['mediaType'], 'imageDigest': {digest:?}}})
out['tags_now'] = {{t['imageTag']: t['imageDetail']['imageDigest'] for t in pub.describe_image_tags(repositoryName='app')['imageTagDetails']}}
out['again'] = code(lambda: pub.put_image(repositoryName='app', imageManifest=manifest, imageTag='v2'))
out['wrong_digest'] = code(lambda: pub.put_image(repositoryName='app', imageManifest=manifest, imageTag='v3',
    imageDigest='sha256:' + '0' * 64))
annotated = dict(document, config=dict(document['config'], annotations={{'a': 'b'}}))
out['schema'] = code(lambda: pub.put_image(repositoryName='app', imageManifest=json.dumps(annotated), imageTag='v4'))
missing = dict(document, layers=[dict(document['layers'][0], digest='sha256:' + '1' * 64)])
out['layers'] = code(lambda: pub.put_image(repositoryName='app', imageManifest=json.dumps(missing), imageTag='v5'))
index = {{'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': [
    {{'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': 'sha256:' + '2' * 64, 'size': 10,
     'platform': {{'architecture': 'amd64', 'os': 'linux'}}}}]}}
out['referenced'] = code(lambda: pub.put_image(repositoryName='app', imageManifest=json.dumps(index), imageTag='v6'))
out['no_repository'] = code(lambda: pub.put_image(repositoryName='nope', imageManifest=manifest, imageTag='v2'))
out['described'] = raw('DescribeImages', {{'repositoryName': 'app', 'imageIds': [{{'imageTag': 'v2'}}]}})
out['layers_check'] = pub.batch_check_layer_availability(repositoryName='app',
    layerDigests=[{layer:?}, 'sha256:' + '3' * 64, 'not-a-digest'])
print(json.dumps(out, default=str))
"#
        ),
    );
    let put = &answers["put"];
    assert_eq!(put[0], 200, "{put}");
    assert_eq!(put[2]["image"]["imageId"], json!({"imageDigest": digest, "imageTag": "v2"}));
    assert_eq!(put[2]["image"]["repositoryName"], "app");
    assert_eq!(put[2]["image"]["imageManifest"], manifest.as_str());
    assert_eq!(answers["tags_now"], json!({"base": digest, "v2": digest}), "the store has it when the API answers");
    assert_eq!(ecr.public_pull_digest("app", "v2").as_deref(), Some(digest.as_str()), "pullable at once");
    let refused = |key: &str, code: &str| assert_eq!(answers[key][0], code, "{key}: {}", answers[key]);
    refused("again", "ImageAlreadyExistsException");
    refused("wrong_digest", "ImageDigestDoesNotMatchException");
    refused("schema", "InvalidParameterException");
    refused("layers", "LayersNotFoundException");
    refused("referenced", "ReferencedImagesNotFoundException");
    refused("no_repository", "RepositoryNotFoundException");
    for tag in ["v3", "v4", "v5", "v6"] {
        assert_eq!(ecr.public_pull_manifest("app", tag), None, "{tag} was refused and is not in the registry");
    }
    let detail = &answers["described"][2]["imageDetails"][0];
    assert_eq!(detail["imageDigest"], digest.as_str());
    assert_eq!(detail["imageTags"], json!(["base", "v2"]));
    assert_eq!(detail["imageManifestMediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert!(detail["imagePushedAt"].is_f64() && detail["imageSizeInBytes"].as_u64().unwrap() > 100_000, "{detail}");
    let check = &answers["layers_check"];
    assert_eq!(check["layers"][0]["layerAvailability"], "AVAILABLE", "{check}");
    assert_eq!(check["layers"][0]["layerDigest"], layer.as_str());
    assert_eq!(check["failures"][0]["failureCode"], "MissingLayerDigest", "{check}");
    assert_eq!(check["failures"][1]["failureCode"], "InvalidLayerDigest", "{check}");

    // BatchDeleteImage by tag takes the tag; the image stays while another tag names it.
    ecr.moto.python("client('ecr-public').batch_delete_image(repositoryName='app', imageIds=[{'imageTag': 'v2'}])");
    assert_eq!(ecr.public_pull_manifest("app", "v2"), None);
    assert_eq!(ecr.public_api_tags("app"), [("base".to_string(), digest.clone())].into());
    assert_eq!(ecr.public_pull_digest("app", &digest).as_deref(), Some(digest.as_str()));
}

#[test]
fn an_anonymous_token_pulls_but_never_pushes() {
    let ecr = Ecr::start();
    ecr.public_create_repository("app", json!({}));
    let work = scratch_dir("public-anonymous");
    let layout = work.path().join("oci");
    let digest = single_image_layout(&layout, "public-anonymous");
    let pushed = skopeo_push(&ecr, &layout, &format!("{PUBLIC_ALIAS}/app:t1"), Some(&ecr.public_token()));
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let name = format!("{PUBLIC_ALIAS}/app");

    let bearer = exchange(&ecr, None, &[&format!("repository:{name}:pull,push")]);
    assert_eq!(access_of(&bearer), json!([{"type": "repository", "name": name, "actions": ["pull"]}]));
    let authorization = format!("Bearer {bearer}");
    let pulled = public(&ecr, "GET", &format!("/v2/{name}/manifests/t1"), Some(&authorization), None);
    assert_eq!(pulled.status, 200, "{}", pulled.body);
    assert_eq!(ecr_ship::digest::sha256_digest(pulled.body.as_bytes()), digest);
    let upload = public(&ecr, "POST", &format!("/v2/{name}/blobs/uploads/"), Some(&authorization), None);
    assert_eq!(upload.status, 401, "{}", upload.body);
    assert!(upload.header("www-authenticate").unwrap_or_default().contains("insufficient_scope"), "{}", upload.headers);
    let manifest = pulled.body.as_bytes();
    let put = public(&ecr, "PUT", &format!("/v2/{name}/manifests/t2"), Some(&authorization), Some(manifest));
    assert_eq!(put.status, 401, "{}", put.body);
    assert_eq!(ecr.stat("put_image_allowed"), 1, "a refused PUT spends no PutImage budget: {}", ecr.stats());

    // Real clients the same way: skopeo without credentials pulls, and cannot push.
    let inspect = ecr
        .wrap("skopeo")
        .args(["inspect", "--raw", "--no-creds", "--cert-dir"])
        .arg(ecr.ca().parent().unwrap())
        .arg(format!("docker://{PUBLIC_HOST}/{name}:t1"))
        .output()
        .expect("skopeo");
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    assert_eq!(ecr_ship::digest::sha256_digest(&inspect.stdout), digest);
    let anonymous_push = skopeo_push(&ecr, &layout, &format!("{name}:t3"), None);
    assert!(!anonymous_push.status.success(), "an anonymous push fails");
    assert_eq!(ecr.public_api_tags("app"), [("t1".to_string(), digest)].into(), "and changes nothing");
    assert!(ecr.stat("public_bearer_issued_anonymous") >= 3, "{}", ecr.stats());
}

#[test]
fn public_uploads_and_manifests_meet_ecrs_checks() {
    let ecr = Ecr::start();
    ecr.public_create_repository("app", json!({}));
    let name = format!("{PUBLIC_ALIAS}/app");
    let bearer = exchange(&ecr, Some(&ecr.public_token()), &[&format!("repository:{name}:pull,push")]);
    let authorization = format!("Bearer {bearer}");
    let upload = |bytes: &[u8], digest: &str| {
        let start = public(&ecr, "POST", &format!("/v2/{name}/blobs/uploads/"), Some(&authorization), None);
        assert_eq!(start.status, 202, "{} {}", start.headers, start.body);
        let location = start.header("location").expect("Location");
        let path = location.trim_start_matches("https://public.ecr.aws");
        let separator = if path.contains('?') { '&' } else { '?' };
        public(&ecr, "PUT", &format!("{path}{separator}digest={digest}"), Some(&authorization), Some(bytes))
    };
    let empty_digest = ecr_ship::digest::sha256_digest(b"");
    let empty = upload(b"", &empty_digest);
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert!(
        empty.body.contains("BLOB_UPLOAD_INVALID") && empty.body.contains("does not have any parts"),
        "{}",
        empty.body
    );
    let mismatch = upload(b"{}", &empty_digest);
    assert!(
        mismatch.body.contains("BLOB_UPLOAD_INVALID") && mismatch.body.contains("None of the provided"),
        "{}",
        mismatch.body
    );
    let config_digest = ecr_ship::digest::sha256_digest(b"{}");
    assert_eq!(upload(b"{}", &config_digest).status, 201);

    let manifest = |extra: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":2{extra}}},"layers":[]}}"#
        )
    };
    let put = |tag: &str, text: &str| {
        public(&ecr, "PUT", &format!("/v2/{name}/manifests/{tag}"), Some(&authorization), Some(text.as_bytes()))
    };
    let refused = put("annotated", &manifest(r#","annotations":{"a":"b"}"#));
    assert_eq!(refused.status, 405, "{}", refused.body);
    assert!(refused.body.contains("UNSUPPORTED") && refused.body.contains("Invalid JSON syntax"), "{}", refused.body);
    assert_eq!(put("v1", &manifest("")).status, 201);
    let v1 = ecr_ship::digest::sha256_digest(manifest("").as_bytes());
    assert_eq!(ecr.public_api_tags("app"), [("v1".to_string(), v1)].into(), "in the API when the PUT is answered");

    ecr.configure(json!({"put_image_rate": 0.001, "put_image_burst": 1}));
    assert_eq!(put("v2", &manifest("")).status, 201, "the one PutImage of the burst");
    let throttled = put("v3", &manifest(""));
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(throttled.body.contains("TOOMANYREQUESTS"), "{}", throttled.body);
    let api = python(
        &ecr,
        "print(json.dumps(code(lambda: client('ecr-public').put_image(repositoryName='app', \
        imageManifest=json.dumps({'schemaVersion': 2}), imageTag='v4'))))",
    );
    assert_eq!(api[0], "ThrottlingException", "one budget for the registry and the API: {api}");
}

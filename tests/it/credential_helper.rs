//! ecr-ship as a docker credential helper, through the real binary: the protocol's answers (offline), the prompt
//! "not found" without credentials, and, against the ECR stand-in, the token cache (refresh, one
//! GetAuthorizationToken for concurrent calls, one entry per identity, corrupt entries replaced), instance-profile
//! credentials and region from an IMDSv2 stand-in, and docker, podman and skopeo pulling and pushing through the
//! helper with no `docker login`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Run, Ship, SilentServer, scratch_dir};

const NOT_FOUND: &str = "credentials not found in native keychain";
const PRIVATE_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// A helper run of `verb` with `stdin`, its token cache in `cache`.
fn helper(verb: &str, stdin: &str, cache: &Path) -> Ship {
    Ship::new(&["credential-helper", verb])
        .stdin(stdin.as_bytes().to_vec())
        .env("XDG_CACHE_HOME", cache.display().to_string())
}

/// A directory holding `docker-credential-ecr-ship`, a link to the binary, for PATH.
fn helper_link_dir(base: &Path) -> PathBuf {
    let dir = base.join("helper-bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ecr-ship"), dir.join("docker-credential-ecr-ship")).unwrap();
    dir
}

#[track_caller]
fn assert_not_found(run: &Run) {
    assert_eq!(run.code, 1, "the protocol's exit status\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert_eq!(run.stdout.trim_end(), NOT_FOUND, "exactly the protocol's text on stdout: {}", run.stderr);
}

#[test]
fn servers_that_are_not_ecr_are_not_found_and_the_other_verbs_succeed() {
    let cache = scratch_dir("helper-cache");
    for url in
        ["https://index.docker.io/v1/", "ghcr.io", "", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example"]
    {
        assert_not_found(&helper("get", url, cache.path()).run());
    }
    for verb in ["store", "erase"] {
        let request = r#"{"ServerURL":"123456789012.dkr.ecr.us-east-1.amazonaws.com","Username":"AWS","Secret":"x"}"#;
        let run = helper(verb, request, cache.path()).run().success();
        assert_eq!(run.stdout, "", "{verb} prints nothing");
    }
    let list = helper("list", "", cache.path()).run().success();
    assert_eq!(list.stdout.trim(), "{}", "an empty cache serves no host");
    let version = helper("version", "", cache.path()).run().success();
    assert!(version.stdout.contains(env!("CARGO_PKG_VERSION")), "{}", version.stdout);
    helper("fetch", "", cache.path()).run().fails_with(2, "unknown credential-helper verb 'fetch'");

    // Called through a link named docker-credential-ecr-ship, the binary is the helper itself.
    let dir = scratch_dir("helper-link");
    let link = helper_link_dir(dir.path()).join("docker-credential-ecr-ship");
    let output = std::process::Command::new(&link)
        .arg("get")
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"https://index.docker.io/v1/\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim_end(), NOT_FOUND);
}

#[test]
fn install_links_the_helper_and_names_it_for_docker_and_podman_and_uninstall_restores_both() {
    let dir = scratch_dir("helper-install");
    let (docker_dir, auth_file, links) =
        (dir.path().join("docker"), dir.path().join("containers/auth.json"), dir.path().join("bin"));
    std::fs::create_dir_all(&docker_dir).unwrap();
    std::fs::create_dir_all(&links).unwrap();
    let before = r#"{"auths":{"ghcr.io":{"auth":"eDp5"}},"credHelpers":{"public.ecr.aws":"ecr-login"}}"#;
    std::fs::write(docker_dir.join("config.json"), before).unwrap();
    let ship = |args: &[&str]| {
        Ship::new(args)
            .env("DOCKER_CONFIG", docker_dir.display().to_string())
            .env("REGISTRY_AUTH_FILE", auth_file.display().to_string())
    };
    let registries = format!("{PRIVATE_HOST},public.ecr.aws");
    let links_arg = links.display().to_string();
    let install =
        ship(&["credential-helper", "install", "--registries", &registries, "--link-dir", &links_arg]).run().success();
    assert_eq!(install.stdout, format!("{PRIVATE_HOST}\npublic.ecr.aws\n"));
    let link = links.join("docker-credential-ecr-ship");
    assert_eq!(link.canonicalize().unwrap(), Path::new(env!("CARGO_BIN_EXE_ecr-ship")).canonicalize().unwrap());
    let read = |path: &Path| -> serde_json::Value { serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap() };
    let helpers = serde_json::json!({PRIVATE_HOST: "ecr-ship", "public.ecr.aws": "ecr-ship"});
    assert_eq!(read(&docker_dir.join("config.json"))["credHelpers"], helpers);
    assert_eq!(read(&docker_dir.join("config.json"))["auths"]["ghcr.io"]["auth"], "eDp5", "other entries kept");
    assert_eq!(read(&auth_file)["credHelpers"], helpers);

    let uninstall = ship(&["credential-helper", "uninstall", "--link-dir", &links_arg]).run().success();
    assert!(uninstall.stdout.contains(PRIVATE_HOST), "{}", uninstall.stdout);
    assert_eq!(read(&docker_dir.join("config.json")), serde_json::from_str::<serde_json::Value>(before).unwrap());
    assert_eq!(read(&auth_file), serde_json::json!({}));
    assert!(std::fs::symlink_metadata(&link).is_err(), "the link is gone");

    ship(&["credential-helper", "install", "--registries", "ghcr.io"]).run().fails_with(2, "--registries 'ghcr.io'");
    ship(&["credential-helper", "install"]).run().fails_with(2, "needs --registries");
}

#[test]
fn the_readme_set_up_and_undo_run_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("## Long-running hosts: EC2, Jenkins agents, laptops").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let install = section.lines().find(|l| l.starts_with("ecr-ship credential-helper install")).unwrap();
    let uninstall = section
        .split('`')
        .find(|span| span.starts_with("ecr-ship credential-helper uninstall"))
        .expect("the README names the undo");
    let home = scratch_dir("helper-readme");
    std::fs::create_dir_all(home.path().join(".local/bin")).unwrap();
    let bin = home.path().join("ecr-ship-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ecr-ship"), bin.join("ecr-ship")).unwrap();
    let run = |script: &str| {
        let output = std::process::Command::new("sh")
            .args(["-c", script])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert!(output.status.success(), "{script}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run(install);
    let docker = home.path().join(".docker/config.json");
    let containers = home.path().join(".config/containers/auth.json");
    for file in [&docker, &containers] {
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        assert_eq!(config["credHelpers"]["public.ecr.aws"], "ecr-ship", "{}", file.display());
    }
    assert!(home.path().join(".local/bin/docker-credential-ecr-ship").exists());
    run(uninstall);
    for file in [&docker, &containers] {
        assert_eq!(std::fs::read_to_string(file).unwrap().trim(), "{}", "{}", file.display());
    }
    assert!(std::fs::symlink_metadata(home.path().join(".local/bin/docker-credential-ecr-ship")).is_err());
}

#[test]
fn without_any_credentials_get_answers_not_found_without_waiting_on_instance_metadata() {
    // Instance metadata that accepts connections and never answers: the SDK's default client would try four
    // times; the helper asks once, briefly. The bound here is generous; bench/ measures the real time.
    let silent = SilentServer::start();
    let home = scratch_dir("helper-no-credentials");
    let started = Instant::now();
    let run = helper("get", PRIVATE_HOST, home.path())
        .without("AWS_EC2_METADATA_DISABLED")
        .env("HOME", home.path().display().to_string())
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://127.0.0.1:{}", silent.port))
        .run();
    let took = started.elapsed();
    assert_not_found(&run);
    assert!(took < Duration::from_secs(3), "answered in {took:?}: {}", run.stderr);
    assert!(run.stderr.contains("no token for"), "the reason is on stderr: {}", run.stderr);
}

#[cfg(feature = "stand-ins")]
mod against_the_stand_in {
    use super::*;
    use crate::support::ecr::Ecr;
    use crate::support::imds::{self, Imds};
    use crate::support::moto::PASSWORD;

    fn get(ecr: &Ecr, cache: &Path, host: &str) -> Run {
        helper("get", host, cache).against(ecr).run()
    }

    /// The cache's entries (JSON files) under `XDG_CACHE_HOME`.
    fn entries(cache: &Path) -> Vec<PathBuf> {
        let dir = cache.join("ecr-ship/tokens");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|read| {
                read.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    #[test]
    fn get_answers_the_token_and_the_next_get_is_served_from_a_private_cache() {
        use std::os::unix::fs::PermissionsExt;
        let ecr = Ecr::start();
        let cache = scratch_dir("helper-cache");
        let url = format!("https://{PRIVATE_HOST}");
        let first = helper("get", &url, cache.path()).against(&ecr).run().success();
        let answer: serde_json::Value = serde_json::from_str(first.stdout.trim()).expect("a JSON answer");
        assert_eq!(answer, serde_json::json!({"ServerURL": url, "Username": "AWS", "Secret": PASSWORD}));
        assert!(!first.stderr.contains(PASSWORD), "the token never reaches stderr: {}", first.stderr);
        assert_eq!(ecr.stat("get_authorization_token"), 1);

        let second = get(&ecr, cache.path(), PRIVATE_HOST).success();
        assert!(second.stdout.contains(PASSWORD));
        assert_eq!(ecr.stat("get_authorization_token"), 1, "served from the cache");
        // Keys in the environment name the identity before the SDK loads: the cached token is served without
        // building a session, which would say which credentials it uses.
        assert_eq!(second.stderr, "", "a warm get with keys in the environment says nothing");

        let files = entries(cache.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(mode(files[0].parent().unwrap()), 0o700);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(!text.contains("testing"), "the access key id is not written: {text}");
        let list = helper("list", "", cache.path()).run().success();
        assert_eq!(list.stdout.trim(), format!(r#"{{"{PRIVATE_HOST}":"AWS"}}"#));
    }

    #[test]
    fn twenty_concurrent_gets_with_an_empty_cache_make_one_get_authorization_token() {
        let ecr = Ecr::start();
        let cache = scratch_dir("helper-cache");
        let runs: Vec<Run> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..20).map(|_| scope.spawn(|| get(&ecr, cache.path(), PRIVATE_HOST))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for run in runs {
            let run = run.success();
            assert!(run.stdout.contains(PASSWORD), "{}", run.stdout);
        }
        assert_eq!(ecr.stat("get_authorization_token"), 1, "{}", ecr.stats());
        assert_eq!(entries(cache.path()).len(), 1);
    }

    #[test]
    fn two_identities_get_two_entries_and_a_corrupt_entry_is_replaced() {
        let ecr = Ecr::start();
        let cache = scratch_dir("helper-cache");
        get(&ecr, cache.path(), PRIVATE_HOST).success();
        let other = helper("get", PRIVATE_HOST, cache.path())
            .against(&ecr)
            .env("AWS_ACCESS_KEY_ID", "AKIAOTHERIDENTITY001")
            .run()
            .success();
        assert!(other.stdout.contains(PASSWORD));
        assert_eq!(ecr.stat("get_authorization_token"), 2, "the other identity is never served the first one's token");
        let files = entries(cache.path());
        assert_eq!(files.len(), 2, "{files:?}");

        for file in &files {
            std::fs::write(file, b"{not json").unwrap();
        }
        let again = get(&ecr, cache.path(), PRIVATE_HOST).success();
        assert!(again.stdout.contains(PASSWORD));
        assert_eq!(ecr.stat("get_authorization_token"), 3, "a corrupt entry is a miss");
        let replaced =
            files.iter().filter(|f| serde_json::from_slice::<serde_json::Value>(&std::fs::read(f).unwrap()).is_ok());
        assert_eq!(replaced.count(), 1, "the entry of the identity asked is written anew");
    }

    #[test]
    fn a_short_token_lifetime_forces_a_refresh_and_an_expired_token_is_never_served() {
        let ecr = Ecr::start();
        ecr.configure(serde_json::json!({"token_lifetime_seconds": 4}));
        let cache = scratch_dir("helper-cache");
        get(&ecr, cache.path(), PRIVATE_HOST).success();
        get(&ecr, cache.path(), PRIVATE_HOST).success();
        assert_eq!(ecr.stat("get_authorization_token"), 1, "within its lifetime the token is reused");
        // A quarter of a 4 s lifetime is the margin: after 3 s the cached token must not be served.
        std::thread::sleep(Duration::from_millis(3200));
        get(&ecr, cache.path(), PRIVATE_HOST).success();
        assert_eq!(ecr.stat("get_authorization_token"), 2, "refreshed before it expired");
        let entry: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&entries(cache.path())[0]).unwrap()).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(entry["expires_at"].as_u64().unwrap() > now, "the entry now holds the new token: {entry}");
    }

    #[test]
    fn ecr_public_takes_its_token_from_us_east_1() {
        let ecr = Ecr::start();
        let cache = scratch_dir("helper-cache");
        let run =
            helper("get", "public.ecr.aws", cache.path()).against(&ecr).env("AWS_REGION", "eu-west-1").run().success();
        let answer: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(answer["Username"], "AWS");
        let secret = answer["Secret"].as_str().unwrap().to_string();
        assert!(!secret.is_empty() && !run.stderr.contains(&secret), "{}", run.stderr);
        assert_eq!(ecr.stat("public_api_GetAuthorizationToken"), 1, "{}", ecr.stats());
        helper("get", "public.ecr.aws", cache.path()).against(&ecr).run().success();
        assert_eq!(ecr.stat("public_api_GetAuthorizationToken"), 1, "cached");
    }

    #[test]
    fn no_get_asks_sts_so_a_cached_token_costs_no_round_trip_on_either_kind_of_host() {
        // STS on a closed port: any GetCallerIdentity (or other STS call) would fail the get. The cache is keyed
        // by the access key id, which needs no call; the token calls themselves still go to the stand-in.
        let ecr = Ecr::start();
        let cache = scratch_dir("helper-cache");
        let sts = format!("http://127.0.0.1:{}", crate::support::free_port());
        let get = |host: &str| helper("get", host, cache.path()).against(&ecr).env("AWS_ENDPOINT_URL_STS", &sts).run();
        for host in ["public.ecr.aws", PRIVATE_HOST] {
            for _ in 0..2 {
                let run = get(host).success();
                let answer: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
                assert_eq!(answer["Username"], "AWS", "{host}: {}", run.stderr);
            }
        }
        assert_eq!(ecr.stat("public_api_GetAuthorizationToken"), 1, "{}", ecr.stats());
        assert_eq!(ecr.stat("get_authorization_token"), 1, "{}", ecr.stats());
        assert_eq!(entries(cache.path()).len(), 2);
        // Another identity is still never served the first one's token, for ECR Public too.
        let other = helper("get", "public.ecr.aws", cache.path())
            .against(&ecr)
            .env("AWS_ENDPOINT_URL_STS", &sts)
            .env("AWS_ACCESS_KEY_ID", "AKIAOTHERIDENTITY001")
            .run()
            .success();
        let answer: serde_json::Value = serde_json::from_str(other.stdout.trim()).unwrap();
        assert_eq!(answer["Username"], "AWS", "{}", other.stderr);
        assert_eq!(ecr.stat("public_api_GetAuthorizationToken"), 2, "{}", ecr.stats());
        assert_eq!(entries(cache.path()).len(), 3);
    }

    /// The stand-in's environment with the AWS variables replaced by an IMDSv2 stand-in.
    fn on_an_instance(ship: Ship, metadata: &Imds) -> Ship {
        ship.without("AWS_ACCESS_KEY_ID")
            .without("AWS_SECRET_ACCESS_KEY")
            .without("AWS_REGION")
            .without("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.endpoint())
    }

    #[test]
    fn on_an_instance_profile_credentials_and_region_come_from_imdsv2() {
        let ecr = Ecr::start();
        let metadata = Imds::start("us-east-1");
        let cache = scratch_dir("helper-cache");
        let run = on_an_instance(helper("get", PRIVATE_HOST, cache.path()).against(&ecr), &metadata).run().success();
        assert!(run.stdout.contains(PASSWORD), "{}", run.stderr);
        let asked = metadata.requests();
        assert!(asked.iter().any(|r| r == "PUT /latest/api/token"), "{asked:?}");
        assert!(asked.iter().any(|r| r.ends_with(imds::ROLE)), "{asked:?}");
        assert_eq!(metadata.refused(), 0, "every GET carried the session token: {asked:?}");

        // login on an instance-profile-only host: no region configured, the instance's is used.
        let config = scratch_dir("docker-config");
        let login = on_an_instance(Ship::new(&["login", "--engine", "docker"]).against(&ecr), &metadata)
            .env("DOCKER_CONFIG", config.path().display().to_string())
            .run()
            .success();
        assert_eq!(login.stdout.trim(), PRIVATE_HOST, "{}", login.stderr);
        assert!(login.stderr.contains("region us-east-1, from EC2 instance metadata"), "{}", login.stderr);
        assert!(metadata.requests().iter().any(|r| r.ends_with("/placement/region")));

        // Without instance metadata the same login is bad input naming the ways to give a region.
        Ship::new(&["login", "--engine", "docker"])
            .against(&ecr)
            .without("AWS_REGION")
            .env("DOCKER_CONFIG", config.path().display().to_string())
            .run()
            .fails_with(2, "no region");
    }

    fn create_repository(ecr: &Ecr) {
        ecr.moto.python("client('ecr').create_repository(repositoryName='team/app')");
    }

    /// The environment an engine's CLI needs so that it runs the helper: the link on PATH, the stand-in's API and
    /// keys, and a token cache of the test's.
    fn helper_env(ecr: &Ecr, link_dir: &Path, cache: &Path) -> Vec<(String, String)> {
        let mut env = ecr.env();
        env.push(("PATH".into(), format!("{}:{}", link_dir.display(), std::env::var("PATH").unwrap_or_default())));
        env.push(("XDG_CACHE_HOME".into(), cache.display().to_string()));
        env
    }

    #[test]
    fn docker_pushes_and_pulls_through_the_helper_without_docker_login() {
        use crate::support::dockerd::Dockerd;
        let ecr = Ecr::start();
        create_repository(&ecr);
        let work = scratch_dir("helper-docker");
        let link_dir = work.path().join("bin");
        std::fs::create_dir_all(&link_dir).unwrap();
        let dockerd = Dockerd::start_trusting(&ecr.hosts_file, &ecr.ca_bundle());
        let config = work.path().join("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        // Set up as a user would, in one command.
        Ship::new(&["credential-helper", "install", "--registries", PRIVATE_HOST, "--link-dir"])
            .arg(link_dir.display().to_string())
            .env("DOCKER_CONFIG", config.display().to_string())
            .env("REGISTRY_AUTH_FILE", work.path().join("unused-auth.json").display().to_string())
            .run()
            .success();
        let image = format!("{PRIVATE_HOST}/team/app:helper");
        dockerd.build_scratch_image(&image, &[("hello.txt", b"through the helper" as &[u8])]);
        let docker = |args: &[&str]| {
            std::process::Command::new("docker")
                .args(args)
                .env_clear()
                .envs(dockerd.env(&config))
                .envs(helper_env(&ecr, &link_dir, &work.path().join("cache")))
                .output()
                .unwrap()
        };
        let push = docker(&["push", &image]);
        assert!(push.status.success(), "docker push: {}", String::from_utf8_lossy(&push.stderr));
        assert!(ecr.api_tags("team/app").contains_key("helper"));
        let rmi = docker(&["rmi", &image]);
        assert!(rmi.status.success());
        let pull = docker(&["pull", &image]);
        assert!(pull.status.success(), "docker pull: {}", String::from_utf8_lossy(&pull.stderr));
        assert_eq!(ecr.stat("get_authorization_token"), 1, "push and pull shared the cached token");
        let stored = std::fs::read_to_string(config.join("config.json")).unwrap();
        assert!(!stored.contains(PASSWORD), "nothing was written to docker's config: {stored}");
    }

    #[test]
    fn podman_and_skopeo_push_and_copy_through_the_helper() {
        use crate::support::podman::Podman;
        let ecr = Ecr::start();
        create_repository(&ecr);
        let work = scratch_dir("helper-podman");
        let link_dir = helper_link_dir(work.path());
        let podman = Podman::new(&[]);
        std::fs::write(podman.auth_file(), format!(r#"{{"credHelpers":{{"{PRIVATE_HOST}":"ecr-ship"}}}}"#)).unwrap();
        let image = format!("{PRIVATE_HOST}/team/app:podman");
        podman.build_scratch_image(&image, &[("hello.txt", b"podman through the helper" as &[u8])]);
        let certs = format!("--cert-dir={}", ecr.ca().parent().unwrap().display());
        let env = helper_env(&ecr, &link_dir, &work.path().join("cache"));
        let run = |program: &str, args: &[&str]| {
            let output =
                ecr.wrap(program).args(args).env_clear().envs(podman.env()).envs(env.clone()).output().unwrap();
            assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
            output
        };
        run("podman", &["push", "-q", &certs, &image]);
        assert!(ecr.api_tags("team/app").contains_key("podman"));
        run("podman", &["rmi", &image]);
        run("podman", &["pull", "-q", &certs, &image]);
        let source = format!("docker://{image}");
        let target = format!("docker://{PRIVATE_HOST}/team/app:copied");
        let authfile = format!("--authfile={}", podman.auth_file().display());
        run(
            "skopeo",
            &[
                "copy",
                "-q",
                &authfile,
                "--src-cert-dir",
                &certs[11..],
                "--dest-cert-dir",
                &certs[11..],
                &source,
                &target,
            ],
        );
        assert_eq!(ecr.api_tags("team/app").get("copied"), ecr.api_tags("team/app").get("podman"));
        assert_eq!(ecr.stat("get_authorization_token"), 1, "one token served every call: {}", ecr.stats());
    }
}

//! `ecr-ship push`: the job the tool exists for.
//!
//! Parse, validate, act: the whole plan (repository, tags, source, AWS options, repository settings, outputs) is
//! checked before the first network call. Then: credentials, repository, a look at which planned tags already exist
//! (so a re-run is idempotent and an immutable conflict fails before anything is uploaded), the push (once, through
//! the engine or natively), the remaining tags server-side, and the outputs. No tag is written before the image it
//! names is complete: the engine and the native pusher both put a manifest only after all its blobs.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::aws::{AwsPlan, RepositorySettings, Session};
use crate::ci::{self, EnvMap, LocalWorkspace};
use crate::cli::PushArgs;
use crate::engine::{Engine, EngineChoice};
use crate::host::RegistryHost;
use crate::images::{self, Mutability, StoredManifest, TagAction};
use crate::oci::{self, ImageSource, ResolvedImage};
use crate::outputs::{ImageOutputs, OutputTargets};
use crate::settings::{self, ConfigFile};
use crate::{app, bail_input, log, names, tags};

/// Where the image comes from.
enum Source {
    /// A local image pushed through docker or podman.
    Engine { engine: Engine, image: String },
    /// An OCI layout or docker archive pushed natively; its manifest digest is known before any upload.
    Native { source: ImageSource, resolved: ResolvedImage },
}

/// Everything `push` will do, checked.
struct PushPlan {
    repository: String,
    tags: Vec<String>,
    source: Source,
    aws: AwsPlan,
    settings: RepositorySettings,
    create: bool,
    update: bool,
    skip_existing: bool,
    logout: bool,
    targets: OutputTargets,
    export: bool,
    json: bool,
    github: bool,
}

pub async fn run(args: &PushArgs, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let github = ci::var(env, "GITHUB_ACTIONS") == Some("true");
    if ci::var(env, "CODEBUILD_BUILD_SUCCEEDING") == Some("0") && !args.force.unwrap_or(false) {
        log::warn(
            "CodeBuild reports this build as failing (CODEBUILD_BUILD_SUCCEEDING=0): not pushing (--force pushes anyway)",
            github,
        );
        return Ok(());
    }
    let plan = validate(args, env, cwd).await?;
    let timeout = args.aws.timeout.map(std::time::Duration::from_secs);
    let work = act(&plan, env, cwd, stdout);
    match timeout {
        Some(limit) => tokio::time::timeout(limit, work).await.map_err(|_| {
            anyhow::anyhow!("push to '{}' did not finish within --timeout {}s", plan.repository, limit.as_secs())
        })?,
        None => work.await,
    }
}

async fn validate(args: &PushArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<PushPlan> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let target = settings::target(&args.common, &file);
    let Some(repository) = target.repository.clone() else {
        bail_input!("push needs --repository (or ECR_SHIP_REPOSITORY, or repository: in .ecr-ship.yml)");
    };
    names::validate_repository(&repository)?;
    let (rules, overrides) = settings::tag_rules(&args.tags, &file)?;
    let context = ci::detect(env, &LocalWorkspace { dir: cwd.to_path_buf() }, &overrides)?;
    let planned = tags::plan(&context, &rules, &app::today(env))?;
    let (targets, export) = settings::output_targets(&args.outputs, &file, env);
    let aws = app::aws_plan(&args.common, &args.aws, &file, env)?;
    let (settings, create, update) = app::repository_settings(&args.repository, &file, cwd)?;
    let source = match (&args.image, &args.from) {
        (Some(image), None) => {
            if image.trim().is_empty() || image.starts_with('-') {
                bail_input!("invalid --image '{image}': expected a local image reference such as app:latest");
            }
            let engine = Engine::detect(
                EngineChoice::parse(args.engine.as_deref().or(file.engine.as_deref()).unwrap_or("auto"))?,
                env,
            )
            .await?;
            Source::Engine { engine, image: image.clone() }
        }
        (None, Some(from)) => {
            let source = ImageSource::parse(&absolute_source(from, cwd))?;
            let resolved = source.inspect()?;
            Source::Native { source, resolved }
        }
        (Some(_), Some(_)) => bail_input!("--image and --from are mutually exclusive: give one image source"),
        (None, None) => bail_input!(
            "push needs an image: --image LOCAL_REF (through docker or podman) or --from oci:DIR[:REF] / docker-archive:FILE"
        ),
    };
    log::info(format!(
        "{} build: pushing {} to '{repository}' as {}",
        context.system,
        match &source {
            Source::Engine { engine, image } => format!("{image} through {}", engine.kind()),
            Source::Native { resolved, .. } =>
                format!("{} ({} blobs, {} bytes)", resolved.digest, resolved.blobs, resolved.bytes),
        },
        planned.join(", ")
    ));
    Ok(PushPlan {
        repository,
        tags: planned,
        source,
        aws,
        settings,
        create,
        update,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        logout: args.logout.unwrap_or(true),
        targets,
        export,
        json: target.json,
        github: ci::var(env, "GITHUB_ACTIONS") == Some("true"),
    })
}

/// `oci:DIR` and `docker-archive:FILE` relative to the working directory the command was given.
fn absolute_source(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((kind, rest)) if !rest.starts_with('/') && (kind == "oci" || kind == "docker-archive") => {
            format!("{kind}:{}", cwd.join(rest).display())
        }
        _ => spec.to_string(),
    }
}

async fn act(plan: &PushPlan, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let session = Arc::new(plan.aws.connect(env).await?);
    // The token and the repository's state are independent: ask for both at once.
    let repository_state = async {
        let info = session.ensure_repository(&plan.repository, &plan.settings, plan.create, plan.update).await?;
        let existing = images::existing_tags(&session, &plan.repository, &plan.tags).await?;
        anyhow::Ok((info, existing))
    };
    let (token, (info, existing)) = tokio::try_join!(session.authorization_token(), repository_state)?;
    let host = match plan.aws.registry() {
        Some(host) => host.clone(),
        None => RegistryHost::parse(&token.proxy_endpoint)
            .with_context(|| format!("GetAuthorizationToken returned proxy endpoint '{}'", token.proxy_endpoint))?,
    };
    let mutability = Mutability { mode: info.tag_mutability.clone(), exclusions: info.exclusion_filters.clone() };

    // The digest this image will have, when it can be known before pushing: then an existing tag is judged
    // (present, movable, or a conflict) before anything is uploaded.
    let known = match &plan.source {
        Source::Native { resolved, .. } => Some(resolved.digest.clone()),
        Source::Engine { engine, image } => local_digest(engine, image, &host, &plan.repository).await?,
    };
    let actions =
        images::plan_tags(&plan.tags, &existing, known.as_deref(), &mutability, plan.skip_existing, &plan.repository)?;
    ensure_some_tag(&actions, &plan.repository)?;
    let to_put = tags_with(&actions, |a| *a == TagAction::Put);

    let digest = match &plan.source {
        Source::Native { source, resolved } => {
            if to_put.is_empty() {
                log::info(format!("every tag to write already points at {}: nothing to upload", resolved.digest));
            } else {
                let registry = registry_client(&host, &plan.repository, session.clone(), &token)?;
                let pushed = oci::push(source, &registry, &to_put, &oci::PushOptions::default()).await.map_err(|error| {
                    match oci::immutable_tag(&error).map(String::from) {
                        Some(tag) => error.context(format!(
                            "tag '{tag}' already exists in the immutable repository '{}'; use commit-hash tags or --skip-existing",
                            plan.repository
                        )),
                        None => error,
                    }
                })?;
                log::info(format!(
                    "pushed {}: {} blobs uploaded ({} bytes), {} already present",
                    pushed.digest, pushed.blobs_uploaded, pushed.bytes_uploaded, pushed.blobs_skipped
                ));
            }
            resolved.digest.clone()
        }
        Source::Engine { engine, image } => {
            let mut records = Vec::new();
            let outcome = engine_push(plan, engine, image, &host, &token, &session, &to_put, known, &mut records).await;
            if plan.logout
                && let Err(error) = engine.logout(&records).await
            {
                log::warn(format!("could not remove the registry login: {error:#}"), plan.github);
            }
            outcome?
        }
    };
    report_actions(&actions, &digest, plan.github);
    let pushed_tags: Vec<String> =
        actions.iter().filter(|(_, a)| !matches!(a, TagAction::Skipped { .. })).map(|(t, _)| t.clone()).collect();
    let result = ImageOutputs {
        registry: Some(host.host().to_string()),
        repository: plan.repository.clone(),
        tags: pushed_tags,
        digest: Some(digest),
        tag_mutability: Some(info.tag_mutability.clone()),
    };
    app::finish(&result, &plan.targets, plan.export, plan.json, "pushed", cwd, stdout)
}

fn tags_with(actions: &[(String, TagAction)], keep: impl Fn(&TagAction) -> bool) -> Vec<String> {
    actions.iter().filter(|(_, a)| keep(a)).map(|(t, _)| t.clone()).collect()
}

/// Refuses a push whose every tag was skipped: nothing would name the image, so there is nothing to report.
fn ensure_some_tag(actions: &[(String, TagAction)], repository: &str) -> anyhow::Result<()> {
    if actions.iter().all(|(_, a)| matches!(a, TagAction::Skipped { .. })) {
        let tags: Vec<&str> = actions.iter().map(|(t, _)| t.as_str()).collect();
        anyhow::bail!(
            "nothing was pushed to '{repository}': every planned tag ({}) points at another image and was skipped \
             (--skip-existing); plan a tag that can be written, such as the commit tag",
            tags.join(", ")
        );
    }
    Ok(())
}

fn report_actions(actions: &[(String, TagAction)], digest: &str, github: bool) {
    for (tag, action) in actions {
        match action {
            TagAction::Put => log::info(format!("tag {tag} -> {digest}")),
            TagAction::Present => log::info(format!("tag {tag} already points at {digest}")),
            TagAction::Skipped { existing } => log::warn(
                format!(
                    "skipped tag {tag}: it points at {existing} and the repository does not let it move (--skip-existing)"
                ),
                github,
            ),
        }
    }
}

/// The digest this local image has in the target repository, if the engine pushed it there before. One inspect
/// on the happy path; only when it fails is the image's existence checked, for a clearer message.
async fn local_digest(
    engine: &Engine,
    image: &str,
    host: &RegistryHost,
    repository: &str,
) -> anyhow::Result<Option<String>> {
    let name = format!("{}/{repository}@", host.host());
    match engine.repo_digests(image).await {
        Ok(digests) => Ok(digests.into_iter().find_map(|d| d.strip_prefix(&name).map(String::from))),
        Err(_) if !engine.image_exists(image).await? => {
            anyhow::bail!("the local image '{image}' does not exist in {}: build or pull it first", engine.kind())
        }
        Err(error) => Err(error),
    }
}

/// Pushes once through the engine under the first tag to write, then adds the other tags with PutImage.
#[allow(clippy::too_many_arguments)]
async fn engine_push(
    plan: &PushPlan,
    engine: &Engine,
    image: &str,
    host: &RegistryHost,
    token: &crate::aws::RegistryCredentials,
    session: &Arc<Session>,
    to_put: &[String],
    known: Option<String>,
    records: &mut Vec<crate::engine::LoginRecord>,
) -> anyhow::Result<String> {
    let Some((first, rest)) = to_put.split_first() else {
        return known.context("no tag to write and no known digest: nothing was pushed");
    };
    records.push(engine.login(host.host(), &token.username, &token.password).await?);
    let remote = format!("{}/{}:{first}", host.host(), plan.repository);
    engine.tag(image, &remote).await?;
    let pushed = engine.push(&remote).await;
    if let Err(error) = engine.remove_tag(&remote).await {
        log::warn(format!("could not remove the temporary local name {remote}: {error:#}"), plan.github);
    }
    let digest = pushed?.digest;
    if !rest.is_empty() {
        let registry = registry_client(host, &plan.repository, session.clone(), token)?;
        let (bytes, media_type) = registry.get_manifest(&digest).await?;
        let manifest = StoredManifest::new(
            String::from_utf8(bytes).context("the pushed manifest is not UTF-8 JSON")?,
            Some(media_type),
        );
        if manifest.digest != digest {
            anyhow::bail!("the registry returned manifest {} for {digest}", manifest.digest);
        }
        let puts = rest.iter().map(|tag| images::put_tag(session, &plan.repository, &manifest, tag));
        futures_util::future::try_join_all(puts).await?;
    }
    Ok(digest)
}

/// A registry client authenticated with the ECR token, re-fetching it once after a 401.
fn registry_client(
    host: &RegistryHost,
    repository: &str,
    session: Arc<Session>,
    token: &crate::aws::RegistryCredentials,
) -> anyhow::Result<oci::Registry> {
    let auth = TokenAuth {
        session,
        current: tokio::sync::Mutex::new(oci::Credentials {
            username: token.username.clone(),
            password: token.password.expose().to_string(),
        }),
    };
    oci::Registry::new(&format!("https://{}", host.host()), repository, Arc::new(auth))
}

struct TokenAuth {
    session: Arc<Session>,
    current: tokio::sync::Mutex<oci::Credentials>,
}

impl oci::RegistryAuth for TokenAuth {
    fn credentials(&self, refresh: bool) -> oci::CredentialsFuture<'_> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            if refresh {
                let fresh = self.session.fresh_authorization_token().await?;
                *current = oci::Credentials { username: fresh.username, password: fresh.password.expose().to_string() };
            }
            Ok(current.clone())
        })
    }
}

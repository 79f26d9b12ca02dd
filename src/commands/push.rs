//! `ecr-ship push`: the job the tool exists for.
//!
//! Resolve, plan, act, report. The settings arrive checked; planning adds the tags and reads the image source (or
//! finds the engine) without the network, compressing a docker archive's uncompressed layers on a blocking thread
//! (`--compression`), so the manifest digest is known before the first call. Then: credentials, repository, a look at which planned tags already
//! exist (so a re-run is idempotent and an immutable conflict fails before anything is uploaded), the push (once,
//! through the engine or natively), the remaining tags server-side, and the outputs (with `--scan-fail-on`, then the
//! vulnerability gate on the pushed digest, in `scan.rs`). No tag is written before the
//! image it names is complete: the engine and the native pusher both put a manifest only after all its blobs.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::registry_client::{image_registry, reuse_or_new, warmed_registry_client};
use super::report;
use super::undo::UndoList;
use crate::aws::{RegistryCredentials, Session, StoredManifest};
use crate::ci::EnvMap;
use crate::config::{PushSettings, SourceSettings, Transfer};
use crate::engine::{Engine, SavedImage};
use crate::error::after_contact;
use crate::host::ImageRegistry;
use crate::log;
use crate::oci::{self, Compression, ImageSource, SourcePlan};
use crate::outputs::ImageOutputs;
use crate::tag_policy::{self, TagAction};

/// Where the image comes from, planned.
enum Source<'a> {
    /// A local image pushed through docker or podman.
    Engine { engine: Engine, image: &'a str },
    /// An OCI layout, OCI archive or docker archive pushed natively; its manifest digest is known before any upload.
    /// `_saved` is the archive a by-digest push of a local image was exported to, which the plan reads from.
    Native { plan: SourcePlan, _saved: Option<SavedImage> },
}

/// `undo` receives every login and temporary name the push makes; dispatch undoes them however the push ends.
pub async fn run(
    settings: &PushSettings,
    env: &EnvMap,
    cwd: &Path,
    stdout: &mut dyn Write,
    undo: &UndoList,
) -> anyhow::Result<()> {
    if settings.build_failing && !settings.force {
        log::warn(
            "CodeBuild reports this build as failing (CODEBUILD_BUILD_SUCCEEDING=0): not pushing (--force pushes anyway)",
            settings.reporting.github,
        );
        return Ok(());
    }
    // A by-digest push names no tag: the merged index gets the planned ones.
    let tags = if settings.by_digest { Vec::new() } else { settings.tags.plan()? };
    let source = match &settings.source {
        SourceSettings::Engine { engine, image } => {
            let engine = Engine::detect(*engine, env).await?;
            let remote = engine.remote_daemon().map(String::from);
            if settings.transfer == Transfer::Auto
                && let Some(address) = &remote
            {
                log::info(format!("docker's daemon is on another machine ({address}): pushing with docker push"));
            }
            if !settings.transfer.is_native(engine.kind(), remote.is_some()) {
                Source::Engine { engine, image }
            } else {
                match native_from_engine(settings, &engine, image).await {
                    Ok(Some(source)) => source,
                    Ok(None) => Source::Engine { engine, image },
                    // The default, not a request: docker's own push still works where the export could not.
                    Err(error) if settings.transfer == Transfer::Auto && !settings.by_digest => {
                        log::warn(
                            format!(
                                "pushing with docker push instead: the export for the native push failed: {error:#}"
                            ),
                            settings.reporting.github,
                        );
                        Source::Engine { engine, image }
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        SourceSettings::Native(source) => {
            let plan = source.plan_in_background(settings.compression).await?;
            report_compression(&plan);
            Source::Native { plan: annotate(settings, &tags, plan)?, _saved: None }
        }
    };
    log::info(format!(
        "{}: pushing {} to '{}' as {}",
        settings.tags.context.origin(),
        match &source {
            Source::Engine { engine, image } => format!("{image} through {}", engine.kind()),
            Source::Native { plan, .. } => {
                let summary = plan.summary();
                format!("{} ({} blobs, {} bytes)", summary.digest, summary.blobs, summary.bytes)
            }
        },
        settings.repository,
        if settings.by_digest { "no tag (by digest)".to_string() } else { tags.join(", ") }
    ));
    act(settings, &tags, &source, env, cwd, stdout, undo).await.map_err(after_contact)
}

/// A local image exported by the engine, planned as a native push. In ECR removing an image's last tag deletes the
/// image, so a by-digest push of a local image always goes this way. For tagged pushes it is docker's default
/// (`Transfer::is_native`): docker's registry client opens a new connection per request, which at a distance is most
/// of a push, while the native push keeps its connections and sends every blob and tag at once.
///
/// `None` when the default (`--transfer auto`) meets an export holding an image index (docker's containerd image
/// store with several platforms or attestations): one manifest is all a docker archive's image can carry, so
/// `docker push`, which sends the whole index, is the same image.
async fn native_from_engine<'a>(
    settings: &PushSettings,
    engine: &Engine,
    image: &str,
) -> anyhow::Result<Option<Source<'a>>> {
    let saved = engine.save(image).await?;
    if settings.transfer == Transfer::Auto && !settings.by_digest && oci::holds_image_index(saved.path())? {
        log::info(format!(
            "docker holds {image} as an image index (platforms or attestations), which docker push sends whole: \
             pushing with docker push"
        ));
        return Ok(None);
    }
    let how = match settings.transfer {
        _ if settings.by_digest => "natively, by digest",
        Transfer::Native => "natively (--transfer native)",
        _ => "natively (docker's default; --transfer engine uses docker push)",
    };
    log::info(format!("exported {image} from {} to push it {how}", engine.kind()));
    let source = ImageSource::parse(&format!("docker-archive:{}", saved.path().display()))?;
    let plan = source.plan_in_background(settings.compression).await?;
    report_compression(&plan);
    Ok(Some(Source::Native { plan, _saved: Some(saved) }))
}

/// Says what planning compressed (and what it cost), since that time and disk come before the first upload.
fn report_compression(plan: &SourcePlan) {
    if let Some(done) = plan.compressed() {
        log::info(format!(
            "compressed {} uncompressed layer{} with {} ({} -> {} bytes) in {:.1} s on {} thread{} \
             (--compression none sends them as they are)",
            done.layers,
            if done.layers == 1 { "" } else { "s" },
            done.format,
            done.bytes_in,
            done.bytes_out,
            done.elapsed.as_secs_f64(),
            done.threads,
            if done.threads == 1 { "" } else { "s" },
        ));
    }
}

/// With `--annotate`, the plan whose top manifest carries the annotations; the changed digest is said.
fn annotate(settings: &PushSettings, tags: &[String], plan: SourcePlan) -> anyhow::Result<SourcePlan> {
    if !settings.annotate {
        return Ok(plan);
    }
    let (_, annotations) = settings.tags.labels(tags.first().map(String::as_str))?;
    let pairs = annotations
        .iter()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let annotated = plan.annotated(&pairs).map_err(|error| match plan.compressed() {
        Some(done) if done.format == Compression::Gzip.name() => error.context(
            "--annotate: the docker archive's layers were gzipped into a Docker schema 2 manifest, which has no \
             annotations; --compression zstd builds an OCI manifest, which has",
        ),
        _ => error,
    })?;
    log::info(format!(
        "annotated the manifest with {} annotations: it is pushed as {}, not the source's {}",
        annotations.len(),
        annotated.summary().digest,
        plan.summary().digest
    ));
    Ok(annotated)
}

async fn act(
    settings: &PushSettings,
    tags: &[String],
    source: &Source<'_>,
    env: &EnvMap,
    cwd: &Path,
    stdout: &mut dyn Write,
    undo: &UndoList,
) -> anyhow::Result<()> {
    let repository = settings.repository.as_str();
    let session = Arc::new(settings.aws.connect(env).await?);
    // The registry's connections are opened while the API answers: the native push's first requests (one per blob
    // in flight), or, on ECR Public, the engine path's one manifest read for the tags it adds server-side.
    let connections = match source {
        Source::Native { plan, .. } => plan.summary().blobs.min(oci::PushOptions::default().concurrency),
        Source::Engine { .. } => usize::from(tags.len() > 1 && session.is_public()),
    };
    let warmed =
        (connections > 0).then(|| warmed_registry_client(&settings.aws, &session, repository, connections)).flatten();
    // The token, the repository and its tags are independent: ask for all at once (a missing repository has no
    // tags, and one created here neither).
    let repository_info = session.ensure_repository(
        repository,
        &settings.repository_settings,
        settings.create_repository,
        settings.update_repository,
    );
    // A native push also asks the API which of its blobs the repository stores, so that no blob waits for a HEAD on
    // the registry. Only a hint: when the API cannot say, each blob is checked on the registry as before.
    let present_blobs = async {
        let Source::Native { plan, .. } = source else { return None };
        session.present_blobs(repository, &plan.blob_digests()).await.ok().flatten().map(Arc::new)
    };
    // The engine's record of where the local image was pushed before is local, and asked meanwhile too.
    let repo_digests = async {
        match source {
            Source::Engine { engine, image } => engine.repo_digests(image).await,
            Source::Native { .. } => Ok(Vec::new()),
        }
    };
    let (info, token, existing, present, repo_digests) = tokio::join!(
        repository_info,
        session.authorization_token(),
        session.existing_tags(repository, tags),
        present_blobs,
        repo_digests
    );
    // All are awaited, then judged in the order a user fixes them: a repository that cannot be created or
    // read explains the lookups that failed beside it, so its error is the one shown whichever answered first.
    let info = info?;
    let (token, existing) = (token?, existing?);
    let push_options = oci::PushOptions { present, ..oci::PushOptions::default() };
    let registry = image_registry(&settings.aws, &session, &token).await?;
    let mutability = info.mutability();

    // The digest this image will have, when it can be known before pushing: then an existing tag is judged
    // (present, movable, or a conflict) before anything is uploaded.
    let known = match source {
        Source::Native { plan, .. } => Some(plan.summary().digest.clone()),
        Source::Engine { engine, image } => local_digest(engine, image, repo_digests, &registry, repository).await?,
    };
    if settings.by_digest
        && let Source::Native { plan, .. } = source
    {
        let target = NativeTarget { registry: &registry, repository, session: &session, token: &token, warmed };
        let digest = by_digest(plan, target, &push_options).await?;
        let result = ImageOutputs {
            registry: Some(registry.name()),
            repository: repository.to_string(),
            tags: Vec::new(),
            digest: Some(digest),
            tag_mutability: Some(info.tag_mutability.clone()),
            labels: Vec::new(),
            annotations: Vec::new(),
        };
        return finish(settings, &session, &result, cwd, stdout).await;
    }
    let actions =
        tag_policy::decide_tags(tags, &existing, known.as_deref(), &mutability, settings.skip_existing, repository)?;
    ensure_some_tag(&actions, repository)?;
    let to_put: Vec<String> = actions.iter().filter(|(_, a)| *a == TagAction::Put).map(|(t, _)| t.clone()).collect();

    let digest = match source {
        Source::Native { plan, .. } => {
            let resolved = plan.summary();
            if to_put.is_empty() {
                log::info(format!("every tag to write already points at {}: nothing to upload", resolved.digest));
            } else {
                let client = reuse_or_new(warmed, &registry, repository, session.clone(), &token)?;
                let pushed =
                    oci::push(plan, &client, &to_put, &push_options).await.map_err(|error| {
                        match oci::immutable_tag(&error).map(String::from) {
                            Some(tag) => error.context(format!(
                                "tag '{tag}' already exists in the immutable repository '{repository}'; use commit-hash tags or --skip-existing"
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
            let target = EngineTarget { registry: &registry, repository, token: &token, session: &session, warmed };
            engine_push(target, engine, image, &to_put, known, undo, settings).await?
        }
    };
    report::tag_actions(&actions, &digest, settings.reporting.github);
    let pushed_tags: Vec<String> =
        actions.iter().filter(|(_, a)| !matches!(a, TagAction::Skipped { .. })).map(|(t, _)| t.clone()).collect();
    let (labels, annotations) = settings.tags.labels(tags.first().map(String::as_str))?;
    let result = ImageOutputs {
        registry: Some(registry.name()),
        repository: repository.to_string(),
        tags: pushed_tags,
        digest: Some(digest),
        tag_mutability: Some(info.tag_mutability.clone()),
        labels,
        annotations,
    };
    finish(settings, &session, &result, cwd, stdout).await
}

/// The report of a push (tagged or by digest): with `--scan-fail-on`, after the vulnerability gate on its digest.
async fn finish(
    settings: &PushSettings,
    session: &Session,
    result: &ImageOutputs,
    cwd: &Path,
    stdout: &mut dyn Write,
) -> anyhow::Result<()> {
    let reported = match &settings.scan {
        Some(gate) => {
            super::scan::after_push(gate, session, result, &settings.outputs, &settings.reporting, cwd, stdout).await
        }
        None => report::image(result, &settings.outputs, &settings.reporting, "pushed", cwd, stdout),
    };
    let (storage, targets) = (&settings.storage, &settings.outputs.targets);
    report::storage(session, &result.repository, storage, targets, settings.reporting.github, false).await;
    reported
}

/// Where a by-digest push goes, and with what.
struct NativeTarget<'a> {
    registry: &'a ImageRegistry,
    repository: &'a str,
    session: &'a Arc<Session>,
    token: &'a RegistryCredentials,
    /// The registry client whose connections were opened while the API answered.
    warmed: Option<oci::Registry>,
}

/// Pushes a native plan under no tag; an image already in the repository (a re-run) is not uploaded again.
async fn by_digest(plan: &SourcePlan, target: NativeTarget<'_>, options: &oci::PushOptions) -> anyhow::Result<String> {
    let NativeTarget { registry, repository, session, token, warmed } = target;
    let digest = plan.summary().digest.clone();
    let present = !session.is_public() && session.get_manifest(repository, &digest).await.is_ok();
    if present {
        log::info(format!("{digest} is already in '{repository}': nothing to upload"));
        return Ok(digest);
    }
    let client = reuse_or_new(warmed, registry, repository, session.clone(), token)?;
    let pushed = oci::push(plan, &client, &[], options).await?;
    log::info(format!(
        "pushed {} by digest: {} blobs uploaded ({} bytes), {} already present",
        pushed.digest, pushed.blobs_uploaded, pushed.bytes_uploaded, pushed.blobs_skipped
    ));
    Ok(pushed.digest)
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

/// The digest this local image has in the target repository, if the engine pushed it there before. One inspect
/// on the happy path; only when it fails is the image's existence checked, for a clearer message.
async fn local_digest(
    engine: &Engine,
    image: &str,
    repo_digests: anyhow::Result<Vec<String>>,
    registry: &ImageRegistry,
    repository: &str,
) -> anyhow::Result<Option<String>> {
    let name = format!("{}@", registry.image_name(repository));
    match repo_digests {
        Ok(digests) => Ok(digests.into_iter().find_map(|d| d.strip_prefix(&name).map(String::from))),
        Err(_) if !engine.image_exists(image).await? => {
            anyhow::bail!("the local image '{image}' does not exist in {}: build or pull it first", engine.kind())
        }
        Err(error) => Err(error),
    }
}

/// Where the engine path pushes to, and with what.
struct EngineTarget<'a> {
    registry: &'a ImageRegistry,
    repository: &'a str,
    token: &'a RegistryCredentials,
    session: &'a Arc<Session>,
    /// The registry client whose connection was opened while the API answered, for the manifest read.
    warmed: Option<oci::Registry>,
}

/// Pushes once through the engine under the first tag to write, then adds the other tags with PutImage.
async fn engine_push(
    target: EngineTarget<'_>,
    engine: &Engine,
    image: &str,
    to_put: &[String],
    known: Option<String>,
    undo: &UndoList,
    settings: &PushSettings,
) -> anyhow::Result<String> {
    let Some((first, rest)) = to_put.split_first() else {
        return known.context("no tag to write and no known digest: nothing was pushed");
    };
    let (registry, repository) = (target.registry, target.repository);
    // Each undo is registered the moment there is something to undo, so a timeout or a signal still runs it.
    let record = engine.login(registry.host(), &target.token.username, &target.token.password).await?;
    if settings.logout {
        undo.logout_later(engine, record);
    }
    let remote = format!("{}:{first}", registry.image_name(repository));
    engine.tag(image, &remote).await?;
    undo.remove_name_later(engine, &remote);
    let digest = engine.push(&remote).await?.digest;
    // The engine's part is over: its login and the temporary name are undone (two engine commands) while the other
    // tags are put through the API.
    let (_, tagged) = tokio::join!(undo.run(), put_other_tags(target, rest, &digest));
    tagged?;
    Ok(digest)
}

/// Points the other tags at the digest the engine pushed, with PutImage.
async fn put_other_tags(target: EngineTarget<'_>, rest: &[String], digest: &str) -> anyhow::Result<()> {
    let (registry, repository) = (target.registry, target.repository);
    if rest.is_empty() {
        return Ok(());
    }
    // Private ECR answers BatchGetImage on the API connection the first round opened; ECR Public's API has no such
    // call, so there the manifest comes from the registry, over the connection warmed for it.
    let manifest = if target.session.is_public() {
        let client = reuse_or_new(target.warmed, registry, repository, target.session.clone(), target.token)?;
        let (bytes, media_type) = client.get_manifest(digest).await?;
        StoredManifest::new(
            String::from_utf8(bytes).context("the pushed manifest is not UTF-8 JSON")?,
            Some(media_type),
        )
    } else {
        target.session.get_manifest(repository, digest).await?
    };
    if manifest.digest != digest {
        anyhow::bail!("the registry returned manifest {} for {digest}", manifest.digest);
    }
    let puts = rest.iter().map(|tag| target.session.put_tag(repository, &manifest, tag));
    futures_util::future::try_join_all(puts).await?;
    Ok(())
}

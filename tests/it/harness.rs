//! Checks of the harness itself: the stand-ins start, answer, and are gone after drop.

use crate::support::{http_status, moto::Moto, registry::Registry};

#[test]
fn stand_ins_start_and_stop_by_pid() {
    let moto = Moto::start();
    let registry = Registry::start();
    let (moto_port, registry_port) = (moto.port, registry.port);
    assert_eq!(http_status(moto_port, "/moto-api/"), Some(200));
    assert_eq!(http_status(registry_port, "/v2/"), Some(401), "registry must demand auth");
    drop(moto);
    drop(registry);
    assert_eq!(http_status(moto_port, "/moto-api/"), None);
    assert_eq!(http_status(registry_port, "/v2/"), None);
}

/// The stand-in is one store, synchronously: a PutImage is pullable and a registry push is described the moment
/// each is answered, with no waiting.
#[test]
fn ecr_stand_in_is_one_store() {
    use crate::support::{ecr::Ecr, ecr::HOST, moto::PASSWORD};
    let ecr = Ecr::start();
    let curl = |args: &[&str]| -> String {
        let output = std::process::Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(ecr.ca())
            .args(["--resolve", &format!("{HOST}:443:{}", ecr.ip), "-u", &format!("AWS:{PASSWORD}")])
            .args(args)
            .output()
            .expect("curl");
        assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/app')");
    // The config blob `{}` must be in the registry before a manifest names it.
    let config_digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let location = curl(&[
        "-X",
        "POST",
        "-o",
        "/dev/null",
        "-w",
        "%{redirect_url}%header{location}",
        &format!("https://{HOST}/v2/team/app/blobs/uploads/"),
    ]);
    curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        "{}",
        &format!("{location}&digest={config_digest}"),
    ]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":2}},"layers":[]}}"#
    );
    ecr.moto.python(&format!(
        "client('ecr').put_image(repositoryName='team/app', imageManifest={manifest:?}, imageTag='via-api')"
    ));
    let pulled = curl(&[
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        &format!("https://{HOST}/v2/team/app/manifests/via-api"),
    ]);
    assert_eq!(pulled, manifest, "a tag put through the API is pullable at once; stand-in log: {}", ecr.log());
    // A push through the registry by the real host name (inside the namespace) is in DescribeImages at once.
    let cert_dir = ecr.ca().parent().unwrap().to_path_buf();
    let push = ecr
        .wrap("skopeo")
        .args(["copy", "--src-creds", &format!("AWS:{PASSWORD}"), "--dest-creds", &format!("AWS:{PASSWORD}")])
        .arg("--src-cert-dir")
        .arg(&cert_dir)
        .arg("--dest-cert-dir")
        .arg(&cert_dir)
        .arg(format!("docker://{HOST}/team/app:via-api"))
        .arg(format!("docker://{HOST}/team/app:via-registry"))
        .output()
        .unwrap();
    assert!(push.status.success(), "skopeo: {}", String::from_utf8_lossy(&push.stderr));
    let tags = ecr.api_tags("team/app");
    assert_eq!(tags.get("via-registry"), tags.get("via-api"), "{tags:?}");
    assert!(tags.contains_key("via-registry"), "{tags:?}");
}

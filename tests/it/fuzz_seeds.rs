//! The fuzz targets' seed corpus (`fuzz/corpus/`), run through the same entry points the fuzzers call: every named
//! seed and every input that once found a bug stays a regression test, and the entries cannot rot.

use std::path::Path;

use ecr_ship::fuzz;

/// Every seed of every target runs without a panic.
#[test]
fn every_seed_runs() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    type Entry = fn(&[u8]);
    let targets: [(&str, Entry); 7] = [
        ("tag_lines", |d| fuzz::tag_lines(&String::from_utf8_lossy(d))),
        ("registry_host", |d| fuzz::registry_host(&String::from_utf8_lossy(d))),
        ("config_file", |d| fuzz::config_file(&String::from_utf8_lossy(d))),
        ("event_payload", |d| fuzz::event_payload(&String::from_utf8_lossy(d))),
        ("oci_layout", |d| {
            fuzz::oci_layout(d);
        }),
        ("docker_archive", |d| {
            fuzz::docker_archive(d);
        }),
        ("oci_archive", |d| {
            fuzz::oci_archive(d);
        }),
    ];
    for (target, run) in targets {
        let seeds: Vec<_> = std::fs::read_dir(corpus.join(target)).expect("a seed corpus per target").collect();
        assert!(!seeds.is_empty(), "{target} has no seeds");
        for seed in seeds {
            run(&std::fs::read(seed.unwrap().path()).unwrap());
        }
    }
    // The image seeds are real images, so the fuzzer starts from inputs that reach the deep code.
    for seed in ["one-image", "index-of-index"] {
        assert!(fuzz::oci_layout(&std::fs::read(corpus.join("oci_layout").join(seed)).unwrap()), "{seed}");
    }
    assert!(fuzz::docker_archive(&std::fs::read(corpus.join("docker_archive/classic")).unwrap()));
    for seed in ["buildx", "podman", "skopeo"] {
        assert!(fuzz::oci_archive(&std::fs::read(corpus.join("oci_archive").join(seed)).unwrap()), "{seed}");
    }
}

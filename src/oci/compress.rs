//! Layer compression for docker archives (`--compression gzip|zstd|none`): the choice, the deterministic encoders,
//! the parallel driver, and the private temporary files the compressed layers are uploaded from.
//!
//! Deterministic by construction, so the same layer bytes give the same compressed bytes (and digest) on every run
//! and machine, and a re-push or a shared base layer finds its blob by HEAD and uploads nothing: gzip is miniz_oxide
//! (pure Rust, no CPU-dependent code paths, no system zlib) at level [`GZIP_LEVEL`] with a header of mtime 0, no
//! file name and OS byte 255 ("unknown"); zstd is the vendored C library at level [`ZSTD_LEVEL`], single-threaded,
//! no dictionary, no checksum, the content size in the frame header. Input is fed in fixed chunks of [`CHUNK`]
//! bytes, so not even the encoders' internal buffering sees different call boundaries. The versions are pinned by
//! Cargo.lock; a new encoder version may change the bytes (a one-time re-upload of each layer, never a wrong image).
//!
//! Each layer is read once, streamed (one chunk in memory per worker, plus the encoder's fixed state) through
//! the encoder into a file made for it: a random name in the temporary directory (`TMPDIR`), created exclusively
//! (`O_EXCL`, so a planted file or link is never followed) with mode 0600, hashed as it is written. The uncompressed
//! bytes are hashed on the way in and checked against the image config's diff_id. Layers are compressed in parallel,
//! at most [`std::thread::available_parallelism`] at once, largest first. [`ScratchFiles`] owns the files and
//! removes them when dropped, that is when the plan that uploads from them is done with, however the push ended; a
//! [`Stop`] makes running compressions give up within one chunk, so a time limit or a signal is not held up.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::digest::hex;
use crate::error::bad_input;

/// gzip level 1, miniz_oxide's fast greedy path: measured on one core of a 2-core machine at 125-145 MiB/s, against
/// 63-85 MiB/s at level 2 and 15-20 MiB/s at level 6, for 17-25 % more bytes than level 6 (BENCHMARKS.md).
/// Compression runs before the first upload, so its time adds to the push; at level 1 it costs less than uploading
/// the bytes level 2 or 6 would save unless the uplink is slower than about 10-20 MiB/s. For smaller images,
/// `--compression zstd` beats gzip level 6 on size at more than gzip level 1's speed.
pub const GZIP_LEVEL: u32 = 1;
/// zstd's own default level (also containers/image's): 150-190 MiB/s per core, smaller than gzip at any level.
pub const ZSTD_LEVEL: i32 = 3;
/// The unit layers are read and fed to the encoder in.
pub const CHUNK: usize = 256 * 1024;

/// How a layer is compressed: what a docker archive's layer is found to be, or what `--compression` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// What a push does when `--compression` is not given.
    pub const DEFAULT: Compression = Compression::Gzip;

    /// Reads `gzip`, `zstd` or `none` (any case, surrounding spaces ignored).
    pub fn parse(value: &str) -> anyhow::Result<Compression> {
        let trimmed = value.trim();
        [Compression::Gzip, Compression::Zstd, Compression::None]
            .into_iter()
            .find(|c| trimmed.eq_ignore_ascii_case(c.name()))
            .ok_or_else(|| bad_input(format!("unknown --compression '{trimmed}': use gzip, zstd or none")))
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Asks running compressions to stop; cloned into every worker.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// A guard that requests the stop when dropped (when the future waiting for the compression is dropped).
    pub fn on_drop(&self) -> StopOnDrop {
        StopOnDrop(self.clone())
    }
}

/// Requests its [`Stop`] when dropped.
pub struct StopOnDrop(Stop);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.request();
    }
}

/// The private temporary files of one plan, removed when this is dropped.
#[derive(Debug)]
pub struct ScratchFiles {
    dir: PathBuf,
    paths: Mutex<Vec<PathBuf>>,
}

impl Default for ScratchFiles {
    fn default() -> ScratchFiles {
        ScratchFiles::in_dir(std::env::temp_dir())
    }
}

impl ScratchFiles {
    pub fn in_dir(dir: PathBuf) -> ScratchFiles {
        ScratchFiles { dir, paths: Mutex::new(Vec::new()) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty file, opened for writing: a random name, created exclusively, mode 0600, removed on drop.
    pub fn create(&self) -> io::Result<(PathBuf, File)> {
        let mut last = io::Error::other("no attempt");
        for _ in 0..8 {
            let mut random = [0u8; 12];
            getrandom::fill(&mut random)
                .map_err(|e| io::Error::other(format!("no randomness for a file name: {e}")))?;
            let path = self.dir.join(format!("ecr-ship-layer-{}.tmp", hex(&random)));
            match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
                Ok(file) => {
                    self.paths.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(path.clone());
                    return Ok((path, file));
                }
                // 96 random bits: another file of that name is a planted one; never reuse it, pick another name.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last = error,
                Err(error) => return Err(error),
            }
        }
        Err(last)
    }
}

impl Drop for ScratchFiles {
    fn drop(&mut self) {
        let paths = self.paths.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        for path in std::mem::take(paths) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One uncompressed layer to compress: `size` bytes of `path` (the archive) from `offset`.
#[derive(Debug, Clone)]
pub struct LayerInput {
    /// The layer's name in the archive, for messages.
    pub name: String,
    pub path: PathBuf,
    pub offset: u64,
    pub size: u64,
    /// The digest the image config gives the uncompressed bytes (its diff_id), checked while reading.
    pub diff_id: Option<String>,
}

/// A compressed layer, in its temporary file.
#[derive(Debug, Clone)]
pub struct LayerOutput {
    pub path: PathBuf,
    pub digest: String,
    pub size: u64,
}

/// What compressing a set of layers did.
#[derive(Debug)]
pub struct Compressed {
    /// One per input, in input order.
    pub layers: Vec<LayerOutput>,
    pub threads: usize,
    pub elapsed: Duration,
}

/// What streaming one layer through an encoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// sha256 and length of the compressed bytes written.
    pub digest: String,
    pub size: u64,
    /// sha256 of the uncompressed bytes read.
    pub diff_id: String,
}

/// Why streaming a layer failed: on which side, so the message can name the right file.
#[derive(Debug)]
pub enum EncodeError {
    Read(io::Error),
    /// The input ended this many bytes before the size it was said to have.
    Short(u64),
    Write(io::Error),
    Stopped,
}

/// Streams exactly `size` bytes of `input` through the `compression` encoder into `output`, in chunks of [`CHUNK`].
/// `Compression::None` is refused (there is nothing to encode). `stopped` is asked before every chunk.
pub fn encode(
    input: &mut dyn Read,
    size: u64,
    output: &mut dyn Write,
    compression: Compression,
    stopped: &dyn Fn() -> bool,
) -> Result<Encoded, EncodeError> {
    let mut sink = Hashing { inner: output, hasher: Sha256::new(), bytes: 0 };
    let mut encoder = Encoder::new(&mut sink, compression, size).map_err(EncodeError::Write)?;
    let mut uncompressed = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut remaining = size;
    while remaining > 0 {
        if stopped() {
            return Err(EncodeError::Stopped);
        }
        let want = usize::try_from(remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let mut filled = 0;
        while filled < want {
            match input.read(&mut buffer[filled..want]) {
                Ok(0) => return Err(EncodeError::Short(remaining - filled as u64)),
                Ok(read) => filled += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(EncodeError::Read(error)),
            }
        }
        uncompressed.update(&buffer[..want]);
        encoder.write_all(&buffer[..want]).map_err(EncodeError::Write)?;
        remaining -= want as u64;
    }
    encoder.finish().map_err(EncodeError::Write)?;
    sink.inner.flush().map_err(EncodeError::Write)?;
    Ok(Encoded {
        digest: format!("sha256:{}", hex(&sink.hasher.finalize())),
        size: sink.bytes,
        diff_id: format!("sha256:{}", hex(&uncompressed.finalize())),
    })
}

/// Compresses every layer into its own file of `scratch`, in parallel (at most the available parallelism at once,
/// largest first). The first failure stops the rest; `stop` stops them all.
pub fn compress_layers(
    layers: &[LayerInput],
    compression: Compression,
    scratch: &ScratchFiles,
    stop: &Stop,
) -> anyhow::Result<Compressed> {
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(layers.len()).max(1);
    let mut order: Vec<usize> = (0..layers.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(layers[index].size));
    let next = AtomicUsize::new(0);
    let failed = Stop::default();
    let results: Mutex<Vec<Option<anyhow::Result<LayerOutput>>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(layers.len()).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(&index) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if stop.requested() || failed.requested() {
                        break;
                    }
                    let result = compress_layer(&layers[index], compression, scratch, stop, &failed);
                    if result.is_err() {
                        failed.request();
                    }
                    if let Ok(mut results) = results.lock() {
                        results[index] = Some(result);
                    }
                }
            });
        }
    });
    let results = results.into_inner().map_err(|_| anyhow::anyhow!("a layer compression thread failed"))?;
    let archive = layers.first().map(|l| l.path.display().to_string()).unwrap_or_default();
    if stop.requested() {
        anyhow::bail!("compressing the layers of '{archive}' was stopped");
    }
    // The first failure in layer order, so the message does not depend on which thread lost the race.
    let mut outputs = Vec::with_capacity(layers.len());
    for result in results {
        match result {
            Some(Ok(output)) => outputs.push(output),
            Some(Err(error)) => return Err(error),
            None => {}
        }
    }
    if outputs.len() != layers.len() {
        anyhow::bail!("compressing the layers of '{archive}' stopped before every layer was done");
    }
    Ok(Compressed { layers: outputs, threads, elapsed: started.elapsed() })
}

fn compress_layer(
    layer: &LayerInput,
    compression: Compression,
    scratch: &ScratchFiles,
    stop: &Stop,
    failed: &Stop,
) -> anyhow::Result<LayerOutput> {
    let archive = layer.path.display();
    let name = &layer.name;
    let read_error = |e: io::Error| {
        anyhow::anyhow!("reading layer '{name}' of '{archive}' to compress it with {}: {e}", compression.name())
    };
    let mut input = File::open(&layer.path).map_err(read_error)?;
    input.seek(SeekFrom::Start(layer.offset)).map_err(read_error)?;
    let (path, file) = scratch.create().map_err(|e| {
        anyhow::anyhow!(
            "creating a temporary file in '{}' for the {} copy of layer '{name}': {e}; set TMPDIR to a writable \
             directory, or push with --compression none",
            scratch.dir().display(),
            compression.name()
        )
    })?;
    let mut output = BufWriter::with_capacity(CHUNK, file);
    // Either stop ends this layer: the caller's (a time limit, a signal) or another layer's failure.
    let stopped = || stop.requested() || failed.requested();
    let encoded = encode(&mut input, layer.size, &mut output, compression, &stopped);
    drop(output);
    let encoded = encoded.map_err(|error| match error {
        EncodeError::Read(e) => read_error(e),
        EncodeError::Short(missing) => {
            anyhow::anyhow!("layer '{name}' of '{archive}' ended {missing} bytes early while it was compressed")
        }
        EncodeError::Write(e) => anyhow::anyhow!(
            "writing the {} copy of layer '{name}' to '{}': {e}; the compressed layers need free space in the \
             temporary directory (TMPDIR) until the push ends; free some, set TMPDIR to a larger disk, or push with \
             --compression none",
            compression.name(),
            path.display()
        ),
        EncodeError::Stopped => anyhow::anyhow!("compressing layer '{name}' of '{archive}' was stopped"),
    })?;
    if let Some(expected) = &layer.diff_id
        && *expected != encoded.diff_id
    {
        return Err(bad_input(format!(
            "layer '{name}' of '{archive}' does not match the image config: its diff_id is {expected}, but the \
             layer's bytes hash to {}; the archive is damaged or was changed after docker save wrote it",
            encoded.diff_id
        )));
    }
    Ok(LayerOutput { path, digest: encoded.digest, size: encoded.size })
}

/// A writer that hashes and counts what passes through it.
struct Hashing<'w> {
    inner: &'w mut dyn Write,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Encoder<'s, W: Write> {
    Gzip(flate2::write::GzEncoder<&'s mut W>),
    Zstd(zstd::stream::write::Encoder<'static, &'s mut W>),
}

impl<'s, W: Write> Encoder<'s, W> {
    fn new(sink: &'s mut W, compression: Compression, size: u64) -> io::Result<Encoder<'s, W>> {
        match compression {
            Compression::Gzip => Ok(Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(sink, flate2::Compression::new(GZIP_LEVEL)),
            )),
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)?;
                encoder.include_checksum(false)?;
                encoder.include_dictid(false)?;
                encoder.include_contentsize(true)?;
                encoder.set_pledged_src_size(Some(size))?;
                Ok(Encoder::Zstd(encoder))
            }
            Compression::None => Err(io::Error::other("no compression was asked for")),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Gzip(encoder) => encoder.write_all(bytes),
            Encoder::Zstd(encoder) => encoder.write_all(bytes),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Encoder::Gzip(encoder) => encoder.finish().map(drop),
            Encoder::Zstd(encoder) => encoder.finish().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_digest;

    /// Compressible but not trivial: text-like lines with varying numbers, then a stretch of pseudo-random bytes.
    fn sample(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut line = 0u64;
        while out.len() < len / 2 {
            out.extend_from_slice(format!("line {line}: the layer holds /usr/lib/file-{}.so\n", line % 97).as_bytes());
            line += 1;
        }
        while out.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(&state.to_le_bytes());
        }
        out.truncate(len);
        out
    }

    fn encoded(bytes: &[u8], compression: Compression) -> (Vec<u8>, Encoded) {
        let mut out = Vec::new();
        let result = encode(&mut &bytes[..], bytes.len() as u64, &mut out, compression, &|| false).unwrap();
        (out, result)
    }

    #[test]
    fn the_same_bytes_compress_to_the_same_digest_every_time() {
        let input = sample(3 * CHUNK + 12_345);
        for compression in [Compression::Gzip, Compression::Zstd] {
            let (first_bytes, first) = encoded(&input, compression);
            let (second_bytes, second) = encoded(&input, compression);
            assert_eq!(first, second, "{compression:?}");
            assert_eq!(first_bytes, second_bytes, "{compression:?}");
            assert_eq!(first.digest, sha256_digest(&first_bytes), "the digest is of the bytes written");
            assert_eq!(first.size, first_bytes.len() as u64);
            assert_eq!(first.diff_id, sha256_digest(&input), "the diff_id is of the bytes read");
            assert!(first.size < input.len() as u64, "{compression:?} made {} of {}", first.size, input.len());
        }
        // Reads that return fewer bytes than asked do not change the output: chunks are always filled.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
                let n = buffer.len().min(self.0.len()).min(1000);
                buffer[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let trickled =
            encode(&mut Trickle(&input), input.len() as u64, &mut out, Compression::Gzip, &|| false).unwrap();
        assert_eq!(trickled, encoded(&input, Compression::Gzip).1);
    }

    /// The exact digests of a fixed input: a change of encoder, level or header shows here first (it would make
    /// every layer a new blob once, so it should be a decision, not an accident of a dependency update).
    #[test]
    fn compressed_digests_are_pinned() {
        let input = sample(3 * CHUNK + 12_345);
        assert_eq!(
            encoded(&input, Compression::Gzip).1.digest,
            "sha256:9ad893750e9bea4da212a89a3c7d6fb0c6984cf46623b905bae33d9593892c2a"
        );
        assert_eq!(
            encoded(&input, Compression::Zstd).1.digest,
            "sha256:116f7c77afd23b0b5e9536c28d3f4be8ecfe91c2330cdb6df40aa0abf72dfe9e"
        );
    }

    #[test]
    fn gzip_header_is_fixed_and_both_formats_round_trip() {
        let input = sample(CHUNK + 7);
        let (gzip, _) = encoded(&input, Compression::Gzip);
        // ID1 ID2 CM FLG(no name, no extra) MTIME=0 XFL=4 (fastest) OS=255.
        assert_eq!(&gzip[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, input);

        let (zstd, _) = encoded(&input, Compression::Zstd);
        assert_eq!(&zstd[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(zstd::stream::decode_all(&zstd[..]).unwrap(), input);

        let (empty, _) = encoded(&[], Compression::Gzip);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&empty[..]).read_to_end(&mut back).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn short_input_and_stop_are_errors() {
        let input = sample(1000);
        let mut out = Vec::new();
        let short = encode(&mut &input[..], 2000, &mut out, Compression::Gzip, &|| false);
        assert!(matches!(short, Err(EncodeError::Short(1000))), "{short:?}");
        let stop = Stop::default();
        drop(stop.on_drop());
        let stopped = encode(&mut &input[..], 1000, &mut Vec::new(), Compression::Zstd, &|| stop.requested());
        assert!(matches!(stopped, Err(EncodeError::Stopped)), "{stopped:?}");
    }

    #[test]
    fn compression_names_parse_and_bad_ones_are_bad_input() {
        assert_eq!(Compression::parse(" GZIP ").unwrap(), Compression::Gzip);
        assert_eq!(Compression::parse("zstd").unwrap(), Compression::Zstd);
        assert_eq!(Compression::parse("none").unwrap(), Compression::None);
        let error = Compression::parse("xz").unwrap_err();
        assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
        assert_eq!(error.to_string(), "unknown --compression 'xz': use gzip, zstd or none");
    }

    #[test]
    fn scratch_files_are_private_exclusive_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ecr-ship-scratch-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = ScratchFiles::in_dir(dir.clone());
        let (first, mut file) = scratch.create().unwrap();
        let (second, _) = scratch.create().unwrap();
        assert_ne!(first, second);
        file.write_all(b"layer").unwrap();
        assert_eq!(std::fs::metadata(&first).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(first.file_name().unwrap().to_string_lossy().starts_with("ecr-ship-layer-"));
        drop(scratch);
        assert!(!first.exists() && !second.exists(), "removed with their owner");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn layers_compress_in_parallel_into_scratch_files_and_a_wrong_diff_id_is_bad_input() {
        let dir = std::env::temp_dir().join(format!("ecr-ship-compress-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("archive.bin");
        let (a, b) = (sample(100_000), sample(CHUNK * 2 + 1));
        std::fs::write(&archive, [&b"head"[..], &a, &b].concat()).unwrap();
        let layer = |name: &str, offset: u64, bytes: &[u8], diff_id: Option<String>| LayerInput {
            name: name.into(),
            path: archive.clone(),
            offset,
            size: bytes.len() as u64,
            diff_id,
        };
        let inputs =
            [layer("a", 4, &a, Some(sha256_digest(&a))), layer("b", 4 + a.len() as u64, &b, Some(sha256_digest(&b)))];
        let scratch = ScratchFiles::in_dir(dir.clone());
        let done = compress_layers(&inputs, Compression::Gzip, &scratch, &Stop::default()).unwrap();
        for (output, original) in done.layers.iter().zip([&a, &b]) {
            let bytes = std::fs::read(&output.path).unwrap();
            assert_eq!(sha256_digest(&bytes), output.digest);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut back).unwrap();
            assert_eq!(&back, original);
        }

        let wrong = [layer("a", 4, &a, Some(sha256_digest(b"something else")))];
        let error = compress_layers(&wrong, Compression::Zstd, &scratch, &Stop::default()).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
        assert!(error.to_string().contains("does not match the image config"), "{error}");
        drop(scratch);
        std::fs::remove_file(&archive).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "every scratch file went with its owner");
        std::fs::remove_dir(&dir).unwrap();
    }
}

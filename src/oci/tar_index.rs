//! A tar file read in place: one pass over its headers (data is skipped by seeking) gives every entry's byte range,
//! so a blob is pushed straight from the tar, never extracted. Both tar sources use it: `docker save` archives
//! (`archive`) and OCI archives (`oci_archive`).
//!
//! Nothing is ever written to disk and no link is followed outside the tar, but an archive a real tool would never
//! write is refused anyway, as bad input naming the entry: a name that is absolute or climbs out with `..`, a link
//! whose target does, an entry whose data ends past the end of the file, and a tar that is compressed as a whole
//! (gzip or zstd: the byte ranges are offsets into the uncompressed tar, so it must be decompressed first).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::bail_input;
use crate::error::bad_input;

const MAX_LINK_HOPS: usize = 8;

/// What kind of tar a source expects, for messages: its noun and how to undo a gzip of the whole file.
pub struct TarKind {
    pub noun: &'static str,
    pub gunzip: &'static str,
}

#[derive(Debug, Clone)]
pub(super) enum EntryKind {
    File {
        offset: u64,
        size: u64,
    },
    /// A symbolic or hard link, by the (normalized) name of the entry it points at.
    Link(String),
}

/// Name -> location of every entry of the tar, from one pass over its headers.
#[derive(Debug)]
pub struct TarIndex {
    pub(super) file: PathBuf,
    pub(super) entries: HashMap<String, EntryKind>,
}

impl TarIndex {
    /// Indexes `file`, refusing (as bad input) what is not an uncompressed tar or holds entries outside it.
    pub fn read(file: &Path, kind: &TarKind) -> anyhow::Result<TarIndex> {
        let noun = kind.noun;
        let opened =
            File::open(file).map_err(|e| bad_input(format!("cannot open the {noun} '{}': {e}", file.display())))?;
        let length = opened.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        if length == 0 {
            bail_input!("'{}' is empty, not a tar archive ({noun})", file.display());
        }
        let mut magic = [0u8; 4];
        let mut probe = &opened;
        if probe.read_exact(&mut magic).is_ok() {
            let compression = match magic {
                [0x1f, 0x8b, _, _] => Some(("gzip", kind.gunzip)),
                [0x28, 0xb5, 0x2f, 0xfd] => Some(("zstd", "unzstd")),
                _ => None,
            };
            if let Some((compression, decompress)) = compression {
                bail_input!(
                    "'{}' is {compression}-compressed; blobs are streamed from the {noun} in place, so decompress \
                     it first ({decompress})",
                    file.display()
                );
            }
        }
        let mut reader = BufReader::new(opened);
        reader.seek(SeekFrom::Start(0))?;
        let mut archive = tar::Archive::new(reader);
        let not_tar = |e: std::io::Error| bad_input(format!("'{}' is not a readable tar archive: {e}", file.display()));
        let outside = |what: &str| {
            bad_input(format!(
                "'{}' holds {what}, which points outside the archive (an absolute path or one climbing out with \
                 '..'); the archive is refused",
                file.display()
            ))
        };
        let mut entries = HashMap::new();
        for entry in archive.entries_with_seek().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            let raw_name = entry.path().map_err(not_tar)?.to_string_lossy().into_owned();
            let Some(name) = normalize(&raw_name) else { return Err(outside(&format!("the entry '{raw_name}'"))) };
            let link = || entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned());
            let kind = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (offset, size) = (entry.raw_file_position(), entry.size());
                    if offset.checked_add(size).is_none_or(|end| end > length) {
                        bail_input!(
                            "'{}' is truncated: the entry '{raw_name}' ends past the end of the file",
                            file.display()
                        );
                    }
                    EntryKind::File { offset, size }
                }
                tar::EntryType::Symlink => {
                    let Some(target) = link() else { continue };
                    // A symbolic link is relative to the directory holding it.
                    let base = Path::new(&name).parent().map(Path::to_path_buf).unwrap_or_default();
                    let Some(resolved) = normalize_path(&base.join(&target)) else {
                        return Err(outside(&format!("the link '{raw_name}' to '{target}'")));
                    };
                    EntryKind::Link(resolved)
                }
                tar::EntryType::Link => {
                    // A hard link names another entry of the archive.
                    let Some(target) = link() else { continue };
                    let Some(resolved) = normalize(&target) else {
                        return Err(outside(&format!("the link '{raw_name}' to '{target}'")));
                    };
                    EntryKind::Link(resolved)
                }
                _ => continue,
            };
            entries.insert(name, kind);
        }
        Ok(TarIndex { file: file.to_path_buf(), entries })
    }

    /// The regular file `name` resolves to (following links, such as docker's symlinked duplicate layers), as
    /// (offset, size); `None` when there is none.
    pub fn resolve(&self, name: &str) -> anyhow::Result<Option<(u64, u64)>> {
        let Some(mut current) = normalize(name) else {
            bail_input!("'{name}' in '{}' points outside the archive", self.file.display());
        };
        for _ in 0..MAX_LINK_HOPS {
            match self.entries.get(&current) {
                None => return Ok(None),
                Some(EntryKind::File { offset, size }) => return Ok(Some((*offset, *size))),
                Some(EntryKind::Link(target)) => current = target.clone(),
            }
        }
        bail_input!("'{name}' in '{}' is a chain of more than {MAX_LINK_HOPS} links", self.file.display())
    }

    /// The whole entry `name`, or `None` when there is none; an entry larger than `limit` is refused.
    pub fn read_small(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let Some((offset, size)) = self.resolve(name)? else { return Ok(None) };
        if size > limit {
            bail_input!("'{name}' in '{}' is {size} bytes, more than the {limit} expected", self.file.display());
        }
        let unreadable = |e: std::io::Error| bad_input(format!("reading '{name}' from '{}': {e}", self.file.display()));
        let mut file = File::open(&self.file).map_err(unreadable)?;
        file.seek(SeekFrom::Start(offset)).map_err(unreadable)?;
        let mut bytes = vec![0u8; usize::try_from(size)?];
        file.read_exact(&mut bytes).map_err(unreadable)?;
        Ok(Some(bytes))
    }
}

/// `./a//b/../c` -> `a/c`; `None` for names that are absolute or climb out of the archive.
pub fn normalize(name: &str) -> Option<String> {
    normalize_path(Path::new(name))
}

fn normalize_path(path: &Path) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    const KIND: TarKind = TarKind { noun: "test archive", gunzip: "gunzip" };

    #[test]
    fn names_are_normalized_inside_the_archive() {
        assert_eq!(normalize("./blobs//sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(normalize("a/../b/layer.tar").as_deref(), Some("b/layer.tar"));
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("a/../../b"), None);
        assert_eq!(normalize("/etc/passwd"), None);
    }

    /// A tar from raw headers, so the test can write what `tar::Builder` refuses (`..` and absolute names).
    fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, link, data) in entries {
            let mut header = tar::Header::new_old();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            header.set_size(data.len() as u64);
            header.set_entry_type(*kind);
            header.set_mode(0o644);
            header.set_cksum();
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    /// The index of a tar holding `bytes`, with the directory that keeps the file alive.
    fn index_of(name: &str, bytes: &[u8]) -> (anyhow::Result<TarIndex>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (TarIndex::read(&path, &KIND), dir)
    }

    #[test]
    fn links_resolve_inside_the_archive() {
        use tar::EntryType::{Link, Regular, Symlink};
        let tar = raw_tar(&[
            ("a/data", Regular, "", b"hello"),
            ("b/sym", Symlink, "../a/data", b""),
            ("hard", Link, "a/data", b""),
            ("b/chain", Symlink, "sym", b""),
        ]);
        let (index, _dir) = index_of("ok.tar", &tar);
        let index = index.unwrap();
        let data = index.read_small("a/data", 100).unwrap();
        assert_eq!(data.as_deref(), Some(&b"hello"[..]));
        for name in ["b/sym", "hard", "./b/chain"] {
            assert_eq!(index.read_small(name, 100).unwrap(), data, "{name}");
        }
        assert!(index.read_small("nope", 100).unwrap().is_none());
        assert_eq!(exit_code(&index.read_small("a/data", 2).unwrap_err()), EXIT_BAD_INPUT, "over the limit");
    }

    #[test]
    fn entries_and_links_outside_the_archive_are_refused() {
        use tar::EntryType::{Link, Regular, Symlink};
        let cases: [(&str, tar::EntryType, &str); 5] = [
            ("../escape", Regular, ""),
            ("/etc/passwd", Regular, ""),
            ("blobs/up", Symlink, "../../etc/passwd"),
            ("blobs/abs", Symlink, "/etc/passwd"),
            ("hard", Link, "../x"),
        ];
        for (name, kind, link) in cases {
            let tar = raw_tar(&[("index.json", Regular, "", b"{}"), (name, kind, link, b"")]);
            let error = index_of("bad.tar", &tar).0.unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{name}");
            let text = error.to_string();
            assert!(text.contains(name) && text.contains("outside the archive"), "{text}");
        }
    }

    #[test]
    fn compressed_empty_truncated_and_non_tar_files_are_bad_input() {
        let tar = raw_tar(&[("big", tar::EntryType::Regular, "", &[7u8; 2000])]);
        let cases: [(&str, Vec<u8>, &str); 5] = [
            ("gzip", vec![0x1f, 0x8b, 8, 0, 0, 0], "gzip-compressed; blobs are streamed"),
            ("zstd", vec![0x28, 0xb5, 0x2f, 0xfd, 0], "zstd-compressed"),
            ("empty", Vec::new(), "is empty"),
            ("truncated", tar[..1024].to_vec(), "is truncated: the entry 'big'"),
            ("text", b"not a tar at all\n".repeat(64), "is not a readable tar archive"),
        ];
        for (name, bytes, expected) in cases {
            let error = index_of(name, &bytes).0.unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{name}");
            let text = error.to_string();
            assert!(text.contains(expected) && text.contains(name), "{name}: {text}");
        }
    }
}

//! Writing a file in a directory others may have written to first (a checkout, a shared docker config): resolve
//! where a symlinked path finally points, so a rename replaces the target and not the link, and create the
//! temporary file beside it under a fresh random name with O_EXCL and mode 0600, so a file or symlink planted under
//! a guessable name is never followed. The output files (`outputs`) and the engine's credential store share these.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The directory a path is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The file a possibly symlinked path finally names (a relative link is relative to the link's directory).
pub fn final_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("a chain of too many symlinks"))
}

/// A new file `.NAME.ecr-ship-<random>.tmp` in `dir`, mode 0600, that did not exist before (O_EXCL).
pub fn create_sibling(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    let mut last = std::io::Error::other("no attempt");
    for _ in 0..8 {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
        let temporary = dir.join(format!(".{name}.ecr-ship-{}.tmp", crate::digest::hex(&random)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

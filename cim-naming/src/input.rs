//! The one bounded reader of every input file: graphs, agent definition files, tier catalogs
//! and declared GPU inventories all go through [`read_input`]. It lives in this leaf crate so
//! every crate, including the agent definitions without their deployment output, reads the same
//! way.
//!
//! Limits (issue 12): a file is read only when it is a regular file (a FIFO, a device such as
//! `/dev/zero` or a directory is refused before reading), and it may hold at most
//! [`MAX_INPUT_BYTES`]; a longer file is refused without reading more than one byte past the
//! limit. Text must be UTF-8.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Largest input file read, in bytes (4 MiB). A fleet graph of thousands of nodes or an agent
/// definition is far smaller; a Kubernetes ConfigMap holds at most 1 MiB anyway.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// Why an input file was refused before or while reading it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The path is not a regular file (a FIFO, a device, a directory, a socket).
    #[error("{}: not a regular file (FIFOs, devices and directories are not read)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than the limit.
    #[error("{}: larger than the input limit of {limit} bytes", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
}

/// Reads `path` as UTF-8 text within [`MAX_INPUT_BYTES`].
///
/// # Errors
/// An `std::io::Error` from opening or reading, or one of kind `InvalidData` wrapping an
/// [`InputError`] when the file is not a regular file, too large or not UTF-8, so callers that
/// report I/O errors with their path report these the same way.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    read_input_limited(path, MAX_INPUT_BYTES)
}

/// [`read_input`] with a limit of `limit` bytes.
///
/// # Errors
/// As [`read_input`].
pub fn read_input_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    let invalid = |error: InputError| std::io::Error::new(std::io::ErrorKind::InvalidData, error);
    // Checked before opening (opening a FIFO for reading waits for a writer) and again on the
    // opened file (the path may have been replaced in between).
    let not_a_file = || {
        invalid(InputError::NotAFile {
            path: path.to_owned(),
        })
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_a_file());
    }
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_a_file());
    }
    let too_large = || {
        invalid(InputError::TooLarge {
            path: path.to_owned(),
            limit,
        })
    };
    if metadata.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    // The size may change between the check and the read: never read past the limit.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| {
        invalid(InputError::NotUtf8 {
            path: path.to_owned(),
        })
    })
}

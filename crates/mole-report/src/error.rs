//! The one error type of mole-report: every failure names the file it concerns.

use std::path::PathBuf;

/// A report could not be made. Every variant except [`ReportError::Io`] and
/// [`ReportError::Plot`] is bad input (a missing or unreadable run directory or file).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run directory does not exist or is not a directory.
    #[error("{0}: not a run directory (no such directory)")]
    NoRunDir(PathBuf),
    /// The directory holds none of the files a report is made from.
    #[error("{0}: not a run directory (none of metrics.csv, summary.json, embeddings.safetensors)")]
    EmptyRunDir(PathBuf),
    /// A file of the run directory is present but cannot be parsed.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Drawing a picture failed.
    #[error("drawing {path}: {reason}")]
    Plot {
        /// The picture being drawn.
        path: PathBuf,
        /// The backend's message.
        reason: String,
    },
    /// Bad options (e.g. perplexity too large for the number of points).
    #[error("{0}")]
    Options(String),
}

impl ReportError {
    /// Whether this error is caused by the user's input (run directories, files, options) rather
    /// than by the machine (disk full, drawing backend failure).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ReportError::Io { .. } | ReportError::Plot { .. })
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        ReportError::Corrupt {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}

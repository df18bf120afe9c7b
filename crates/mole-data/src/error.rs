//! Errors raised while reading datasets: every one names the file and, where it applies, the line.

use std::path::PathBuf;

/// A dataset could not be read. The message always names the file (and line or record where known).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// File that failed.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file was read but its contents do not follow the format.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Format {
        /// File that is malformed.
        path: PathBuf,
        /// 1-based line (text formats) or record (binary formats), when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A named dataset was not found in any of the places it is looked for.
    #[error("dataset '{name}' not found; looked for {}. {hint}", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Missing {
        /// Dataset name as given by the user.
        name: String,
        /// Every path that was tried.
        looked: Vec<PathBuf>,
        /// How to obtain the dataset.
        hint: String,
    },
    /// The dataset name or spec is not known.
    #[error(
        "unknown dataset '{0}'; known: digits, iris, wine, breast-cancer, mnist, fashion-mnist, cifar10, cora, mutag, csv:PATH, linqs:DIR/NAME, tu:DIR"
    )]
    Unknown(String),
}

impl DataError {
    /// Shorthand for a [`DataError::Format`].
    pub fn format(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        DataError::Format {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// Shorthand for a [`DataError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, DataError>;

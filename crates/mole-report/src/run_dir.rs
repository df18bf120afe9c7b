//! Reading a run directory: every file is optional, but a present file must parse.

use crate::ReportError;
use crate::embeddings::{Embeddings, parse_embeddings};
use crate::metrics::{MetricRow, parse_metrics};
use std::path::{Path, PathBuf};

/// What a report can be made from: the files of one run directory that exist.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The run directory.
    pub dir: PathBuf,
    /// `config.toml` as written by `mole train`.
    pub config: Option<String>,
    /// `summary.json`.
    pub summary: Option<serde_json::Value>,
    /// `metrics.csv`.
    pub metrics: Option<Vec<MetricRow>>,
    /// `embeddings.safetensors`.
    pub embeddings: Option<Embeddings>,
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ReportError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReportError::io(path, e)),
    }
}

fn utf8(path: &Path, b: Vec<u8>) -> Result<String, ReportError> {
    String::from_utf8(b).map_err(|_| ReportError::corrupt(path, "not UTF-8 text"))
}

impl RunData {
    /// Reads the run directory `dir`. Missing files are `None`; a directory with none of
    /// `metrics.csv`, `summary.json`, `embeddings.safetensors` is an error, and so is a present
    /// file that does not parse.
    pub fn load(dir: &Path) -> Result<RunData, ReportError> {
        Self::load_parts(dir, true)
    }

    /// Like [`RunData::load`] without reading the (large) embeddings file.
    pub fn load_without_embeddings(dir: &Path) -> Result<RunData, ReportError> {
        Self::load_parts(dir, false)
    }

    fn load_parts(dir: &Path, with_embeddings: bool) -> Result<RunData, ReportError> {
        if !dir.is_dir() {
            return Err(ReportError::NoRunDir(dir.to_path_buf()));
        }
        let p = dir.join("config.toml");
        let config = read_optional(&p)?.map(|b| utf8(&p, b)).transpose()?;
        let p = dir.join("summary.json");
        let summary = match read_optional(&p)? {
            Some(b) => Some(
                serde_json::from_slice::<serde_json::Value>(&b)
                    .map_err(|e| ReportError::corrupt(&p, format!("not JSON ({e})")))?,
            ),
            None => None,
        };
        if let Some(s) = &summary
            && !s.is_object()
        {
            return Err(ReportError::corrupt(&p, "not a JSON object"));
        }
        let p = dir.join("metrics.csv");
        let metrics = match read_optional(&p)? {
            Some(b) => Some(parse_metrics(&p, &utf8(&p, b)?)?),
            None => None,
        };
        let p = dir.join("embeddings.safetensors");
        let embeddings = if with_embeddings {
            match read_optional(&p)? {
                Some(b) => Some(parse_embeddings(&p, &b)?),
                None => None,
            }
        } else {
            None
        };
        let has_embeddings = embeddings.is_some() || (!with_embeddings && p.is_file());
        if summary.is_none() && metrics.is_none() && !has_embeddings {
            return Err(ReportError::EmptyRunDir(dir.to_path_buf()));
        }
        Ok(RunData {
            dir: dir.to_path_buf(),
            config,
            summary,
            metrics,
            embeddings,
        })
    }

    /// A string field of `summary.json` (or of `config.toml` as a fallback for the method).
    pub fn summary_str(&self, key: &str) -> Option<String> {
        self.summary
            .as_ref()?
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    /// A number field of `summary.json`.
    pub fn summary_f64(&self, key: &str) -> Option<f64> {
        self.summary.as_ref()?.get(key)?.as_f64()
    }

    /// The training method (`mole`, `hsic`, `bp`), from `summary.json` or `config.toml`.
    pub fn method(&self) -> Option<String> {
        self.summary_str("method").or_else(|| {
            self.config.as_ref()?.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "method").then(|| v.trim().trim_matches('"').to_string())
            })
        })
    }

    /// A short name of the run: `method (directory name)`.
    pub fn label(&self) -> String {
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string());
        match self.method() {
            Some(m) => format!("{m} ({name})"),
            None => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let p =
            std::env::temp_dir().join(format!("mole-report-rundir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn missing_and_empty_directories_are_errors() {
        let e = RunData::load(Path::new("/nonexistent/run")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/nonexistent/run: not a run directory (no such directory)"
        );
        let d = temp("empty");
        let e = RunData::load(&d).unwrap_err();
        assert!(e.to_string().contains("none of metrics.csv"), "{e}");
        assert!(e.is_bad_input());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_summary_names_the_file_and_method_falls_back_to_config() {
        let d = temp("corrupt");
        std::fs::write(d.join("summary.json"), "{not json").unwrap();
        let e = RunData::load(&d).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}: not JSON", d.join("summary.json").display())),
            "{e}"
        );
        std::fs::remove_file(d.join("summary.json")).unwrap();
        std::fs::write(
            d.join("metrics.csv"),
            "epoch,stage,module,layer\n1,head,1,0\n",
        )
        .unwrap();
        std::fs::write(
            d.join("config.toml"),
            "dataset = \"digits\"\nmethod = \"hsic\"\n",
        )
        .unwrap();
        let r = RunData::load(&d).unwrap();
        assert_eq!(r.method().as_deref(), Some("hsic"));
        assert!(r.embeddings.is_none() && r.summary.is_none());
        assert_eq!(r.metrics.unwrap().len(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }
}

//! `metrics.csv` of a run directory, parsed by column name.

use crate::ReportError;
use std::path::Path;

/// One row of `metrics.csv`: one layer (or the head) after one epoch. Empty cells are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Epoch, counted per module in the sequential schedule and globally in the simultaneous one.
    pub epoch: usize,
    /// `module` or `head`.
    pub stage: String,
    /// 1-based module index (the head has the index after the last module).
    pub module: usize,
    /// 1-based layer index (0 for the head).
    pub layer: usize,
    /// The objective of the module (or the head's cross-entropy).
    pub loss: Option<f64>,
    /// I(X;T) in bits.
    pub i_tx: Option<f64>,
    /// I(T;Y) in bits.
    pub i_ty: Option<f64>,
    /// nHSIC(X;T).
    pub nhsic_tx: Option<f64>,
    /// nHSIC(T;Y).
    pub nhsic_ty: Option<f64>,
    /// Head accuracy on the training set.
    pub train_accuracy: Option<f64>,
    /// Head accuracy on the test set.
    pub test_accuracy: Option<f64>,
    /// Seconds since training started.
    pub seconds: Option<f64>,
    /// Head accuracy on the validation rows (absent in older run directories and without a
    /// validation split).
    pub val_accuracy: Option<f64>,
}

impl MetricRow {
    /// Whether the row belongs to the head stage.
    pub fn is_head(&self) -> bool {
        self.stage == "head"
    }
}

const REQUIRED: [&str; 4] = ["epoch", "stage", "module", "layer"];

/// Parses the text of a `metrics.csv`; `path` only names the file in errors.
pub fn parse_metrics(path: &Path, text: &str) -> Result<Vec<MetricRow>, ReportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| ReportError::corrupt(path, "empty file (no header)"))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| names.iter().position(|n| *n == name);
    for r in REQUIRED {
        if col(r).is_none() {
            return Err(ReportError::corrupt(
                path,
                format!("no '{r}' column in the header '{header}'"),
            ));
        }
    }
    let idx = |name: &str| col(name);
    let mut rows = Vec::new();
    for (no, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != names.len() {
            return Err(ReportError::corrupt(
                path,
                format!(
                    "line {}: {} cells, the header has {}",
                    no + 1,
                    cells.len(),
                    names.len()
                ),
            ));
        }
        let int = |name: &str| -> Result<usize, ReportError> {
            let c = cells[col(name).expect("checked above")];
            c.parse().map_err(|_| {
                ReportError::corrupt(
                    path,
                    format!("line {}: {name} '{c}' is not a whole number", no + 1),
                )
            })
        };
        let num = |name: &str| -> Result<Option<f64>, ReportError> {
            match idx(name).map(|i| cells[i]) {
                None | Some("") => Ok(None),
                Some(c) => c.parse::<f64>().map(Some).map_err(|_| {
                    ReportError::corrupt(
                        path,
                        format!("line {}: {name} '{c}' is not a number", no + 1),
                    )
                }),
            }
        };
        rows.push(MetricRow {
            epoch: int("epoch")?,
            stage: cells[col("stage").expect("checked above")].to_string(),
            module: int("module")?,
            layer: int("layer")?,
            loss: num("loss")?,
            i_tx: num("i_tx")?,
            i_ty: num("i_ty")?,
            nhsic_tx: num("nhsic_tx")?,
            nhsic_ty: num("nhsic_ty")?,
            train_accuracy: num("train_accuracy")?,
            test_accuracy: num("test_accuracy")?,
            seconds: num("seconds")?,
            val_accuracy: num("val_accuracy")?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "epoch,stage,module,layer,loss,i_tx,i_ty,nhsic_tx,nhsic_ty,train_accuracy,test_accuracy,seconds
1,module,1,1,-1.5,0.02,0.09,13.8,4.7,,,0.166
1,head,2,0,1.14,,,,,0.94,0.91,3.4
";

    #[test]
    fn parses_rows_and_empty_cells() {
        let rows = parse_metrics(Path::new("m.csv"), TEXT).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].module, 1);
        assert_eq!(rows[0].loss, Some(-1.5));
        assert_eq!(rows[0].train_accuracy, None);
        assert!(rows[1].is_head());
        assert_eq!(rows[1].test_accuracy, Some(0.91));
        assert_eq!(rows[1].i_tx, None);
        assert_eq!(
            rows[1].val_accuracy, None,
            "older files have no val_accuracy column"
        );
        let rows = parse_metrics(
            Path::new("m.csv"),
            "epoch,stage,module,layer,test_accuracy,val_accuracy\n3,head,2,0,0.9,0.85\n",
        )
        .unwrap();
        assert_eq!(rows[0].val_accuracy, Some(0.85));
    }

    #[test]
    fn bad_cells_name_the_file_and_line() {
        let e = parse_metrics(
            Path::new("m.csv"),
            "epoch,stage,module,layer\nx,module,1,1\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.csv: line 2: epoch 'x' is not a whole number"
        );
        let e = parse_metrics(Path::new("m.csv"), "epoch,stage\n").unwrap_err();
        assert!(e.to_string().contains("no 'module' column"), "{e}");
        let e = parse_metrics(Path::new("m.csv"), "").unwrap_err();
        assert!(e.to_string().contains("empty file"), "{e}");
        let e =
            parse_metrics(Path::new("m.csv"), "epoch,stage,module,layer\n1,head,2\n").unwrap_err();
        assert!(e.to_string().contains("line 2: 3 cells"), "{e}");
    }
}

//! From `metrics.csv` rows to the information-plane and learning-curve figures.

use crate::metrics::MetricRow;
use crate::plots::curves::{CurvesPlot, Panel, Series};
use crate::plots::info_plane::{InfoPlanePlot, Trajectory};
use std::collections::BTreeMap;

/// Which pair of dependence measures the information plane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaneMeasure {
    /// Matrix-based Rényi mutual information I(X;T), I(T;Y) in bits.
    MutualInformation,
    /// Normalised HSIC nHSIC(X;T), nHSIC(T;Y) (the HSIC bottleneck's own quantities).
    Nhsic,
}

impl PlaneMeasure {
    /// The nHSIC pair for HSIC runs, mutual information otherwise.
    pub fn for_method(method: Option<&str>) -> Self {
        if method == Some("hsic") {
            PlaneMeasure::Nhsic
        } else {
            PlaneMeasure::MutualInformation
        }
    }

    fn pick(self, r: &MetricRow) -> Option<(f64, f64)> {
        match self {
            PlaneMeasure::MutualInformation => Some((r.i_tx?, r.i_ty?)),
            PlaneMeasure::Nhsic => Some((r.nhsic_tx?, r.nhsic_ty?)),
        }
    }
}

/// Per (module, layer) trajectories in file order. A module with several layers (e.g. `bp`) gets
/// one trajectory per layer.
pub fn trajectories(rows: &[MetricRow], measure: PlaneMeasure) -> Vec<Trajectory> {
    let module_rows = rows.iter().filter(|r| !r.is_head());
    let mut layers_of: BTreeMap<usize, std::collections::BTreeSet<usize>> = BTreeMap::new();
    for r in module_rows.clone() {
        layers_of.entry(r.module).or_default().insert(r.layer);
    }
    let mut by_key: BTreeMap<(usize, usize), Vec<(f64, f64)>> = BTreeMap::new();
    for r in module_rows {
        if let Some(p) = measure.pick(r) {
            by_key.entry((r.module, r.layer)).or_default().push(p);
        }
    }
    by_key
        .into_iter()
        .map(|((m, l), points)| Trajectory {
            label: if layers_of[&m].len() > 1 {
                format!("module {m}, layer {l}")
            } else {
                format!("module {m}")
            },
            points,
        })
        .collect()
}

/// The information-plane figure, or `None` when no row has the measure.
pub fn info_plane(
    rows: &[MetricRow],
    measure: PlaneMeasure,
    run_title: &str,
) -> Option<InfoPlanePlot> {
    let trajectories = trajectories(rows, measure);
    if trajectories.iter().all(|t| t.points.is_empty()) {
        return None;
    }
    let (x, y, what) = match measure {
        PlaneMeasure::MutualInformation => (
            "I(X;T) (bits)",
            "I(T;Y) (bits)",
            "matrix-based Rényi mutual information",
        ),
        PlaneMeasure::Nhsic => (
            "nHSIC(X;T) (unitless)",
            "nHSIC(T;Y) (unitless)",
            "normalised HSIC",
        ),
    };
    Some(InfoPlanePlot {
        title: format!("Information plane: {run_title}"),
        subtitle: format!(
            "{what} on a fixed test batch after each epoch; ○ first epoch, ▲ last epoch"
        ),
        x_desc: x.into(),
        y_desc: y.into(),
        trajectories,
    })
}

/// Accuracy and head-loss points on one running epoch count: every evaluation that measured
/// accuracy (a distinct `(epoch, seconds)` pair) advances it by one, so head-only epochs after a
/// simultaneous run continue the count instead of restarting at 1.
fn evaluations(rows: &[MetricRow]) -> Vec<(f64, &MetricRow)> {
    let mut out: Vec<(f64, &MetricRow)> = Vec::new();
    let mut last: Option<(usize, Option<u64>)> = None;
    for r in rows.iter().filter(|r| {
        r.test_accuracy.is_some() || r.train_accuracy.is_some() || r.val_accuracy.is_some()
    }) {
        let key = (r.epoch, r.seconds.map(f64::to_bits));
        if last != Some(key) {
            out.push((out.len() as f64 + 1.0, r));
            last = Some(key);
        }
    }
    out
}

/// Learning curves: module objectives by epoch, head cross-entropy and train/test accuracy.
pub fn curves(rows: &[MetricRow], run_title: &str) -> CurvesPlot {
    // Objective: one line per module (the first layer's row carries the module's loss).
    let mut objective: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| !r.is_head()) {
        if let Some(l) = r.loss
            && seen.insert((r.module, r.epoch, r.seconds.map(f64::to_bits)))
        {
            objective
                .entry(r.module)
                .or_default()
                .push((r.epoch as f64, l));
        }
    }
    let evals = evaluations(rows);
    let x_of: std::collections::HashMap<_, f64> = evals
        .iter()
        .map(|(x, r)| ((r.epoch, r.seconds.map(f64::to_bits)), *x))
        .collect();
    let head_loss: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.is_head())
        .filter_map(|r| Some((*x_of.get(&(r.epoch, r.seconds.map(f64::to_bits)))?, r.loss?)))
        .collect();
    let acc = |f: fn(&MetricRow) -> Option<f64>| -> Vec<(f64, f64)> {
        evals
            .iter()
            .filter_map(|(x, r)| Some((*x, f(r)? * 100.0)))
            .collect()
    };
    let series = |label: &str, points: Vec<(f64, f64)>, dashed: bool| Series {
        label: label.into(),
        points,
        dashed,
    };
    CurvesPlot {
        title: format!("Learning curves: {run_title}"),
        columns: 3,
        panels: vec![
            Panel {
                title: "module objective (lower is better)".into(),
                x_desc: "epoch of that module".into(),
                y_desc: "local loss (objective units)".into(),
                series: objective
                    .into_iter()
                    .map(|(m, p)| series(&format!("module {m}"), p, false))
                    .collect(),
                empty: "no module losses in metrics.csv".into(),
                legend_bottom: false,
            },
            Panel {
                title: "head cross-entropy".into(),
                x_desc: "evaluated epoch (running count)".into(),
                y_desc: "cross-entropy (nats)".into(),
                series: if head_loss.is_empty() {
                    vec![]
                } else {
                    vec![series("head", head_loss, false)]
                },
                empty: "no separate head (backprop trains it with the network)".into(),
                legend_bottom: false,
            },
            Panel {
                title: "head accuracy: train, validation, test".into(),
                x_desc: "evaluated epoch (running count)".into(),
                y_desc: "accuracy (%)".into(),
                series: vec![
                    series("train", acc(|r| r.train_accuracy), true),
                    series("validation", acc(|r| r.val_accuracy), true),
                    series("test", acc(|r| r.test_accuracy), false),
                ]
                .into_iter()
                .filter(|s| !s.points.is_empty())
                .collect(),
                empty: "no accuracy in metrics.csv".into(),
                legend_bottom: true,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse_metrics;
    use std::path::Path;

    const SEQUENTIAL: &str = "epoch,stage,module,layer,loss,i_tx,i_ty,nhsic_tx,nhsic_ty,train_accuracy,test_accuracy,seconds
1,module,1,1,-1.5,0.02,0.09,13.8,4.7,,,0.1
2,module,1,1,-1.8,0.04,0.19,16.6,5.7,,,0.5
1,module,2,2,-2.0,0.03,0.17,10.8,5.9,,,1.4
2,module,2,2,-2.5,0.07,0.46,12.8,6.8,,,1.8
1,head,3,0,1.14,,,,,0.94,0.91,3.4
2,head,3,0,0.21,,,,,0.95,0.93,3.5
";

    const BP: &str = "epoch,stage,module,layer,loss,i_tx,i_ty,nhsic_tx,nhsic_ty,train_accuracy,test_accuracy,seconds
1,module,1,1,1.35,0.018,0.079,13.6,4.4,0.64,0.60,0.14
1,module,1,2,1.35,0.004,0.023,6.5,3.0,0.64,0.60,0.14
2,module,1,1,0.43,0.031,0.141,16.3,5.3,0.88,0.85,1.11
2,module,1,2,0.43,0.018,0.100,11.0,5.0,0.88,0.85,1.11
";

    #[test]
    fn sequential_run_gives_one_trajectory_per_module_and_head_curves() {
        let rows = parse_metrics(Path::new("m"), SEQUENTIAL).unwrap();
        let t = trajectories(&rows, PlaneMeasure::MutualInformation);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].label, "module 1");
        assert_eq!(t[1].points, vec![(0.03, 0.17), (0.07, 0.46)]);
        let n = trajectories(&rows, PlaneMeasure::Nhsic);
        assert_eq!(n[0].points[0], (13.8, 4.7));
        let c = curves(&rows, "x");
        assert_eq!(c.panels[0].series[1].points, vec![(1.0, -2.0), (2.0, -2.5)]);
        assert_eq!(c.panels[1].series[0].points, vec![(1.0, 1.14), (2.0, 0.21)]);
        let test = &c.panels[2].series[1];
        assert_eq!(test.label, "test");
        assert!((test.points[1].1 - 93.0).abs() < 1e-9);
    }

    #[test]
    fn backprop_run_gives_one_trajectory_per_layer_and_no_head_loss() {
        let rows = parse_metrics(Path::new("m"), BP).unwrap();
        let t = trajectories(&rows, PlaneMeasure::MutualInformation);
        assert_eq!(
            t.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
            ["module 1, layer 1", "module 1, layer 2"]
        );
        let c = curves(&rows, "x");
        assert_eq!(
            c.panels[0].series[0].points,
            vec![(1.0, 1.35), (2.0, 0.43)],
            "one loss per epoch, not per layer"
        );
        assert!(c.panels[1].series.is_empty());
        assert_eq!(
            c.panels[2].series[0].points.len(),
            2,
            "one accuracy per epoch, not per layer"
        );
        assert!(info_plane(&rows, PlaneMeasure::MutualInformation, "x").is_some());
        let no_mi =
            parse_metrics(Path::new("m"), "epoch,stage,module,layer\n1,head,1,0\n").unwrap();
        assert!(info_plane(&no_mi, PlaneMeasure::MutualInformation, "x").is_none());
    }
}

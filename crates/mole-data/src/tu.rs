//! The TU Dortmund graph-kernel format: in a folder `DS/`, `DS_A.txt` (one edge `i, j` per line,
//! 1-based node ids over the whole set), `DS_graph_indicator.txt` (line `i`: the 1-based graph of
//! node `i`, sorted and contiguous), `DS_graph_labels.txt` (one label per graph, any integers,
//! remapped to `0..C` in sorted order), optional `DS_node_labels.txt` (one integer per node,
//! one-hot encoded in sorted order) and optional `DS_node_attributes.txt` (comma-separated
//! floats per node). Node features are the one-hot labels followed by the attributes, or the
//! constant `1` when neither file exists.

use crate::error::{DataError, Result};
use crate::graph::{Graph, GraphSet};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The non-empty lines of a file with their 1-based line numbers.
fn lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect())
}

fn parse_int(path: &Path, line: usize, text: &str, what: &str) -> Result<i64> {
    text.trim().parse().map_err(|_| {
        DataError::format(
            path,
            Some(line),
            format!("{what}: '{text}' is not an integer"),
        )
    })
}

fn count_check(path: &Path, found: usize, expected: usize, what: &str) -> Result<()> {
    if found != expected {
        return Err(DataError::format(
            path,
            Some(found.min(expected) + 1),
            format!("{found} lines, but there are {expected} {what}"),
        ));
    }
    Ok(())
}

/// Sorted distinct values → their rank.
fn ranks(values: &[i64]) -> (Vec<usize>, usize) {
    let distinct: Vec<i64> = values
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let r = values
        .iter()
        .map(|v| distinct.binary_search(v).expect("collected above"))
        .collect();
    (r, distinct.len())
}

/// Reads the TU dataset in folder `dir`; the dataset name is the folder's name.
pub fn read_tu(dir: &Path) -> Result<GraphSet> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = |suffix: &str| -> PathBuf { dir.join(format!("{name}_{suffix}.txt")) };

    // Graph indicator: sorted, contiguous 1..G, every graph non-empty.
    let ind_path = file("graph_indicator");
    let mut node_graph = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    for (line, text) in lines(&ind_path)? {
        let g = parse_int(&ind_path, line, &text, "graph id")?;
        let current = sizes.len() as i64;
        if g < current || g < 1 {
            return Err(DataError::format(
                &ind_path,
                Some(line),
                format!(
                    "graph id {g} after {current}: the indicator must be sorted, starting at 1"
                ),
            ));
        }
        if g > current + 1 {
            return Err(DataError::format(
                &ind_path,
                Some(line),
                format!(
                    "graph id {g} after {current}: graph {} would be empty (ids must be contiguous)",
                    current + 1
                ),
            ));
        }
        if g == current + 1 {
            sizes.push(0);
        }
        *sizes.last_mut().expect("pushed") += 1;
        node_graph.push(sizes.len() - 1);
    }
    let n = node_graph.len();
    if n == 0 {
        return Err(DataError::format(&ind_path, None, "no nodes"));
    }
    let num_graphs = sizes.len();
    let mut first = vec![0; num_graphs];
    for g in 1..num_graphs {
        first[g] = first[g - 1] + sizes[g - 1];
    }

    // Graph labels.
    let gl_path = file("graph_labels");
    let gl = lines(&gl_path)?;
    count_check(&gl_path, gl.len(), num_graphs, "graphs in the indicator")?;
    let raw: Vec<i64> = gl
        .iter()
        .map(|(l, t)| parse_int(&gl_path, *l, t, "graph label"))
        .collect::<Result<_>>()?;
    let (labels, num_classes) = ranks(&raw);

    // Edges.
    let a_path = file("A");
    let mut pairs: Vec<Vec<(usize, usize)>> = vec![Vec::new(); num_graphs];
    for (line, text) in lines(&a_path)? {
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() != 2 {
            return Err(DataError::format(
                &a_path,
                Some(line),
                format!("expected 'i, j', found '{text}'"),
            ));
        }
        let mut ends = [0usize; 2];
        for (k, p) in parts.iter().enumerate() {
            let v = parse_int(&a_path, line, p, "node id")?;
            if v < 1 || v as usize > n {
                return Err(DataError::format(
                    &a_path,
                    Some(line),
                    format!("edge to unknown node id {v} (the indicator has nodes 1..={n})"),
                ));
            }
            ends[k] = v as usize - 1;
        }
        let (ga, gb) = (node_graph[ends[0]], node_graph[ends[1]]);
        if ga != gb {
            return Err(DataError::format(
                &a_path,
                Some(line),
                format!(
                    "edge {} - {} joins graphs {} and {}",
                    ends[0] + 1,
                    ends[1] + 1,
                    ga + 1,
                    gb + 1
                ),
            ));
        }
        pairs[ga].push((ends[0] - first[ga], ends[1] - first[ga]));
    }

    // Node features: one-hot node labels, then attributes.
    let mut columns: Vec<Vec<f32>> = Vec::new(); // per node, filled below
    let mut dim = 0;
    let nl_path = file("node_labels");
    if nl_path.is_file() {
        let nl = lines(&nl_path)?;
        count_check(&nl_path, nl.len(), n, "nodes in the indicator")?;
        let raw: Vec<i64> = nl
            .iter()
            .map(|(l, t)| {
                parse_int(
                    &nl_path,
                    *l,
                    t.split(',').next().unwrap_or(""),
                    "node label",
                )
            })
            .collect::<Result<_>>()?;
        let (r, k) = ranks(&raw);
        columns = r
            .into_iter()
            .map(|c| {
                let mut v = vec![0.0; k];
                v[c] = 1.0;
                v
            })
            .collect();
        dim = k;
    }
    let at_path = file("node_attributes");
    if at_path.is_file() {
        let at = lines(&at_path)?;
        count_check(&at_path, at.len(), n, "nodes in the indicator")?;
        let mut width = None;
        if columns.is_empty() {
            columns = vec![Vec::new(); n];
        }
        for (i, (line, text)) in at.iter().enumerate() {
            let vals: Vec<f32> = text
                .split(',')
                .map(|v| {
                    v.trim().parse().map_err(|_| {
                        DataError::format(
                            &at_path,
                            Some(*line),
                            format!("'{}' is not a number", v.trim()),
                        )
                    })
                })
                .collect::<Result<_>>()?;
            match width {
                None => width = Some(vals.len()),
                Some(w) if w != vals.len() => {
                    return Err(DataError::format(
                        &at_path,
                        Some(*line),
                        format!("{} attributes, but earlier rows have {w}", vals.len()),
                    ));
                }
                _ => {}
            }
            columns[i].extend(vals);
        }
        dim += width.unwrap_or(0);
    }
    if dim == 0 {
        columns = vec![vec![1.0]; n];
        dim = 1;
    }
    let mut features = Vec::with_capacity(num_graphs);
    let mut graphs = Vec::with_capacity(num_graphs);
    for g in 0..num_graphs {
        let rows = &columns[first[g]..first[g] + sizes[g]];
        features.push(rows.concat());
        graphs.push(Graph::undirected(sizes[g], &pairs[g]));
    }
    Ok(GraphSet {
        graphs,
        features,
        dim,
        labels,
        num_classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(dir: &Path, files: &[(&str, &str)]) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        for (suffix, text) in files {
            std::fs::write(dir.join(format!("TOY_{suffix}.txt")), text).unwrap();
        }
    }

    #[test]
    fn reads_toy_graphs_with_one_node_and_isolated_nodes() {
        let dir = std::env::temp_dir()
            .join(format!("mole-tu-{}", std::process::id()))
            .join("TOY");
        toy(
            &dir,
            &[
                ("A", "1, 2\n2, 1\n"),
                ("graph_indicator", "1\n1\n1\n2\n"),
                ("graph_labels", "-1\n1\n"),
                ("node_labels", "3\n5\n3\n5\n"),
            ],
        );
        let s = read_tu(&dir).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.labels, vec![0, 1]);
        assert_eq!(s.dim, 2);
        assert_eq!(s.graphs[0].num_nodes, 3); // node 3 is isolated
        assert_eq!(s.graphs[0].edges, vec![(0, 1), (1, 0)]);
        assert_eq!(s.graphs[1].num_nodes, 1);
        assert_eq!(s.features[1], vec![0.0, 1.0]);
        // An unsorted indicator, an empty graph, a wrong line count, an unknown node.
        toy(
            &dir,
            &[
                ("A", ""),
                ("graph_indicator", "1\n2\n1\n"),
                ("graph_labels", "1\n1\n"),
            ],
        );
        let e = read_tu(&dir).unwrap_err().to_string();
        assert!(
            e.contains("TOY_graph_indicator.txt:3") && e.contains("sorted"),
            "{e}"
        );
        toy(
            &dir,
            &[
                ("A", ""),
                ("graph_indicator", "1\n3\n"),
                ("graph_labels", "1\n1\n1\n"),
            ],
        );
        let e = read_tu(&dir).unwrap_err().to_string();
        assert!(
            e.contains("TOY_graph_indicator.txt:2") && e.contains("graph 2 would be empty"),
            "{e}"
        );
        toy(
            &dir,
            &[
                ("A", ""),
                ("graph_indicator", "1\n2\n"),
                ("graph_labels", "1\n1\n1\n"),
            ],
        );
        let e = read_tu(&dir).unwrap_err().to_string();
        assert!(
            e.contains("TOY_graph_labels.txt") && e.contains("3 lines, but there are 2"),
            "{e}"
        );
        toy(
            &dir,
            &[
                ("A", "1, 9\n"),
                ("graph_indicator", "1\n2\n"),
                ("graph_labels", "1\n1\n"),
            ],
        );
        let e = read_tu(&dir).unwrap_err().to_string();
        assert!(
            e.contains("TOY_A.txt:1") && e.contains("unknown node id 9"),
            "{e}"
        );
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}

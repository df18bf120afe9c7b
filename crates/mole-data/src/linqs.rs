//! The LINQS citation format (Cora, CiteSeer): `NAME.content` has one node per line,
//! `id <tab> feature… <tab> class`; `NAME.cites` has one edge per line, `cited citing`
//! (whitespace-separated). Edges are read as undirected.

use crate::error::{DataError, Result};
use crate::graph::{Graph, NodeDataset};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))
}

/// Reads `PREFIX.content` and `PREFIX.cites` (`prefix` is `DIR/NAME`). Classes are numbered in
/// the sorted order of their names.
pub fn read_linqs(prefix: &Path) -> Result<NodeDataset> {
    let name = prefix
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let content_path = prefix.with_file_name(format!("{name}.content"));
    let cites_path = prefix.with_file_name(format!("{name}.cites"));
    let content = read(&content_path)?;
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut features = Vec::new();
    let mut class_of = Vec::new();
    let mut dim = None;
    for (i, line) in content.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(DataError::format(
                &content_path,
                Some(lineno),
                format!(
                    "expected 'id features… class', found {} fields",
                    fields.len()
                ),
            ));
        }
        let width = fields.len() - 2;
        match dim {
            None => dim = Some(width),
            Some(d) if d != width => {
                return Err(DataError::format(
                    &content_path,
                    Some(lineno),
                    format!("{width} features, but earlier rows have {d}"),
                ));
            }
            _ => {}
        }
        for (j, f) in fields[1..fields.len() - 1].iter().enumerate() {
            let v: f32 = f.parse().map_err(|_| {
                DataError::format(
                    &content_path,
                    Some(lineno),
                    format!("feature {}: '{f}' is not a number", j + 1),
                )
            })?;
            features.push(v);
        }
        if ids.insert(fields[0].to_string(), ids.len()).is_some() {
            return Err(DataError::format(
                &content_path,
                Some(lineno),
                format!("node id '{}' appears twice", fields[0]),
            ));
        }
        class_of.push(fields[fields.len() - 1].to_string());
    }
    let Some(dim) = dim else {
        return Err(DataError::format(&content_path, None, "no nodes"));
    };
    let class_names: Vec<String> = class_of
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = class_of
        .iter()
        .map(|c| class_names.binary_search(c).expect("name collected above"))
        .collect();
    let cites = read(&cites_path)?;
    let mut pairs = Vec::new();
    for (i, line) in cites.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 2 {
            return Err(DataError::format(
                &cites_path,
                Some(lineno),
                format!("expected 'cited citing', found {} fields", fields.len()),
            ));
        }
        let node = |id: &str| {
            ids.get(id).copied().ok_or_else(|| {
                DataError::format(
                    &cites_path,
                    Some(lineno),
                    format!(
                        "edge to unknown node id '{id}' (not in {})",
                        content_path.display()
                    ),
                )
            })
        };
        pairs.push((node(fields[0])?, node(fields[1])?));
    }
    Ok(NodeDataset {
        graph: Graph::undirected(ids.len(), &pairs),
        features,
        dim,
        labels,
        num_classes: class_names.len(),
        class_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, content: &str, cites: &str) -> std::path::PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("toy.content"), content).unwrap();
        std::fs::write(dir.join("toy.cites"), cites).unwrap();
        dir.join("toy")
    }

    #[test]
    fn reads_a_toy_graph_and_rejects_bad_rows() {
        let dir = std::env::temp_dir().join(format!("mole-linqs-{}", std::process::id()));
        let p = write(&dir, "a\t1\t0\tB\nb\t0\t1\tA\nc\t1\t1\tB\n", "a\tb\nb a\n");
        let d = read_linqs(&p).unwrap();
        assert_eq!(d.graph.num_nodes, 3);
        assert_eq!(d.graph.edges, vec![(0, 1), (1, 0)]); // duplicate reversed citation merged
        assert_eq!(d.labels, vec![1, 0, 1]);
        assert_eq!(d.class_names, vec!["A", "B"]);
        assert_eq!(d.dim, 2);
        let p = write(&dir, "a\t1\t0\tB\nb\t0\tA\n", "");
        let e = read_linqs(&p).unwrap_err().to_string();
        assert!(
            e.contains("toy.content:2") && e.contains("1 features"),
            "{e}"
        );
        let p = write(&dir, "a\t1\tB\n", "a\tzz\n");
        let e = read_linqs(&p).unwrap_err().to_string();
        assert!(
            e.contains("toy.cites:1") && e.contains("unknown node id 'zz'"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Graphs on the host: edge lists, self-loops and normalisation weights, node-level and
//! graph-level datasets, block-diagonal batching of many small graphs, the seeded node split
//! (20 per class / 500 / 1,000) and stratified k-fold cross-validation. Plain `Vec`s, no tensors.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// A directed graph on nodes `0..num_nodes`; an undirected edge is stored in both directions.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Number of nodes.
    pub num_nodes: usize,
    /// Directed edges `(source, destination)`; messages flow from source to destination.
    pub edges: Vec<(usize, usize)>,
}

/// Compressed sparse rows over destinations: the in-neighbours of node `v` are
/// `sources[offsets[v]..offsets[v + 1]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    /// `num_nodes + 1` offsets into `sources`.
    pub offsets: Vec<usize>,
    /// Source of every edge, grouped by destination.
    pub sources: Vec<usize>,
}

impl Graph {
    /// An undirected graph from unordered pairs: each pair is stored in both directions,
    /// duplicates and self-pairs are dropped, edges are sorted.
    pub fn undirected(num_nodes: usize, pairs: &[(usize, usize)]) -> Graph {
        let mut edges: Vec<(usize, usize)> = pairs
            .iter()
            .filter(|(a, b)| a != b)
            .flat_map(|&(a, b)| [(a, b), (b, a)])
            .collect();
        edges.sort_unstable();
        edges.dedup();
        Graph { num_nodes, edges }
    }

    /// The same graph with an edge `(v, v)` added for every node (the `A + I` of GCN).
    pub fn with_self_loops(&self) -> Graph {
        let mut edges: Vec<(usize, usize)> =
            self.edges.iter().copied().filter(|(a, b)| a != b).collect();
        edges.extend((0..self.num_nodes).map(|v| (v, v)));
        Graph {
            num_nodes: self.num_nodes,
            edges,
        }
    }

    /// Number of edges arriving at each node.
    pub fn in_degrees(&self) -> Vec<usize> {
        let mut d = vec![0; self.num_nodes];
        for &(_, b) in &self.edges {
            d[b] += 1;
        }
        d
    }

    /// Symmetric normalisation weight of every edge, `w_uv = 1 / sqrt(d_u d_v)` with `d` the
    /// in-degrees of this graph. On `with_self_loops()` these are the non-zeros of
    /// `D^-1/2 (A + I) D^-1/2` (Kipf & Welling 2017).
    pub fn symmetric_weights(&self) -> Vec<f32> {
        let d = self.in_degrees();
        self.edges
            .iter()
            .map(|&(a, b)| 1.0 / ((d[a] * d[b]) as f32).sqrt())
            .collect()
    }

    /// Mean-aggregation weight of every edge, `1 / d_in(destination)` (GraphSAGE-mean).
    pub fn mean_weights(&self) -> Vec<f32> {
        let d = self.in_degrees();
        self.edges.iter().map(|&(_, b)| 1.0 / d[b] as f32).collect()
    }

    /// The in-neighbour lists as compressed sparse rows.
    pub fn csr(&self) -> Csr {
        let d = self.in_degrees();
        let mut offsets = vec![0; self.num_nodes + 1];
        for v in 0..self.num_nodes {
            offsets[v + 1] = offsets[v] + d[v];
        }
        let mut fill = offsets.clone();
        let mut sources = vec![0; self.edges.len()];
        for &(a, b) in &self.edges {
            sources[fill[b]] = a;
            fill[b] += 1;
        }
        Csr { offsets, sources }
    }
}

/// One graph whose nodes are classified (Cora): node features, node labels and the seeded split.
#[derive(Clone, Debug)]
pub struct NodeDataset {
    /// The graph (undirected, no self-loops).
    pub graph: Graph,
    /// Row-major node features `[num_nodes, dim]`.
    pub features: Vec<f32>,
    /// Feature width.
    pub dim: usize,
    /// Class of every node.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
    /// Class names in label order.
    pub class_names: Vec<String>,
}

/// Labelled training, validation and test nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSplit {
    /// Training nodes (their labels are the only ones the objectives see).
    pub train: Vec<usize>,
    /// Validation nodes.
    pub validation: Vec<usize>,
    /// Test nodes.
    pub test: Vec<usize>,
}

impl NodeDataset {
    /// Divides every feature row by its sum (rows summing to 0 are left as they are), the usual
    /// preprocessing of bag-of-words citation features: `x'_i = x_i / Σ_j x_ij`.
    pub fn row_normalize(&mut self) {
        for row in self.features.chunks_mut(self.dim) {
            let s: f32 = row.iter().sum();
            if s != 0.0 {
                row.iter_mut().for_each(|v| *v /= s);
            }
        }
    }

    /// A seeded split: `per_class` training nodes of every class, then `validation` and `test`
    /// nodes from a permutation of the rest (fewer when the graph is too small).
    pub fn split(&self, per_class: usize, validation: usize, test: usize, seed: u64) -> NodeSplit {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut perm: Vec<usize> = (0..self.labels.len()).collect();
        perm.shuffle(&mut rng);
        let mut taken = vec![0; self.num_classes];
        let (mut train, mut rest) = (Vec::new(), Vec::new());
        for i in perm {
            let c = self.labels[i];
            if taken[c] < per_class {
                taken[c] += 1;
                train.push(i);
            } else {
                rest.push(i);
            }
        }
        let v = validation.min(rest.len());
        let t = test.min(rest.len() - v);
        NodeSplit {
            train,
            validation: rest[..v].to_vec(),
            test: rest[v..v + t].to_vec(),
        }
    }
}

/// Many small labelled graphs (MUTAG): each graph with its node features, one class per graph.
#[derive(Clone, Debug)]
pub struct GraphSet {
    /// The graphs (undirected, no self-loops).
    pub graphs: Vec<Graph>,
    /// Row-major node features of every graph, `[graphs[g].num_nodes, dim]`.
    pub features: Vec<Vec<f32>>,
    /// Node feature width.
    pub dim: usize,
    /// Class of every graph.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
}

/// Graphs merged into one block-diagonal graph: node `i` of graph `k` of the batch becomes node
/// `offset_k + i`, and `node_graph[v]` says which graph of the batch node `v` belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct MergedGraphs {
    /// The disjoint union.
    pub graph: Graph,
    /// Batch-local graph index of every node.
    pub node_graph: Vec<usize>,
    /// Number of graphs merged.
    pub num_graphs: usize,
    /// Row-major node features.
    pub features: Vec<f32>,
    /// Label of every merged graph.
    pub labels: Vec<usize>,
}

impl GraphSet {
    /// Number of graphs.
    pub fn len(&self) -> usize {
        self.graphs.len()
    }

    /// True when there are no graphs.
    pub fn is_empty(&self) -> bool {
        self.graphs.is_empty()
    }

    /// The graphs `indices` as one block-diagonal graph with a node → graph index.
    pub fn merge(&self, indices: &[usize]) -> MergedGraphs {
        let mut edges = Vec::new();
        let mut node_graph = Vec::new();
        let mut features = Vec::new();
        let mut offset = 0;
        for (k, &g) in indices.iter().enumerate() {
            let graph = &self.graphs[g];
            edges.extend(graph.edges.iter().map(|&(a, b)| (a + offset, b + offset)));
            node_graph.extend(std::iter::repeat_n(k, graph.num_nodes));
            features.extend_from_slice(&self.features[g]);
            offset += graph.num_nodes;
        }
        MergedGraphs {
            graph: Graph {
                num_nodes: offset,
                edges,
            },
            node_graph,
            num_graphs: indices.len(),
            features,
            labels: indices.iter().map(|&g| self.labels[g]).collect(),
        }
    }
}

/// Stratified k-fold cross-validation: the members of each class are shuffled (seeded) and dealt
/// round-robin to the folds, continuing from class to class, so fold sizes differ by at most one
/// and each fold keeps the class proportions. Returns the held-out indices of every fold.
pub fn stratified_folds(
    labels: &[usize],
    num_classes: usize,
    k: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = k.max(1);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for c in 0..num_classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        members.shuffle(&mut rng);
        for i in members {
            folds[next % k].push(i);
            next += 1;
        }
    }
    folds
}

/// A graph dataset of either kind.
#[derive(Clone, Debug)]
pub enum GraphData {
    /// Node classification on one graph.
    Nodes(NodeDataset),
    /// Graph classification over many graphs.
    Graphs(GraphSet),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_weights_of_a_path_with_self_loops() {
        // Path 0 - 1 - 2 plus self-loops: degrees 2, 3, 2.
        let g = Graph::undirected(3, &[(0, 1), (1, 2), (1, 0)]).with_self_loops();
        assert_eq!(g.edges.len(), 4 + 3);
        let w = g.symmetric_weights();
        for (&(a, b), &w) in g.edges.iter().zip(&w) {
            let d = [2.0f32, 3.0, 2.0];
            assert!((w - 1.0 / (d[a] * d[b]).sqrt()).abs() < 1e-6);
        }
        let csr = g.csr();
        assert_eq!(csr.offsets, vec![0, 2, 5, 7]);
        let mut n1 = csr.sources[2..5].to_vec();
        n1.sort();
        assert_eq!(n1, vec![0, 1, 2]);
    }

    #[test]
    fn merge_is_block_diagonal_and_folds_are_stratified() {
        let set = GraphSet {
            graphs: vec![Graph::undirected(2, &[(0, 1)]), Graph::undirected(1, &[])],
            features: vec![vec![1.0, 2.0], vec![3.0]],
            dim: 1,
            labels: vec![1, 0],
            num_classes: 2,
        };
        let m = set.merge(&[1, 0]);
        assert_eq!(m.graph.num_nodes, 3);
        assert_eq!(m.graph.edges, vec![(1, 2), (2, 1)]);
        assert_eq!(m.node_graph, vec![0, 1, 1]);
        assert_eq!(m.features, vec![3.0, 1.0, 2.0]);
        assert_eq!(m.labels, vec![0, 1]);
        let labels: Vec<usize> = (0..30).map(|i| usize::from(i % 3 == 0)).collect();
        let folds = stratified_folds(&labels, 2, 5, 1);
        let mut all: Vec<usize> = folds.concat();
        all.sort();
        assert_eq!(all, (0..30).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.len(), 6);
            assert_eq!(f.iter().filter(|&&i| labels[i] == 1).count(), 2);
        }
    }
}

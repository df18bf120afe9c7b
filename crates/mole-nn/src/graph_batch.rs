//! [`GraphBatch`]: the graph context a GNN block needs next to its node features: the edge
//! list as index tensors with their normalisation weights, and the node → graph index of a
//! block-diagonal batch of graphs. Message passing is `select` (gather the sources) then
//! `select_assign(Add)` (scatter-add into the destinations), both differentiable.

use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use mole_data::graph::Graph;

/// Padding value of max pooling (below every real activation).
const PAD: f32 = -1.0e30;

/// A graph (or a block-diagonal batch of graphs) as tensors on one device.
#[derive(Clone, Debug)]
pub struct GraphBatch {
    /// Nodes in the batch.
    pub num_nodes: usize,
    /// Graphs in the batch (1 for node-level tasks).
    pub num_graphs: usize,
    /// Sources of the edges without self-loops, `[E]`.
    pub src: Tensor<1, Int>,
    /// Destinations of the edges without self-loops, `[E]`.
    pub dst: Tensor<1, Int>,
    /// `1 / d_in(dst)` per edge, `[E, 1]` (mean aggregation).
    pub mean_weight: Tensor<2>,
    /// Sources of the edges of `A + I`, `[E + N]`.
    pub loop_src: Tensor<1, Int>,
    /// Destinations of the edges of `A + I`, `[E + N]`.
    pub loop_dst: Tensor<1, Int>,
    /// `1 / sqrt(d_u d_v)` per edge of `A + I` (degrees of `A + I`), `[E + N, 1]`.
    pub gcn_weight: Tensor<2>,
    /// Graph of every node, `[N]`.
    pub node_graph: Tensor<1, Int>,
    /// Nodes per graph, `[G, 1]`.
    pub graph_sizes: Tensor<2>,
    /// `[G · M]` node indices laying graph `g`'s nodes out in row `g` of a `[G, M]` grid
    /// (`M` = largest graph); index `N` is padding.
    pub pad_index: Tensor<1, Int>,
    /// Nodes of the largest graph.
    pub max_nodes: usize,
}

fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn column(v: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n, 1]), device)
}

impl GraphBatch {
    /// Builds the tensors of `graph`, whose node `v` belongs to graph `node_graph[v]` of
    /// `num_graphs` (every graph non-empty; node-level tasks pass all zeros and 1).
    pub fn new(graph: &Graph, node_graph: &[usize], num_graphs: usize, device: &Device) -> Self {
        let n = graph.num_nodes;
        assert_eq!(node_graph.len(), n, "one graph index per node");
        let plain = Graph {
            num_nodes: n,
            edges: graph
                .edges
                .iter()
                .copied()
                .filter(|(a, b)| a != b)
                .collect(),
        };
        let looped = plain.with_self_loops();
        let split = |g: &Graph| {
            let (s, d): (Vec<i64>, Vec<i64>) =
                g.edges.iter().map(|&(a, b)| (a as i64, b as i64)).unzip();
            (ints(s, device), ints(d, device))
        };
        let (src, dst) = split(&plain);
        let (loop_src, loop_dst) = split(&looped);
        let mut sizes = vec![0usize; num_graphs];
        for &g in node_graph {
            sizes[g] += 1;
        }
        let max_nodes = sizes.iter().copied().max().unwrap_or(0).max(1);
        let mut pad = vec![n as i64; num_graphs * max_nodes];
        let mut fill = vec![0usize; num_graphs];
        for (v, &g) in node_graph.iter().enumerate() {
            pad[g * max_nodes + fill[g]] = v as i64;
            fill[g] += 1;
        }
        GraphBatch {
            num_nodes: n,
            num_graphs,
            src,
            dst,
            mean_weight: column(plain.mean_weights(), device),
            loop_src,
            loop_dst,
            gcn_weight: column(looped.symmetric_weights(), device),
            node_graph: ints(node_graph.iter().map(|&g| g as i64).collect(), device),
            graph_sizes: column(sizes.iter().map(|&s| s as f32).collect(), device),
            pad_index: ints(pad, device),
            max_nodes,
        }
    }

    /// One graph whose nodes are the samples (node-level tasks).
    pub fn single(graph: &Graph, device: &Device) -> Self {
        Self::new(graph, &vec![0; graph.num_nodes], 1, device)
    }
}

/// `weight` on the autodiff device when `like` is (so that element-wise products type-check).
pub fn like_device(weight: Tensor<2>, like: &Tensor<2>) -> Tensor<2> {
    if like.is_autodiff() {
        weight.autodiff()
    } else {
        weight
    }
}

/// Message passing: `out_v = Σ_{(u,v) ∈ edges} w_uv x_u` (unweighted when `weight` is `None`),
/// by gathering the source rows and scatter-adding them into the destinations.
pub fn propagate(
    x: Tensor<2>,
    src: &Tensor<1, Int>,
    dst: &Tensor<1, Int>,
    weight: Option<&Tensor<2>>,
) -> Tensor<2> {
    let [n, d] = x.dims();
    let zeros = Tensor::<2>::zeros([n, d], &x.device());
    if src.dims()[0] == 0 {
        return zeros;
    }
    let mut messages = x.clone().select(0, src.clone());
    if let Some(w) = weight {
        messages = messages * like_device(w.clone(), &x);
    }
    zeros.select_assign(0, dst.clone(), messages, IndexingUpdateOp::Add)
}

/// Padding row value for max pooling.
pub fn pad_value() -> f32 {
    PAD
}

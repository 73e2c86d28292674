//! Collective communication: an α–β model of NCCL's ring and tree algorithms,
//! flat inside a node and hierarchical when a group spans nodes.
//!
//! A collective over `n` ranks takes `steps · α + volume / β`: `α` the latency of
//! one hop (the GPU link inside a node, the network between nodes), `β` the
//! bandwidth one rank reaches on that hop (its link's rate times NCCL's bus
//! efficiency). Ranks follow Megatron's order (tensor parallel innermost, then
//! context, data, pipeline), so a group is its size and the stride between
//! neighbours ([`Group`]): with `r` of its ranks on each node it runs
//! hierarchically, an intra-node phase over the `r` local ranks and an inter-node
//! phase over the nodes, the `r` local ranks each driving their own network card.
//!
//! Sizes: `bytes` is the whole buffer one rank holds, the input of an all-reduce
//! and of a reduce-scatter, the output of an all-gather, the send buffer of an
//! all-to-all.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

use crate::assumption::Assumption;
use crate::hardware::Accelerator;

/// Share of a link's bandwidth NCCL's collectives reach (bus bandwidth / link rate).
///
/// # Source
/// NVIDIA nccl-tests results on DGX A100 and H100 (all-reduce bus bandwidth ≈ 230
/// of 300 GB/s and ≈ 360 of 450 GB/s over NVLink; ≈ 0.8 of line rate over InfiniBand).
pub const BUS_EFFICIENCY: f64 = 0.8;

/// Fixed cost of launching one collective (NCCL's base latency), seconds.
///
/// # Source
/// NCCL `src/graph/tuning.cc` (v2.18–2.21), `baseLat` of the ring algorithm with
/// the Simple protocol: 8.4 µs.
pub const COLLECTIVE_BASE_SECONDS: f64 = 8.4e-6;

/// Ratio of the busiest expert-parallel rank's tokens to the mean: the
/// all-to-all waits for the rank that receives the most.
///
/// # Source
/// The capacity factor 1.25 of GShard (Lepikhin et al. 2020, arXiv:2006.16668 §2.2)
/// and Switch Transformer (Fedus et al. 2021, arXiv:2101.03961 §2.2, Table 1), the
/// headroom routers are trained to stay under; dropless routing (Megatron-Core,
/// DeepSeek) balances by an auxiliary loss or bias to about the same spread.
pub const EXPERT_LOAD_IMBALANCE: f64 = 1.25;

/// The GPUs per node, network and latencies a device's node does not state.
///
/// # Source
/// An 8-GPU server (DGX/HGX layout) with one 100 Gb/s network card per GPU; per-hop
/// latencies of NCCL `src/graph/tuning.cc` `hwLat` (ring, LL128): 2.5 µs over PCIe,
/// 4.0 µs over the network.
pub const DEFAULT_NODE: NodeFigures = NodeFigures {
    gpus: 8,
    inter_node_bytes_per_sec: 12.5e9,
    link_latency_seconds: 2.5e-6,
    inter_node_latency_seconds: 4.0e-6,
};

/// A node's figures as the model reads them (a catalog [`Node`] without its source).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NodeFigures {
    /// GPUs sharing one node's GPU link (NVLink domain).
    pub gpus: u64,
    /// Network bandwidth per GPU between nodes, one direction, bytes/s.
    pub inter_node_bytes_per_sec: f64,
    /// Latency of one hop over the GPU link, seconds.
    pub link_latency_seconds: f64,
    /// Latency of one hop over the network, seconds.
    pub inter_node_latency_seconds: f64,
}

/// What a request may say about the cluster; `None` keeps the accelerator's node.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Network {
    /// GPUs per node sharing the GPU link.
    pub gpus_per_node: Option<u64>,
    /// Network bandwidth per GPU between nodes, one direction, bytes/s.
    pub inter_node_bytes_per_sec: Option<f64>,
}

impl Network {
    /// Refuse a node size of 0 or a bandwidth that is not positive and finite.
    ///
    /// # Errors
    /// [`CoreError::Zero`] or [`CoreError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.gpus_per_node == Some(0) {
            return Err(CoreError::Zero {
                field: "gpus_per_node",
            });
        }
        match self.inter_node_bytes_per_sec {
            Some(b) if !(b.is_finite() && b > 0.0) => Err(CoreError::Invalid {
                field: "inter_node_bytes_per_sec",
                value: b.to_string(),
                expected: "a positive, finite bandwidth".into(),
            }),
            _ => Ok(()),
        }
    }
}

/// The links a collective runs on: one node's GPU link and the network between nodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fabric {
    /// GPUs per node.
    pub gpus_per_node: u64,
    /// One rank's bandwidth over the GPU link, bytes/s (link rate × bus efficiency).
    pub intra_bytes_per_sec: f64,
    /// One rank's bandwidth over the network, bytes/s (its card's rate × bus efficiency).
    pub inter_bytes_per_sec: f64,
    /// Latency of one hop inside a node, seconds.
    pub intra_latency_seconds: f64,
    /// Latency of one hop between nodes, seconds.
    pub inter_latency_seconds: f64,
    /// Fixed cost of one collective, seconds.
    pub base_seconds: f64,
}

impl Fabric {
    /// The fabric of `acc`'s node with `net`'s overrides, at NCCL's bus efficiency.
    ///
    /// # Formula
    /// `β_intra = link · 0.8`, `β_inter = NIC per GPU · 0.8`; latencies from the row
    pub fn of(acc: &Accelerator, net: &Network) -> Fabric {
        let node = node_figures(acc);
        Fabric {
            gpus_per_node: net.gpus_per_node.unwrap_or(node.gpus).max(1),
            intra_bytes_per_sec: acc.interconnect_bytes_per_sec.unwrap_or(0.0) * BUS_EFFICIENCY,
            inter_bytes_per_sec: net
                .inter_node_bytes_per_sec
                .unwrap_or(node.inter_node_bytes_per_sec)
                * BUS_EFFICIENCY,
            intra_latency_seconds: node.link_latency_seconds,
            inter_latency_seconds: node.inter_node_latency_seconds,
            base_seconds: COLLECTIVE_BASE_SECONDS,
        }
    }

    /// What the collectives of this fabric assume, for an estimate's list.
    pub fn assumptions(&self, acc: &Accelerator, net: &Network) -> Vec<Assumption> {
        let row = acc.node.as_ref();
        let source = |asked: bool| -> String {
            match (asked, row) {
                (true, _) => "user flag".into(),
                (false, Some(n)) => n.source.clone(),
                (false, None) => "no node figures for this accelerator: an 8-GPU server with 100 Gb/s per GPU (device::collective::DEFAULT_NODE)".into(),
            }
        };
        vec![
            Assumption::new(
                "cluster",
                format!(
                    "{} GPUs per node on {}; {:.1} GB/s per GPU between nodes",
                    self.gpus_per_node,
                    acc.interconnect,
                    self.inter_bytes_per_sec / BUS_EFFICIENCY / 1e9
                ),
                source(net.gpus_per_node.is_some() || net.inter_node_bytes_per_sec.is_some()),
            ),
            Assumption::new(
                "collectives",
                format!(
                    "α–β: {:.1} µs per hop inside a node, {:.1} µs between nodes, {:.1} µs per collective; {BUS_EFFICIENCY} of each link; ring or double binary tree, the faster; hierarchical across nodes",
                    self.intra_latency_seconds * 1e6,
                    self.inter_latency_seconds * 1e6,
                    self.base_seconds * 1e6
                ),
                format!(
                    "NCCL src/graph/tuning.cc (hwLat, baseLat); nccl-tests bus bandwidth on DGX A100/H100; {}",
                    source(false)
                ),
            ),
        ]
    }
}

/// The node figures of `acc`: its catalog row's, else [`DEFAULT_NODE`].
pub fn node_figures(acc: &Accelerator) -> NodeFigures {
    acc.node.as_ref().map_or(DEFAULT_NODE, |n| NodeFigures {
        gpus: n.gpus,
        inter_node_bytes_per_sec: n.inter_node_bytes_per_sec,
        link_latency_seconds: n.link_latency_seconds,
        inter_node_latency_seconds: n.inter_node_latency_seconds,
    })
}

/// A communication group: `size` ranks spaced `stride` apart in the rank order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Ranks in the group `n`.
    pub size: u64,
    /// Distance between neighbouring ranks (1 for tensor parallelism).
    pub stride: u64,
}

impl Group {
    /// A group of `size` ranks `stride` apart.
    pub fn new(size: u64, stride: u64) -> Group {
        Group {
            size: size.max(1),
            stride: stride.max(1),
        }
    }

    /// Ranks of the group on one node `r` and nodes it spans `N = ⌈n / r⌉`.
    ///
    /// # Formula
    /// `r = clamp(gpus_per_node / stride, 1, n)` (all `n` when `n · stride ≤ gpus_per_node`)
    pub fn placement(&self, gpus_per_node: u64) -> (u64, u64) {
        let gpn = gpus_per_node.max(1);
        let local = if self.size.saturating_mul(self.stride) <= gpn {
            self.size
        } else {
            (gpn / self.stride).clamp(1, self.size)
        };
        (local, self.size.div_ceil(local))
    }
}

/// What a collective does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Collective {
    /// Sum a buffer over the ranks, every rank gets the sum.
    AllReduce,
    /// Every rank gets every rank's shard.
    AllGather,
    /// Sum a buffer over the ranks, every rank gets one shard of the sum.
    ReduceScatter,
    /// Every rank sends a distinct shard to every other.
    AllToAll,
}

/// One hop's latency and one rank's bandwidth on it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hop {
    alpha: f64,
    beta: f64,
}

/// Seconds of a ring all-reduce of `bytes` over `n` ranks on `hop`.
///
/// # Formula
/// `2(n−1)·α + 2(n−1)/n · S/β`
///
/// # Source
/// Patarasuk & Yuan 2009 (bandwidth-optimal all-reduce); NCCL's ring.
fn ring_all_reduce(bytes: f64, n: u64, hop: Hop) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    2.0 * (n - 1.0) * hop.alpha + 2.0 * (n - 1.0) / n * bytes / hop.beta
}

/// Seconds of a pipelined double-binary-tree all-reduce of `bytes` over `n` ranks.
///
/// # Formula
/// `2·⌈log₂ n⌉·α + 2·S/β` (a reduce up and a broadcast down, each tree carrying half)
///
/// # Source
/// Sanders, Speck & Träff 2009 (two-tree algorithms); NVIDIA, "Massively scale your
/// deep learning training with NCCL 2.4" (2019): double binary trees, logarithmic latency.
fn tree_all_reduce(bytes: f64, n: u64, hop: Hop) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let depth = (n as f64).log2().ceil();
    2.0 * depth * hop.alpha + 2.0 * bytes / hop.beta
}

/// Seconds of a ring all-gather (or reduce-scatter) of `bytes` over `n` ranks.
///
/// # Formula
/// `(n−1)·α + (n−1)/n · S/β`
fn ring_gather(bytes: f64, n: u64, hop: Hop) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    (n - 1.0) * hop.alpha + (n - 1.0) / n * bytes / hop.beta
}

/// Seconds of a flat all-reduce: the faster of ring and tree, as NCCL's tuner picks.
fn flat_all_reduce(bytes: f64, n: u64, hop: Hop) -> f64 {
    ring_all_reduce(bytes, n, hop).min(tree_all_reduce(bytes, n, hop))
}

impl Fabric {
    fn intra(&self) -> Hop {
        Hop {
            alpha: self.intra_latency_seconds,
            beta: self.intra_bytes_per_sec,
        }
    }

    fn inter(&self) -> Hop {
        Hop {
            alpha: self.inter_latency_seconds,
            beta: self.inter_bytes_per_sec,
        }
    }

    /// Seconds of `what` on `bytes` over `group`: [`Fabric::base_seconds`] plus the
    /// α–β time (0 for a group of one rank).
    ///
    /// # Formula
    /// ```text
    /// one node (r = n):   all-reduce  min(ring 2(n−1)α + 2(n−1)/n·S/β, tree 2⌈log₂n⌉α + 2S/β)
    ///                     all-gather, reduce-scatter  (n−1)α + (n−1)/n·S/β
    ///                     all-to-all  (n−1)α + (n−1)/n·S/β
    /// N nodes of r ranks: all-reduce  RS_intra(S, r) + AR_inter(S/r, N) + AG_intra(S, r)
    ///                     all-gather  AG_inter(S/r, N) + AG_intra(S, r)   (reduce-scatter mirrored)
    ///                     all-to-all  max((r−1)α₁ + (r−1)/n·S/β₁, (N−1)α₂ + (n−r)/n·S/β₂)
    /// ```
    /// where `α₁, β₁` are the GPU link's, `α₂, β₂` the network's (each of the `r`
    /// local ranks drives its own card, so the inter-node phases run `r` in parallel).
    ///
    /// # Source
    /// Thakur, Rabenseifner & Gropp 2005 (collective cost models); NCCL's ring and
    /// tree; hierarchical all-reduce as in Horovod and NCCL's tree (intra-node chain,
    /// inter-node tree).
    ///
    /// # Assumptions / limits
    /// No link is shared with another group's traffic; NVLink SHARP (NVLS) and
    /// in-network reductions are not modelled.
    pub fn time(&self, what: Collective, bytes: f64, group: Group) -> f64 {
        let n = group.size;
        if n <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        let (r, nodes) = group.placement(self.gpus_per_node);
        let (intra, inter) = (self.intra(), self.inter());
        let alpha_beta = if nodes <= 1 {
            match what {
                Collective::AllReduce => flat_all_reduce(bytes, n, intra),
                Collective::AllGather | Collective::ReduceScatter | Collective::AllToAll => {
                    ring_gather(bytes, n, intra)
                }
            }
        } else {
            let shard = bytes / r as f64;
            match what {
                Collective::AllReduce => {
                    2.0 * ring_gather(bytes, r, intra) + flat_all_reduce(shard, nodes, inter)
                }
                Collective::AllGather | Collective::ReduceScatter => {
                    ring_gather(shard, nodes, inter) + ring_gather(bytes, r, intra)
                }
                Collective::AllToAll => {
                    let n = n as f64;
                    let local =
                        (r - 1) as f64 * intra.alpha + (r - 1) as f64 / n * bytes / intra.beta;
                    let remote =
                        (nodes - 1) as f64 * inter.alpha + (n - r as f64) / n * bytes / inter.beta;
                    local.max(remote)
                }
            }
        };
        self.base_seconds + alpha_beta
    }

    /// Seconds to send `bytes` to the rank `stride` places away (a pipeline send).
    ///
    /// # Formula
    /// `base + α + S/β` on the GPU link when both ranks share a node, else on the network
    pub fn send(&self, bytes: f64, stride: u64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        let (_, nodes) = Group::new(2, stride).placement(self.gpus_per_node);
        let hop = if nodes <= 1 {
            self.intra()
        } else {
            self.inter()
        };
        self.base_seconds + hop.alpha + bytes / hop.beta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-12;

    fn dgx() -> Fabric {
        // DGX H100: NVLink 450 GB/s each way, 400 Gb/s per GPU between nodes, before efficiency
        Fabric {
            gpus_per_node: 8,
            intra_bytes_per_sec: 450e9,
            inter_bytes_per_sec: 50e9,
            intra_latency_seconds: 2e-6,
            inter_latency_seconds: 5e-6,
            base_seconds: 0.0,
        }
    }

    #[test]
    fn ring_all_reduce_inside_a_node() {
        // 1 GB over 8 GPUs: ring 2·7·2 µs + 2·7/8·1e9/450e9 = 28 µs + 3.8889 ms;
        // tree 2·3·2 µs + 2·1e9/450e9 = 12 µs + 4.4444 ms: the ring wins
        let f = dgx();
        let t = f.time(Collective::AllReduce, 1e9, Group::new(8, 1));
        assert!((t - (28e-6 + 1.75e9 / 450e9)).abs() < TOL, "{t}");
        // 8 KB: the tree's 6 hops beat the ring's 14 (12 µs + 36 ns vs 28 µs + 31 ns)
        let small = f.time(Collective::AllReduce, 8e3, Group::new(8, 1));
        assert!((small - (12e-6 + 2.0 * 8e3 / 450e9)).abs() < TOL, "{small}");
    }

    #[test]
    fn gathers_and_all_to_all_inside_a_node() {
        let f = dgx();
        // all-gather of a 1 GB result over 4 GPUs: 3·2 µs + 3/4·1e9/450e9
        let ag = f.time(Collective::AllGather, 1e9, Group::new(4, 1));
        assert!((ag - (6e-6 + 0.75e9 / 450e9)).abs() < TOL);
        assert_eq!(ag, f.time(Collective::ReduceScatter, 1e9, Group::new(4, 1)));
        assert_eq!(ag, f.time(Collective::AllToAll, 1e9, Group::new(4, 1)));
        // one rank: nothing to do, not even the base latency
        assert_eq!(f.time(Collective::AllReduce, 1e9, Group::new(1, 1)), 0.0);
    }

    #[test]
    fn groups_spanning_nodes_run_hierarchically() {
        let f = dgx();
        // 64 ranks, stride 1: 8 per node on 8 nodes. All-reduce of S = 1 GB:
        // RS + AG inside the node 2·(7·2 µs + 7/8·S/450e9) and an all-reduce of S/8
        // over 8 nodes on the network, ring 14·5 µs + 2·7/8·(S/8)/50e9
        // (tree 6·5 µs + 2·(S/8)/50e9 is slower at this size)
        let s = 1e9;
        let intra = 2.0 * (14e-6 + 0.875 * s / 450e9);
        let inter = 70e-6 + 1.75 * (s / 8.0) / 50e9;
        let t = f.time(Collective::AllReduce, s, Group::new(64, 1));
        assert!(
            (t - (intra + inter)).abs() < TOL,
            "{t} vs {}",
            intra + inter
        );
        // data parallel 16 with tensor parallel 8: stride 8, one rank per node,
        // a flat all-reduce over 16 nodes on one card each
        let dp = f.time(Collective::AllReduce, s, Group::new(16, 8));
        // (ring 2·15·5 µs + 2·15/16·S/50e9 beats tree 2·4·5 µs + 2·S/50e9)
        assert!((dp - (150e-6 + 1.875 * s / 50e9)).abs() < TOL, "{dp}");
        // all-gather of 1 GB over 16 ranks, 8 per node: 1/8 GB over 2 nodes
        // (1·5 µs + 1/2·S/8/50e9), then S over the 8 local ranks
        let ag = f.time(Collective::AllGather, s, Group::new(16, 1));
        let want = 5e-6 + 0.5 * s / 8.0 / 50e9 + 14e-6 + 0.875 * s / 450e9;
        assert!((ag - want).abs() < TOL, "{ag} vs {want}");
    }

    #[test]
    fn all_to_all_across_nodes_is_bound_by_the_network_share() {
        let f = dgx();
        // 16 ranks, 8 per node: 7/16 of S over NVLink, 8/16 of S over the network
        let s = 1e9;
        let t = f.time(Collective::AllToAll, s, Group::new(16, 1));
        let local = 7.0 * 2e-6 + 7.0 / 16.0 * s / 450e9;
        let remote = 5e-6 + 0.5 * s / 50e9;
        assert!((t - local.max(remote)).abs() < TOL);
        assert!(remote > local);
    }

    #[test]
    fn sends_cross_the_network_between_nodes() {
        let f = dgx();
        // neighbouring stages 4 ranks apart share a node; 8 apart do not
        assert!((f.send(1e6, 4) - (2e-6 + 1e6 / 450e9)).abs() < TOL);
        assert!((f.send(1e6, 8) - (5e-6 + 1e6 / 50e9)).abs() < TOL);
    }

    #[test]
    fn placement_by_stride() {
        assert_eq!(Group::new(8, 1).placement(8), (8, 1));
        assert_eq!(Group::new(16, 1).placement(8), (8, 2));
        assert_eq!(Group::new(4, 2).placement(8), (4, 1));
        assert_eq!(Group::new(8, 2).placement(8), (4, 2));
        assert_eq!(Group::new(32, 8).placement(8), (1, 32));
        assert_eq!(Group::new(2, 16).placement(8), (1, 2));
    }
}

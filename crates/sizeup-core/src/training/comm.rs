//! Collective communication: where a group's ranks sit and how long a ring takes.
//!
//! Ranks follow Megatron's order (tensor parallel innermost, then context, data,
//! pipeline), so a group is described by its size and the stride between its
//! neighbours. A group inside one node talks over the GPU link (NVLink); a group
//! spread over nodes is limited by the network cards its node contributes: with
//! `r` of its ranks on each node, NCCL's rings cross each node boundary once per
//! channel and share the node's `r` NICs (the reason multi-node all-reduce bus
//! bandwidth on an 8-GPU DGX approaches 8 × one NIC).

use serde::{Deserialize, Serialize};

/// Share of a link's bandwidth NCCL's ring collectives reach (bus bandwidth / link rate).
///
/// # Source
/// NVIDIA nccl-tests results on DGX A100 and H100 (all-reduce bus bandwidth ≈ 230
/// of 300 GB/s and ≈ 360 of 450 GB/s over NVLink; ≈ 0.8 of line rate over InfiniBand).
pub const COLLECTIVE_EFFICIENCY: f64 = 0.8;

/// The cluster around the GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Network {
    /// GPUs sharing one node's GPU link (NVLink domain).
    pub gpus_per_node: u64,
    /// Network bandwidth per GPU between nodes, one direction, bytes/s.
    pub inter_node_bytes_per_sec: f64,
}

impl Default for Network {
    /// An 8-GPU node with one 400 Gb/s NIC per GPU.
    ///
    /// # Source
    /// NVIDIA DGX H100 user guide: eight ConnectX-7 400 Gb/s InfiniBand ports,
    /// one per GPU (50 GB/s each way).
    fn default() -> Self {
        Network {
            gpus_per_node: 8,
            inter_node_bytes_per_sec: 50e9,
        }
    }
}

/// Effective per-rank bandwidth of a ring over `group` ranks spaced `stride` apart,
/// on GPUs whose own link carries `link` bytes/s each way.
///
/// # Formula
/// ```text
/// group·stride ≤ gpus_per_node:  link · 0.8
/// otherwise:                     min(link, r · NIC) · 0.8,   r = clamp(gpus_per_node / stride, 1, group)
/// ```
pub fn group_bandwidth(link: f64, net: &Network, group: u64, stride: u64) -> f64 {
    let gpn = net.gpus_per_node.max(1);
    if group.saturating_mul(stride) <= gpn {
        return link * COLLECTIVE_EFFICIENCY;
    }
    let per_node = (gpn / stride.max(1)).clamp(1, group.max(1));
    link.min(per_node as f64 * net.inter_node_bytes_per_sec) * COLLECTIVE_EFFICIENCY
}

/// Seconds for a ring all-reduce of `bytes` over `n` ranks: `2·(n−1)/n · bytes / bw`.
///
/// # Source
/// Patarasuk & Yuan 2009 (bandwidth-optimal all-reduce); NCCL's ring algorithm.
pub fn all_reduce(bytes: f64, n: u64, bw: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    2.0 * (n - 1) as f64 / n as f64 * bytes / bw
}

/// Seconds for a ring all-gather (or reduce-scatter) whose gathered result is
/// `bytes`: `(n−1)/n · bytes / bw`.
pub fn all_gather(bytes: f64, n: u64, bw: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    (n - 1) as f64 / n as f64 * bytes / bw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware;

    #[test]
    fn groups_inside_a_node_use_nvlink() {
        // A100 SXM: NVLink 3, 300 GB/s each way (data/gpus.toml)
        let link = hardware::find("A100-SXM-80GB")
            .unwrap()
            .interconnect_bytes_per_sec
            .unwrap();
        let net = Network {
            gpus_per_node: 8,
            inter_node_bytes_per_sec: 25e9,
        };
        // tensor parallel 8: one node
        assert_eq!(group_bandwidth(link, &net, 8, 1), 300e9 * 0.8);
        // data parallel with t = 8: one rank per node, one NIC
        assert_eq!(group_bandwidth(link, &net, 16, 8), 25e9 * 0.8);
        // FSDP over 64 GPUs: 8 ranks per node share 8 NICs
        assert_eq!(group_bandwidth(link, &net, 64, 1), 200e9 * 0.8);
        // 100 MB all-reduce over 8 ranks at 240 GB/s: 2·7/8·0.1/240 s
        assert!((all_reduce(1e8, 8, 240e9) - 1.75 * 1e8 / 240e9).abs() < 1e-15);
        assert_eq!(all_gather(1e8, 1, 240e9), 0.0);
    }
}

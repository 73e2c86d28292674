//! Accelerators: compute, memory, bandwidth and price, each figure with its source.
//!
//! The catalog is sizeup's own data file, `data/gpus.toml`, embedded at build time;
//! its header states the conventions (dense peaks, one-direction links, GiB
//! capacities). Users add their own accelerator with [`Accelerator::from_toml_str`].

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// One accelerator (GPU or unified-memory chip) as the cost models see it.
///
/// Every rate is the vendor's dense (no sparsity) peak; achieved rates come from
/// [`crate::efficiency`]-style utilization assumptions, never from editing these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    /// Canonical name used on the command line (`H100-SXM`).
    pub name: String,
    /// Other names that select this row exactly (`h100`, `h100-sxm5`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Vendor (`NVIDIA`, `AMD`, `Apple`).
    pub vendor: String,
    /// The memory is shared with the CPU (Apple silicon).
    #[serde(default)]
    pub unified_memory: bool,
    /// Sold for servers (the vendor's data-centre line), not desktops or workstations.
    #[serde(default)]
    pub data_centre: bool,
    /// Memory in bytes (HBM, GDDR or unified memory), the nominal size.
    pub memory_bytes: u64,
    /// What a program can allocate where the driver or the OS says less than the
    /// nominal size (CUDA's total, a unified-memory GPU's limit); shown beside the
    /// nominal figure. Serving shows the difference as a line item and takes an
    /// engine's memory fraction of this figure ([`Accelerator::usable_bytes`]);
    /// training's framework overhead covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_memory_bytes: Option<u64>,
    /// Where the usable figure comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_memory_source: Option<String>,
    /// Peak memory bandwidth in bytes per second.
    pub memory_bandwidth_bytes_per_sec: f64,
    /// Dense tensor throughput per precision, in FLOP/s (or OP/s for int8).
    pub peak_flops: PeakFlops,
    /// Streaming multiprocessors (AMD: compute units) that run a matrix
    /// product's output tiles in waves, as the vendor's architecture whitepaper
    /// or datasheet states them (the row's `source` names which); `None` where
    /// the vendor states none, which leaves wave quantization out
    /// ([`crate::device::Device::wave_efficiency`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_count: Option<u64>,
    /// What links the devices for tensor parallelism (`NVLink 4`, `PCIe 4.0 x16`).
    pub interconnect: String,
    /// Per-device interconnect bandwidth in bytes per second, one direction;
    /// `None` when the device has no link for tensor parallelism.
    #[serde(default)]
    pub interconnect_bytes_per_sec: Option<f64>,
    /// A typical on-demand price per device-hour in US dollars (overridable);
    /// `None` where there is no common hourly rental.
    #[serde(default)]
    pub price_per_hour_usd: Option<f64>,
    /// Where the price comes from.
    #[serde(default)]
    pub price_source: Option<String>,
    /// Where the figures come from (datasheet title and date, or how they were derived).
    pub source: String,
    /// Measured kernel rates, as shares of the peaks above; `None` uses the
    /// device model's stated defaults ([`crate::device::rates`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_rates: Option<KernelRates>,
    /// The node and network the device usually sits in; `None` uses the device
    /// model's stated default ([`crate::device::collective::DEFAULT_NODE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
}

/// The node a device sits in and the network between nodes, as its maker ships it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// GPUs sharing one GPU link domain (NVLink, Infinity Fabric).
    pub gpus: u64,
    /// Network bandwidth per GPU between nodes, one direction, bytes/s.
    pub inter_node_bytes_per_sec: f64,
    /// Latency of one hop of a collective over the GPU link, seconds.
    pub link_latency_seconds: f64,
    /// Latency of one hop of a collective over the network, seconds.
    pub inter_node_latency_seconds: f64,
    /// Where the figures come from.
    pub source: String,
}

/// Measured kernel rates of an accelerator, as fractions of its datasheet peaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KernelRates {
    /// Best 16-bit matmul rate / 16-bit peak (maximum achievable matmul FLOPS).
    pub matmul_bf16: f64,
    /// Best FP8 matmul rate / FP8 peak.
    pub matmul_fp8: f64,
    /// Flash attention forward+backward rate / 16-bit peak (head dim 128).
    pub attention: f64,
    /// Flash attention forward-only rate / 16-bit peak (head dim 128), what
    /// serving runs; `None` uses `attention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_forward: Option<f64>,
    /// Where the figures come from.
    pub source: String,
}

/// Dense peak throughput per precision, in FLOP/s; `None` where the chip has no such path.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PeakFlops {
    /// FP32 (non-tensor).
    #[serde(default)]
    pub fp32: Option<f64>,
    /// TF32 tensor.
    #[serde(default)]
    pub tf32: Option<f64>,
    /// BF16/FP16 tensor, FP32 accumulate.
    #[serde(default)]
    pub bf16: Option<f64>,
    /// FP8 tensor.
    #[serde(default)]
    pub fp8: Option<f64>,
    /// INT8 tensor (OP/s).
    #[serde(default)]
    pub int8: Option<f64>,
    /// FP4 tensor.
    #[serde(default)]
    pub fp4: Option<f64>,
    /// FP16 tensor with FP16 accumulate, where the chip runs it faster than
    /// with FP32 accumulate (GeForce cards: twice, per the architecture
    /// whitepapers' GeForce columns); only kernels that accumulate
    /// in FP16 reach it ([`crate::device::Library::fp16_accumulate`]).
    #[serde(default)]
    pub fp16_fp16_accumulate: Option<f64>,
}

impl PeakFlops {
    /// Every stated figure with its name, in the order the catalog lists them.
    pub fn stated(&self) -> Vec<(&'static str, f64)> {
        [
            ("fp32", self.fp32),
            ("tf32", self.tf32),
            ("bf16", self.bf16),
            ("fp8", self.fp8),
            ("int8", self.int8),
            ("fp4", self.fp4),
            ("fp16 (fp16 accumulate)", self.fp16_fp16_accumulate),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    accelerator: Vec<Accelerator>,
}

impl Accelerator {
    /// Read one accelerator from TOML text with the catalog's fields at top level.
    ///
    /// ```
    /// # use sizeup_core::hardware::Accelerator;
    /// let a = Accelerator::from_toml_str(r#"
    ///     name = "my-card"
    ///     vendor = "acme"
    ///     memory_bytes = 17179869184
    ///     memory_bandwidth_bytes_per_sec = 5e11
    ///     peak_flops = { bf16 = 1e14 }
    ///     interconnect = "PCIe 4.0 x16"
    ///     interconnect_bytes_per_sec = 32e9
    ///     source = "my measurements"
    /// "#).unwrap();
    /// assert_eq!(a.memory_bytes, 16 << 30);
    /// ```
    ///
    /// # Errors
    /// [`CoreError::Parse`] for malformed TOML or unknown fields; [`CoreError::Invalid`]
    /// for a figure that is not positive and finite.
    pub fn from_toml_str(text: &str) -> Result<Accelerator> {
        let acc: Accelerator = toml::from_str(text).map_err(|e| CoreError::Parse {
            what: "accelerator file",
            message: match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}: {}", e.message())
                }
                None => e.message().to_string(),
            },
        })?;
        acc.validate()?;
        Ok(acc)
    }

    /// Check that every figure is usable: positive, finite, and at least one peak.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, value: String| CoreError::Invalid {
            field,
            value,
            expected: "a positive, finite number".into(),
        };
        if self.name.trim().is_empty() {
            return Err(CoreError::Invalid {
                field: "name",
                value: self.name.clone(),
                expected: "a non-empty name".into(),
            });
        }
        if self.memory_bytes == 0 {
            return Err(CoreError::Zero {
                field: "memory_bytes",
            });
        }
        if let Some(u) = self.usable_memory_bytes {
            if u == 0 || u > self.memory_bytes {
                return Err(CoreError::Invalid {
                    field: "usable_memory_bytes",
                    value: u.to_string(),
                    expected: format!("between 1 and memory_bytes ({})", self.memory_bytes),
                });
            }
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.memory_bandwidth_bytes_per_sec) {
            return Err(bad(
                "memory_bandwidth_bytes_per_sec",
                self.memory_bandwidth_bytes_per_sec.to_string(),
            ));
        }
        for (field, v) in [
            (
                "interconnect_bytes_per_sec",
                self.interconnect_bytes_per_sec,
            ),
            ("price_per_hour_usd", self.price_per_hour_usd),
        ] {
            if let Some(v) = v.filter(|v| !positive(*v)) {
                return Err(bad(field, v.to_string()));
            }
        }
        if self.sm_count == Some(0) {
            return Err(CoreError::Zero { field: "sm_count" });
        }
        if let Some(r) = &self.kernel_rates {
            for (field, v) in [
                ("kernel_rates.matmul_bf16", r.matmul_bf16),
                ("kernel_rates.matmul_fp8", r.matmul_fp8),
                ("kernel_rates.attention", r.attention),
                (
                    "kernel_rates.attention_forward",
                    r.attention_forward.unwrap_or(r.attention),
                ),
            ] {
                if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                    return Err(CoreError::Invalid {
                        field,
                        value: v.to_string(),
                        expected: "a fraction of the peak in (0, 1]".into(),
                    });
                }
            }
        }
        if let Some(n) = &self.node {
            if n.gpus == 0 {
                return Err(CoreError::Zero { field: "node.gpus" });
            }
            for (field, v) in [
                ("node.inter_node_bytes_per_sec", n.inter_node_bytes_per_sec),
                ("node.link_latency_seconds", n.link_latency_seconds),
                (
                    "node.inter_node_latency_seconds",
                    n.inter_node_latency_seconds,
                ),
            ] {
                if !positive(v) {
                    return Err(bad(field, v.to_string()));
                }
            }
        }
        let stated = self.peak_flops.stated();
        if let Some((_, v)) = stated.iter().find(|(_, v)| !positive(*v)) {
            return Err(bad("peak_flops", v.to_string()));
        }
        if self.peak_flops.bf16.is_none() && self.peak_flops.fp32.is_none() {
            return Err(CoreError::Invalid {
                field: "peak_flops",
                value: "{}".into(),
                expected: "at least `bf16` or `fp32`".into(),
            });
        }
        Ok(())
    }

    /// What a program can allocate: the usable figure where the row states one,
    /// else the nominal size.
    pub fn usable_bytes(&self) -> u64 {
        self.usable_memory_bytes.unwrap_or(self.memory_bytes)
    }

    /// Whether `query` names this accelerator (name or alias, ignoring case, `-`, `_` and spaces).
    pub fn matches(&self, query: &str) -> bool {
        let q = normalize(query);
        self.names().any(|n| normalize(n) == q)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// Parse a catalog file: an `[[accelerator]]` array of tables.
///
/// # Errors
/// [`CoreError::Parse`] for malformed TOML; [`CoreError::Invalid`] for a bad row.
pub fn parse_catalog(text: &str) -> Result<Vec<Accelerator>> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| CoreError::Parse {
        what: "accelerator catalog",
        message: e.message().to_string(),
    })?;
    for a in &file.accelerator {
        a.validate()?;
    }
    Ok(file.accelerator)
}

/// The embedded catalog, parsed once.
pub fn catalog() -> &'static [Accelerator] {
    static CATALOG: OnceLock<Vec<Accelerator>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The file ships inside the binary and a test parses it, so a failure
        // here is a build defect, not bad input.
        parse_catalog(include_str!("../data/gpus.toml")).expect("embedded data/gpus.toml parses")
    })
}

/// Find a catalog accelerator by name or alias (case, `-`, `_` and spaces ignored).
///
/// # Errors
/// [`CoreError::Unknown`] with the nearest catalog names, best first.
pub fn find(name: &str) -> Result<&'static Accelerator> {
    catalog()
        .iter()
        .find(|a| a.matches(name))
        .ok_or_else(|| CoreError::Unknown {
            what: "accelerator",
            name: name.to_string(),
            suggestions: nearest(name, catalog(), 3),
        })
}

/// The catalog row a free text names (`"NVIDIA RTX 4090 24GB (CUDA)"`,
/// `"A100-SXM4-80GB (Jean Zay)"`); `None` if it names none.
///
/// # Rule
/// The text is cut into words at every character that is neither alphanumeric
/// nor `+`, and lowercased. A row matches where consecutive words, written
/// together, spell its name or one of its aliases as [`find`] normalizes them
/// (`H100 PCIe` → `h100` `pcie` → `h100pcie`, the name `H100-PCIe`). The longest
/// spelling wins, so a text naming a variant gets the variant (`H100 NVL` →
/// `H100-NVL`, not the `h100` alias of `H100-SXM`); on a tie, the earlier row.
/// Whole words keep a short name from matching inside a longer one (`M2` in
/// `HBM2e`, `A10` in `A100`, `L4` in `L40`).
///
/// # Assumptions / limits
/// A name's words must be adjacent in the text: `A100 80GB PCIe` spells
/// `a100 80gb` (the SXM part's alias), not `a100 pcie`.
pub fn find_in_text(text: &str) -> Option<&'static Accelerator> {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '+'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    // does a run of whole words starting at some word spell `name`?
    let spelled = |name: &str| {
        (0..words.len()).any(|start| {
            let mut run = String::new();
            for w in &words[start..] {
                run.push_str(w);
                if run.len() >= name.len() || !name.starts_with(run.as_str()) {
                    break;
                }
            }
            run == name
        })
    };
    let mut best: Option<(usize, &'static Accelerator)> = None;
    for a in catalog() {
        for name in a.names().map(normalize) {
            if !name.is_empty() && best.is_none_or(|(len, _)| name.len() > len) && spelled(&name) {
                best = Some((name.len(), a));
            }
        }
    }
    best.map(|(_, a)| a)
}

/// The `n` catalog names nearest to `query`: names containing it first, then by
/// Jaro–Winkler similarity of the normalized forms.
fn nearest(query: &str, rows: &[Accelerator], n: usize) -> Vec<String> {
    let q = normalize(query);
    let mut scored: Vec<(f64, &str)> = rows
        .iter()
        .map(|a| {
            let best = a
                .names()
                .map(|name| {
                    let c = normalize(name);
                    let contains = !q.is_empty() && (c.contains(&q) || q.contains(&c));
                    strsim::jaro_winkler(&q, &c) + if contains { 1.0 } else { 0.0 }
                })
                .fold(0.0, f64::max);
            (best, a.name.as_str())
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(n)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GeForce cards run FP16 with FP16 accumulate at twice their FP32-accumulate
    /// (`bf16`) rate (Ampere GA102, Ada and RTX Blackwell whitepapers): every
    /// GeForce row lists it, and no other row claims more than its `bf16`.
    #[test]
    fn geforce_rows_list_their_fp16_accumulate_peak() {
        for a in catalog() {
            let geforce = a.aliases.iter().any(|x| x.starts_with("geforce-"));
            let (Some(bf16), acc16) = (a.peak_flops.bf16, a.peak_flops.fp16_fp16_accumulate) else {
                continue;
            };
            match acc16 {
                Some(v) => assert!(
                    geforce && (v / (2.0 * bf16) - 1.0).abs() < 0.002,
                    "{}",
                    a.name
                ),
                None => assert!(!geforce, "{} lists no FP16-accumulate peak", a.name),
            }
        }
    }

    /// Every row states its SM count with the document it comes from, or says
    /// why it has none; every NVIDIA data-centre and GeForce row states one
    /// unless its vendor publishes none for the part (its source says so).
    #[test]
    fn rows_state_their_sm_count_or_why_not() {
        for a in catalog() {
            let stated = a.source.contains("; SM count ");
            let why_not = a.source.contains("; no SM count: ");
            match a.sm_count {
                Some(n) => assert!(
                    stated && a.source.contains(&format!("SM count {n}: "))
                        || a.source.contains(&format!("(compute units) {n}: ")),
                    "{}: the source does not state {n}",
                    a.name
                ),
                None => assert!(why_not && !stated, "{}: no SM count and no reason", a.name),
            }
        }
        let geforce = |a: &Accelerator| a.aliases.iter().any(|x| x.starts_with("geforce-"));
        let nvidia: Vec<_> = catalog()
            .iter()
            .filter(|a| a.vendor == "NVIDIA" && (a.data_centre || geforce(a)))
            .collect();
        assert!(nvidia.len() >= 30);
        for a in &nvidia {
            // a GeForce row always has its whitepaper's or spec page's count; a
            // data-centre row has one or (above) the reason its vendor gives none
            assert!(a.sm_count.is_some() || !geforce(a), "{}", a.name);
        }
        // whitepaper figures: GH100 SXM5 132, GA100 108, GA102 (RTX 3090) 82, AD102
        // (RTX 4090) 128, GB202 (RTX 5090) 170, GV100 80; MI300X data sheet 304 CUs
        for (name, n) in [
            ("H100-SXM", 132),
            ("A100-SXM-80GB", 108),
            ("RTX-3090", 82),
            ("RTX-4090", 128),
            ("RTX-5090", 170),
            ("V100-SXM2-16GB", 80),
            ("MI300X", 304),
        ] {
            assert_eq!(find(name).unwrap().sm_count, Some(n), "{name}");
        }
    }

    #[test]
    fn every_row_has_a_source_and_positive_figures() {
        let rows = catalog();
        assert!(rows.len() >= 19);
        for a in rows {
            assert!(!a.source.trim().is_empty(), "{} has no source", a.name);
            assert!(a.validate().is_ok(), "{}", a.name);
            assert!(a.peak_flops.bf16.is_some(), "{} has no 16-bit peak", a.name);
            if a.price_per_hour_usd.is_some() {
                assert!(a.price_source.is_some(), "{} price has no source", a.name);
            }
        }
    }

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in catalog() {
            for n in a.names() {
                assert!(seen.insert(normalize(n)), "`{n}` names two rows");
            }
        }
    }

    #[test]
    fn a_text_names_the_row_of_its_longest_spelled_name() {
        let name = |t: &str| find_in_text(t).map(|a| a.name.as_str());
        // variants win over the family's short alias
        assert_eq!(name("H100 PCIe"), Some("H100-PCIe"));
        assert_eq!(name("H100 NVL"), Some("H100-NVL"));
        assert_eq!(name("A100 PCIe"), Some("A100-PCIe-80GB"));
        assert_eq!(name("A100 PCIe 40GB"), Some("A100-PCIe-40GB"));
        assert_eq!(name("A100-40GB (1600Gbps RoCE)"), Some("A100-SXM-40GB"));
        assert_eq!(name("A100 (80GB assumed)"), Some("A100-SXM-80GB"));
        assert_eq!(
            name("A100-SXM4-80GB (Jean Zay, Omni-Path)"),
            Some("A100-SXM-80GB")
        );
        assert_eq!(name("H100 SXM 80GB"), Some("H100-SXM"));
        assert_eq!(name("H100 80G (SXM or PCIe not stated)"), Some("H100-SXM"));
        assert_eq!(name("H200 141GB"), Some("H200-SXM"));
        assert_eq!(name("V100"), Some("V100-SXM2-16GB"));
        assert_eq!(name("V100 32GB"), Some("V100-SXM2-32GB"));
        assert_eq!(name("L40"), Some("L40"));
        assert_eq!(name("L40S"), Some("L40S"));
        assert_eq!(name("NVIDIA A10G"), Some("A10G"));
        assert_eq!(name("NVIDIA RTX 3090 24GB (CUDA)"), Some("RTX-3090"));
        assert_eq!(name("RTX A6000 48GB"), Some("RTX-A6000"));
        assert_eq!(name("Apple M2 Ultra (Metal)"), Some("M2-Ultra"));
        assert_eq!(name("Apple M2 Max 30-core GPU (Metal)"), Some("M2-Max-30c"));
        assert_eq!(name("Apple M2 (16GB RAM) Mac"), Some("M2"));
        assert_eq!(name("Ryzen AI Max+ 395"), Some("Ryzen-AI-Max-395"));
        // a short name inside a longer word is no match
        assert_eq!(name("H100 96GB HBM2e"), Some("H100-SXM"));
        assert_eq!(name("HBM2e"), None);
        assert_eq!(name("TPU v3 chips"), None);
        assert_eq!(name("a GPU with 24 GB of VRAM"), None);
        assert_eq!(name(""), None);
    }

    #[test]
    fn datasheet_values() {
        let h100 = find("H100-SXM").unwrap();
        // NVIDIA H100 datasheet: BF16 1,979 TFLOPS with sparsity = 989.4 dense; 3.35 TB/s
        assert_eq!(h100.peak_flops.bf16, Some(989.4e12));
        assert_eq!(h100.peak_flops.fp8, Some(1978.9e12));
        assert_eq!(h100.memory_bandwidth_bytes_per_sec, 3.35e12);
        // "80GB" HBM3 = 5 stacks × 16 GiB = 80 GiB; nvidia-smi shows 81559 MiB of it
        assert_eq!(h100.memory_bytes, 80 << 30);
        // NVLink 4: 900 GB/s both directions
        assert_eq!(h100.interconnect_bytes_per_sec, Some(450e9));
        // A100 datasheet: BF16 312 TFLOPS dense, 2,039 GB/s (80GB SXM)
        let a100 = find("a100").unwrap();
        assert_eq!(a100.name, "A100-SXM-80GB");
        assert_eq!(a100.peak_flops.bf16, Some(312e12));
        assert_eq!(a100.memory_bandwidth_bytes_per_sec, 2.039e12);
        // MI300X data sheet: BF16 1,307.4 TFLOPS dense, 192 GB, 5.3 TB/s
        let mi = find("mi300x").unwrap();
        assert_eq!(mi.peak_flops.bf16, Some(1307.4e12));
        assert_eq!(mi.memory_bytes, 192 << 30);
        // Apple: M2 Ultra 76-core GPU "up to 27.2 teraflops", 800GB/s
        let m2u = find("apple m2 ultra").unwrap();
        assert_eq!(m2u.peak_flops.fp32, Some(27.2e12));
        assert!(m2u.unified_memory && m2u.interconnect_bytes_per_sec.is_none());
        // HGX B300 datasheet: 36 PFLOPS FP16/BF16 with sparsity for 8 GPUs = 2.25 dense each
        assert_eq!(find("b300").unwrap().peak_flops.bf16, Some(2.25e15));
        // H20 datasheet: 148 TFLOPS FP16/BF16 dense, 96GB HBM3 at 4.0 TB/s
        let h20 = find("h20").unwrap();
        assert_eq!(h20.peak_flops.bf16, Some(148e12));
        assert_eq!(h20.memory_bytes, 96 << 30);
        // kernel rates are data: H100 SXM's MAMF shares, none (defaults) for a row without a measurement
        let r = h100.kernel_rates.as_ref().unwrap();
        assert_eq!(r.attention_forward, Some(0.6));
        assert_eq!(
            (r.matmul_bf16, r.matmul_fp8, r.attention),
            (0.803, 0.709, 0.34)
        );
        assert!(find("rtx-5090").unwrap().kernel_rates.is_none());
        // usable memory sits beside the nominal, never above it
        for a in catalog() {
            if let Some(u) = a.usable_memory_bytes {
                assert!(u <= a.memory_bytes, "{}", a.name);
                assert!(a.usable_memory_source.is_some(), "{}", a.name);
            }
        }
    }

    #[test]
    fn loose_matching_and_suggestions() {
        assert_eq!(find("h100_sxm").unwrap().name, "H100-SXM");
        assert_eq!(find("RTX 4090").unwrap().name, "RTX-4090");
        assert_eq!(find("h200").unwrap().name, "H200-SXM");
        match find("h10") {
            Err(CoreError::Unknown { suggestions, .. }) => {
                assert!(
                    suggestions.iter().any(|s| s.starts_with("H100")),
                    "{suggestions:?}"
                )
            }
            other => panic!("expected Unknown, got {other:?}"),
        }
        assert_eq!(find("rtx4080").unwrap().name, "RTX-4080");
        match find("rtx4085") {
            Err(CoreError::Unknown { suggestions, .. }) => {
                assert!(
                    suggestions.iter().any(|s| s.starts_with("RTX-40")),
                    "{suggestions:?}"
                )
            }
            other => panic!("expected Unknown, got {other:?}"),
        }
    }

    #[test]
    fn user_files_are_checked() {
        let bad = Accelerator::from_toml_str(
            "name = \"x\"\nvendor = \"y\"\nmemory_bytes = 1\nmemory_bandwidth_bytes_per_sec = -1.0\npeak_flops = { bf16 = 1e12 }\ninterconnect = \"none\"\nsource = \"me\"\n",
        );
        assert!(matches!(
            bad,
            Err(CoreError::Invalid {
                field: "memory_bandwidth_bytes_per_sec",
                ..
            })
        ));
        let typo = Accelerator::from_toml_str("nam = \"x\"");
        assert!(matches!(typo, Err(CoreError::Parse { .. })));
        let no_sms = Accelerator::from_toml_str(
            "name = \"x\"\nvendor = \"y\"\nmemory_bytes = 1\nmemory_bandwidth_bytes_per_sec = 1e9\npeak_flops = { bf16 = 1e12 }\nsm_count = 0\ninterconnect = \"none\"\nsource = \"me\"\n",
        );
        assert!(matches!(no_sms, Err(CoreError::Zero { field: "sm_count" })));
    }
}

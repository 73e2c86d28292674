//! Selective state spaces: mamba (Mamba-1) and the Mamba-1 mixer that Jamba shares.
//!
//! # Formula
//! ```text
//! I = expand·h     R = time_step_rank (auto: ⌈h/16⌉)     N = state_size
//! mixer: in_proj 2I×h (+2I bias), conv1d I·ck (+I bias), x_proj (R + 2N)×I,
//!        dt_proj I×R + I bias, A_log I·N, D I, out_proj h×I (+h bias)
//!        (Jamba adds RMSNorms over dt R, B N and C N: norm group)
//! block: one RMSNorm h, the mixer, no FFN; final RMSNorm h; head tied by default
//! state per sequence per layer: ssm I·N, conv I·ck
//! ```
//!
//! # Symbols
//! `h` hidden size, `I` inner width, `N` state size, `R` time-step rank, `ck` conv kernel.
//!
//! # Source
//! transformers 5.x `models/mamba/{configuration,modeling}_mamba.py` (`MambaMixer`,
//! `MambaBlock`, `MambaRMSNorm`); the state follows the cache transformers allocates:
//! `DynamicCache` → `LinearAttentionLayer`, `conv_states[0]` `(batch, I, ck)` (the
//! whole kernel width, not `ck − 1`) and `recurrent_states[0]` `(batch, I, N)`.

use sizeup_core::arch::{
    Architecture, Block, BlockFfn, Group, Mixer, NamedTensor, Recurrent, RecurrentKind, Schedule,
    UNBOUNDED_CONTEXT,
};
use sizeup_core::units::{product, sum};

use serde_json::Value;

use super::config::{Config, Field};
use super::Decoder;
use crate::error::FormatError;

const Q: &str = "Mamba tensor size";

/// The sizes of one Mamba-1 mixer.
pub(super) struct Mamba1 {
    /// `h`.
    pub hidden: u64,
    /// `I`: the inner width, `expand·h`.
    pub inner: u64,
    /// `N`: state size per channel.
    pub state: u64,
    /// `ck`: causal-convolution kernel width.
    pub conv_kernel: u64,
    /// `R`: rank of the time-step projection.
    pub dt_rank: u64,
    /// Bias on the depthwise convolution.
    pub conv_bias: bool,
    /// Bias on `in_proj` and `out_proj`.
    pub proj_bias: bool,
    /// RMSNorms over the time step, B and C (Jamba).
    pub dt_bc_norms: bool,
}

impl Mamba1 {
    /// The mixer's tensors and its per-sequence state.
    pub(super) fn mixer(&self) -> Result<Recurrent, FormatError> {
        let (h, i, n, ck, r) = (
            self.hidden,
            self.inner,
            self.state,
            self.conv_kernel,
            self.dt_rank,
        );
        let g = Group::Recurrent;
        let mut t = vec![NamedTensor::matrix("in_proj", product(Q, &[2, i])?, h, g)];
        if self.proj_bias {
            t.push(NamedTensor::vector("in_proj.bias", product(Q, &[2, i])?, g));
        }
        t.push(NamedTensor::vector("conv1d", product(Q, &[i, ck])?, g));
        if self.conv_bias {
            t.push(NamedTensor::vector("conv1d.bias", i, g));
        }
        t.extend([
            NamedTensor::matrix("x_proj", sum(Q, &[r, n, n])?, i, g),
            NamedTensor::matrix("dt_proj", i, r, g),
            NamedTensor::vector("dt_proj.bias", i, g),
            NamedTensor::vector("A_log", product(Q, &[i, n])?, g),
            NamedTensor::vector("D", i, g),
            NamedTensor::matrix("out_proj", h, i, g),
        ]);
        if self.proj_bias {
            t.push(NamedTensor::vector("out_proj.bias", h, g));
        }
        if self.dt_bc_norms {
            t.push(NamedTensor::vector(
                "dt_layernorm+b_layernorm+c_layernorm",
                sum(Q, &[r, n, n])?,
                Group::Norm,
            ));
        }
        Ok(Recurrent {
            kind: RecurrentKind::Mamba,
            tensors: t,
            state_elements: product(Q, &[i, n])?,
            conv_elements: product(Q, &[i, ck])?,
        })
    }
}

/// The sizes of one Mamba-2 mixer (Mamba-2, Nemotron-H, Falcon-H1, Granite 4).
///
/// # Formula
/// ```text
/// conv_dim = I + 2·G·N
/// in_proj (I + conv_dim + H)×h (+ bias), conv1d conv_dim·ck (+ conv_dim bias),
/// dt_bias H, A_log H, D H, gated RMSNorm I (norm group, where the family has it),
/// out_proj h×I (+ h bias)
/// state per sequence: ssm H·P·N, conv conv_dim·ck
/// ```
/// `I` inner width, `H` heads, `P` head width, `G` groups, `N` state size; the state
/// follows transformers' `LinearAttentionLayer` (`recurrent_states[0]`
/// `(batch, H, P, N)`, `conv_states[0]` `(batch, conv_dim, ck)`).
pub(super) struct Mamba2 {
    /// `h`.
    pub hidden: u64,
    /// `I`: the inner width (`in_proj` and `out_proj` use it; the scan uses `H·P`).
    pub inner: u64,
    /// `H`: SSM heads.
    pub heads: u64,
    /// `P`: width of one SSM head.
    pub head_dim: u64,
    /// `G`: groups sharing B and C.
    pub groups: u64,
    /// `N`: state size.
    pub state: u64,
    /// `ck`: causal-convolution kernel width.
    pub conv_kernel: u64,
    /// Bias on the depthwise convolution.
    pub conv_bias: bool,
    /// Bias on `in_proj`.
    pub in_bias: bool,
    /// Bias on `out_proj` (Falcon-H1 sets it apart: `projectors_bias`).
    pub out_bias: bool,
    /// The gated RMSNorm of width `I` before `out_proj`.
    pub gated_norm: bool,
}

impl Mamba2 {
    /// The mixer's tensors and its per-sequence state.
    pub(super) fn mixer(&self) -> Result<Recurrent, FormatError> {
        let (h, i, heads, ck) = (self.hidden, self.inner, self.heads, self.conv_kernel);
        let conv_dim = sum(Q, &[i, product(Q, &[2, self.groups, self.state])?])?;
        let in_rows = sum(Q, &[i, conv_dim, heads])?;
        let g = Group::Recurrent;
        let mut t = vec![NamedTensor::matrix("in_proj", in_rows, h, g)];
        if self.in_bias {
            t.push(NamedTensor::vector("in_proj.bias", in_rows, g));
        }
        t.push(NamedTensor::vector(
            "conv1d",
            product(Q, &[conv_dim, ck])?,
            g,
        ));
        if self.conv_bias {
            t.push(NamedTensor::vector("conv1d.bias", conv_dim, g));
        }
        t.extend([
            NamedTensor::vector("dt_bias", heads, g),
            NamedTensor::vector("A_log", heads, g),
            NamedTensor::vector("D", heads, g),
        ]);
        if self.gated_norm {
            t.push(NamedTensor::vector("norm", i, Group::Norm));
        }
        t.push(NamedTensor::matrix("out_proj", h, i, g));
        if self.out_bias {
            t.push(NamedTensor::vector("out_proj.bias", h, g));
        }
        Ok(Recurrent {
            kind: RecurrentKind::Mamba2,
            tensors: t,
            state_elements: product(Q, &[heads, self.head_dim, self.state])?,
            conv_elements: product(Q, &[conv_dim, ck])?,
        })
    }
}

/// The SSM head width under `key`: an integer, or `"auto"` (also when absent) for
/// `inner / heads`; either way `heads · width` must be the inner width, as the config
/// classes check.
pub(super) fn ssm_head_dim(
    cfg: &mut Config,
    key: &'static str,
    inner: u64,
    heads: u64,
) -> Result<u64, FormatError> {
    let d = match cfg.field(key) {
        Field::Value(Value::String(s)) if s == "auto" => None,
        Field::Value(_) => Some(cfg.size(&[key])?),
        _ => None,
    };
    let d = match d {
        Some(d) => d,
        None => {
            let d = inner / heads;
            cfg.assume(
                key,
                d,
                &format!(
                    "`{key}` absent or \"auto\" means the inner width {inner} / {heads} heads"
                ),
            );
            d
        }
    };
    if heads.checked_mul(d) != Some(inner) {
        return Err(cfg.invalid(
            key,
            d,
            format!("a width with heads × width = the inner width {inner} ({heads} heads)"),
        ));
    }
    Ok(d)
}

/// `⌈h/16⌉`, the time-step rank `"auto"` stands for.
fn auto_rank(hidden: u64) -> u64 {
    hidden.div_ceil(16)
}

/// The time-step rank under `key`: an integer, or `"auto"` (also when absent) for `⌈h/16⌉`.
pub(super) fn dt_rank(
    cfg: &mut Config,
    key: &'static str,
    hidden: u64,
) -> Result<u64, FormatError> {
    let auto = auto_rank(hidden);
    match cfg.field(key) {
        Field::Value(Value::String(s)) if s == "auto" => {
            cfg.assume(
                key,
                auto,
                &format!("`{key}` \"auto\" means ceil(hidden_size / 16)"),
            );
            Ok(auto)
        }
        Field::Value(_) => cfg.size(&[key]),
        _ => {
            cfg.assume(
                key,
                auto,
                &format!("`{key}` defaults to \"auto\": ceil(hidden_size / 16)"),
            );
            Ok(auto)
        }
    }
}

/// `expand·h` under `key` (an integer factor).
pub(super) fn inner(
    cfg: &mut Config,
    key: &'static str,
    hidden: u64,
    default: u64,
) -> Result<u64, FormatError> {
    let expand = cfg.size_or(key, default, &format!("`{key}` defaults to {default}"))?;
    product(Q, &[expand, hidden]).map_err(FormatError::from)
}

/// The longest context: `max_position_embeddings` when given, else no limit
/// ([`UNBOUNDED_CONTEXT`], recorded): a recurrent model has no position embedding and a fixed state, and its
/// config class has no such key.
pub(super) fn unbounded_context(cfg: &mut Config) -> Result<u64, FormatError> {
    match cfg.opt_size(&["max_position_embeddings"])? {
        Some(n) => Ok(n),
        None => {
            cfg.assume(
                "max_position_embeddings",
                "unbounded",
                "a state-space model has no position limit (no such key in its config class)",
            );
            Ok(UNBOUNDED_CONTEXT)
        }
    }
}

/// `mamba`: a stack of Mamba-1 blocks with one RMSNorm each, no attention, no FFN.
pub(super) fn read_mamba(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let m = Mamba1 {
        hidden,
        inner: inner(cfg, "expand", hidden, 2)?,
        state: cfg.size_or("state_size", 16, "`state_size` defaults to 16")?,
        conv_kernel: cfg.size_or("conv_kernel", 4, "`conv_kernel` defaults to 4")?,
        dt_rank: dt_rank(cfg, "time_step_rank", hidden)?,
        conv_bias: cfg.flag_or("use_conv_bias", true, "`use_conv_bias` defaults to true")?,
        proj_bias: cfg.flag_or("use_bias", false, "`use_bias` defaults to false")?,
        dt_bc_norms: false,
    };
    let tied = cfg.tied(true)?;
    let block = Block {
        mixer: Mixer::Recurrent(m.mixer()?),
        ffn: BlockFfn::None,
        norms: 1,
        parallel: false,
        extra: Vec::new(),
    };
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context: unbounded_context(cfg)?,
        tied,
    }
    .around(&model_type, Schedule::uniform(block, layers)))
}

/// `mamba2` (Mamba-2, Codestral Mamba): a stack of Mamba-2 blocks with one RMSNorm
/// each, no attention, no FFN; `I = expand·h`, which must equal `num_heads·head_dim`.
pub(super) fn read_mamba2(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let inner = inner(cfg, "expand", hidden, 2)?;
    let heads = cfg.size_or("num_heads", 128, "`num_heads` defaults to 128")?;
    let head_dim = cfg.size_or("head_dim", 64, "`head_dim` defaults to 64")?;
    if heads.checked_mul(head_dim) != Some(inner) {
        return Err(cfg.invalid(
            "num_heads",
            heads,
            format!("num_heads × head_dim ({head_dim}) = hidden_size × expand ({inner})"),
        ));
    }
    // in_proj and out_proj share `use_bias`
    let bias = cfg.flag_or("use_bias", false, "`use_bias` defaults to false")?;
    let m = Mamba2 {
        hidden,
        inner,
        heads,
        head_dim,
        groups: cfg.size_or("n_groups", 8, "`n_groups` defaults to 8")?,
        state: cfg.size_or("state_size", 128, "`state_size` defaults to 128")?,
        conv_kernel: cfg.size_or("conv_kernel", 4, "`conv_kernel` defaults to 4")?,
        conv_bias: cfg.flag_or("use_conv_bias", true, "`use_conv_bias` defaults to true")?,
        in_bias: bias,
        out_bias: bias,
        gated_norm: true,
    };
    let tied = cfg.tied(false)?;
    let block = Block {
        mixer: Mixer::Recurrent(m.mixer()?),
        ffn: BlockFfn::None,
        norms: 1,
        parallel: false,
        extra: Vec::new(),
    };
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context: unbounded_context(cfg)?,
        tied,
    }
    .around(&model_type, Schedule::uniform(block, layers)))
}

#[cfg(test)]
mod tests {
    use crate::error::FormatError;
    use crate::hf::from_config_str;
    use serde_json::json;

    #[test]
    fn mamba_2_8b_state_follows_the_transformers_cache() {
        let config = crate::hf::shared_2026_config("mamba-2.8b").to_string();
        let parsed = from_config_str(&config).unwrap();
        let r = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // LinearAttentionLayer: conv_states (1, 5120, 4), recurrent_states (1, 5120, 16)
        assert_eq!((r.state_elements, r.conv_elements), (5120 * 16, 5120 * 4));
        assert_eq!(parsed.arch.attention_layout(), "Mamba");
    }

    #[test]
    fn codestral_mamba_state_follows_the_transformers_cache() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures-2026/mamba-codestral-7b-v0.1/config.json"
        );
        let parsed = from_config_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let r = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // LinearAttentionLayer: recurrent_states (1, 128, 64, 128), conv_states (1, 10240, 4)
        assert_eq!(
            (r.state_elements, r.conv_elements),
            (128 * 64 * 128, 10_240 * 4)
        );
        assert_eq!(parsed.arch.attention_layout(), "Mamba2");
        // its time_step_limit holds a bare Infinity
        assert!(parsed
            .assumptions
            .iter()
            .any(|a| a.name == "non-finite numbers"));
    }

    #[test]
    fn mamba2_heads_must_cover_the_inner_width() {
        let c = json!({"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2,
            "vocab_size": 100, "num_heads": 4, "head_dim": 16});
        match from_config_str(&c.to_string()) {
            Err(FormatError::InvalidField { field, value, .. }) => {
                assert_eq!((field.as_str(), value.as_str()), ("num_heads", "4"))
            }
            other => panic!("{other:?}"),
        }
        let mut ok = c.clone();
        ok["num_heads"] = json!(8);
        assert!(from_config_str(&ok.to_string()).is_ok());
    }

    #[test]
    fn zero_sizes_and_a_bad_rank_are_refused_by_name() {
        for (key, value) in [
            ("state_size", json!(0)),
            ("expand", json!(0)),
            ("time_step_rank", json!("half")),
            ("conv_kernel", json!(-1)),
        ] {
            let mut c = json!({"model_type": "mamba", "hidden_size": 64,
                "num_hidden_layers": 2, "vocab_size": 100});
            c[key] = value;
            match from_config_str(&c.to_string()) {
                Err(FormatError::InvalidField { field, .. }) => assert_eq!(field, key),
                other => panic!("{key}: {other:?}"),
            }
        }
    }
}

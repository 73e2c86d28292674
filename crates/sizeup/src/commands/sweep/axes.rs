//! The inputs a sweep can vary, each mapped onto the flag it stands for.
//!
//! A serving axis sets one field of [`ServeArgs`] (or [`DeviceArgs`]) and the
//! point is estimated by the same [`ServeArgs::request_on`] as `sizeup infer`;
//! a training axis sets a field of [`TrainFlags`] for [`TrainFlags::request`],
//! as `sizeup train`. So a sweep point and a run of that command with that
//! flag agree by construction. Architecture axes derive a variant of the model
//! through [`sizeup_core::resize`].

use std::borrow::Cow;

use sizeup_core::{resize, Architecture, Assumption, CoreError};

use crate::cli::DeviceArgs;
use crate::commands::infer::ServeArgs;
use crate::commands::train::TrainFlags;
use crate::door::{self, Door};
use crate::error::AppError;
use crate::sweep_axis::SweepAxis;

use super::Mode;

/// What a swept value measures: its column and chart axis units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Tokens (context, prompt, output, sequence, block and chunk sizes).
    Tokens,
    /// A plain count (batch, GPUs, layers, heads, hidden size, training tokens).
    Count,
    /// US dollars per GPU-hour.
    UsdPerHour,
    /// A fraction between 0 and 1.
    Fraction,
    /// Mebibytes.
    Mib,
    /// Microseconds.
    Microseconds,
    /// Gigabits per second.
    Gbps,
    /// A name (an accelerator, a weight format, an engine…): the value is its
    /// position in the axis's list.
    Text,
}

/// How a value reaches the estimate.
#[derive(Debug, Clone, Copy)]
pub enum Setter {
    /// Set a device flag (both modes).
    Device(fn(&mut DeviceArgs, f64)),
    /// Set a serving flag.
    Serve(fn(&mut ServeArgs, f64)),
    /// Set a training flag.
    Train(fn(&mut TrainFlags, f64)),
    /// Derive a variant of the architecture.
    Arch(fn(&Architecture, u64) -> sizeup_core::Result<Architecture>),
    /// Set a flag that takes a name; `check` refuses a name the flag would
    /// refuse, with the nearest valid names.
    Text {
        /// The flag's own check.
        check: fn(&str) -> Result<(), String>,
        /// Where the name goes.
        set: TextSet,
    },
}

/// Where a name goes.
#[derive(Debug, Clone, Copy)]
pub enum TextSet {
    /// A device flag (`--gpu`).
    Device(fn(&mut DeviceArgs, &str)),
    /// A serving flag.
    Serve(fn(&mut ServeArgs, &str)),
    /// A training flag.
    Train(fn(&mut TrainFlags, &str)),
}

/// A name axis: its values are positions in the list of names.
const fn text(name: &'static str, check: fn(&str) -> Result<(), String>, set: TextSet) -> AxisDef {
    def(
        name,
        Quantity::Text,
        Door::Whole(door::LIST_POSITION),
        Setter::Text { check, set },
    )
}

/// `did you mean …?` from the valid names, or the full list.
fn suggest(kind: &str, name: &str, valid: &[String]) -> String {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let mut near: Vec<(f64, &String)> = valid
        .iter()
        .map(|v| (strsim::jaro_winkler(&norm(name), &norm(v)), v))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0));
    match near.first() {
        Some((_, best)) => format!("`{name}` is not {kind}: did you mean `{best}`?"),
        None => format!(
            "`{name}` is not {kind} (expected one of {})",
            valid.join(", ")
        ),
    }
}

fn check_gpu(name: &str) -> Result<(), String> {
    sizeup_core::hardware::find(name).map(|_| ()).map_err(|_| {
        let names: Vec<String> = sizeup_core::hardware::catalog()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        suggest("an accelerator", name, &names)
    })
}

fn check_weights(name: &str) -> Result<(), String> {
    crate::cli::parse_weights(name).map(|_| ()).map_err(|_| {
        suggest(
            "a weight format",
            name,
            &sizeup_core::WeightFormat::valid_names(),
        )
    })
}

fn check_kv_dtype(name: &str) -> Result<(), String> {
    crate::cli::parse_kv_dtype(name).map(|_| ()).map_err(|_| {
        let names: Vec<String> = sizeup_core::KvDtype::ALL
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        suggest("a KV cache precision", name, &names)
    })
}

fn check_engine(name: &str) -> Result<(), String> {
    crate::cli::parse_engine(name).map(|_| ()).map_err(|_| {
        let names: Vec<String> = sizeup_core::inference::Engine::ALL
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        suggest("an engine", name, &names)
    })
}

fn check_precision(name: &str) -> Result<(), String> {
    crate::commands::train::parse_precision(name)
        .map(|_| ())
        .map_err(|_| {
            let names = ["bf16", "fp16", "fp8"].map(String::from);
            suggest("a training precision", name, &names)
        })
}

fn check_optimizer(name: &str) -> Result<(), String> {
    crate::commands::train::parse_optimizer(name)
        .map(|_| ())
        .map_err(|_| {
            let names: Vec<String> = sizeup_core::training::states::Optimizer::ALL
                .iter()
                .map(|o| o.name().to_string())
                .collect();
            suggest("an optimizer", name, &names)
        })
}

fn check_recompute(name: &str) -> Result<(), String> {
    crate::cli::parse_recompute(name).map(|_| ()).map_err(|_| {
        let names: Vec<String> = sizeup_core::training::activations::Recompute::ALL
            .iter()
            .map(|r| r.name().to_string())
            .collect();
        suggest("a recomputation mode", name, &names)
    })
}

// The setters run only on names their `check` accepted (resolve), so the
// parse cannot fail; a failure would leave the flag as it was.
fn set_gpu(a: &mut DeviceArgs, name: &str) {
    a.gpu = name.to_string();
    a.gpu_file = None;
}

/// One input a sweep can vary.
#[derive(Debug)]
pub struct AxisDef {
    /// The name `--vary` takes.
    pub name: &'static str,
    /// Another name for it (`seq_len` for `context`).
    pub alias: Option<&'static str>,
    /// What the value measures.
    pub quantity: Quantity,
    /// The door of the flag it stands for: its range, and whether it counts.
    pub door: Door,
    /// Where the value goes.
    pub setter: Setter,
}

impl AxisDef {
    /// The names for errors: `` `context` (`seq_len`) ``.
    fn shown(&self) -> String {
        match self.alias {
            Some(a) => format!("`{}` (`{a}`)", self.name),
            None => format!("`{}`", self.name),
        }
    }

    /// Whether the axis re-derives the architecture.
    pub fn is_arch(&self) -> bool {
        matches!(self.setter, Setter::Arch(_))
    }
}

const fn def(name: &'static str, quantity: Quantity, door: Door, setter: Setter) -> AxisDef {
    AxisDef {
        name,
        alias: None,
        quantity,
        door,
        setter,
    }
}

const fn device(
    name: &'static str,
    quantity: Quantity,
    door: Door,
    set: fn(&mut DeviceArgs, f64),
) -> AxisDef {
    def(name, quantity, door, Setter::Device(set))
}

const fn serve(
    name: &'static str,
    quantity: Quantity,
    door: Door,
    set: fn(&mut ServeArgs, f64),
) -> AxisDef {
    def(name, quantity, door, Setter::Serve(set))
}

const fn train(
    name: &'static str,
    quantity: Quantity,
    door: Door,
    set: fn(&mut TrainFlags, f64),
) -> AxisDef {
    def(name, quantity, door, Setter::Train(set))
}

const fn arch(
    name: &'static str,
    derive: fn(&Architecture, u64) -> sizeup_core::Result<Architecture>,
) -> AxisDef {
    def(
        name,
        Quantity::Count,
        Door::Whole(door::SHAPE),
        Setter::Arch(derive),
    )
}

// Whole axes are checked whole before any setter runs, so `as u64` is exact.
/// Every serving input a sweep can vary: the numeric flags of `sizeup infer`,
/// then the architecture.
pub static SERVE_AXES: &[AxisDef] = &[
    AxisDef {
        alias: Some("seq_len"),
        ..serve(
            "context",
            Quantity::Tokens,
            Door::Whole(door::TOKENS),
            |a, v| a.context = Some(v as u64),
        )
    },
    serve(
        "prompt",
        Quantity::Tokens,
        Door::Whole(door::TOKENS),
        |a, v| a.prompt = v as u64,
    ),
    serve(
        "output",
        Quantity::Tokens,
        Door::Whole(door::TOKENS),
        |a, v| a.output = v as u64,
    ),
    serve(
        "batch",
        Quantity::Count,
        Door::Whole(door::SEQUENCES),
        |a, v| {
            a.batch = Some(v as u64);
            a.concurrency = None;
        },
    ),
    serve(
        "concurrency",
        Quantity::Count,
        Door::Whole(door::SEQUENCES),
        |a, v| {
            a.concurrency = Some(v as u64);
            a.batch = None;
        },
    ),
    device("tp", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.tp = Some(v as u64)
    }),
    device("pp", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.pp = Some(v as u64)
    }),
    device("ep", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.ep = Some(v as u64)
    }),
    serve(
        "attention_dp",
        Quantity::Count,
        Door::Whole(door::DEVICES),
        |a, v| a.attention_dp = Some(v as u64),
    ),
    device(
        "gpus",
        Quantity::Count,
        Door::Whole(door::DEVICES),
        |a, v| a.gpus = Some(v as u64),
    ),
    device(
        "price",
        Quantity::UsdPerHour,
        Door::Real(door::PRICE),
        |a, v| a.price = Some(v),
    ),
    serve(
        "gpu_memory_utilization",
        Quantity::Fraction,
        Door::Real(door::FRACTION),
        |a, v| a.gpu_memory_utilization = Some(v),
    ),
    serve(
        "kv_block",
        Quantity::Tokens,
        Door::Whole(door::TOKENS),
        |a, v| a.kv_block = Some(v as u64),
    ),
    serve(
        "runtime_mib",
        Quantity::Mib,
        Door::Whole(door::MIB),
        |a, v| a.runtime_mib = Some(v as u64),
    ),
    serve(
        "comm_buffer_mib",
        Quantity::Mib,
        Door::Whole(door::MIB),
        |a, v| a.comm_buffer_mib = Some(v as u64),
    ),
    serve(
        "prefill_chunk",
        Quantity::Tokens,
        Door::Whole(door::TOKENS),
        |a, v| a.prefill_chunk = Some(v as u64),
    ),
    serve(
        "matmul_efficiency",
        Quantity::Fraction,
        Door::Real(door::FRACTION),
        |a, v| a.matmul_efficiency = Some(v),
    ),
    serve(
        "matmul_efficiency_8bit",
        Quantity::Fraction,
        Door::Real(door::FRACTION),
        |a, v| a.matmul_efficiency_8bit = Some(v),
    ),
    serve(
        "memory_efficiency",
        Quantity::Fraction,
        Door::Real(door::FRACTION),
        |a, v| a.memory_efficiency = Some(v),
    ),
    serve(
        "layer_overhead_us",
        Quantity::Microseconds,
        Door::Real(door::MICROSECONDS),
        |a, v| a.layer_overhead_us = Some(v),
    ),
    serve(
        "allreduce_efficiency",
        Quantity::Fraction,
        Door::Real(door::FRACTION),
        |a, v| a.allreduce_efficiency = Some(v),
    ),
    serve(
        "allreduce_latency_us",
        Quantity::Microseconds,
        Door::Real(door::MICROSECONDS),
        |a, v| a.allreduce_latency_us = Some(v),
    ),
    arch("hidden", resize::with_hidden),
    arch("layers", resize::with_layers),
    arch("kv_heads", resize::with_kv_heads),
    text("gpu", check_gpu, TextSet::Device(set_gpu)),
    text(
        "weights",
        check_weights,
        TextSet::Serve(|a, n| {
            if let Ok(w) = crate::cli::parse_weights(n) {
                a.weights = Some(w);
            }
        }),
    ),
    text(
        "kv_dtype",
        check_kv_dtype,
        TextSet::Serve(|a, n| {
            if let Ok(d) = crate::cli::parse_kv_dtype(n) {
                a.kv_dtype = d;
            }
        }),
    ),
    text(
        "engine",
        check_engine,
        TextSet::Serve(|a, n| {
            if let Ok(e) = crate::cli::parse_engine(n) {
                a.engine = e;
            }
        }),
    ),
];

/// Every training input a sweep can vary: the numeric flags of `sizeup train`,
/// then the architecture.
pub static TRAIN_AXES: &[AxisDef] = &[
    train(
        "micro_batch",
        Quantity::Count,
        Door::Whole(door::SEQUENCES),
        |a, v| a.micro_batch = v as u64,
    ),
    train(
        "global_batch",
        Quantity::Count,
        Door::Whole(door::SEQUENCES),
        |a, v| a.global_batch = Some(v as u64),
    ),
    train(
        "seq_len",
        Quantity::Tokens,
        Door::Whole(door::TOKENS),
        |a, v| a.seq_len = v as u64,
    ),
    train(
        "tokens",
        Quantity::Count,
        Door::Whole(door::TRAINING_TOKENS),
        |a, v| a.tokens = Some(v as u64),
    ),
    device(
        "gpus",
        Quantity::Count,
        Door::Whole(door::DEVICES),
        |a, v| a.gpus = Some(v as u64),
    ),
    device("tp", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.tp = Some(v as u64)
    }),
    device("pp", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.pp = Some(v as u64)
    }),
    train(
        "vpp",
        Quantity::Count,
        Door::Whole(door::DEVICES),
        |a, v| a.vpp = v as u64,
    ),
    train("cp", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.cp = v as u64
    }),
    device("ep", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.ep = Some(v as u64)
    }),
    train("dp", Quantity::Count, Door::Whole(door::DEVICES), |a, v| {
        a.dp = Some(v as u64)
    }),
    train(
        "zero",
        Quantity::Count,
        Door::Whole(door::ZERO_STAGE),
        |a, v| a.zero = v as u8,
    ),
    train(
        "mfu",
        Quantity::Fraction,
        Door::Real(door::FRACTION),
        |a, v| a.mfu = Some(v),
    ),
    train(
        "lora_rank",
        Quantity::Count,
        Door::Whole(door::RANK),
        |a, v| a.lora_rank = v as u64,
    ),
    train(
        "gpus_per_node",
        Quantity::Count,
        Door::Whole(door::DEVICES),
        |a, v| a.gpus_per_node = Some(v as u64),
    ),
    train(
        "inter_node_gbps",
        Quantity::Gbps,
        Door::Real(door::GBPS),
        |a, v| a.inter_node_gbps = Some(v),
    ),
    device(
        "price",
        Quantity::UsdPerHour,
        Door::Real(door::PRICE),
        |a, v| a.price = Some(v),
    ),
    arch("hidden", resize::with_hidden),
    arch("layers", resize::with_layers),
    arch("kv_heads", resize::with_kv_heads),
    text("gpu", check_gpu, TextSet::Device(set_gpu)),
    text(
        "precision",
        check_precision,
        TextSet::Train(|a, n| {
            if let Ok(p) = crate::commands::train::parse_precision(n) {
                a.precision = p;
            }
        }),
    ),
    text(
        "optimizer",
        check_optimizer,
        TextSet::Train(|a, n| {
            if let Ok(o) = crate::commands::train::parse_optimizer(n) {
                a.optimizer = o;
            }
        }),
    ),
    text(
        "recompute",
        check_recompute,
        TextSet::Train(|a, n| {
            if let Ok(r) = crate::cli::parse_recompute(n) {
                a.recompute = r;
            }
        }),
    ),
];

/// The flags a point changes: the mode's own flags.
pub enum Flags<'a> {
    /// Serving flags.
    Serve(&'a mut ServeArgs),
    /// Training flags.
    Train(&'a mut TrainFlags),
}

/// Set the point's `values` of the `swept` axes on `device` and `flags`, and
/// derive its architecture from `arch`.
pub fn apply<'a>(
    arch: &'a Architecture,
    swept: &[Swept],
    values: &[f64],
    device: &mut DeviceArgs,
    mut flags: Flags<'_>,
) -> Result<Cow<'a, Architecture>, CoreError> {
    let mut arch = Cow::Borrowed(arch);
    for (s, &v) in swept.iter().zip(values) {
        match (s.def.setter, &mut flags) {
            (Setter::Device(set), _) => set(device, v),
            (Setter::Serve(set), Flags::Serve(f)) => set(f, v),
            (Setter::Train(set), Flags::Train(f)) => set(f, v),
            // whole by construction (resolve)
            (Setter::Arch(derive), _) => arch = Cow::Owned(derive(&arch, v as u64)?),
            (Setter::Text { set, .. }, _) => {
                let name = s.label(v).unwrap_or_default();
                match (set, &mut flags) {
                    (TextSet::Device(set), _) => set(device, name),
                    (TextSet::Serve(set), Flags::Serve(f)) => set(f, name),
                    (TextSet::Train(set), Flags::Train(f)) => set(f, name),
                    (TextSet::Serve(_), Flags::Train(_)) | (TextSet::Train(_), Flags::Serve(_)) => {
                    }
                }
            }
            // each mode resolves against its own table, so a serving axis never
            // meets training flags
            (Setter::Serve(_), Flags::Train(_)) | (Setter::Train(_), Flags::Serve(_)) => {}
        }
    }
    Ok(arch)
}

/// How each architecture axis of `swept` re-derives the model, as assumptions.
pub fn assumptions(swept: &[Swept]) -> Vec<Assumption> {
    swept
        .iter()
        .filter_map(|s| {
            let rule = match s.def.name {
                "hidden" => "heads keep their width d and GQA its queries per KV head (heads rounded to a whole group); MLP widths keep f/h",
                "layers" => "dense layers of an MoE model and the share of sliding-window layers kept",
                "kv_heads" => "query heads unchanged; k and v projections and the KV cache scale with k",
                _ => return None,
            };
            Some(Assumption::new(
                format!("{} axis", s.name),
                rule,
                "sizeup_core::resize (how the Llama 2/3 and Gemma families scale)",
            ))
        })
        .collect()
}

/// An axis of this sweep: its definition, the name as typed and its values.
#[derive(Debug, Clone)]
pub struct Swept {
    /// The input.
    pub def: &'static AxisDef,
    /// The name as typed (`seq_len`): the input's name or its alias.
    pub name: &'static str,
    /// The axis as given, in canonical form (`seq_len=4k..128k`).
    pub spec: String,
    /// The values, in sweep order (positions in `names` for a name axis).
    pub values: Vec<f64>,
    /// A name axis's names.
    pub names: Option<Vec<String>>,
}

impl Swept {
    /// The name at value `v` of a name axis.
    pub fn label(&self, v: f64) -> Option<&str> {
        self.names
            .as_ref()
            .and_then(|n| n.get(v as usize))
            .map(String::as_str)
    }
}

/// The most points a sweep evaluates (the product of its axes): each point
/// becomes a row, and a million rows already make a large report.
pub const MAX_SWEEP_POINTS: usize = 1_000_000;

/// The inputs a sweep of `mode` can vary.
pub fn table(mode: Mode) -> &'static [AxisDef] {
    match mode {
        Mode::Serve => SERVE_AXES,
        Mode::Train => TRAIN_AXES,
    }
}

/// Resolve the `--vary` axes for `mode`: one or two, distinct inputs, whole
/// numbers where the input counts, at most [`MAX_SWEEP_POINTS`] in all.
pub fn resolve(vary: &[SweepAxis], mode: Mode) -> Result<Vec<Swept>, AppError> {
    let defs = table(mode);
    if vary.is_empty() || vary.len() > 2 {
        return Err(AppError::Usage {
            flag: "--vary",
            value: vary
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            problem: format!("a sweep varies one or two inputs, not {}", vary.len()),
            hint: Some("give `--vary` once for a line, twice for a grid".into()),
        });
    }
    let mut out: Vec<Swept> = Vec::new();
    for axis in vary {
        let def = find(&axis.name, defs).ok_or_else(|| unknown(axis, mode))?;
        if out.iter().any(|s| std::ptr::eq(s.def, def)) {
            return Err(AppError::Usage {
                flag: "--vary",
                value: axis.to_string(),
                problem: format!("{} is varied twice", def.shown()),
                hint: Some("vary two different inputs for a grid".into()),
            });
        }
        let names = match (&axis.spec, def.setter) {
            (crate::sweep_axis::Spec::Names(names), Setter::Text { check, .. }) => {
                if let Some(problem) = names.iter().find_map(|n| check(n).err()) {
                    return Err(AppError::Usage {
                        flag: "--vary",
                        value: axis.to_string(),
                        problem,
                        hint: Some(format!(
                            "give names that `--{}` accepts",
                            def.name.replace('_', "-")
                        )),
                    });
                }
                Some(names.clone())
            }
            _ => None,
        };
        let values: Vec<f64> = if def.door.whole() {
            let whole = axis.whole_values().map_err(|e| AppError::Usage {
                flag: "--vary",
                value: axis.to_string(),
                problem: e.problem.to_string(),
                hint: None,
            })?;
            whole.into_iter().map(|v| v as f64).collect()
        } else {
            axis.values()
        };
        // every value passes the door of the flag the axis stands for
        if let Some(problem) = values.iter().find_map(|&v| def.door.check(v).err()) {
            return Err(AppError::Usage {
                flag: "--vary",
                value: axis.to_string(),
                problem: format!("{}: {problem}", def.shown()),
                hint: Some(format!(
                    "keep every value of {} in the range `--{}` accepts",
                    def.shown(),
                    def.name.replace('_', "-")
                )),
            });
        }
        out.push(Swept {
            def,
            name: match def.alias {
                Some(alias) if alias == axis.name => alias,
                _ => def.name,
            },
            spec: axis.to_string(),
            values,
            names,
        });
    }
    let total = out
        .iter()
        .map(|s| s.values.len())
        .try_fold(1usize, usize::checked_mul);
    match total {
        Some(n) if n <= MAX_SWEEP_POINTS => Ok(out),
        _ => Err(AppError::Usage {
            flag: "--vary",
            value: out
                .iter()
                .map(|s| s.spec.clone())
                .collect::<Vec<_>>()
                .join(" "),
            problem: format!(
                "the grid has {} points, more than the {MAX_SWEEP_POINTS} a sweep evaluates",
                out.iter()
                    .map(|s| s.values.len().to_string())
                    .collect::<Vec<_>>()
                    .join(" × ")
            ),
            hint: Some("use fewer values: a coarser step (`:STEP`, `*FACTOR`) or a list".into()),
        }),
    }
}

fn find(name: &str, defs: &'static [AxisDef]) -> Option<&'static AxisDef> {
    defs.iter()
        .find(|d| d.name == name || d.alias == Some(name))
}

fn unknown(axis: &SweepAxis, mode: Mode) -> AppError {
    let defs = table(mode);
    let other = match mode {
        Mode::Serve => Mode::Train,
        Mode::Train => Mode::Serve,
    };
    if find(&axis.name, table(other)).is_some() {
        return AppError::Usage {
            flag: "--vary",
            value: axis.to_string(),
            problem: format!("`{}` is not a {} input", axis.name, mode.noun()),
            hint: Some(format!(
                "`{}` is a {} input: add `--mode {}`",
                axis.name,
                other.noun(),
                other.name()
            )),
        };
    }
    let names: Vec<String> = defs.iter().map(AxisDef::shown).collect();
    let nearest = defs
        .iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.alias))
        .map(|n| (strsim::jaro_winkler(&axis.name, n), n))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let mut hint = String::new();
    if let Some((_, n)) = nearest {
        hint.push_str(&format!("did you mean `{n}`? "));
    }
    hint.push_str(&format!(
        "the {} inputs a sweep can vary: {}",
        mode.noun(),
        names.join(", ")
    ));
    AppError::Usage {
        flag: "--vary",
        value: axis.to_string(),
        problem: format!(
            "`{}` is not a {} input a sweep can vary",
            axis.name,
            mode.noun()
        ),
        hint: Some(hint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(specs: &[&str]) -> Result<Vec<Swept>, AppError> {
        let vary: Vec<SweepAxis> = specs.iter().map(|s| s.parse().unwrap()).collect();
        resolve(&vary, Mode::Serve)
    }

    #[test]
    fn names_and_aliases_resolve() {
        let a = axes(&["seq_len=4k..16k:4k", "batch=1,8"]).unwrap();
        assert_eq!(a[0].def.name, "context");
        assert_eq!(a[0].name, "seq_len");
        assert_eq!(a[0].values, [4096.0, 8192.0, 12_288.0, 16_384.0]);
        assert_eq!(a[1].def.name, "batch");
    }

    #[test]
    fn every_name_is_unique() {
        for defs in [SERVE_AXES, TRAIN_AXES] {
            let mut names: Vec<&str> = defs
                .iter()
                .flat_map(|d| std::iter::once(d.name).chain(d.alias))
                .collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n);
        }
    }

    #[test]
    fn an_input_of_the_other_mode_says_so() {
        let err = axes(&["micro_batch=1,2"]).unwrap_err();
        let AppError::Usage { hint, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            hint.as_deref(),
            Some("`micro_batch` is a training input: add `--mode train`")
        );
        let vary: Vec<SweepAxis> = vec!["seq_len=1k..8k".parse().unwrap()];
        assert_eq!(resolve(&vary, Mode::Train).unwrap()[0].def.name, "seq_len");
    }

    #[test]
    fn bad_axes_are_usage_errors() {
        let err = axes(&["seqlen=1,2"]).unwrap_err();
        let AppError::Usage { problem, hint, .. } = err else {
            panic!("{err:?}")
        };
        assert!(
            problem.contains("`seqlen` is not a serving input"),
            "{problem}"
        );
        let hint = hint.unwrap();
        assert!(hint.contains("did you mean `seq_len`?"), "{hint}");
        assert!(hint.contains("`kv_heads`"), "{hint}");

        assert!(axes(&["context=1k", "seq_len=2k"]).is_err());
        assert!(axes(&["batch=1", "tp=1", "gpus=1"]).is_err());
        assert!(axes(&["batch=1.5"]).is_err());
        // fractions are fine where the input is a fraction
        assert!(axes(&["memory_efficiency=0.5..0.9:0.1"]).is_ok());
        // 10,000 × 10,000 points is past the cap
        assert!(axes(&["batch=1..10000:1", "prompt=1..10000:1"]).is_err());
    }
}

//! The inputs a sweep can vary, each mapped onto the flag it stands for.
//!
//! A serving axis sets one field of [`ServeArgs`] and the point is estimated by
//! the same [`ServeArgs::request_on`] as `sizeup infer`, so a sweep point and an
//! `infer` run with that flag agree by construction. Architecture axes derive a
//! variant of the model through [`sizeup_core::resize`].

use sizeup_core::{resize, Architecture};

use crate::commands::infer::ServeArgs;
use crate::error::AppError;
use crate::sweep_axis::SweepAxis;

/// What a swept value measures: its column and chart axis units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Tokens (context, prompt, output, block and chunk sizes).
    Tokens,
    /// A plain count (batch, GPUs, layers, heads, hidden size).
    Count,
    /// US dollars per GPU-hour.
    UsdPerHour,
    /// A fraction between 0 and 1.
    Fraction,
    /// Mebibytes.
    Mib,
    /// Microseconds.
    Microseconds,
}

/// How a value reaches the estimate.
#[derive(Debug, Clone, Copy)]
pub enum Setter {
    /// Set a serving flag.
    Serve(fn(&mut ServeArgs, f64)),
    /// Derive a variant of the architecture.
    Arch(fn(&Architecture, u64) -> sizeup_core::Result<Architecture>),
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
    /// Whether the value counts (whole numbers only).
    pub whole: bool,
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
}

const fn serve(
    name: &'static str,
    quantity: Quantity,
    whole: bool,
    set: fn(&mut ServeArgs, f64),
) -> AxisDef {
    AxisDef {
        name,
        alias: None,
        quantity,
        whole,
        setter: Setter::Serve(set),
    }
}

const fn arch(
    name: &'static str,
    derive: fn(&Architecture, u64) -> sizeup_core::Result<Architecture>,
) -> AxisDef {
    AxisDef {
        name,
        alias: None,
        quantity: Quantity::Count,
        whole: true,
        setter: Setter::Arch(derive),
    }
}

// Whole axes are checked whole before any setter runs, so `as u64` is exact.
/// Every serving input a sweep can vary: the numeric flags of `sizeup infer`,
/// then the architecture.
pub static SERVE_AXES: &[AxisDef] = &[
    AxisDef {
        alias: Some("seq_len"),
        ..serve("context", Quantity::Tokens, true, |a, v| {
            a.context = Some(v as u64)
        })
    },
    serve("prompt", Quantity::Tokens, true, |a, v| a.prompt = v as u64),
    serve("output", Quantity::Tokens, true, |a, v| a.output = v as u64),
    serve("batch", Quantity::Count, true, |a, v| {
        a.batch = Some(v as u64);
        a.concurrency = None;
    }),
    serve("concurrency", Quantity::Count, true, |a, v| {
        a.concurrency = Some(v as u64);
        a.batch = None;
    }),
    serve("tp", Quantity::Count, true, |a, v| a.tp = Some(v as u64)),
    serve("gpus", Quantity::Count, true, |a, v| {
        a.gpus = Some(v as u64)
    }),
    serve("price", Quantity::UsdPerHour, false, |a, v| {
        a.price = Some(v)
    }),
    serve(
        "gpu_memory_utilization",
        Quantity::Fraction,
        false,
        |a, v| a.gpu_memory_utilization = Some(v),
    ),
    serve("kv_block", Quantity::Tokens, true, |a, v| {
        a.kv_block = Some(v as u64)
    }),
    serve("runtime_mib", Quantity::Mib, true, |a, v| {
        a.runtime_mib = Some(v as u64)
    }),
    serve("comm_buffer_mib", Quantity::Mib, true, |a, v| {
        a.comm_buffer_mib = Some(v as u64)
    }),
    serve("prefill_chunk", Quantity::Tokens, true, |a, v| {
        a.prefill_chunk = Some(v as u64)
    }),
    serve("matmul_efficiency", Quantity::Fraction, false, |a, v| {
        a.matmul_efficiency = Some(v)
    }),
    serve(
        "matmul_efficiency_8bit",
        Quantity::Fraction,
        false,
        |a, v| a.matmul_efficiency_8bit = Some(v),
    ),
    serve("memory_efficiency", Quantity::Fraction, false, |a, v| {
        a.memory_efficiency = Some(v)
    }),
    serve(
        "layer_overhead_us",
        Quantity::Microseconds,
        false,
        |a, v| a.layer_overhead_us = Some(v),
    ),
    serve("allreduce_efficiency", Quantity::Fraction, false, |a, v| {
        a.allreduce_efficiency = Some(v)
    }),
    serve(
        "allreduce_latency_us",
        Quantity::Microseconds,
        false,
        |a, v| a.allreduce_latency_us = Some(v),
    ),
    arch("hidden", resize::with_hidden),
    arch("layers", resize::with_layers),
    arch("kv_heads", resize::with_kv_heads),
];

/// An axis of this sweep: its definition, the name as typed and its values.
#[derive(Debug, Clone)]
pub struct Swept {
    /// The input.
    pub def: &'static AxisDef,
    /// The name as typed (`seq_len`): the input's name or its alias.
    pub name: &'static str,
    /// The axis as given, in canonical form (`seq_len=4k..128k`).
    pub spec: String,
    /// The values, in sweep order.
    pub values: Vec<f64>,
}

/// The most points a sweep evaluates (the product of its axes): each point
/// becomes a row, and a million rows already make a large report.
pub const MAX_SWEEP_POINTS: usize = 1_000_000;

/// Resolve the `--vary` axes against `defs`: one or two, distinct inputs,
/// whole numbers where the input counts, at most [`MAX_SWEEP_POINTS`] in all.
pub fn resolve(vary: &[SweepAxis], defs: &'static [AxisDef]) -> Result<Vec<Swept>, AppError> {
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
        let def = find(&axis.name, defs).ok_or_else(|| unknown(axis, defs))?;
        if out.iter().any(|s| std::ptr::eq(s.def, def)) {
            return Err(AppError::Usage {
                flag: "--vary",
                value: axis.to_string(),
                problem: format!("{} is varied twice", def.shown()),
                hint: Some("vary two different inputs for a grid".into()),
            });
        }
        let values = if def.whole {
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
        out.push(Swept {
            def,
            name: match def.alias {
                Some(alias) if alias == axis.name => alias,
                _ => def.name,
            },
            spec: axis.to_string(),
            values,
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

fn unknown(axis: &SweepAxis, defs: &'static [AxisDef]) -> AppError {
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
        "the inputs a sweep can vary: {}",
        names.join(", ")
    ));
    AppError::Usage {
        flag: "--vary",
        value: axis.to_string(),
        problem: format!("`{}` is not an input this sweep can vary", axis.name),
        hint: Some(hint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(specs: &[&str]) -> Result<Vec<Swept>, AppError> {
        let vary: Vec<SweepAxis> = specs.iter().map(|s| s.parse().unwrap()).collect();
        resolve(&vary, SERVE_AXES)
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
        let mut names: Vec<&str> = SERVE_AXES
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.alias))
            .collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn bad_axes_are_usage_errors() {
        let err = axes(&["seqlen=1,2"]).unwrap_err();
        let AppError::Usage { problem, hint, .. } = err else {
            panic!("{err:?}")
        };
        assert!(problem.contains("`seqlen`"), "{problem}");
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

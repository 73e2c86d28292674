//! The card's decision: whether the serving setup meets each target, with its
//! figure, and the cheapest change, alone or combined, that meets them all.
//!
//! The changes come from `plan serve`'s steady-state tier
//! ([`crate::plan::serve::search_steady`]) over more replicas, other
//! tensor-parallel sizes, other data-centre GPUs and other weight and KV
//! formats, with the card's users as the load and its targets as the limits:
//! the same estimate functions the card's own figures come from.

use serde::{Deserialize, Serialize};

use super::serve::Serving;
use super::CardInput;
use crate::assumption::Assumption;
use crate::dtype::{KvDtype, WeightFormat};
use crate::error::Result;
use crate::hardware::Accelerator;
use crate::inference::sim::DEFAULT_MAX_STEPS;
use crate::inference::Prepared;
use crate::plan::serve::{
    default_accelerators, search_steady, LatencyTargets, Percentile, ServeCandidate, ServeLoad,
    ServePlanRequest, ServeRankBy, ServeSpace, ServeWorkload, SimBounds, Steady, DEFAULT_MAX_GPUS,
    DEFAULT_REQUESTS_PER_REPLICA,
};

/// A serving target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Requests in flight the service holds at the context (at least the target).
    Concurrency,
    /// Time to first token (at most the target), seconds.
    Ttft,
    /// Time per output token (at most the target), seconds.
    Tpot,
}

/// One target, the setup's figure for it, and whether it is met.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TargetCheck {
    /// The target.
    pub target: Target,
    /// Its limit (requests, or seconds).
    pub limit: f64,
    /// The setup's figure.
    pub figure: f64,
    /// Whether the figure meets the limit.
    pub met: bool,
}

impl TargetCheck {
    fn new(target: Target, limit: f64, figure: f64) -> TargetCheck {
        let met = match target {
            Target::Concurrency => figure >= limit,
            Target::Ttft | Target::Tpot => figure <= limit,
        };
        TargetCheck {
            target,
            limit,
            figure,
            met,
        }
    }
}

/// One change to the card's serving setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Change {
    /// Another accelerator.
    Accelerator {
        /// The card's.
        from: String,
        /// The proposal's.
        to: String,
    },
    /// More (or fewer) replicas.
    Replicas {
        /// The card's.
        from: u64,
        /// The proposal's.
        to: u64,
    },
    /// Another tensor-parallel size.
    Tp {
        /// The card's.
        from: u64,
        /// The proposal's.
        to: u64,
    },
    /// Another weight format.
    Weights {
        /// The card's.
        from: WeightFormat,
        /// The proposal's.
        to: WeightFormat,
    },
    /// Another KV cache precision.
    KvDtype {
        /// The card's.
        from: KvDtype,
        /// The proposal's.
        to: KvDtype,
    },
}

/// A setup that meets every target, as changes from the card's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Proposal {
    /// The accelerator.
    pub accelerator: String,
    /// The setup (its `accelerator` indexes [`Decision::accelerators`]).
    pub candidate: ServeCandidate,
    /// What changes from the card's setup.
    pub changes: Vec<Change>,
    /// US dollars per hour.
    pub usd_per_hour: Option<f64>,
    /// Each target with the proposal's figure.
    pub checks: Vec<TargetCheck>,
    /// Its steady-state figures.
    pub steady: Steady,
}

/// What the card decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Decision {
    /// Each target with the card's figure.
    pub checks: Vec<TargetCheck>,
    /// Whether the card's setup meets every target.
    pub meets_every_target: bool,
    /// US dollars per hour of the card's setup.
    pub usd_per_hour: Option<f64>,
    /// The cheapest setup that meets every target, whatever it changes.
    pub cheapest: Option<Proposal>,
    /// The cheapest that changes one thing only (replicas, GPU, tp, weights or KV).
    pub cheapest_alone: Option<Proposal>,
    /// The accelerators searched.
    pub accelerators: Vec<String>,
    /// Setups evaluated, all searches together.
    pub setups_evaluated: u64,
    /// Of those, setups that meet every target.
    pub setups_kept: u64,
    /// The most GPUs a searched setup has ([`DEFAULT_MAX_GPUS`], `plan serve`'s default).
    pub max_gpus: u64,
}

impl Decision {
    /// How the decision judges a setup, for the card's assumption list.
    pub fn assumptions(&self) -> Vec<Assumption> {
        vec![
            Assumption::new(
                "decision: how a setup is judged",
                "steady state, every target user in flight: TTFT = one prompt's prefill, TPOT = one decode step at that batch; not a simulation",
                "plan serve's steady-state tier, the estimate the card's serving figures use",
            ),
            Assumption::new(
                "decision: setups searched",
                format!(
                    "up to {} GPUs: replicas, tp {}, the catalog's priced data-centre GPUs, weight and KV formats",
                    self.max_gpus,
                    ServeSpace::default()
                        .tp
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                ),
                "plan serve's default space",
            ),
        ]
    }
}

/// The targets the card's setup is judged against, with its figures.
fn checks_now(input: &CardInput<'_>, serving: &Serving) -> Vec<TargetCheck> {
    let t = &input.targets;
    let s = &serving.section;
    let mut out = Vec::new();
    if t.concurrency > 0 {
        out.push(TargetCheck::new(
            Target::Concurrency,
            t.concurrency as f64,
            s.max_requests_at_context as f64,
        ));
    }
    if let Some(l) = t.max_ttft_seconds {
        out.push(TargetCheck::new(Target::Ttft, l, s.ttft_seconds));
    }
    if let Some(l) = t.max_tpot_seconds {
        out.push(TargetCheck::new(Target::Tpot, l, s.tpot_seconds));
    }
    out
}

/// The card's serving setup as a plan request: its users as the load, its
/// targets as the limits, its lengths, engine and formats.
fn plan_request(input: &CardInput<'_>, users: u64) -> ServePlanRequest {
    let serve = &input.serve;
    let t = &input.targets;
    // aggregated tensor-parallel replicas only: a card's change names no
    // prefill/decode split, pipeline depth, attention groups or whole experts
    let mut space = ServeSpace {
        disaggregated: vec![false],
        pp: vec![1],
        attention_dp: vec![1],
        expert_parallel: vec![false],
        ..ServeSpace::default()
    };
    if !space.tp.contains(&serve.tp) {
        space.tp.push(serve.tp);
    }
    if !space.weights.contains(&serve.weights) {
        space.weights.insert(0, serve.weights);
    }
    if !space.kv_dtypes.contains(&serve.kv_dtype) {
        space.kv_dtypes.insert(0, serve.kv_dtype);
    }
    // the card's steady state: every user in flight, its engine's chunk
    space.max_num_seqs = vec![users];
    space.max_batched_tokens = vec![serve
        .profile
        .prefill_chunk_tokens
        .unwrap_or(serve.prompt.saturating_mul(users))
        .max(1)];
    ServePlanRequest {
        workload: ServeWorkload {
            prompt: serve.prompt.max(1),
            output: serve.output.max(1),
            context: serve.context,
            engine: serve.profile.engine,
            weight_options: serve.weight_options,
            price_per_gpu_hour: None,
        },
        space,
        load: ServeLoad::Users { users },
        targets: LatencyTargets {
            ttft_seconds: t.max_ttft_seconds.unwrap_or(f64::MAX),
            tpot_seconds: t.max_tpot_seconds.unwrap_or(f64::MAX),
            percentile: Percentile::P50,
        },
        by: ServeRankBy::Cost,
        top: 1,
        simulation: SimBounds {
            requests_per_replica: DEFAULT_REQUESTS_PER_REPLICA,
            seed: 0,
            max_steps: DEFAULT_MAX_STEPS,
        },
    }
}

/// The card's accelerator (at the user's price, if given) first, then the
/// catalog's priced data-centre GPUs; those without a price are left out.
fn accelerators(input: &CardInput<'_>) -> Vec<Accelerator> {
    let mut own = input.serve.gpu.clone();
    if let Some(p) = input.serve.price_per_gpu_hour {
        own.price_per_hour_usd = Some(p);
        own.price_source = Some("user flag".into());
    }
    let mut out = vec![own];
    for a in default_accelerators() {
        if !out.iter().any(|o| o.name == a.name) {
            out.push(a);
        }
    }
    out.retain(|a| a.price_per_hour_usd.is_some());
    out
}

/// What changes from the card's setup to `c`.
fn changes(input: &CardInput<'_>, accs: &[Accelerator], c: &ServeCandidate) -> Vec<Change> {
    let s = &input.serve;
    let mut out = Vec::new();
    let name = &accs[c.accelerator].name;
    if *name != s.gpu.name {
        out.push(Change::Accelerator {
            from: s.gpu.name.clone(),
            to: name.clone(),
        });
    }
    let replicas = (s.gpus / s.tp.max(1)).max(1);
    if c.replicas != replicas {
        out.push(Change::Replicas {
            from: replicas,
            to: c.replicas,
        });
    }
    if c.tp != s.tp {
        out.push(Change::Tp {
            from: s.tp,
            to: c.tp,
        });
    }
    if c.weights != s.weights {
        out.push(Change::Weights {
            from: s.weights,
            to: c.weights,
        });
    }
    if c.kv_dtype != s.kv_dtype {
        out.push(Change::KvDtype {
            from: s.kv_dtype,
            to: c.kv_dtype,
        });
    }
    out
}

/// Spaces that change one thing of the card's setup each.
fn alone_spaces(input: &CardInput<'_>, full: &ServeSpace) -> Vec<(Vec<usize>, ServeSpace)> {
    let s = &input.serve;
    let replicas = (s.gpus / s.tp.max(1)).max(1);
    let one = ServeSpace {
        gpus: vec![s.tp.saturating_mul(replicas)],
        tp: vec![s.tp],
        weights: vec![s.weights],
        kv_dtypes: vec![s.kv_dtype],
        ..full.clone()
    };
    let own = vec![0];
    let mut out = vec![
        (
            own.clone(),
            ServeSpace {
                gpus: full.gpus.iter().map(|g| g.saturating_mul(s.tp)).collect(),
                ..one.clone()
            },
        ),
        (
            own.clone(),
            ServeSpace {
                weights: full.weights.clone(),
                ..one.clone()
            },
        ),
        (
            own.clone(),
            ServeSpace {
                kv_dtypes: full.kv_dtypes.clone(),
                ..one.clone()
            },
        ),
    ];
    for &tp in &full.tp {
        out.push((
            own.clone(),
            ServeSpace {
                gpus: vec![tp.saturating_mul(replicas)],
                tp: vec![tp],
                ..one.clone()
            },
        ));
    }
    // every accelerator: the empty list means all
    out.push((Vec::new(), one));
    out
}

/// Decide: check each target, then find the cheapest change that meets them all.
///
/// # Errors
/// Those of the steady-state search for the card's request.
pub(super) fn decide(input: &CardInput<'_>, serving: &Serving) -> Result<Option<Decision>> {
    let t = &input.targets;
    if t.concurrency == 0 && t.max_ttft_seconds.is_none() && t.max_tpot_seconds.is_none() {
        return Ok(None);
    }
    let checks = checks_now(input, serving);
    let meets_every_target = checks.iter().all(|c| c.met);
    let accs = accelerators(input);
    let price = accs
        .first()
        .filter(|a| a.name == input.serve.gpu.name)
        .and_then(|a| a.price_per_hour_usd);
    let usd_per_hour = price.map(|p| p * input.serve.gpus as f64);
    let mut decision = Decision {
        checks,
        meets_every_target,
        usd_per_hour,
        cheapest: None,
        cheapest_alone: None,
        accelerators: accs.iter().map(|a| a.name.clone()).collect(),
        setups_evaluated: 0,
        setups_kept: 0,
        max_gpus: DEFAULT_MAX_GPUS,
    };
    if accs.is_empty() {
        return Ok(Some(decision));
    }
    let users = t.concurrency.max(1);
    let req = plan_request(input, users);
    let prepared = Prepared::new(input.arch);
    let proposal = |accs: &[Accelerator], c: &ServeCandidate, s: &Steady| {
        let mut checks = Vec::new();
        if t.concurrency > 0 {
            checks.push(TargetCheck::new(
                Target::Concurrency,
                t.concurrency as f64,
                c.replicas.saturating_mul(s.concurrency) as f64,
            ));
        }
        if let Some(l) = t.max_ttft_seconds {
            checks.push(TargetCheck::new(Target::Ttft, l, s.ttft_seconds));
        }
        if let Some(l) = t.max_tpot_seconds {
            checks.push(TargetCheck::new(Target::Tpot, l, s.tpot_seconds));
        }
        Proposal {
            accelerator: accs[c.accelerator].name.clone(),
            candidate: *c,
            changes: changes(input, accs, c),
            usd_per_hour: s.usd_per_hour,
            checks,
            steady: *s,
        }
    };

    let found = search_steady(&prepared, &accs, &req, 1)?;
    decision.setups_evaluated += found.tally.evaluated;
    decision.setups_kept += found.tally.kept;
    decision.cheapest = found
        .front
        .first()
        .map(|r| proposal(&accs, &r.candidate, &r.steady));

    let mut alone: Option<Proposal> = None;
    for (only, space) in alone_spaces(input, &req.space) {
        let mine: Vec<Accelerator> = if only.is_empty() {
            accs.clone()
        } else {
            only.iter().map(|&i| accs[i].clone()).collect()
        };
        let r = ServePlanRequest {
            space,
            ..req.clone()
        };
        let found = search_steady(&prepared, &mine, &r, 2)?;
        decision.setups_evaluated += found.tally.evaluated;
        decision.setups_kept += found.tally.kept;
        let best = found
            .front
            .iter()
            .map(|r| proposal(&mine, &r.candidate, &r.steady))
            .find(|p| p.changes.len() == 1);
        if let Some(p) = best {
            let cheaper = alone.as_ref().is_none_or(|a| {
                p.usd_per_hour.unwrap_or(f64::INFINITY) < a.usd_per_hour.unwrap_or(f64::INFINITY)
            });
            if cheaper {
                alone = Some(p);
            }
        }
    }
    // a proposal's accelerator index is into the full list
    decision.cheapest_alone = alone.map(|mut p| {
        p.candidate.accelerator = accs
            .iter()
            .position(|a| a.name == p.accelerator)
            .unwrap_or(0);
        p
    });
    Ok(Some(decision))
}

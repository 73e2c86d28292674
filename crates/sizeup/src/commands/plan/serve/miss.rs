//! What `plan serve` says when there is nothing to show: an empty space, or a
//! load no setup carries within the targets (the nearest miss, by how much, and
//! what would meet it).

use sizeup_core::inference::sim::RunState;
use sizeup_core::plan::serve::{
    ConfirmTally, LatencyTargets, MissReason, ServeLoad, ServeMiss, ServePlanRequest, ServeTally,
};

use super::super::gpus_text;
use super::{load_text, setup_text, up3, PlanServeArgs};
use crate::error::AppError;
use crate::humanize;

pub(super) fn empty_space(args: &PlanServeArgs, heads: u64, req: &ServePlanRequest) -> AppError {
    let s = &req.space;
    let tps: Vec<String> = s.tp.iter().map(u64::to_string).collect();
    AppError::Usage {
        flag: "--tp",
        value: tps.join(","),
        problem: format!(
            "no setup to search: no tensor-parallel size in `--tp` divides the model's {heads} attention heads, fits in the GPU counts `--gpus` {} and runs on the accelerators asked ({}; tp > 1 needs a GPU link), or no weight format runs on them",
            gpus_text(&s.gpus),
            if args.gpu.is_empty() { "the catalog's data-centre GPUs".to_string() } else { args.gpu.join(",") }
        ),
        hint: Some(format!(
            "use `--tp` values that divide {heads} ({}), `--gpus` counts that are multiples of them, or other `--weights`",
            (1..=8u64)
                .filter(|t| heads % t == 0)
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub(super) fn nothing_meets(
    args: &PlanServeArgs,
    req: &ServePlanRequest,
    tally: &ServeTally,
    confirmed: &ConfirmTally,
    miss: Option<&ServeMiss>,
) -> AppError {
    let t = &req.targets;
    let searched = format!(
        "{} setups evaluated, {} kept at steady state ({} without room for one request, {} over capacity, {} over a latency target), {} simulated",
        humanize::grouped(tally.evaluated),
        humanize::grouped(tally.kept),
        humanize::grouped(tally.no_room),
        humanize::grouped(tally.over_capacity),
        humanize::grouped(tally.over_latency),
        confirmed.simulated
    );
    let Some(miss) = miss else {
        return AppError::Usage {
            flag: "--gpu",
            value: args.gpu.join(","),
            problem: format!("nothing meets the targets and no setup could be priced: {searched}"),
            hint: None,
        };
    };
    let setup = setup_text(&miss.candidate, &miss.accelerator);
    let c = &miss.candidate;
    let (flag, value, problem, hint) = match (miss.reason, &miss.simulated) {
        (Some(MissReason::NoRoom { needed_bytes, capacity_bytes }), _) => (
            "--gpu",
            miss.accelerator.clone(),
            format!(
                "the nearest miss, {setup}, needs {} per GPU for one {}-token request against its {}",
                humanize::bytes(needed_bytes, humanize::ByteUnits::Binary),
                humanize::grouped(req.workload.context()),
                humanize::bytes(capacity_bytes, humanize::ByteUnits::Binary),
            ),
            format!(
                "a GPU with {} or more, more `--tp`, smaller `--weights` or `--kv-dtype`, or a shorter `--context` would fit one request",
                humanize::bytes(needed_bytes, humanize::ByteUnits::Binary)
            ),
        ),
        (
            Some(MissReason::OverCapacity {
                offered_per_replica,
                carried_per_replica,
                cap,
                cap_by_memory,
            }),
            _,
        ) => {
            let replicas = ((offered_per_replica * c.replicas as f64) / carried_per_replica.max(1e-12))
                .ceil()
                .max(c.replicas as f64 + 1.0) as u64;
            (
                "--gpus",
                gpus_text(&req.space.gpus),
                format!(
                    "the nearest miss, {setup}, completes {} requests/s per replica at its cap of {cap} in flight (set by {}) against the {} each replica must: {} short",
                    humanize::sig3(carried_per_replica),
                    if cap_by_memory { "the KV cache" } else { "`--max-num-seqs`" },
                    humanize::sig3(offered_per_replica),
                    humanize::percent(miss.ratio - 1.0),
                ),
                format!(
                    "{replicas} replicas ({} GPUs) would carry {} at steady state: allow them with `--gpus`{}; or a lower `{}`",
                    replicas.saturating_mul(c.gpus_per_replica()),
                    load_text(req.load),
                    if cap_by_memory { "" } else { ", or a larger `--max-num-seqs`" },
                    load_flag(req.load),
                ),
            )
        }
        (
            Some(MissReason::PrefillOverCapacity {
                offered_per_replica,
                carried_per_replica,
                prefill_replicas,
            }),
            _,
        ) => {
            let needed = (offered_per_replica * prefill_replicas as f64
                / carried_per_replica.max(1e-12))
            .floor() as u64
                + 1;
            let tp = c.prefill.map_or(c.tp, |p| p.tp);
            (
                "--gpus",
                gpus_text(&req.space.gpus),
                format!(
                    "the nearest miss, {setup}, prefills {} prompts/s on each of its {prefill_replicas} prefill replicas against the {} each must take: {} short",
                    humanize::sig3(carried_per_replica),
                    humanize::sig3(offered_per_replica),
                    humanize::percent(miss.ratio - 1.0),
                ),
                format!(
                    "{needed} prefill replicas ({} more GPUs) would keep up: allow them with `--gpus`; or a lower `{}`, or shorter prompts",
                    (needed - prefill_replicas).saturating_mul(tp),
                    load_flag(req.load),
                ),
            )
        }
        (Some(MissReason::TooManyUsers { per_replica, cap, cap_by_memory }), _) => {
            let users = req.load.value() as u64;
            let replicas = users.div_ceil(cap.max(1));
            (
                "--gpus",
                gpus_text(&req.space.gpus),
                format!(
                    "the nearest miss, {setup}, holds {cap} requests in flight per replica (set by {}) against the {per_replica} users each must hold",
                    if cap_by_memory { "the KV cache" } else { "`--max-num-seqs`" },
                ),
                format!(
                    "{replicas} replicas ({} GPUs) would hold {users} users: allow them with `--gpus`; or fewer `--users`",
                    replicas.saturating_mul(c.gpus_per_replica())
                ),
            )
        }
        (Some(MissReason::Latency { concurrency, ttft_seconds, tpot_seconds }), _) => {
            let ttft_is = if c.prefill.is_some() {
                "the disaggregated TTFT is the wait for a prefill replica, one prompt's prefill and its KV transfer: more prefill replicas (`--gpus`), a faster GPU or more `--tp` shortens it"
            } else {
                "the steady-state TTFT is one prompt's prefill: a faster GPU or more `--tp` shortens it"
            };
            latency_miss(t, &setup, &format!("at steady state with {concurrency} requests in flight per replica"), ttft_seconds, tpot_seconds, ttft_is)
        }
        (None, Some(sim)) => {
            if matches!(sim.state, RunState::Overloaded { .. } | RunState::StepCap { .. }) {
                (
                    load_flag(req.load),
                    load_text(req.load),
                    format!(
                        "the nearest miss, {setup}, meets the targets at steady state but its simulation reaches no steady state (the queue grows)"
                    ),
                    "allow more GPUs with `--gpus` (each refused setup was retried with more replicas up to the space's limit), or a lower load".to_string(),
                )
            } else {
                latency_miss(
                    t,
                    &setup,
                    &format!("in simulation at {}", load_text(req.load)),
                    t.percentile.of(&sim.ttft),
                    t.percentile.of(&sim.tpot),
                    "the simulation adds queueing to the steady state; allow more GPUs with `--gpus` (refused setups were retried with more replicas up to the space's limit)",
                )
            }
        }
        (None, None) => (
            "--gpu",
            args.gpu.join(","),
            format!("the nearest miss is {setup}"),
            String::new(),
        ),
    };
    AppError::Usage {
        flag,
        value,
        problem: format!("nothing meets the targets: {searched}; {problem}"),
        hint: (!hint.is_empty()).then_some(hint),
    }
}

/// The latency targets a miss breaks, and the targets that would accept it.
fn latency_miss(
    t: &LatencyTargets,
    setup: &str,
    at: &str,
    ttft: f64,
    tpot: f64,
    why: &str,
) -> (&'static str, String, String, String) {
    let pct = format!("p{}", t.percentile.number());
    let mut missed = Vec::new();
    let mut accept = Vec::new();
    if ttft > t.ttft_seconds {
        missed.push(format!(
            "{pct} TTFT {} against {} ({} over)",
            humanize::seconds(ttft),
            humanize::seconds(t.ttft_seconds),
            humanize::percent(ttft / t.ttft_seconds - 1.0)
        ));
        accept.push(format!("`--ttft {}`", up3(ttft)));
    }
    if tpot > t.tpot_seconds {
        missed.push(format!(
            "{pct} TPOT {} against {} ({} over)",
            humanize::seconds(tpot),
            humanize::seconds(t.tpot_seconds),
            humanize::percent(tpot / t.tpot_seconds - 1.0)
        ));
        accept.push(format!("`--tpot {}`", up3(tpot)));
    }
    let (flag, value) = if ttft / t.ttft_seconds >= tpot / t.tpot_seconds {
        ("--ttft", t.ttft_seconds.to_string())
    } else {
        ("--tpot", t.tpot_seconds.to_string())
    };
    (
        flag,
        value,
        format!("the nearest miss, {setup}, {at}: {}", missed.join(", ")),
        format!("{} would accept it; {why}", accept.join(" and ")),
    )
}

/// The flag that sets `load`: `--rate` or `--users`.
fn load_flag(load: ServeLoad) -> &'static str {
    match load {
        ServeLoad::Rate { .. } => "--rate",
        ServeLoad::Users { .. } => "--users",
    }
}

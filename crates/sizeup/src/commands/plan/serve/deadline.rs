//! A served plan's simulations bounded to its deadline.
//!
//! The steady-state tier's time is predicted before the search; the
//! simulations that confirm its front and find each row's headroom run after
//! it, up to [`runs_at_most`] of them, each up to `max_steps` engine steps. A
//! plan with a deadline times one short simulation of its best setup, then caps
//! every run's steps so that all of them together, one after another, fit the
//! time left: the prediction then covers the whole plan. When not even the
//! steps one run needs fit, it refuses and names the flag that would fit.

use std::time::Instant;

use sizeup_core::hardware::Accelerator;
use sizeup_core::inference::sim::simulate;
use sizeup_core::inference::Prepared;
use sizeup_core::plan::serve::{
    confirm::{HEADROOM_BISECTIONS, HEADROOM_DOUBLINGS, MAX_SIMULATIONS},
    ServePlanRequest, SteadyFound,
};

use crate::error::AppError;
use crate::humanize;

/// Requests per replica the timing probe simulates (few: it only measures a step).
const PROBE_REQUESTS_PER_REPLICA: u64 = 20;

/// Engine steps the timing probe runs at most.
const PROBE_MAX_STEPS: u64 = 20_000;

/// The most simulation runs a plan of `top` rows starts: [`MAX_SIMULATIONS`]
/// to confirm, and per row one headroom search of at most `1 +
/// HEADROOM_DOUBLINGS + HEADROOM_BISECTIONS` probes; where disaggregated setups
/// are searched (`split`), a probe may be two runs (the pools run apart) and the
/// confirmation may end one run past its limit.
pub fn runs_at_most(top: u64, split: bool) -> u64 {
    let per_probe = if split { 2 } else { 1 };
    let per_row = per_probe * (1 + u64::from(HEADROOM_DOUBLINGS) + u64::from(HEADROOM_BISECTIONS));
    (MAX_SIMULATIONS + u64::from(split)).saturating_add(top.saturating_mul(per_row))
}

/// The most engine steps per run such that `runs` runs of that many steps, one
/// after another at `seconds_per_step`, fit in `seconds_left`.
///
/// # Formula
/// `⌊seconds_left / (runs · seconds_per_step)⌋` (0 when no time is left; no
/// bound when a step takes no measurable time)
pub fn steps_within(seconds_left: f64, seconds_per_step: f64, runs: u64) -> u64 {
    if seconds_left <= 0.0 {
        return 0;
    }
    let per_run = seconds_left / (runs.max(1) as f64 * seconds_per_step);
    if per_run.is_finite() {
        // `as` saturates at u64::MAX
        per_run.floor() as u64
    } else {
        u64::MAX
    }
}

/// The engine steps a run of the front's best setup needs to finish its
/// requests: each request decodes its output one token a step, as many at once
/// as that setup holds in flight at steady state (at most `max_num_seqs`; the
/// largest when the front is empty); where disaggregated setups are searched, a
/// prefill pool's run needs a step per step budget of prompt tokens, if more. A
/// setup holding fewer needs more, and its run may stop at the cap: the cap then
/// says so (a step-capped run confirms nothing).
///
/// # Formula
/// ```text
/// decode  = ⌈requests_per_replica · output / n⌉,  n = min(in flight, max(max_num_seqs))
/// prefill = ⌈requests_per_replica · prompt / max(max_batched_tokens)⌉   (split searched)
/// ```
pub fn steps_needed(req: &ServePlanRequest, found: &SteadyFound) -> u64 {
    let seqs = req.space.largest_num_seqs().max(1);
    let in_flight = found
        .front
        .first()
        .map_or(seqs, |r| r.steady.concurrency)
        .clamp(1, seqs);
    let requests = req.simulation.requests_per_replica;
    let decode = requests
        .saturating_mul(req.workload.output)
        .div_ceil(in_flight);
    if !req.space.split() {
        return decode;
    }
    let budget = req
        .space
        .max_batched_tokens
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    decode.max(
        requests
            .saturating_mul(req.workload.prompt)
            .div_ceil(budget),
    )
}

/// Seconds one engine step of the front's best setup takes here, from a short
/// simulation of it, scaled to the largest batch a run may hold: a step's work
/// grows with the requests running in it (the scheduler visits each), and the
/// probe holds at most its few requests, so its time per step is multiplied by
/// `max(max_num_seqs) / probe batch` (an upper bound: the step's fixed part is
/// scaled too). `None` when the front is empty (nothing will be simulated).
fn seconds_per_step(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    found: &SteadyFound,
) -> Result<Option<f64>, AppError> {
    // a disaggregated setup is timed on its decode replicas run as one engine
    let Some(best) = found.front.first() else {
        return Ok(None);
    };
    let c = &best.candidate;
    let mut bounds = req.simulation;
    bounds.requests_per_replica = bounds.requests_per_replica.min(PROBE_REQUESTS_PER_REPLICA);
    bounds.max_steps = bounds.max_steps.min(PROBE_MAX_STEPS);
    let request = c.request(&req.workload, &accs[c.accelerator], best.steady.concurrency);
    let sim = c.simulation(&req.workload, req.load, &bounds);
    let start = Instant::now();
    let report = simulate(prepared.arch(), &request, &sim)?;
    let probe_batch = bounds.requests_per_replica.min(c.max_num_seqs).max(1);
    let largest = req.space.largest_num_seqs();
    let scale = (largest as f64 / probe_batch as f64).max(1.0);
    Ok(Some(
        scale * start.elapsed().as_secs_f64() / report.steps.max(1) as f64,
    ))
}

/// Cap `req`'s steps per run so that its simulations fit in `seconds_left`;
/// the cap is returned when it lowered `max_steps`.
///
/// # Errors
/// [`AppError::Usage`] naming `--requests-per-replica` (with the most that
/// fit) when the steps one run needs do not fit; the probe's own errors.
pub fn bound(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &mut ServePlanRequest,
    found: &SteadyFound,
    seconds_left: f64,
) -> Result<Option<u64>, AppError> {
    let start = Instant::now();
    let Some(per_step) = seconds_per_step(prepared, accs, req, found)? else {
        return Ok(None);
    };
    let left = seconds_left - start.elapsed().as_secs_f64();
    let runs = runs_at_most(req.top as u64, req.space.split());
    let within = steps_within(left, per_step, runs);
    let needed = steps_needed(req, found);
    if within < needed {
        // requests a run finishes in `within` steps at the rate `needed` assumes
        let fit =
            (within as f64 / needed as f64 * req.simulation.requests_per_replica as f64) as u64;
        return Err(AppError::Usage {
            flag: "--requests-per-replica",
            value: req.simulation.requests_per_replica.to_string(),
            problem: format!(
                "its simulations would not finish within the deadline: up to {runs} runs of at least {} engine steps each, at {} per step here, leave {} steps per run in the {:.1} s left",
                humanize::grouped(needed),
                humanize::seconds(per_step),
                humanize::grouped(within),
                left.max(0.0)
            ),
            hint: Some(if fit > 0 {
                format!("`--requests-per-replica {fit}` or fewer, or a smaller `--top`, fits; or run `sizeup plan serve` on your own machine")
            } else {
                "a smaller `--top` or a narrower space; or run `sizeup plan serve` on your own machine".into()
            }),
        });
    }
    if within < req.simulation.max_steps {
        req.simulation.max_steps = within;
        return Ok(Some(within));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_count_the_confirmation_and_each_rows_headroom() {
        // 96 to confirm + 5 rows × (1 + 3 doublings + 5 halvings) probes; with
        // disaggregated setups one run past the confirmation's limit and probes
        // of two runs
        assert_eq!(runs_at_most(5, false), 96 + 5 * 9);
        assert_eq!(runs_at_most(5, true), 97 + 5 * 18);
    }

    #[test]
    fn steps_fit_the_time_left() {
        // 20 s over 141 runs at 2 µs a step: ⌊20 / (141 · 2e-6)⌋ = 70,921
        assert_eq!(steps_within(20.0, 2e-6, 141), 70_921);
        assert_eq!(steps_within(-1.0, 2e-6, 141), 0);
        assert_eq!(steps_within(20.0, 0.0, 141), u64::MAX);
    }
}

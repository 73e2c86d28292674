//! How `plan serve`'s report reads: the rows, #1 in detail, the Pareto front,
//! the search, and why #1 ranks above #2.

use sizeup_core::plan::serve::{ServeEntry, ServeLoad, ServePlanRequest, ServeRankBy};

use super::super::gpus_text;
use super::{layout_text, load_text, setup_text, PlanServeReport, ServeRow};
use crate::humanize::{self, ByteUnits};
use crate::model;
use crate::render::{Cell, Report, Table, View};

/// What differs between two setups, as flags read.
fn differences(a: &ServeEntry, b: &ServeEntry) -> Vec<String> {
    let (x, y) = (&a.candidate, &b.candidate);
    let mut d = Vec::new();
    if a.accelerator != b.accelerator {
        d.push(format!("{} vs {}", a.accelerator, b.accelerator));
    }
    if x.gpus() != y.gpus() {
        d.push(format!("GPUs {} vs {}", x.gpus(), y.gpus()));
    }
    if (x.replicas, x.tp, x.pp, x.attention_dp, x.ep, x.prefill)
        != (y.replicas, y.tp, y.pp, y.attention_dp, y.ep, y.prefill)
    {
        d.push(format!("{} vs {}", layout_text(x), layout_text(y)));
    }
    if x.weights != y.weights {
        d.push(format!("{} vs {} weights", x.weights, y.weights));
    }
    if x.kv_dtype != y.kv_dtype {
        d.push(format!("{} vs {} KV", x.kv_dtype.name(), y.kv_dtype.name()));
    }
    if x.max_num_seqs != y.max_num_seqs {
        d.push(format!("{} vs {} seqs", x.max_num_seqs, y.max_num_seqs));
    }
    if x.max_batched_tokens != y.max_batched_tokens {
        d.push(format!(
            "{} vs {}-token steps",
            x.max_batched_tokens, y.max_batched_tokens
        ));
    }
    d
}

/// One sentence on why #1 ranks above #2.
pub(super) fn why(rows: &[ServeRow], req: &ServePlanRequest) -> Option<String> {
    let (first, second) = (&rows.first()?.entry, &rows.get(1)?.entry);
    let pct = format!("p{}", req.targets.percentile.number());
    let diff = differences(first, second).join(", ");
    let sim = |e: &ServeEntry| {
        let (ttft, tpot) = latencies(e, req);
        format!(
            "{pct} TTFT {} and TPOT {}",
            humanize::seconds(ttft),
            humanize::seconds(tpot)
        )
    };
    let price = |e: &ServeEntry| e.steady.usd_per_hour.unwrap_or(f64::NAN);
    let margin = |e: &ServeEntry| {
        let (ttft, tpot) = latencies(e, req);
        req.targets.ratio(ttft, tpot)
    };
    let per_gpu = |e: &ServeEntry| e.steady.capacity_output_tokens_per_sec_per_gpu;
    Some(match req.by {
        ServeRankBy::Cost if price(first) < price(second) => {
            let hourly = |e: &ServeEntry| price(e) / e.steady.gpus.max(1) as f64;
            format!(
                "#1 costs ${}/h against ${}/h for #2 ({diff}): both meet the targets in simulation, and #1 needs {} GPU(s) at ${}/h where #2 needs {} at ${}/h",
                humanize::sig3(price(first)),
                humanize::sig3(price(second)),
                first.steady.gpus,
                humanize::sig3(hourly(first)),
                second.steady.gpus,
                humanize::sig3(hourly(second)),
            )
        }
        ServeRankBy::Cost if margin(first) == margin(second) => format!(
            "#1 and #2 cost the same (${}/h; {diff}) and are as far inside the targets ({} against {}): #1 carries more load before they break ({} against {})",
            humanize::sig3(price(first)),
            sim(first),
            sim(second),
            humanize::sig3(first.steady.capacity),
            humanize::sig3(second.steady.capacity)
        ),
        ServeRankBy::Cost => format!(
            "#1 and #2 cost the same (${}/h; {diff}): #1 is further inside the targets ({} against {})",
            humanize::sig3(price(first)),
            sim(first),
            sim(second)
        ),
        ServeRankBy::Throughput => format!(
            "#1 serves {} output tokens/s per GPU at its steady-state capacity against {} for #2 ({diff}), both within the targets",
            humanize::sig3(per_gpu(first)),
            humanize::sig3(per_gpu(second))
        ),
    })
}

/// A row's simulated TTFT and TPOT at the percentile.
fn latencies(e: &ServeEntry, req: &ServePlanRequest) -> (f64, f64) {
    let p = req.targets.percentile;
    (p.of(&e.simulated.ttft), p.of(&e.simulated.tpot))
}

impl Report for PlanServeReport {
    fn view(&self, units: ByteUnits) -> View {
        let req = &self.request;
        let t = &req.targets;
        let pct = format!("p{}", t.percentile.number());
        let w = &req.workload;
        let ttft_head = format!("{pct} TTFT ≤ {}", humanize::seconds(t.ttft_seconds));
        let tpot_head = format!("{pct} TPOT ≤ {}", humanize::seconds(t.tpot_seconds));
        let headroom_head = format!(
            "targets hold to ({})",
            match req.load {
                ServeLoad::Rate { .. } => "req/s",
                ServeLoad::Users { .. } => "users",
            }
        );
        let columns: Vec<(&str, &str)> = vec![
            ("#", "rank"),
            ("$/h", "usd_per_hour"),
            ("$/M out", "usd_per_million_output_tokens"),
            ("GPUs", "gpus"),
            ("GPU", "accelerator"),
            ("replicas × tp·pp dp ep", "layout"),
            ("weights", "weights"),
            ("KV", "kv_dtype"),
            ("seqs", "max_num_seqs"),
            ("step", "max_batched_tokens"),
            ("in flight", "concurrency"),
            (&ttft_head, "simulated_ttft_seconds"),
            (&tpot_head, "simulated_tpot_seconds"),
            (&headroom_head, "headroom"),
        ];
        let mut top = Table::new(
            Some(&format!(
                "{} ({}): the {} best of {} setups that meet {pct} TTFT ≤ {} and TPOT ≤ {} at {} ({}-token prompts, {}-token outputs), by {}, {}",
                self.model.name,
                self.model.description(),
                self.rows.len(),
                humanize::grouped(self.plan.tally.kept),
                humanize::seconds(t.ttft_seconds),
                humanize::seconds(t.tpot_seconds),
                load_text(req.load),
                humanize::grouped(w.prompt),
                humanize::grouped(w.output),
                match req.by {
                    ServeRankBy::Cost => "cost",
                    ServeRankBy::Throughput => "throughput per GPU",
                },
                "confirmed by simulation",
            )),
            &columns,
        );
        for r in &self.rows {
            let e = &r.entry;
            let c = &e.candidate;
            let s = &e.steady;
            let (ttft, tpot) = latencies(e, req);
            top.row(vec![
                Cell::Exact(r.rank as u64),
                s.usd_per_hour
                    .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
                s.usd_per_million_output_tokens
                    .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
                Cell::Exact(c.gpus()),
                Cell::Text(e.accelerator.clone()),
                Cell::Text(layout_text(c)),
                Cell::Text(c.weights.to_string()),
                Cell::Text(c.kv_dtype.name().into()),
                Cell::Exact(c.max_num_seqs),
                Cell::Exact(c.max_batched_tokens),
                Cell::Exact(s.concurrency),
                Cell::Seconds(ttft),
                Cell::Seconds(tpot),
                Cell::Number(e.headroom.meets, ""),
            ]);
        }
        let mut tables = vec![top];
        let mut notes = Vec::new();
        if let Some(first) = self.rows.first() {
            let e = &first.entry;
            let s = &e.steady;
            let m = &e.simulated;
            let title = match &s.split {
                Some(_) => format!(
                    "#1 at {}: steady state (decode replicas as `sizeup infer --concurrency {}`, whose decode pass is the TPOT) and simulation (the prefill pool's TTFT plus the transfer; the decode pool's TPOT, each pool run apart)",
                    load_text(req.load),
                    s.concurrency
                ),
                None => format!(
                    "#1 at {}: steady state (`sizeup infer --concurrency {}`) and simulation",
                    load_text(req.load),
                    s.concurrency
                ),
            };
            let simulated_head = format!("simulated ({pct})");
            let mut one = Table::new(
                Some(&title),
                &[
                    ("quantity", "quantity"),
                    ("steady state (mean)", "steady"),
                    (&simulated_head, "simulated"),
                    ("target", "target"),
                ],
            );
            let mut row = |name: &str, steady: Cell, simulated: Cell, target: Cell| {
                one.row(vec![Cell::Text(name.into()), steady, simulated, target])
            };
            let simulated = |f: &dyn Fn(&sizeup_core::plan::serve::Simulated) -> Cell| f(m);
            row(
                "time to first token",
                Cell::Seconds(s.ttft_seconds),
                simulated(&|m| Cell::Seconds(t.percentile.of(&m.ttft))),
                Cell::Seconds(t.ttft_seconds),
            );
            if let Some(split) = &s.split {
                row(
                    "  prefill of one prompt",
                    Cell::Seconds(split.prefill_seconds),
                    Cell::Empty,
                    Cell::Empty,
                );
                row(
                    &format!(
                        "  wait for a prefill replica (M/D/1 at {} busy)",
                        humanize::sig3(split.prefill_utilization)
                    ),
                    Cell::Seconds(split.queue_seconds),
                    Cell::Empty,
                    Cell::Empty,
                );
                row(
                    &format!(
                        "  KV transfer ({} per rank, {})",
                        humanize::bytes(split.transfer_bytes, units),
                        if split.transfer_in_node {
                            "GPU link in the node"
                        } else {
                            "network between nodes"
                        }
                    ),
                    Cell::Seconds(split.transfer_seconds),
                    Cell::Empty,
                    Cell::Empty,
                );
            }
            row(
                "time per output token",
                Cell::Seconds(s.tpot_seconds),
                simulated(&|m| Cell::Seconds(t.percentile.of(&m.tpot))),
                Cell::Seconds(t.tpot_seconds),
            );
            row(
                "end to end",
                Cell::Seconds(s.ttft_seconds + w.output as f64 * s.tpot_seconds),
                simulated(&|m| Cell::Seconds(t.percentile.of(&m.e2e))),
                Cell::Empty,
            );
            row(
                "output tokens/s, all replicas",
                Cell::Number(s.served_output_tokens_per_sec, "tokens/s"),
                simulated(&|m| Cell::Number(m.output_tokens_per_sec, "tokens/s")),
                Cell::Empty,
            );
            row(
                "KV pool use (mean)",
                Cell::Empty,
                Cell::Ratio(m.kv_pool_use.mean),
                Cell::Empty,
            );
            row(
                "queue (mean / max)",
                Cell::Empty,
                Cell::Text(format!(
                    "{} / {}",
                    humanize::sig3(m.queue.mean),
                    humanize::sig3(m.queue.max)
                )),
                Cell::Empty,
            );
            if let Some(split) = &s.split {
                row(
                    "load the prefill / decode pool carries",
                    Cell::Text(format!(
                        "{} / {}",
                        humanize::sig3(split.prefill_capacity),
                        humanize::sig3(split.decode_capacity)
                    )),
                    Cell::Empty,
                    Cell::Empty,
                );
            }
            row(
                "load at which the targets break",
                Cell::Number(s.capacity, ""),
                {
                    let h = &e.headroom;
                    Cell::Text(match h.breaks {
                        Some(b) => format!(
                            "{} ({}× the load), broken by {}",
                            humanize::sig3(h.meets),
                            humanize::sig3(h.over_load),
                            humanize::sig3(b)
                        ),
                        None => format!(
                            "beyond {} ({}× the load)",
                            humanize::sig3(h.meets),
                            humanize::sig3(h.over_load)
                        ),
                    })
                },
                Cell::Empty,
            );
            tables.push(one);
            if let Some(why) = &self.why {
                notes.push(format!("why #1: {why}"));
            }
            match &first.prefill_infer_args {
                None => notes.push(format!(
                    "reproduce #1: sizeup infer {} {}",
                    self.model.name,
                    first.infer_args.join(" ")
                )),
                Some(prefill) => {
                    notes.push(format!(
                        "reproduce #1's decode replicas: sizeup infer {} {}",
                        self.model.name,
                        first.infer_args.join(" ")
                    ));
                    notes.push(format!(
                        "reproduce #1's prefill replicas: sizeup infer {} {}",
                        self.model.name,
                        prefill.join(" ")
                    ));
                }
            }
        }
        let mut pareto = Table::new(
            Some("Pareto front at steady state: throughput per GPU against tokens/s per user (per GPU count, the setup fastest per user)"),
            &[
                ("GPUs", "gpus"),
                ("tokens/s per GPU", "output_tokens_per_sec_per_gpu"),
                ("tokens/s per user", "tokens_per_sec_per_user"),
                ("$/h", "usd_per_hour"),
                ("setup", "setup"),
            ],
        );
        for p in &self.pareto {
            pareto.row(vec![
                Cell::Exact(p.gpus),
                Cell::Number(p.output_tokens_per_sec_per_gpu, "tokens/s"),
                Cell::Number(p.tokens_per_sec_per_user, "tokens/s"),
                p.steady
                    .usd_per_hour
                    .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
                Cell::Text(setup_text(
                    &p.candidate,
                    self.plan
                        .accelerators
                        .get(p.candidate.accelerator)
                        .map_or("", String::as_str),
                )),
            ]);
        }
        tables.push(pareto);
        let tl = &self.plan.tally;
        let cf = &self.plan.confirmed;
        let mut search = Table::new(
            Some("The search"),
            &[("quantity", "quantity"), ("value", "value")],
        );
        let mut row = |name: &str, c: Cell| search.row(vec![Cell::Text(name.into()), c]);
        row("setups in the space", Cell::Exact(self.plan.space.setups));
        row(
            "  disaggregated",
            Cell::Exact(self.plan.space.disaggregated_setups),
        );
        row(
            "  machines (GPU × weights × tp × pp × dp × ep × KV)",
            Cell::Exact(self.plan.space.machines),
        );
        row("evaluated at steady state", Cell::Exact(tl.evaluated));
        row("  kept (fit and meet both targets)", Cell::Exact(tl.kept));
        row("  no room for one request", Cell::Exact(tl.no_room));
        row("  over capacity", Cell::Exact(tl.over_capacity));
        row("  over a latency target", Cell::Exact(tl.over_latency));
        row("  passes priced", Cell::Exact(tl.passes_priced));
        row(
            "steady-state time",
            Cell::Seconds(self.speed.steady_seconds),
        );
        row(
            "evaluated per second",
            Cell::Number(self.speed.setups_per_second, "setups/s"),
        );
        row("front handed to the simulation", Cell::Exact(cf.front));
        row("  simulated", Cell::Exact(cf.simulated));
        row("  confirmed", Cell::Exact(cf.confirmed));
        row("  refused", Cell::Exact(cf.refused));
        row(
            "  retried with more replicas",
            Cell::Exact(cf.with_more_replicas),
        );
        row("headroom simulations", Cell::Exact(cf.headroom_simulations));
        row("engine steps simulated", Cell::Exact(cf.steps));
        row(
            "simulation time",
            Cell::Seconds(self.speed.simulation_seconds),
        );
        tables.push(search);
        let s = &req.space;
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        notes.push(format!(
            "space: {} accelerators ({}); GPUs {}; tp {}; pp {}; weights {}; KV {}; max_num_seqs {}; max_num_batched_tokens {}; disaggregated {}; MoE: attention groups {}, experts held whole {}; replicas (and prefill/decode splits): every count whose GPUs are allowed",
            self.plan.accelerators.len(),
            self.plan.accelerators.join(","),
            gpus_text(&s.gpus),
            list(&s.tp),
            list(&s.pp),
            s.weights.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(","),
            s.kv_dtypes.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
            list(&s.max_num_seqs),
            list(&s.max_batched_tokens),
            yes_no(&s.disaggregated),
            list(&s.attention_dp),
            yes_no(&s.expert_parallel),
        ));
        notes.extend(model::assumption_notes(&self.assumptions));
        View { tables, notes }
    }
}

/// A yes/no axis as the notes print it: `no,yes`.
fn yes_no(axis: &[bool]) -> String {
    axis.iter()
        .map(|&d| if d { "yes" } else { "no" })
        .collect::<Vec<_>>()
        .join(",")
}

//! The event loop: arrivals, the step scheduler, KV blocks, preemption and the
//! samples every metric is read from.
//!
//! Its counters use plain integer arithmetic, bounded by the request's checks:
//! at most [`super::MAX_REQUESTS`] (< 2²⁴) requests of at most
//! [`super::workload::MAX_LENGTH`] (< 2³²) prompt and output tokens each, and a
//! KV pool and step count that are `u64`s counted by the estimate, so no sum of
//! tokens, blocks, steps or requests here comes near 2⁶⁴.

use std::collections::VecDeque;

use super::histogram::LogHistogram;
use super::metrics::{Percentiles, TimeAverage};
use super::price::{StepPricer, StepShape};
use super::workload::{Arrivals, Rng};
use super::{RunState, SchedulerConfig, SimReport, SimRequest};

/// Arrivals below this many leave the steady-state test without a verdict.
const MIN_ARRIVALS_TO_JUDGE: usize = 40;

/// Overloaded when the waiting queue gains more than this many requests per
/// request sent between the second and the last quarter of the arrivals: the
/// engine then completes under 95% of what arrives. A stable queue fluctuates
/// but does not trend, so its gain is near zero.
const OVERLOAD_QUEUE_GROWTH: f64 = 0.05;

/// One request in the engine.
#[derive(Debug, Clone, Copy)]
struct Req {
    /// When the client sent it.
    sent: f64,
    /// When it reached the engine (sent + request overhead).
    arrived: f64,
    prompt: u64,
    output: u64,
    /// Prompt tokens found in the prefix cache on admission.
    hit: u64,
    /// Tokens generated so far.
    generated: u64,
    /// Tokens whose keys and values are in the cache.
    computed: u64,
    /// KV blocks held.
    blocks: u64,
    /// New tokens scheduled in the current step.
    scheduled: u64,
    last_token: f64,
    first_token: f64,
}

/// Where requests come from.
struct Source {
    arrivals: Arrivals,
    /// Requests this replica sends in all.
    total: u64,
    /// Requests sent so far.
    sent: u64,
    /// Send times not yet taken, in order.
    pending: VecDeque<f64>,
    /// The next Poisson send time.
    next_poisson: f64,
    rate: f64,
    overhead: f64,
}

impl Source {
    fn new(arrivals: Arrivals, total: u64, replicas: u64, overhead: f64, rng: &mut Rng) -> Source {
        let mut s = Source {
            arrivals,
            total,
            sent: 0,
            pending: VecDeque::new(),
            next_poisson: 0.0,
            rate: 0.0,
            overhead,
        };
        match arrivals {
            Arrivals::Poisson { rate_per_sec } => {
                s.rate = rate_per_sec / replicas as f64;
                s.next_poisson = rng.exponential(s.rate);
            }
            Arrivals::ClosedLoop { clients } => {
                let per_replica = (clients / replicas).min(total);
                s.pending.extend((0..per_replica).map(|_| 0.0));
            }
        }
        s
    }

    /// The send time of the next request, if any is left.
    fn peek_sent(&self) -> Option<f64> {
        if self.sent >= self.total {
            return None;
        }
        match self.arrivals {
            Arrivals::Poisson { .. } => Some(self.next_poisson),
            Arrivals::ClosedLoop { .. } => self.pending.front().copied(),
        }
    }

    /// When the next request reaches the engine, if any is left.
    fn peek(&self) -> Option<f64> {
        self.peek_sent().map(|t| t + self.overhead)
    }

    fn take(&mut self, rng: &mut Rng) -> f64 {
        self.sent += 1;
        match self.arrivals {
            Arrivals::Poisson { .. } => {
                let t = self.next_poisson;
                self.next_poisson += rng.exponential(self.rate);
                t
            }
            Arrivals::ClosedLoop { .. } => self.pending.pop_front().unwrap_or(0.0),
        }
    }

    /// A client got its answer at `t` and sends again (closed loop).
    fn answered(&mut self, t: f64) {
        if matches!(self.arrivals, Arrivals::ClosedLoop { .. }) {
            self.pending.push_back(t);
        }
    }
}

/// What a run gathered.
pub(super) struct Run {
    now: f64,
    steps: u64,
    sent: u64,
    completed: u64,
    rejected: u64,
    preemptions: u64,
    output_tokens: u64,
    prompt_tokens_done: u64,
    ttft: Vec<f64>,
    tpot: Vec<f64>,
    e2e: Vec<f64>,
    engine_latency_sum: f64,
    itl: LogHistogram,
    pool: TimeAverage,
    queue: TimeAverage,
    running: TimeAverage,
    in_system: TimeAverage,
    queue_at_arrival: Vec<u32>,
    saturated_seconds: f64,
    saturated_completions: u64,
    step_cap: Option<u64>,
    offered_rate: Option<f64>,
}

/// Blocks holding `tokens` tokens.
fn blocks_for(tokens: u64, block: u64) -> u64 {
    tokens.div_ceil(block)
}

/// Run the simulation of one replica.
pub(super) fn run(
    sim: &SimRequest,
    replicas: u64,
    block: u64,
    pool_blocks: u64,
    pricer: &mut StepPricer<'_>,
) -> Run {
    let cfg: &SchedulerConfig = &sim.scheduler;
    let mut rng = Rng::new(sim.seed);
    let total = sim.requests.div_ceil(replicas);
    let mut source = Source::new(
        sim.arrivals,
        total,
        replicas,
        cfg.request_overhead_seconds,
        &mut rng,
    );
    let pool_tokens = pool_blocks.saturating_mul(block);
    let mut free = pool_blocks;
    let mut waiting: VecDeque<Req> = VecDeque::new();
    let mut running: Vec<Req> = Vec::with_capacity(cfg.max_num_seqs.min(1 << 16) as usize);
    let mut r = Run {
        now: 0.0,
        steps: 0,
        sent: 0,
        completed: 0,
        rejected: 0,
        preemptions: 0,
        output_tokens: 0,
        prompt_tokens_done: 0,
        ttft: Vec::new(),
        tpot: Vec::new(),
        e2e: Vec::new(),
        engine_latency_sum: 0.0,
        itl: LogHistogram::default(),
        pool: TimeAverage::default(),
        queue: TimeAverage::default(),
        running: TimeAverage::default(),
        in_system: TimeAverage::default(),
        queue_at_arrival: Vec::new(),
        saturated_seconds: 0.0,
        saturated_completions: 0,
        step_cap: None,
        offered_rate: match sim.arrivals {
            Arrivals::Poisson { rate_per_sec } => Some(rate_per_sec),
            Arrivals::ClosedLoop { .. } => None,
        },
    };

    loop {
        // arrivals up to now join the queue
        while let Some(at) = source.peek().filter(|&a| a <= r.now) {
            let index = source.sent;
            let sent = source.take(&mut rng);
            r.sent += 1;
            let (prompt, output) = sim.lengths.next(index, &mut rng);
            if prompt.saturating_add(output) > pool_tokens {
                // it could never hold its cache: refused, as an engine refuses a
                // request longer than its pool
                r.rejected += 1;
                source.answered(r.now);
                continue;
            }
            let all_but_last = (prompt - 1) / block * block;
            let hit = if cfg.prompt_arrives_cached {
                all_but_last
            } else {
                ((cfg.prefix_hit_rate * prompt as f64) as u64 / block * block).min(all_but_last)
            };
            r.queue.add_area(r.now - at, (waiting.len() + 1) as f64);
            r.in_system
                .add_area(r.now - at, (waiting.len() + running.len() + 1) as f64);
            r.queue_at_arrival
                .push(waiting.len().min(u32::MAX as usize) as u32);
            waiting.push_back(Req {
                sent,
                arrived: at,
                prompt,
                output,
                hit,
                generated: 0,
                computed: 0,
                blocks: 0,
                scheduled: 0,
                last_token: 0.0,
                first_token: f64::NAN,
            });
        }
        if running.is_empty() && waiting.is_empty() {
            match source.peek() {
                Some(next) => {
                    // idle until the next arrival
                    let dt = next - r.now;
                    r.pool.hold(0.0, dt);
                    r.queue.hold(0.0, dt);
                    r.running.hold(0.0, dt);
                    r.in_system.hold(0.0, dt);
                    r.now = next;
                    continue;
                }
                None => break,
            }
        }
        if r.steps >= sim.max_steps {
            r.step_cap = Some(sim.max_steps);
            break;
        }

        // schedule one step: running requests first, in admission order
        let mut budget = cfg.max_batched_tokens;
        let mut shape = StepShape::default();
        let mut preempted = false;
        let mut i = 0;
        while i < running.len() && budget > 0 {
            let req = &mut running[i];
            let remaining = req.prompt + req.generated - req.computed;
            if remaining == 1 && req.computed > 0 && req.computed < req.blocks * block {
                // the common case: a decode whose last block has room (a product,
                // not a remainder: this runs for every sequence of every step)
                req.scheduled = 1;
                budget -= 1;
                shape.decodes += 1;
                shape.decode_context += req.computed;
                i += 1;
                continue;
            }
            let mut new = remaining.min(budget);
            if !cfg.chunked_prefill && new < remaining {
                if shape != StepShape::default() {
                    i += 1;
                    continue;
                }
                new = remaining;
            }
            let need = blocks_for(req.computed + new, block) - req.blocks;
            let mut evicted_self = false;
            while need > free {
                // evict the newest running request (the last admitted)
                let Some(mut victim) = running.pop() else {
                    break;
                };
                free += victim.blocks;
                r.preemptions += 1;
                preempted = true;
                victim.computed = 0;
                victim.blocks = 0;
                victim.scheduled = 0;
                waiting.push_front(victim);
                if running.len() == i {
                    evicted_self = true;
                    break;
                }
            }
            if evicted_self {
                break;
            }
            free -= need;
            let req = &mut running[i];
            req.blocks += need;
            req.scheduled = new;
            budget = budget.saturating_sub(new);
            add_to_shape(&mut shape, req.computed, new);
            i += 1;
        }
        // then waiting requests, first come first served, unless a request was
        // just preempted (vLLM V1 admits none in that step)
        while !preempted && budget > 0 && (running.len() as u64) < cfg.max_num_seqs {
            let Some(front) = waiting.front() else {
                break;
            };
            let skip = front.hit;
            let remaining = front.prompt + front.generated - skip;
            let mut new = remaining.min(budget);
            if !cfg.chunked_prefill && new < remaining {
                if shape != StepShape::default() {
                    break;
                }
                new = remaining;
            }
            let need = blocks_for(skip + new, block);
            if need > free {
                break;
            }
            let Some(mut req) = waiting.pop_front() else {
                break;
            };
            free -= need;
            req.computed = skip;
            req.blocks = need;
            req.scheduled = new;
            budget = budget.saturating_sub(new);
            add_to_shape(&mut shape, skip, new);
            running.push(req);
        }
        if shape == StepShape::default() {
            // nothing could run (cannot happen with the checks above, but a
            // loop must not spin): stop here
            r.step_cap = Some(r.steps);
            break;
        }

        // run it
        let dt = pricer.step(&shape) + cfg.step_overhead_seconds;
        let start = r.now;
        let used = (pool_blocks - free) as f64 / pool_blocks as f64;
        r.pool.hold(used, dt);
        r.queue.hold(waiting.len() as f64, dt);
        r.running.hold(running.len() as f64, dt);
        r.in_system.hold((waiting.len() + running.len()) as f64, dt);
        let saturated = !waiting.is_empty();
        if saturated {
            r.saturated_seconds += dt;
        }
        r.now += dt;
        r.steps += 1;
        let now = r.now;

        // tokens come out; finished requests leave, in one pass that keeps the
        // admission order
        let mut in_step = 0u64;
        let mut done = 0;
        running.retain_mut(|req| {
            if req.scheduled == 0 {
                return true;
            }
            req.computed += req.scheduled;
            req.scheduled = 0;
            if req.computed != req.prompt + req.generated {
                return true;
            }
            if req.generated == 0 {
                req.first_token = now;
                r.ttft.push(now - req.sent);
            } else if req.last_token == start {
                in_step += 1;
            } else {
                r.itl.record(now - req.last_token, 1);
            }
            req.last_token = now;
            req.generated += 1;
            r.output_tokens += 1;
            if req.generated < req.output {
                return true;
            }
            free += req.blocks;
            done += 1;
            r.e2e.push(now - req.sent);
            r.engine_latency_sum += now - req.arrived;
            r.prompt_tokens_done += req.prompt;
            if req.output > 1 {
                r.tpot
                    .push((now - req.first_token) / (req.output - 1) as f64);
            }
            source.answered(now);
            false
        });
        if in_step > 0 {
            r.itl.record(now - start, in_step);
        }
        r.completed += done;
        if saturated {
            r.saturated_completions += done;
        }
    }
    r
}

/// Count a scheduled chunk of `new` tokens after `computed` cached ones.
fn add_to_shape(shape: &mut StepShape, computed: u64, new: u64) {
    if new == 1 && computed > 0 {
        shape.decodes += 1;
        shape.decode_context += computed;
    } else {
        shape.prefills += 1;
        shape.prefill_tokens += new;
        shape.prefill_context += computed;
    }
}

impl Run {
    /// Whether the run is steady, from the queue met by each arrival.
    fn state(&self, replicas: u64) -> RunState {
        if let Some(steps) = self.step_cap {
            return RunState::StepCap { steps };
        }
        let Some(offered) = self.offered_rate else {
            // a closed loop cannot outrun its engine
            return RunState::Steady;
        };
        let q = &self.queue_at_arrival;
        let n = q.len();
        if n < MIN_ARRIVALS_TO_JUDGE {
            return RunState::TooShortToJudge;
        }
        let mean = |a: usize, b: usize| {
            q[a..b].iter().map(|&x| x as f64).sum::<f64>() / (b - a).max(1) as f64
        };
        // centres of the second and the last quarter are n/2 arrivals apart
        let growth = (mean(3 * n / 4, n) - mean(n / 4, n / 2)) / (n as f64 / 2.0);
        if growth > OVERLOAD_QUEUE_GROWTH {
            let capacity = if self.saturated_seconds > 0.0 {
                self.saturated_completions as f64 / self.saturated_seconds * replicas as f64
            } else {
                0.0
            };
            RunState::Overloaded {
                offered_per_sec: offered,
                capacity_per_sec: capacity,
                queue_growth_per_request: growth,
            }
        } else {
            RunState::Steady
        }
    }

    /// The report's measured fields (the caller fills in the setup).
    pub(super) fn report(self, replicas: u64) -> SimReport {
        let t = self.now;
        let per_sec = |x: f64| {
            if t > 0.0 {
                x / t * replicas as f64
            } else {
                0.0
            }
        };
        let state = self.state(replicas);
        SimReport {
            arrivals: Arrivals::ClosedLoop { clients: 0 },
            lengths: String::new(),
            prompt_mean: 0.0,
            output_mean: 0.0,
            seed: 0,
            replicas,
            batches_in_flight: 1,
            attention_dp: 1,
            scheduler: SchedulerConfig::default(),
            kv_block_tokens: 0,
            kv_pool_blocks: 0,
            requests_sent: self.sent,
            requests_completed: self.completed,
            requests_rejected: self.rejected,
            steps: self.steps,
            passes_priced: 0,
            simulated_seconds: t,
            ttft: Percentiles::of(&self.ttft),
            tpot: Percentiles::of(&self.tpot),
            itl: self.itl.percentiles(),
            e2e: Percentiles::of(&self.e2e),
            requests_per_sec: per_sec(self.completed as f64),
            output_tokens_per_sec: per_sec(self.output_tokens as f64),
            prompt_tokens_per_sec: per_sec(self.prompt_tokens_done as f64),
            kv_pool_use: self.pool.level(t),
            queue: self.queue.level(t),
            running: self.running.level(t),
            in_system: self.in_system.level(t),
            engine_latency_mean_seconds: if self.completed > 0 {
                self.engine_latency_sum / self.completed as f64
            } else {
                0.0
            },
            preemptions: self.preemptions,
            state,
            assumptions: Vec::new(),
        }
    }
}

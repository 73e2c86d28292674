//! The fitted constants, fitted by one procedure, in-sample and leave-one-source-out.
//!
//! A handful of constants are not taken from a datasheet or a paper but chosen
//! so that predictions match published measurements. Each is a [`Knob`]: it
//! names the constant, the range it may take, and which cases it is fitted on
//! (by what the case *is*, its kind, engine, backend and precision, never by
//! its id, source or model). [`fit`] picks every knob's value by the same
//! procedure:
//!
//! - the objective of a knob is the median of `|ln(predicted / reported)|` over
//!   the cases it is fitted on whose prediction moves with it (a case whose
//!   figure does not depend on the knob, such as a training time computed from
//!   a stated rate, does not vote);
//! - each knob takes the grid value (step [`Knob::step`]) that minimises its
//!   objective; where several tie, the one with the smallest mean `|ln|`, then
//!   the middle of what still ties; knobs that act on
//!   the same cases (an engine's matmul and memory efficiencies) are fitted in
//!   turn until none moves (coordinate descent, at most [`MAX_PASSES`] passes).
//!
//! [`validate`] runs it once on every case (the in-sample fit, whose values are
//! the constants in the code: a test checks that) and once per source family
//! with that family's cases held out, then predicts the held-out cases with the
//! constants fitted without them (leave-one-source-out).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Case, CaseOutcome};
use sizeup_core::inference::{self, Backend, Engine, EngineProfile};
use sizeup_core::training::kernels::SUSTAINED_FRACTION;
use sizeup_core::training::time::COMM_SM_SHARE;

/// Grid step of the efficiency knobs (fractions); a factor's step is [`Knob::step`].
pub const GRID_STEP: f64 = 0.01;
/// How many knobs there are.
pub const KNOBS: usize = 8;
/// Coordinate-descent passes at most.
pub const MAX_PASSES: usize = 4;

/// A fitted constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    /// `training::kernels::SUSTAINED_FRACTION`: share of kernel rates a training run sustains.
    SustainedFraction,
    /// `training::time::COMM_SM_SHARE`: share of the SMs overlapped communication takes from compute.
    CommSmShare,
    /// llama.cpp on CUDA: matmul efficiency (16- and 8-bit paths alike).
    LlamaCppCudaMatmul,
    /// llama.cpp on CUDA: memory efficiency.
    LlamaCppCudaMemory,
    /// llama.cpp on Metal: matmul efficiency (16- and 8-bit paths alike).
    LlamaCppMetalMatmul,
    /// llama.cpp on Metal: memory efficiency.
    LlamaCppMetalMemory,
    /// Batched serving engines (TensorRT-LLM, vLLM, SGLang): 16-bit matmul efficiency.
    ServingMatmul16,
    /// Batched serving engines: 8-bit (FP8) matmul efficiency.
    ServingMatmul8,
}

/// Which cases a knob acts on: one engine family, or training speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Group {
    Training,
    LlamaCppCuda,
    LlamaCppMetal,
    Serving,
}

impl Knob {
    /// Every knob, in fitting order.
    pub const ALL: [Knob; KNOBS] = [
        Knob::SustainedFraction,
        Knob::CommSmShare,
        Knob::LlamaCppCudaMatmul,
        Knob::LlamaCppCudaMemory,
        Knob::LlamaCppMetalMatmul,
        Knob::LlamaCppMetalMemory,
        Knob::ServingMatmul16,
        Knob::ServingMatmul8,
    ];

    /// Where the constant lives in the code.
    pub fn constant(self) -> &'static str {
        match self {
            Knob::SustainedFraction => "training::kernels::SUSTAINED_FRACTION",
            Knob::CommSmShare => "training::time::COMM_SM_SHARE",
            Knob::LlamaCppCudaMatmul => "profile(llama.cpp, CUDA).matmul_efficiency_16bit/8bit",
            Knob::LlamaCppCudaMemory => "profile(llama.cpp, CUDA).memory_efficiency",
            Knob::LlamaCppMetalMatmul => "profile(llama.cpp, Metal).matmul_efficiency_16bit/8bit",
            Knob::LlamaCppMetalMemory => "profile(llama.cpp, Metal).memory_efficiency",
            Knob::ServingMatmul16 => "profile(TensorRT-LLM|vLLM|SGLang).matmul_efficiency_16bit",
            Knob::ServingMatmul8 => "profile(TensorRT-LLM|vLLM|SGLang).matmul_efficiency_8bit",
        }
    }

    /// Which cases it is fitted on, in words.
    pub fn fitted_on(self) -> &'static str {
        match self {
            Knob::SustainedFraction => "train_throughput and train_time cases",
            Knob::CommSmShare => {
                "train_throughput and train_time cases that overlap communication with compute"
            }
            Knob::LlamaCppCudaMatmul => "infer_prefill cases run with llama.cpp on CUDA",
            Knob::LlamaCppCudaMemory => "infer_decode cases run with llama.cpp on CUDA",
            Knob::LlamaCppMetalMatmul => "infer_prefill cases run with llama.cpp on Metal",
            Knob::LlamaCppMetalMemory => "infer_decode cases run with llama.cpp on Metal",
            Knob::ServingMatmul16 => "16-bit decode and prefill cases of batched serving engines",
            Knob::ServingMatmul8 => "FP8 decode and prefill cases of batched serving engines",
        }
    }

    /// The range searched, both ends included. The communication share stops at
    /// 0.15: DeepSeek-V3's 20 of 132 SMs (arXiv:2412.19437 §3.2.2), the largest
    /// share a published system gives its communication kernels.
    pub fn range(self) -> (f64, f64) {
        match self {
            Knob::SustainedFraction => (0.60, 1.00),
            Knob::CommSmShare => (0.00, 0.15),
            _ => (0.20, 1.00),
        }
    }

    /// The grid step.
    pub fn step(self) -> f64 {
        GRID_STEP
    }

    fn group(self) -> Group {
        match self {
            Knob::SustainedFraction | Knob::CommSmShare => Group::Training,
            Knob::LlamaCppCudaMatmul | Knob::LlamaCppCudaMemory => Group::LlamaCppCuda,
            Knob::LlamaCppMetalMatmul | Knob::LlamaCppMetalMemory => Group::LlamaCppMetal,
            Knob::ServingMatmul16 | Knob::ServingMatmul8 => Group::Serving,
        }
    }

    fn index(self) -> usize {
        Knob::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    fn steps(self) -> usize {
        let (lo, hi) = self.range();
        ((hi - lo) / self.step()).round() as usize
    }

    fn value_at(self, step: usize) -> f64 {
        let (lo, _) = self.range();
        // rounded to the grid so that printed values are exact decimals
        ((lo + step as f64 * self.step()) * 100.0).round() / 100.0
    }

    fn step_of(self, value: f64) -> usize {
        let (lo, _) = self.range();
        (((value - lo) / self.step()).round().max(0.0) as usize).min(self.steps())
    }

    /// The value the code uses now.
    pub fn code_value(self) -> f64 {
        let cuda = inference::profile(Engine::LlamaCpp, Backend::Cuda);
        let metal = inference::profile(Engine::LlamaCpp, Backend::Metal);
        let serving = inference::profile(Engine::Trtllm, Backend::Cuda);
        match self {
            Knob::SustainedFraction => SUSTAINED_FRACTION,
            Knob::CommSmShare => COMM_SM_SHARE,
            Knob::LlamaCppCudaMatmul => cuda.matmul_efficiency_16bit,
            Knob::LlamaCppCudaMemory => cuda.memory_efficiency,
            Knob::LlamaCppMetalMatmul => metal.matmul_efficiency_16bit,
            Knob::LlamaCppMetalMemory => metal.memory_efficiency,
            Knob::ServingMatmul16 => serving.matmul_efficiency_16bit,
            Knob::ServingMatmul8 => serving.matmul_efficiency_8bit,
        }
    }
}

/// One value per [`Knob`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    values: [f64; KNOBS],
}

impl Default for Calibration {
    /// The constants in the code.
    fn default() -> Self {
        Calibration {
            values: Knob::ALL.map(Knob::code_value),
        }
    }
}

impl Calibration {
    /// The knob's value.
    pub fn get(&self, knob: Knob) -> f64 {
        self.values[knob.index()]
    }

    /// Set the knob's value.
    pub fn set(&mut self, knob: Knob, value: f64) {
        self.values[knob.index()] = value;
    }

    /// Put the engine's fitted efficiencies into `profile` (other engines untouched).
    pub fn apply(&self, profile: &mut EngineProfile) {
        let (m16, m8, mem) = match (profile.engine, profile.backend) {
            (Engine::LlamaCpp, Backend::Metal) => (
                self.get(Knob::LlamaCppMetalMatmul),
                self.get(Knob::LlamaCppMetalMatmul),
                Some(self.get(Knob::LlamaCppMetalMemory)),
            ),
            (Engine::LlamaCpp, _) => (
                self.get(Knob::LlamaCppCudaMatmul),
                self.get(Knob::LlamaCppCudaMatmul),
                Some(self.get(Knob::LlamaCppCudaMemory)),
            ),
            (Engine::Trtllm | Engine::Vllm | Engine::Sglang, _) => (
                self.get(Knob::ServingMatmul16),
                self.get(Knob::ServingMatmul8),
                None,
            ),
            _ => return,
        };
        profile.matmul_efficiency_16bit = m16;
        profile.matmul_efficiency_8bit = m8;
        if let Some(mem) = mem {
            profile.memory_efficiency = mem;
        }
    }
}

/// The knob a case is fitted on, from what the case is (kind, engine, backend,
/// precision, kernels): one each, so that every constant is identified by its
/// own cases.
fn knob_of(case: &Case) -> Option<Knob> {
    match case.kind.as_str() {
        "train_throughput" | "train_time" => Some(Knob::SustainedFraction),
        "infer_decode" | "infer_prefill" => {
            let (engine, backend, eight_bit) = super::inference::engine_of(case)?;
            let prefill = case.kind == "infer_prefill";
            Some(match (engine, backend) {
                (Engine::LlamaCpp, Backend::Metal) if prefill => Knob::LlamaCppMetalMatmul,
                (Engine::LlamaCpp, Backend::Metal) => Knob::LlamaCppMetalMemory,
                (Engine::LlamaCpp, _) if prefill => Knob::LlamaCppCudaMatmul,
                (Engine::LlamaCpp, _) => Knob::LlamaCppCudaMemory,
                (Engine::Trtllm | Engine::Vllm | Engine::Sglang, _) if eight_bit => {
                    Knob::ServingMatmul8
                }
                (Engine::Trtllm | Engine::Vllm | Engine::Sglang, _) => Knob::ServingMatmul16,
                _ => return None,
            })
        }
        _ => None,
    }
}

/// The knobs a case votes on: its own ([`knob_of`]) and, for a training-speed
/// case, the communication share (the voters keep only the cases whose
/// prediction moves with it: those that overlap communication).
fn votes_of(case: &Case) -> Vec<Knob> {
    let own = knob_of(case);
    let mut out: Vec<Knob> = own.into_iter().collect();
    if own == Some(Knob::SustainedFraction) {
        out.push(Knob::CommSmShare);
    }
    out
}

/// Predict one case with the given constants (inference, then training models).
pub fn predict(case: &Case, cal: &Calibration) -> CaseOutcome {
    super::inference::predict_with(case, cal)
        .or_else(|| super::training::predict_with(case, cal))
        .unwrap_or_else(|| CaseOutcome {
            id: case.id.clone(),
            kind: case.kind.clone(),
            metric: String::new(),
            reported: f64::NAN,
            predicted: None,
            baseline: None,
            note: Some(format!("no model predicts cases of kind `{}`", case.kind)),
            fits: None,
            range: None,
        })
}

/// The family a source belongs to, so that two tables of one paper or two
/// threads of one repository are held out together.
///
/// # Rule
/// A llama.cpp thread by its number (`llama.cpp PR #4766`: two authors' tables
/// in one thread are one source); else the first arXiv identifier; else the
/// source's first word: a repository (`owner/name…`) by its name, a web address
/// by its host, anything else as is.
pub fn source_family(source: &str) -> String {
    if source.contains("llama.cpp") {
        for thread in ["PR #", "issue #"] {
            if let Some(i) = source.find(thread) {
                let n: String = source[i + thread.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                return format!("llama.cpp {thread}{n}");
            }
        }
        return "llama.cpp".into();
    }
    if let Some(i) = source.find("arXiv:") {
        let id: String = source[i + 6..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let id = id.trim_end_matches('.');
        if !id.is_empty() {
            return format!("arXiv:{id}");
        }
    }
    let source = source
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("github.com/");
    let first = source
        .split_whitespace()
        .next()
        .unwrap_or(source)
        .trim_end_matches([',', ':']);
    match first.split_once('/') {
        Some((owner, _)) if owner.contains('.') => owner.to_string(),
        Some((_, rest)) => rest
            .split(['@', ':', '/'])
            .next()
            .unwrap_or(rest)
            .to_string(),
        None => first.to_string(),
    }
}

/// One fitted constant as [`validate`] found it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedConstant {
    /// The knob.
    pub knob: Knob,
    /// Where it lives in the code.
    pub constant: Cow<'static, str>,
    /// Which cases it is fitted on, in words.
    pub fitted_on: Cow<'static, str>,
    /// The value in the code.
    pub code_value: f64,
    /// The value fitted on every case.
    pub fitted_value: f64,
    /// The ids of the cases that voted in the in-sample fit.
    pub cases: Vec<String>,
    /// Source families among them.
    pub families: usize,
    /// Smallest and largest value over the leave-one-source-out folds.
    pub loso_range: (f64, f64),
}

/// Every case predicted twice, and the constants behind the predictions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Validation {
    /// In-sample: predicted with the constants fitted on every case, in input order.
    pub in_sample: Vec<CaseOutcome>,
    /// Leave-one-source-out predictions, in the same order.
    pub loso: Vec<Option<f64>>,
    /// Why a case has no leave-one-source-out prediction, in the same order.
    pub loso_notes: Vec<Option<String>>,
    /// The source family of each case, in the same order.
    pub families: Vec<String>,
    /// The fitted constants.
    pub constants: Vec<FittedConstant>,
}

/// A case and the grid steps of the knobs its prediction reads.
type MemoKey = (usize, Vec<usize>);

/// Memoised (reported, predicted) pairs: each case only reads the knobs of its group.
struct Predictor<'a> {
    cases: &'a [Case],
    /// The knobs each case reads.
    reads: Vec<Vec<Knob>>,
    /// The knobs each case is fitted on.
    votes: Vec<Vec<Knob>>,
    memo: HashMap<MemoKey, Option<(f64, f64, f64)>>,
}

impl Predictor<'_> {
    /// The knobs a case's prediction reads: an engine's every efficiency for a
    /// speed case; for training, the sustained share and the communication share.
    fn group_knobs(case: &Case) -> Vec<Knob> {
        match knob_of(case) {
            Some(Knob::SustainedFraction) => vec![Knob::SustainedFraction, Knob::CommSmShare],
            Some(k) => Knob::ALL
                .into_iter()
                .filter(|o| o.group() == k.group())
                .collect(),
            None => Vec::new(),
        }
    }

    /// (reported, prediction at the reader's guesses, prediction as scored) of
    /// case `i` under the knob steps `steps`: the two differ where the source
    /// leaves inputs unstated ([`crate::GuessRange`]); the fit reads the guess,
    /// so a constant is never moved to where unstated inputs' ranges absorb errors.
    fn outcome(&mut self, i: usize, steps: &[usize; KNOBS]) -> Option<(f64, f64, f64)> {
        let case = &self.cases[i];
        let key = (
            i,
            self.reads[i]
                .iter()
                .map(|k| steps[k.index()])
                .collect::<Vec<_>>(),
        );
        if let Some(p) = self.memo.get(&key) {
            return *p;
        }
        let o = predict(case, &calibration(steps));
        let p = o
            .predicted
            .map(|p| (o.reported, o.range.map_or(p, |r| r.guess), p));
        self.memo.insert(key, p);
        p
    }

    fn predicted(&mut self, i: usize, steps: &[usize; KNOBS]) -> Option<f64> {
        self.outcome(i, steps).map(|(_, _, p)| p)
    }

    /// The prediction at the reader's guesses, which the fit reads.
    fn guessed(&mut self, i: usize, steps: &[usize; KNOBS]) -> Option<f64> {
        self.outcome(i, steps).map(|(_, g, _)| g)
    }

    fn log_error(&mut self, i: usize, steps: &[usize; KNOBS]) -> Option<f64> {
        let (reported, p, _) = self.outcome(i, steps)?;
        (p > 0.0 && reported > 0.0).then(|| (p / reported).ln().abs())
    }
}

fn calibration(steps: &[usize; KNOBS]) -> Calibration {
    let mut cal = Calibration::default();
    for k in Knob::ALL {
        cal.set(k, k.value_at(steps[k.index()]));
    }
    cal
}

/// The median of the fit's `|ln(predicted/reported)|`. Not
/// [`crate::abs_quantile`]`(v, 0.5)`, which leaves out non-finite values: here a
/// case predicted infinite counts as the worst error, not as no case.
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The cases each knob is fitted on among `members`: those whose prediction moves with it.
fn voters(p: &mut Predictor, members: &[usize], start: &[usize; KNOBS]) -> Vec<Vec<usize>> {
    Knob::ALL
        .iter()
        .map(|&k| {
            let candidates: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| p.votes[i].contains(&k))
                .collect();
            candidates
                .into_iter()
                .filter(|&i| {
                    let mut lo = *start;
                    let mut hi = *start;
                    lo[k.index()] = 0;
                    hi[k.index()] = k.steps();
                    match (p.guessed(i, &lo), p.guessed(i, &hi)) {
                        (Some(a), Some(b)) => {
                            a > 0.0
                                && (a - b).abs() > 1e-9 * a.abs()
                                && p.log_error(i, &lo).is_some()
                        }
                        _ => false,
                    }
                })
                .collect()
        })
        .collect()
}

/// Fit every knob on the cases `members` (indices into the predictor's cases);
/// also says which knobs had cases to fit on.
fn fit_steps(
    p: &mut Predictor,
    members: &[usize],
    start: [usize; KNOBS],
) -> ([usize; KNOBS], [bool; KNOBS]) {
    let vote = voters(p, members, &start);
    let fitted = Knob::ALL.map(|k| !vote[k.index()].is_empty());
    let mut steps = start;
    for _ in 0..MAX_PASSES {
        let mut moved = false;
        for k in Knob::ALL {
            let who = &vote[k.index()];
            if who.is_empty() {
                continue;
            }
            // the median |ln| first; among equal medians the smallest mean |ln|
            let mut scores = Vec::with_capacity(k.steps() + 1);
            for s in 0..=k.steps() {
                let mut trial = steps;
                trial[k.index()] = s;
                let errs: Vec<f64> = who.iter().filter_map(|&i| p.log_error(i, &trial)).collect();
                let mean = errs.iter().sum::<f64>() / errs.len().max(1) as f64;
                scores.push((median(errs).unwrap_or(f64::INFINITY), mean));
            }
            let best = scores.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
            let ties: Vec<usize> = (0..scores.len())
                .filter(|&s| scores[s].0 <= best + 1e-12)
                .collect();
            let least = ties
                .iter()
                .map(|&s| scores[s].1)
                .fold(f64::INFINITY, f64::min);
            let ties: Vec<usize> = ties
                .into_iter()
                .filter(|&s| scores[s].1 <= least + 1e-12)
                .collect();
            let pick = ties[ties.len() / 2];
            if pick != steps[k.index()] {
                steps[k.index()] = pick;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    (steps, fitted)
}

/// Fit the constants on every case and per held-out source family, and predict.
pub fn validate(cases: &[Case]) -> Validation {
    let mut p = Predictor {
        cases,
        reads: cases.iter().map(Predictor::group_knobs).collect(),
        votes: cases.iter().map(votes_of).collect(),
        memo: HashMap::new(),
    };
    let families: Vec<String> = cases.iter().map(|c| source_family(&c.source)).collect();
    let all: Vec<usize> = (0..cases.len()).collect();
    let start = Knob::ALL.map(|k| k.step_of(k.code_value()));
    let (in_steps, _) = fit_steps(&mut p, &all, start);
    let in_cal = calibration(&in_steps);
    let in_sample: Vec<CaseOutcome> = cases.iter().map(|c| predict(c, &in_cal)).collect();
    let in_voters = voters(&mut p, &all, &in_steps);

    let mut distinct: Vec<&String> = families.iter().collect();
    distinct.sort();
    distinct.dedup();
    let mut loso = vec![None; cases.len()];
    let mut loso_notes = vec![None; cases.len()];
    let mut ranges: Vec<(f64, f64)> = Knob::ALL
        .iter()
        .map(|k| {
            let v = k.value_at(in_steps[k.index()]);
            (v, v)
        })
        .collect();
    for fam in distinct {
        let held: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| &families[i] == fam)
            .collect();
        let votes_here = held.iter().any(|i| in_voters.iter().any(|v| v.contains(i)));
        let (steps, fitted) = if votes_here {
            let rest: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| &families[i] != fam)
                .collect();
            fit_steps(&mut p, &rest, in_steps)
        } else {
            (in_steps, [true; KNOBS])
        };
        for k in Knob::ALL.into_iter().filter(|k| fitted[k.index()]) {
            let v = k.value_at(steps[k.index()]);
            let r = &mut ranges[k.index()];
            r.0 = r.0.min(v);
            r.1 = r.1.max(v);
        }
        for i in held {
            let blind = p.reads[i].iter().copied().find(|k| !fitted[k.index()]);
            if let Some(k) = blind {
                // no other source measures what this knob is fitted on: nothing
                // to predict the held-out case from
                loso[i] = None;
                loso_notes[i] = Some(format!(
                    "no LOSO prediction: no case outside `{fam}` fits {}",
                    k.constant()
                ));
                continue;
            }
            loso[i] = if steps == in_steps {
                in_sample[i].predicted
            } else {
                p.predicted(i, &steps)
            };
        }
    }
    let constants = Knob::ALL
        .iter()
        .map(|&k| {
            let who = &in_voters[k.index()];
            let mut fams: Vec<&String> = who.iter().map(|&i| &families[i]).collect();
            fams.sort();
            fams.dedup();
            FittedConstant {
                knob: k,
                constant: k.constant().into(),
                fitted_on: k.fitted_on().into(),
                code_value: k.code_value(),
                fitted_value: in_cal.get(k),
                cases: who.iter().map(|&i| cases[i].id.clone()).collect(),
                families: fams.len(),
                loso_range: ranges[k.index()],
            }
        })
        .collect();
    Validation {
        in_sample,
        loso,
        loso_notes,
        families,
        constants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_group_tables_of_one_source() {
        // shared/validation/cases.json spells Narayanan et al. 2021 four ways
        assert_eq!(
            source_family("Narayanan et al. 2021 (arXiv:2104.04473) Table 2 (PTD-P)"),
            "arXiv:2104.04473"
        );
        assert_eq!(
            source_family("Narayanan et al. 2021, Efficient ... (arXiv:2104.04473), Table 1"),
            "arXiv:2104.04473"
        );
        assert_eq!(
            source_family("llama.cpp PR #4766 (JohannesGaessler, master column)"),
            "llama.cpp PR #4766"
        );
        assert_eq!(
            source_family("llama.cpp issue #2850 (ggerganov, build dd0dc36)"),
            "llama.cpp issue #2850"
        );
        assert_eq!(
            source_family("pytorch/torchtitan@eaea6f6 docs/performance.md"),
            "torchtitan"
        );
        assert_eq!(
            source_family("https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance.md (x)"),
            "docs.nvidia.com"
        );
        assert_eq!(
            source_family("https://github.com/vllm-project/vllm/issues/10517 (x)"),
            "vllm"
        );
        assert_eq!(
            source_family("NVIDIA/TensorRT-LLM docs/source/performance.md"),
            "TensorRT-LLM"
        );
    }

    /// Every case `sizeup validate` reads by default: the shared cases, the
    /// practitioners' measurements and sizeup's own H200 runs.
    fn default_cases() -> Vec<Case> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut cases = crate::shared_cases();
        for path in [
            format!("{dir}/../shared/validation/practitioner.json"),
            format!("{dir}/crates/sizeup-validation/cases/h200-2026-11-28.json"),
        ] {
            let text = std::fs::read_to_string(&path).expect(&path);
            cases.extend(serde_json::from_str::<Vec<Case>>(&text).expect(&path));
        }
        cases
    }

    #[test]
    fn the_constants_in_the_code_are_the_in_sample_fit() {
        let v = validate(&default_cases());
        for c in &v.constants {
            assert!(!c.cases.is_empty(), "{:?} has no case to fit on", c.knob);
            assert!(
                (c.fitted_value - c.code_value).abs() < c.knob.step() / 2.0,
                "{}: the fit gives {}, the code says {}",
                c.constant,
                c.fitted_value,
                c.code_value
            );
        }
        // every case comes back, predicted or with its reason
        for o in &v.in_sample {
            assert!(o.predicted.is_some() || o.note.is_some(), "{}", o.id);
        }
    }

    #[test]
    fn grid_round_trips() {
        for k in Knob::ALL {
            let (lo, hi) = k.range();
            assert_eq!(k.value_at(0), lo);
            assert_eq!(k.value_at(k.steps()), hi);
            assert_eq!(k.step_of(k.value_at(7)), 7);
            assert!((k.value_at(3) - (lo + 3.0 * k.step())).abs() < 1e-9);
        }
    }
}

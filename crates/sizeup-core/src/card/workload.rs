//! Workloads and the targets that decide what binds.

use serde::{Deserialize, Serialize};

use crate::Assumption;

/// What the model is for: it sets the defaults and the targets the card judges against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Interactive chat: many users, latency-sensitive, long conversations.
    Chat,
    /// Offline batch generation: throughput and cost first, no latency target.
    Batch,
    /// Retrieval-augmented answers: long prompts, short answers.
    Rag,
    /// Pre-training.
    Train,
    /// Fine-tuning (LoRA by default).
    Finetune,
}

impl Workload {
    /// All workloads.
    pub const ALL: [Workload; 5] = [
        Workload::Chat,
        Workload::Batch,
        Workload::Rag,
        Workload::Train,
        Workload::Finetune,
    ];

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Chat => "chat",
            Workload::Batch => "batch",
            Workload::Rag => "rag",
            Workload::Train => "train",
            Workload::Finetune => "finetune",
        }
    }

    /// Whether the card judges training rather than serving.
    pub fn is_training(self) -> bool {
        matches!(self, Workload::Train | Workload::Finetune)
    }

    /// Default prompt, output and context tokens of one request.
    ///
    /// # Source
    /// Chat: a multi-turn conversation re-sends its history (prompt 2k, answer 512);
    /// RAG: retrieved passages dominate (prompt 8k, answer 256); batch: 1k in, 1k out.
    /// Conventions of serving benchmarks (vLLM `benchmark_serving`, MLPerf Inference
    /// Llama-2 scenario), rounded; every one is a flag.
    pub fn request_shape(self) -> (u64, u64) {
        match self {
            Workload::Chat => (2048, 512),
            Workload::Rag => (8192, 256),
            Workload::Batch | Workload::Train | Workload::Finetune => (1024, 1024),
        }
    }

    /// Where [`Workload::request_shape`] and [`Workload::default_context`] come from.
    pub fn shape_source(self) -> &'static str {
        match self {
            Workload::Chat => "card default for chat: a multi-turn conversation re-sends its history (vLLM benchmark_serving conventions, rounded)",
            Workload::Rag => "card default for RAG: retrieved passages dominate the prompt (vLLM benchmark_serving conventions, rounded)",
            Workload::Batch | Workload::Train | Workload::Finetune => {
                "card default for batch work: 1k in, 1k out (MLPerf Inference Llama-2 scenario, rounded)"
            }
        }
    }

    /// Default context each request may reach: a chat's history grows to 8k
    /// tokens, a RAG prompt's passages to 16k; batch requests hold prompt + output.
    pub fn default_context(self, prompt: u64, output: u64) -> u64 {
        match self {
            Workload::Chat => 8192,
            Workload::Rag => 16_384,
            _ => prompt.saturating_add(output),
        }
    }

    /// Default targets for this workload.
    pub fn default_targets(self) -> ServeTargets {
        match self {
            Workload::Chat => ServeTargets {
                concurrency: 16,
                max_ttft_seconds: Some(2.0),
                max_tpot_seconds: Some(0.05),
            },
            Workload::Rag => ServeTargets {
                concurrency: 8,
                max_ttft_seconds: Some(4.0),
                max_tpot_seconds: Some(0.05),
            },
            Workload::Batch | Workload::Train | Workload::Finetune => ServeTargets {
                concurrency: 0,
                max_ttft_seconds: None,
                max_tpot_seconds: None,
            },
        }
    }
}

impl std::str::FromStr for Workload {
    type Err = crate::CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = s.trim().to_ascii_lowercase();
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == n || (n == "fine-tune" && *w == Workload::Finetune))
            .ok_or_else(|| crate::CoreError::Unknown {
                what: "workload",
                name: s.to_string(),
                suggestions: Workload::ALL.iter().map(|w| w.name().to_string()).collect(),
            })
    }
}

/// What "good enough" means for a serving workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeTargets {
    /// Requests in flight at once that the service must hold; 0 means "as many as fit"
    /// (batch workloads).
    pub concurrency: u64,
    /// Longest acceptable time to first token.
    pub max_ttft_seconds: Option<f64>,
    /// Longest acceptable time per output token.
    pub max_tpot_seconds: Option<f64>,
}

/// Which of the card's serving inputs the user set; the others are the
/// workload's defaults, and the card labels each accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserSet {
    /// Prompt tokens per request.
    pub prompt: bool,
    /// Output tokens per request.
    pub output: bool,
    /// The context each request may reach.
    pub context: bool,
    /// Requests in flight to hold.
    pub concurrency: bool,
    /// The time-to-first-token target.
    pub ttft: bool,
    /// The time-per-output-token target.
    pub tpot: bool,
}

/// The label of an input the user set.
pub const USER_FLAG: &str = "user flag";

impl ServeTargets {
    /// The targets as assumptions: the user's flags as such, the defaults with
    /// where they come from.
    pub fn assumptions(&self, workload: Workload, user: &UserSet) -> Vec<Assumption> {
        let src = "card default for this workload (a flag): 50 ms per token ≈ 20 tokens/s, faster than people read; 2 s to the first token as in MLPerf Inference's Llama-2-70B server scenario";
        let label = |set: bool| if set { USER_FLAG } else { src };
        let mut a = Vec::new();
        if workload.is_training() {
            return a;
        }
        a.push(Assumption::new(
            "concurrent requests to hold",
            if self.concurrency == 0 {
                "as many as fit".to_string()
            } else {
                self.concurrency.to_string()
            },
            label(user.concurrency),
        ));
        if let Some(t) = self.max_ttft_seconds {
            a.push(Assumption::new(
                "time-to-first-token target",
                format!("{t} s"),
                label(user.ttft),
            ));
        }
        if let Some(t) = self.max_tpot_seconds {
            a.push(Assumption::new(
                "time-per-output-token target",
                format!("{} ms", t * 1e3),
                label(user.tpot),
            ));
        }
        a
    }
}

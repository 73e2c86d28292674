//! What a source states beyond its case: the software that ran and inputs its text
//! gives, read from `data/source_readings.json`.
//!
//! A case states a setup; where it leaves out the framework (a paper about
//! Megatron-LM does not repeat "Megatron-LM" in every table) or an input the source
//! gives elsewhere (DeepSeek-V3's batch of §4.2), the project's readings file says
//! what the source states, with where it says so. One rule applies every reading to
//! every case of its source family, and fills only fields the case does not state;
//! no rule of the predictions reads a case's id or source text.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::calibration::source_family;
use crate::Case;

/// The readings file, embedded.
const READINGS: &str = include_str!("../data/source_readings.json");

/// What one source family states.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceReading {
    /// The family ([`source_family`]) whose cases the reading completes.
    pub family: String,
    /// The software that ran, as the case's `setup.framework` would name it.
    pub framework: String,
    /// Where the source says so.
    pub evidence: String,
    /// Inputs the source's text gives, each filled where the case is silent.
    #[serde(default)]
    pub inputs: Vec<StatedInput>,
}

/// One input a source's text gives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedInput {
    /// The `setup` field it fills.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Where the source says so.
    pub evidence: String,
}

/// The file: its `about` text for readers, and the readings.
#[derive(Deserialize)]
struct Readings {
    sources: Vec<SourceReading>,
}

/// Every reading of the file.
pub fn readings() -> &'static [SourceReading] {
    static ALL: OnceLock<Vec<SourceReading>> = OnceLock::new();
    ALL.get_or_init(|| {
        serde_json::from_str::<Readings>(READINGS)
            .expect("data/source_readings.json parses (a test holds it)")
            .sources
    })
}

/// The case with what its source states filled in where the case is silent, and a
/// note for each field filled.
pub fn complete(case: &Case) -> (Cow<'_, Case>, Vec<String>) {
    let family = source_family(&case.source);
    let Some(reading) = readings().iter().find(|r| r.family == family) else {
        return (Cow::Borrowed(case), Vec::new());
    };
    let mut filled = case.clone();
    let mut notes = Vec::new();
    let states_software = ["framework", "software"]
        .iter()
        .any(|k| case.setup.contains_key(*k));
    if !states_software {
        filled
            .setup
            .insert("framework".into(), Value::String(reading.framework.clone()));
        notes.push(format!(
            "framework from the source: {} ({})",
            reading.framework, reading.evidence
        ));
    }
    for input in &reading.inputs {
        if !case.setup.contains_key(&input.key) {
            filled.setup.insert(input.key.clone(), input.value.clone());
            notes.push(format!(
                "{} from the source: {} ({})",
                input.key, input.value, input.evidence
            ));
        }
    }
    (Cow::Owned(filled), notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reading_names_a_family_of_the_shared_cases_once() {
        let families: Vec<String> = crate::shared_cases()
            .iter()
            .map(|c| source_family(&c.source))
            .collect();
        let all = readings();
        assert_eq!(all.len(), 9);
        for (i, r) in all.iter().enumerate() {
            assert!(families.contains(&r.family), "{}", r.family);
            assert!(
                all[..i].iter().all(|o| o.family != r.family),
                "{}",
                r.family
            );
            assert!(!r.evidence.is_empty() && r.inputs.iter().all(|x| !x.evidence.is_empty()));
        }
    }

    #[test]
    fn a_reading_fills_only_what_the_case_leaves_out() {
        let mut case = crate::shared_cases()
            .into_iter()
            .find(|c| c.id == "megatron2021_t1_76.1B")
            .unwrap();
        let (filled, notes) = complete(&case);
        assert_eq!(filled.setup["framework"], "Megatron-LM (2021)");
        assert_eq!(filled.setup["flops_rule"], "narayanan-eq3");
        // the case states its recomputation: the source's general word does not replace it
        assert_eq!(filled.setup["recompute"], "full");
        assert_eq!(notes.len(), 2);
        case.setup
            .insert("framework".into(), "something else".into());
        let (filled, notes) = complete(&case);
        assert_eq!(filled.setup["framework"], "something else");
        assert_eq!(notes.len(), 1);
    }
}

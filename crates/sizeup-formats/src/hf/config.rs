//! Typed access to the keys of a `config.json`, with errors that name the field.
//!
//! Every family reader goes through [`Config`]: a key is either required (absent is
//! [`FormatError::MissingField`]) or has the default of its transformers config
//! class, and every default taken is recorded as an [`Assumption`] so the caller can
//! show which documented rule filled the gap.

use std::sync::LazyLock;

use serde_json::{Map, Value};
use sizeup_core::arch::MAX_LAYERS;
use sizeup_core::Assumption;

use crate::error::FormatError;

/// What a key holds in the JSON object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    /// The key is not there: the config class default applies.
    Absent,
    /// The key is there with `null`: Python's `None`.
    Null,
    /// The key has a value.
    Value(&'a Value),
}

/// The nested configs of image-text models.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Section {
    /// `text_config`: the language model.
    Text,
    /// `vision_config`: the vision tower.
    Vision,
    /// `linear_attn_config`: the linear-attention layers (Kimi Linear).
    Linear,
    /// `audio_config`: the audio encoder.
    Audio,
}

impl Section {
    /// The key of the nested object.
    fn key(self) -> &'static str {
        match self {
            Section::Text => "text_config",
            Section::Vision => "vision_config",
            Section::Linear => "linear_attn_config",
            Section::Audio => "audio_config",
        }
    }

    /// The prefix its fields carry in errors and assumptions.
    fn prefix(self) -> &'static str {
        match self {
            Section::Text => "text_config.",
            Section::Vision => "vision_config.",
            Section::Linear => "linear_attn_config.",
            Section::Audio => "audio_config.",
        }
    }
}

/// A JSON object being read as the config of one `model_type`.
pub(crate) struct Config<'a> {
    map: &'a Map<String, Value>,
    model_type: String,
    /// The transformers config class whose defaults apply (`LlamaConfig`).
    class: &'static str,
    /// Where this object sits in the file (`text_config.`), empty at the top.
    prefix: &'static str,
    assumptions: Vec<Assumption>,
    /// The reader applied `per_layer_config` ([`Config::per_layer_overrides`]);
    /// [`Config::refuse_unread_overrides`] refuses it otherwise.
    overrides_read: bool,
}

impl<'a> Config<'a> {
    /// Read `map` as a config of `model_type` with the defaults of `class`.
    pub(crate) fn new(map: &'a Map<String, Value>, model_type: &str, class: &'static str) -> Self {
        Config {
            map,
            model_type: model_type.to_string(),
            class,
            prefix: "",
            assumptions: Vec::new(),
            overrides_read: false,
        }
    }

    /// Read the nested object `map`, found under `prefix` (`text_config.`), with the
    /// defaults of `class`; errors still name this config's `model_type`.
    pub(crate) fn nested(
        &self,
        map: &'a Map<String, Value>,
        class: &'static str,
        prefix: &'static str,
    ) -> Self {
        Config {
            map,
            model_type: self.model_type.clone(),
            class,
            prefix,
            assumptions: Vec::new(),
            overrides_read: false,
        }
    }

    /// The `model_type` this config is read as.
    pub(crate) fn model_type(&self) -> &str {
        &self.model_type
    }

    /// The assumptions recorded so far, leaving none behind.
    pub(crate) fn take_assumptions(&mut self) -> Vec<Assumption> {
        std::mem::take(&mut self.assumptions)
    }

    /// Add assumptions recorded elsewhere (a nested config).
    pub(crate) fn extend_assumptions(&mut self, more: Vec<Assumption>) {
        self.assumptions.extend(more);
    }

    /// Record that `key` took `value` by the documented `rule`.
    pub(crate) fn assume(&mut self, key: &str, value: impl ToString, rule: &str) {
        self.assumptions.push(Assumption::new(
            format!("{}{key}", self.prefix),
            value,
            format!("{} (transformers {}): {rule}", self.model_type, self.class),
        ));
    }

    /// What `key` holds.
    pub(crate) fn field(&self, key: &str) -> Field<'a> {
        match self.map.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Value(v),
        }
    }

    /// The first of `keys` that is present and not null, with its name.
    fn first(&self, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        keys.iter().find_map(|k| match self.field(k) {
            Field::Value(v) => Some((*k, v)),
            _ => None,
        })
    }

    /// An error for `key` holding `value` where `expected` was wanted.
    pub(crate) fn invalid(
        &self,
        key: &str,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> FormatError {
        FormatError::InvalidField {
            model_type: self.model_type.clone(),
            field: format!("{}{key}", self.prefix),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// An error for `key` being absent.
    pub(crate) fn missing(&self, key: &str) -> FormatError {
        FormatError::MissingField {
            model_type: self.model_type.clone(),
            field: format!("{}{key}", self.prefix),
        }
    }

    fn as_count(&self, key: &str, v: &Value) -> Result<u64, FormatError> {
        v.as_u64()
            .ok_or_else(|| self.invalid(key, v, "a non-negative integer that fits in 64 bits"))
    }

    fn as_size(&self, key: &str, v: &Value) -> Result<u64, FormatError> {
        match self.as_count(key, v)? {
            0 => Err(self.invalid(key, v, "a positive integer")),
            n => Ok(n),
        }
    }

    /// A required positive size, under the first present of `keys` (aliases).
    pub(crate) fn size(&self, keys: &[&'static str]) -> Result<u64, FormatError> {
        match self.first(keys) {
            Some((k, v)) => self.as_size(k, v),
            None => Err(self.missing(keys.first().copied().unwrap_or("?"))),
        }
    }

    /// The number of decoder layers under the first present of `keys`, refused above
    /// [`MAX_LAYERS`] at the door: every per-layer list a reader builds stays bounded.
    pub(crate) fn layers(&self, keys: &[&'static str]) -> Result<u64, FormatError> {
        let layers = self.size(keys)?;
        if layers > MAX_LAYERS {
            let key = self.first(keys).map_or("num_hidden_layers", |(k, _)| k);
            return Err(self.invalid(
                key,
                layers,
                format!("at most {MAX_LAYERS} (real models have a few hundred at most)"),
            ));
        }
        Ok(layers)
    }

    /// `layer_types` when present: one entry per layer, each one of `allowed`.
    pub(crate) fn layer_types(
        &self,
        layers: u64,
        allowed: &[&str],
    ) -> Result<Option<Vec<&'a str>>, FormatError> {
        self.per_layer("layer_types", layers, allowed)
    }

    /// A per-layer list of names under `key` (`layer_types`, `mlp_layer_types`) when
    /// present: one entry per layer, each one of `allowed`.
    pub(crate) fn per_layer(
        &self,
        key: &'static str,
        layers: u64,
        allowed: &[&str],
    ) -> Result<Option<Vec<&'a str>>, FormatError> {
        let Some(types) = self.opt_strings(key)? else {
            return Ok(None);
        };
        if types.len() as u64 != layers {
            return Err(self.invalid(
                key,
                format!("a list of {} entries", types.len()),
                format!("one entry per layer ({layers})"),
            ));
        }
        if let Some(bad) = types.iter().find(|t| !allowed.contains(t)) {
            return Err(self.invalid(
                key,
                format!("an entry `{bad}`"),
                format!("entries among {}", allowed.join(", ")),
            ));
        }
        Ok(Some(types))
    }

    /// Read the nested config under `key` (`text_config`, `vision_config`) with the
    /// defaults of `class` through `read`; absent, the class defaults apply (recorded).
    /// Its assumptions join this config's; its errors name `key.<field>`.
    pub(crate) fn section<T>(
        &mut self,
        key: Section,
        class: &'static str,
        read: impl FnOnce(&mut Config<'a>) -> Result<T, FormatError>,
    ) -> Result<T, FormatError> {
        static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
        let (key, prefix) = (key.key(), key.prefix());
        let map = match self.opt_object(key)? {
            Some(m) => m,
            None => {
                self.assume(
                    key,
                    format!("{class} defaults"),
                    &format!("`{key}` absent means a default {class}"),
                );
                &EMPTY
            }
        };
        let mut nested = self.nested(map, class, prefix);
        let out = read(&mut nested)?;
        nested.refuse_unread_overrides()?;
        self.extend_assumptions(nested.take_assumptions());
        Ok(out)
    }

    /// transformers' `per_layer_config` (5.x, `HeterogeneousConfigMixin`): a sparse
    /// map from a layer's index (`"5"` or `"05"`) to the attributes that differ on
    /// that layer. Returns each layer's overrides; refuses an index that is not a
    /// layer and any attribute outside `allowed` (the reader models those only).
    pub(crate) fn per_layer_overrides(
        &mut self,
        layers: u64,
        allowed: &[&str],
    ) -> Result<Vec<Option<&'a Map<String, Value>>>, FormatError> {
        const KEY: &str = "per_layer_config";
        self.overrides_read = true;
        // `layers` is bounded by MAX_LAYERS at the door
        let mut out = vec![None; usize::try_from(layers).unwrap_or(0)];
        let Some(map) = self.opt_object(KEY)? else {
            return Ok(out);
        };
        for (index, v) in map {
            let field = format!("{KEY}.{index}");
            let slot = index
                .parse::<usize>()
                .ok()
                .and_then(|i| out.get_mut(i))
                .ok_or_else(|| {
                    self.invalid(&field, "a key", format!("a layer index below {layers}"))
                })?;
            if slot.is_some() {
                // `"5"` and `"05"` name one layer: a second entry would silently win
                return Err(self.invalid(&field, "a second entry", "one entry per layer"));
            }
            let Value::Object(o) = v else {
                return Err(self.invalid(&field, v, "a JSON object of attribute overrides"));
            };
            if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(self.invalid(
                    &format!("{field}.{k}"),
                    &o[k],
                    format!(
                        "no per-layer `{k}`: only {} may differ by layer for this model_type",
                        allowed.join(", ")
                    ),
                ));
            }
            *slot = Some(o);
        }
        Ok(out)
    }

    /// A positive size in one layer's overrides (`per_layer_config.<i>.<key>`).
    pub(crate) fn override_size(
        &self,
        layer: usize,
        overrides: Option<&Map<String, Value>>,
        key: &'static str,
    ) -> Result<Option<u64>, FormatError> {
        overrides
            .and_then(|o| o.get(key))
            .filter(|v| !v.is_null())
            .map(|v| self.as_size(&format!("per_layer_config.{layer}.{key}"), v))
            .transpose()
    }

    /// Refuse a non-empty `per_layer_config` the reader did not apply: its layers
    /// would be counted with the global shapes.
    pub(crate) fn refuse_unread_overrides(&self) -> Result<(), FormatError> {
        match self.opt_object("per_layer_config")? {
            Some(m) if !m.is_empty() && !self.overrides_read => Err(self.invalid(
                "per_layer_config",
                format!("{} layer override(s)", m.len()),
                "absent or empty: per-layer overrides are not modelled for this model_type",
            )),
            _ => Ok(()),
        }
    }

    /// Read the nested config under `key` as [`Config::section`] does, but refuse a
    /// config without it: the class defaults would describe some other checkpoint
    /// (`what` says what the object holds, for the error).
    pub(crate) fn required_section<T>(
        &mut self,
        key: Section,
        class: &'static str,
        what: &str,
        read: impl FnOnce(&mut Config<'a>) -> Result<T, FormatError>,
    ) -> Result<T, FormatError> {
        if self.opt_object(key.key())?.is_none() {
            return Err(self.invalid(
                key.key(),
                "absent",
                format!(
                    "an object with {what} (without it transformers builds the {class} defaults, not this checkpoint)"
                ),
            ));
        }
        self.section(key, class, read)
    }

    /// A positive size that may be absent or null.
    pub(crate) fn opt_size(&self, keys: &[&'static str]) -> Result<Option<u64>, FormatError> {
        self.first(keys)
            .map(|(k, v)| self.as_size(k, v))
            .transpose()
    }

    /// A positive size with the class default when absent or null.
    pub(crate) fn size_or(
        &mut self,
        key: &'static str,
        default: u64,
        rule: &str,
    ) -> Result<u64, FormatError> {
        match self.opt_size(&[key])? {
            Some(v) => Ok(v),
            None => {
                self.assume(key, default, rule);
                Ok(default)
            }
        }
    }

    /// A non-negative count (zero allowed) with the class default when absent or null.
    pub(crate) fn count_or(
        &mut self,
        key: &'static str,
        default: u64,
        rule: &str,
    ) -> Result<u64, FormatError> {
        match self.first(&[key]) {
            Some((k, v)) => self.as_count(k, v),
            None => {
                self.assume(key, default, rule);
                Ok(default)
            }
        }
    }

    /// A non-negative count (zero allowed) that may be absent or null.
    pub(crate) fn opt_count(&self, key: &'static str) -> Result<Option<u64>, FormatError> {
        self.first(&[key])
            .map(|(k, v)| self.as_count(k, v))
            .transpose()
    }

    /// A boolean that may be absent or null.
    pub(crate) fn opt_flag(&self, key: &'static str) -> Result<Option<bool>, FormatError> {
        match self.field(key) {
            Field::Value(Value::Bool(b)) => Ok(Some(*b)),
            Field::Value(v) => Err(self.invalid(key, v, "`true` or `false`")),
            Field::Absent | Field::Null => Ok(None),
        }
    }

    /// A boolean with the class default when absent or null.
    pub(crate) fn flag_or(
        &mut self,
        key: &'static str,
        default: bool,
        rule: &str,
    ) -> Result<bool, FormatError> {
        match self.opt_flag(key)? {
            Some(b) => Ok(b),
            None => {
                self.assume(key, default, rule);
                Ok(default)
            }
        }
    }

    /// A list of strings (`layer_types`), if present.
    pub(crate) fn opt_strings(
        &self,
        key: &'static str,
    ) -> Result<Option<Vec<&'a str>>, FormatError> {
        match self.field(key) {
            Field::Absent | Field::Null => Ok(None),
            Field::Value(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .ok_or_else(|| self.invalid(key, i, "a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Field::Value(v) => Err(self.invalid(key, v, "a list of strings")),
        }
    }

    /// A list of non-negative integers (`mlp_only_layers`), if present.
    pub(crate) fn opt_counts(&self, key: &'static str) -> Result<Option<Vec<u64>>, FormatError> {
        match self.field(key) {
            Field::Absent | Field::Null => Ok(None),
            Field::Value(Value::Array(items)) => items
                .iter()
                .map(|i| self.as_count(key, i))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Field::Value(v) => Err(self.invalid(key, v, "a list of non-negative integers")),
        }
    }

    /// A nested object (`text_config`, `vision_config`), if present.
    pub(crate) fn opt_object(
        &self,
        key: &'static str,
    ) -> Result<Option<&'a Map<String, Value>>, FormatError> {
        match self.field(key) {
            Field::Absent | Field::Null => Ok(None),
            Field::Value(Value::Object(m)) => Ok(Some(m)),
            Field::Value(v) => Err(self.invalid(key, v, "a JSON object")),
        }
    }

    /// `hidden / heads`, failing when `heads` does not divide `hidden`.
    pub(crate) fn divide_heads(
        &self,
        hidden: u64,
        heads: u64,
        heads_key: &str,
    ) -> Result<u64, FormatError> {
        if hidden % heads == 0 {
            Ok(hidden / heads)
        } else {
            Err(self.invalid(
                heads_key,
                heads,
                format!("a divisor of the hidden size {hidden} (head_dim = hidden_size / num_attention_heads)"),
            ))
        }
    }

    /// The head width `d`: `head_dim` when present, else the class default.
    pub(crate) fn head_dim(
        &mut self,
        hidden: u64,
        heads: u64,
        default: HeadDim,
    ) -> Result<u64, FormatError> {
        if let Some(d) = self.opt_size(&["head_dim"])? {
            return Ok(d);
        }
        let absent = matches!(self.field("head_dim"), Field::Absent);
        match default {
            HeadDim::Fixed(d) if absent => {
                self.assume("head_dim", d, &format!("`head_dim` defaults to {d}"));
                Ok(d)
            }
            _ => {
                let d = self.divide_heads(hidden, heads, "num_attention_heads")?;
                self.assume(
                    "head_dim",
                    format!("{d} (= hidden_size {hidden} / num_attention_heads {heads})"),
                    "`head_dim` absent means hidden_size / num_attention_heads",
                );
                Ok(d)
            }
        }
    }

    /// Key/value heads `k` under `key`: when absent the class default, when null `a`;
    /// `k` must divide `a` (each KV head serves a whole group of query heads).
    pub(crate) fn kv_heads(
        &mut self,
        key: &'static str,
        heads: u64,
        default: KvHeads,
    ) -> Result<u64, FormatError> {
        let k = match (self.field(key), default) {
            (Field::Value(v), _) => self.as_size(key, v)?,
            (Field::Absent, KvHeads::Fixed(k)) => {
                self.assume(key, k, &format!("`{key}` defaults to {k}"));
                k
            }
            _ => {
                self.assume(
                    key,
                    format!("{heads} (= num_attention_heads)"),
                    &format!("`{key}` absent or null means num_attention_heads (MHA)"),
                );
                heads
            }
        };
        if heads % k != 0 {
            return Err(self.invalid(key, k, format!("a divisor of the {heads} attention heads")));
        }
        Ok(k)
    }

    /// `tie_word_embeddings`, with the class default when absent.
    pub(crate) fn tied(&mut self, default: bool) -> Result<bool, FormatError> {
        self.flag_or(
            "tie_word_embeddings",
            default,
            &format!("`tie_word_embeddings` defaults to {default}"),
        )
    }

    /// The longest context under the first present of `keys`, or the class default.
    pub(crate) fn context_or(
        &mut self,
        keys: &[&'static str],
        default: u64,
    ) -> Result<u64, FormatError> {
        match self.opt_size(keys)? {
            Some(v) => Ok(v),
            None => {
                let key = keys.first().copied().unwrap_or("max_position_embeddings");
                self.assume(key, default, &format!("`{key}` defaults to {default}"));
                Ok(default)
            }
        }
    }
}

/// Where a family's head width comes from when `head_dim` is absent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HeadDim {
    /// `hidden_size / num_attention_heads` (Llama and most others).
    Divide,
    /// A fixed class default (Gemma 256, Qwen3 128); null still means `h/a`.
    Fixed(u64),
}

/// What an absent key/value head count means for a family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KvHeads {
    /// Equal to the query heads (MHA).
    Heads,
    /// A fixed class default (Mistral 8, Qwen2 32).
    Fixed(u64),
}

//! Test support: tiny safetensors and GGUF writers, a loopback HTTP server, a virtual file that holds a
//! header and pretends to hold gigabytes of zeros, model shapes in GGUF naming,
//! and the path to the shared fixtures.
//!
//! Each test binary uses part of this module.
#![allow(dead_code)]

pub mod http;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// `shared/fixtures/models/<name>/expected.json` → `params_total`.
pub fn fixture_params(name: &str) -> u64 {
    let path = shared_dir()
        .join("fixtures/models")
        .join(name)
        .join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["params_total"].as_u64().unwrap()
}

/// The `shared/` folder beside the repository.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

// ---------------------------------------------------------------- safetensors

/// Bits per element of a safetensors dtype (huggingface/safetensors `Dtype::bitsize`).
pub fn st_bits(dtype: &str) -> u64 {
    match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F8_E4M3FNUZ"
        | "F8_E5M2FNUZ" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        other => panic!("no such dtype {other}"),
    }
}

/// A header whose tensors tile the data section in the order given.
/// Returns the JSON and the data length.
pub fn st_header(tensors: &[(&str, &str, Vec<u64>)], metadata: &[(&str, &str)]) -> (String, u64) {
    let mut map = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        map.insert("__metadata__".into(), m.into());
    }
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let bytes = shape.iter().product::<u64>() * st_bits(dtype) / 8;
        map.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    (serde_json::Value::Object(map).to_string(), offset)
}

/// A whole safetensors file in memory: length, JSON, `data_len` zero bytes.
pub fn st_bytes(json: &str, data_len: u64) -> Vec<u8> {
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    out.resize(out.len() + data_len as usize, 0);
    out
}

/// Write a safetensors file whose data section is a hole (sparse on disk).
pub fn st_write(path: &Path, json: &str, data_len: u64) {
    let mut f = File::create(path).unwrap();
    f.write_all(&(json.len() as u64).to_le_bytes()).unwrap();
    f.write_all(json.as_bytes()).unwrap();
    f.set_len(8 + json.len() as u64 + data_len).unwrap();
}

/// Llama-2-7B's tensors in Hugging Face naming, layers `range`.
pub fn llama_2_7b_layers(range: std::ops::Range<u64>) -> Vec<(String, Vec<u64>)> {
    // shared/fixtures/models/llama-2-7b/config.json: h 4096, f 11008, 32 heads
    let (h, f) = (4096, 11008);
    let mut out = Vec::new();
    for i in range {
        let p = format!("model.layers.{i}");
        for proj in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            out.push((format!("{p}.self_attn.{proj}.weight"), vec![h, h]));
        }
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![f, h]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![f, h]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, f]));
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
    }
    out
}

pub fn write_shard(dir: &Path, name: &str, tensors: &[(String, Vec<u64>)]) -> (u64, Vec<String>) {
    let spec: Vec<(&str, &str, Vec<u64>)> = tensors
        .iter()
        .map(|(n, s)| (n.as_str(), "BF16", s.clone()))
        .collect();
    let (json, data_len) = st_header(&spec, &[("format", "pt")]);
    st_write(&dir.join(name), &json, data_len);
    (data_len, tensors.iter().map(|(n, _)| n.clone()).collect())
}

/// Llama-2-7B in BF16 as transformers shards it: two sparse shards and the index.
/// Returns the shard names.
pub fn write_llama_2_7b_sharded(dir: &Path) -> Vec<&'static str> {
    let mut first = vec![("model.embed_tokens.weight".to_string(), vec![32000, 4096])];
    first.extend(llama_2_7b_layers(0..16));
    let mut second = llama_2_7b_layers(16..32);
    second.push(("model.norm.weight".into(), vec![4096]));
    second.push(("lm_head.weight".into(), vec![32000, 4096]));
    let shards = [
        ("model-00001-of-00002.safetensors", first),
        ("model-00002-of-00002.safetensors", second),
    ];
    let mut weight_map = serde_json::Map::new();
    let mut total = 0;
    for (name, tensors) in &shards {
        let (bytes, names) = write_shard(dir, name, tensors);
        total += bytes;
        for n in names {
            weight_map.insert(n, (*name).into());
        }
    }
    let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    shards.iter().map(|(n, _)| *n).collect()
}

// ---------------------------------------------------------------- virtual file

/// A file that holds `head` and then zeros up to `len` bytes, without
/// allocating them: lets tests read headers of 600 GB models.
pub struct VirtualFile {
    head: Vec<u8>,
    len: u64,
    pos: u64,
}

impl VirtualFile {
    pub fn new(head: Vec<u8>, len: u64) -> Self {
        assert!(len >= head.len() as u64);
        VirtualFile { head, len, pos: 0 }
    }
}

impl Read for VirtualFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.head.get(self.pos as usize + i).copied().unwrap_or(0);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for VirtualFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "negative seek"));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

// ---------------------------------------------------------------- GGUF

/// ggml type ids and block layouts used by the tests (ggml-common.h).
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub enum Ty {
    F32,
    F16,
    Q8_0,
    Q4_K,
    Q6_K,
    MXFP4,
}

impl Ty {
    pub fn id(self) -> u32 {
        match self {
            Ty::F32 => 0,
            Ty::F16 => 1,
            Ty::Q8_0 => 8,
            Ty::Q4_K => 12,
            Ty::Q6_K => 14,
            Ty::MXFP4 => 39,
        }
    }
    /// (values per block, bytes per block)
    pub fn block(self) -> (u64, u64) {
        match self {
            Ty::F32 => (1, 4),
            Ty::F16 => (1, 2),
            Ty::Q8_0 => (32, 34),
            Ty::Q4_K => (256, 144),
            Ty::Q6_K => (256, 210),
            Ty::MXFP4 => (32, 17),
        }
    }
    pub fn bytes(self, dims: &[u64]) -> u64 {
        let (block, size) = self.block();
        assert_eq!(
            dims[0] % block,
            0,
            "row {} not a multiple of {block}",
            dims[0]
        );
        dims[1..].iter().product::<u64>() * dims[0] / block * size
    }
}

fn gguf_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// One tensor info to write.
pub struct TensorEntry {
    pub name: String,
    /// ggml order, `ne0` first.
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub bytes: u64,
    /// Written as is when set; else the next aligned offset.
    pub offset: Option<u64>,
}

/// Builds GGUF files: metadata, tensor infos with aligned offsets, zero data.
pub struct GgufWriter {
    pub version: u32,
    kvs: Vec<u8>,
    n_kv: u64,
    pub tensors: Vec<TensorEntry>,
    alignment: u64,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter {
            version: 3,
            kvs: Vec::new(),
            n_kv: 0,
            tensors: Vec::new(),
            alignment: 32,
        }
    }
}

impl GgufWriter {
    pub fn raw_kv(&mut self, key: &str, type_id: u32, payload: &[u8]) -> &mut Self {
        gguf_str(&mut self.kvs, key);
        self.kvs.extend_from_slice(&type_id.to_le_bytes());
        self.kvs.extend_from_slice(payload);
        self.n_kv += 1;
        self
    }
    pub fn u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.raw_kv(key, 4, &v.to_le_bytes())
    }
    pub fn u64(&mut self, key: &str, v: u64) -> &mut Self {
        self.raw_kv(key, 10, &v.to_le_bytes())
    }
    pub fn f32(&mut self, key: &str, v: f32) -> &mut Self {
        self.raw_kv(key, 6, &v.to_le_bytes())
    }
    pub fn bool(&mut self, key: &str, v: bool) -> &mut Self {
        self.raw_kv(key, 7, &[v as u8])
    }
    pub fn string(&mut self, key: &str, v: &str) -> &mut Self {
        let mut p = Vec::new();
        gguf_str(&mut p, v);
        self.raw_kv(key, 8, &p)
    }
    pub fn strings(&mut self, key: &str, vs: &[String]) -> &mut Self {
        let mut p = 8u32.to_le_bytes().to_vec();
        p.extend_from_slice(&(vs.len() as u64).to_le_bytes());
        for v in vs {
            gguf_str(&mut p, v);
        }
        self.raw_kv(key, 9, &p)
    }
    pub fn i32s(&mut self, key: &str, vs: &[i32]) -> &mut Self {
        let mut p = 5u32.to_le_bytes().to_vec();
        p.extend_from_slice(&(vs.len() as u64).to_le_bytes());
        for v in vs {
            p.extend_from_slice(&v.to_le_bytes());
        }
        self.raw_kv(key, 9, &p)
    }
    pub fn alignment(&mut self, a: u32) -> &mut Self {
        self.alignment = a as u64;
        self.u32("general.alignment", a)
    }
    /// A tensor with dims in ggml order (`ne0` first).
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: Ty) -> &mut Self {
        let bytes = ty.bytes(dims);
        self.tensors.push(TensorEntry {
            name: name.to_string(),
            dims: dims.to_vec(),
            type_id: ty.id(),
            bytes,
            offset: None,
        });
        self
    }
    /// A tensor info written as given: any type id, any offset; the data
    /// section is made at least `bytes` long.
    pub fn raw_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        type_id: u32,
        offset: u64,
        bytes: u64,
    ) -> &mut Self {
        self.tensors.push(TensorEntry {
            name: name.to_string(),
            dims: dims.to_vec(),
            type_id,
            bytes,
            offset: Some(offset),
        });
        self
    }
    /// Header bytes (padded to the alignment) and the total file length.
    pub fn header(&self) -> (Vec<u8>, u64) {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kvs);
        let mut offset = 0u64;
        let mut data_len = 0u64;
        for TensorEntry {
            name,
            dims,
            type_id: ty,
            bytes,
            offset: at,
        } in &self.tensors
        {
            gguf_str(&mut out, name);
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&ty.to_le_bytes());
            match at {
                // explicit offsets (hostile files): `bytes` is the data to reserve
                Some(start) => {
                    out.extend_from_slice(&start.to_le_bytes());
                    data_len = data_len.max(bytes.div_ceil(self.alignment) * self.alignment);
                }
                None => {
                    out.extend_from_slice(&offset.to_le_bytes());
                    offset = (offset + bytes).div_ceil(self.alignment) * self.alignment;
                    data_len = data_len.max(offset);
                }
            }
        }
        if !self.tensors.is_empty() {
            let padded = (out.len() as u64).div_ceil(self.alignment) * self.alignment;
            out.resize(padded as usize, 0);
        }
        let total = out.len() as u64 + data_len;
        (out, total)
    }
    /// The whole file in memory.
    pub fn bytes(&self) -> Vec<u8> {
        let (mut head, total) = self.header();
        head.resize(total as usize, 0);
        head
    }
    /// The file as a [`VirtualFile`] (no data allocated).
    pub fn virtual_file(&self) -> VirtualFile {
        let (head, total) = self.header();
        VirtualFile::new(head, total)
    }
    /// The file on disk, data section as a hole.
    pub fn write(&self, path: &Path) {
        let (head, total) = self.header();
        let mut f = File::create(path).unwrap();
        f.write_all(&head).unwrap();
        f.set_len(total).unwrap();
    }
}

// ---------------------------------------------------------------- model shapes

/// The shape of a decoder, enough to lay out its tensors in GGUF naming.
#[derive(Clone, Debug, Default)]
pub struct Lm {
    pub layers: u64,
    pub hidden: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub vocab: u64,
    pub ffn: u64,
    pub tied: bool,
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub qk_norm: bool,
    pub norms_per_layer: u64,
    pub sinks: bool,
    pub moe: Option<MoeSpec>,
    pub mla: Option<MlaSpec>,
}

#[derive(Clone, Debug, Default)]
pub struct MoeSpec {
    pub experts: u64,
    pub used: u64,
    pub ffn: u64,
    /// Width of the shared expert(s); 0 for none.
    pub shared_ffn: u64,
    pub shared_gate: bool,
    pub router_bias: bool,
    pub expert_bias: bool,
    /// Leading dense layers.
    pub dense_first: u64,
    /// Store `exp_probs_b` (DeepSeek-V3's correction bias, a buffer).
    pub probs_bias: bool,
}

#[derive(Clone, Debug, Default)]
pub struct MlaSpec {
    pub q_lora_rank: u64,
    pub kv_lora_rank: u64,
    pub nope: u64,
    pub rope: u64,
    pub v: u64,
}

impl Lm {
    /// Lay out every tensor in llama.cpp naming: matrices as `w`, vectors F32.
    pub fn gguf_tensors(&self, g: &mut GgufWriter, w: Ty) {
        let (h, a) = (self.hidden, self.heads);
        g.tensor("token_embd.weight", &[h, self.vocab], w);
        for i in 0..self.layers {
            let t = |s: &str| format!("blk.{i}.{s}");
            g.tensor(&t("attn_norm.weight"), &[h], Ty::F32);
            g.tensor(&t("ffn_norm.weight"), &[h], Ty::F32);
            if self.norms_per_layer == 4 {
                g.tensor(&t("post_attention_norm.weight"), &[h], Ty::F32);
                g.tensor(&t("post_ffw_norm.weight"), &[h], Ty::F32);
            }
            if let Some(m) = &self.mla {
                let qk = m.nope + m.rope;
                if m.q_lora_rank > 0 {
                    g.tensor(&t("attn_q_a.weight"), &[h, m.q_lora_rank], w);
                    g.tensor(&t("attn_q_a_norm.weight"), &[m.q_lora_rank], Ty::F32);
                    g.tensor(&t("attn_q_b.weight"), &[m.q_lora_rank, a * qk], w);
                } else {
                    g.tensor(&t("attn_q.weight"), &[h, a * qk], w);
                }
                g.tensor(&t("attn_kv_a_mqa.weight"), &[h, m.kv_lora_rank + m.rope], w);
                g.tensor(&t("attn_kv_a_norm.weight"), &[m.kv_lora_rank], Ty::F32);
                g.tensor(
                    &t("attn_kv_b.weight"),
                    &[m.kv_lora_rank, a * (m.nope + m.v)],
                    w,
                );
                g.tensor(&t("attn_output.weight"), &[a * m.v, h], w);
            } else {
                let (q, kv) = (a * self.head_dim, self.kv_heads * self.head_dim);
                g.tensor(&t("attn_q.weight"), &[h, q], w);
                g.tensor(&t("attn_k.weight"), &[h, kv], w);
                g.tensor(&t("attn_v.weight"), &[h, kv], w);
                g.tensor(&t("attn_output.weight"), &[q, h], w);
                if self.qkv_bias {
                    g.tensor(&t("attn_q.bias"), &[q], Ty::F32);
                    g.tensor(&t("attn_k.bias"), &[kv], Ty::F32);
                    g.tensor(&t("attn_v.bias"), &[kv], Ty::F32);
                }
                if self.o_bias {
                    g.tensor(&t("attn_output.bias"), &[h], Ty::F32);
                }
                if self.qk_norm {
                    g.tensor(&t("attn_q_norm.weight"), &[self.head_dim], Ty::F32);
                    g.tensor(&t("attn_k_norm.weight"), &[self.head_dim], Ty::F32);
                }
                if self.sinks {
                    g.tensor(&t("attn_sinks.weight"), &[a], Ty::F32);
                }
            }
            match &self.moe {
                Some(m) if i >= m.dense_first => {
                    let (e, f) = (m.experts, m.ffn);
                    g.tensor(&t("ffn_gate_inp.weight"), &[h, e], Ty::F32);
                    if m.router_bias {
                        g.tensor(&t("ffn_gate_inp.bias"), &[e], Ty::F32);
                    }
                    if m.probs_bias {
                        g.tensor(&t("exp_probs_b.bias"), &[e], Ty::F32);
                    }
                    g.tensor(&t("ffn_gate_exps.weight"), &[h, f, e], w);
                    g.tensor(&t("ffn_up_exps.weight"), &[h, f, e], w);
                    g.tensor(&t("ffn_down_exps.weight"), &[f, h, e], w);
                    if m.expert_bias {
                        g.tensor(&t("ffn_gate_exps.bias"), &[f, e], Ty::F32);
                        g.tensor(&t("ffn_up_exps.bias"), &[f, e], Ty::F32);
                        g.tensor(&t("ffn_down_exps.bias"), &[h, e], Ty::F32);
                    }
                    if m.shared_ffn > 0 {
                        let s = m.shared_ffn;
                        g.tensor(&t("ffn_gate_shexp.weight"), &[h, s], w);
                        g.tensor(&t("ffn_up_shexp.weight"), &[h, s], w);
                        g.tensor(&t("ffn_down_shexp.weight"), &[s, h], w);
                    }
                    if m.shared_gate {
                        g.tensor(&t("ffn_gate_inp_shexp.weight"), &[h], Ty::F32);
                    }
                }
                _ => {
                    g.tensor(&t("ffn_gate.weight"), &[h, self.ffn], w);
                    g.tensor(&t("ffn_up.weight"), &[h, self.ffn], w);
                    g.tensor(&t("ffn_down.weight"), &[self.ffn, h], w);
                }
            }
        }
        g.tensor("output_norm.weight", &[h], Ty::F32);
        if !self.tied {
            g.tensor("output.weight", &[h, self.vocab], w);
        }
    }

    /// The metadata llama.cpp's converter writes for these hyperparameters.
    pub fn gguf_keys(&self, g: &mut GgufWriter, arch: &str, context: u32) {
        let k = |s: &str| format!("{arch}.{s}");
        g.string("general.architecture", arch);
        g.u32(&k("block_count"), self.layers as u32);
        g.u32(&k("embedding_length"), self.hidden as u32);
        g.u32(&k("feed_forward_length"), self.ffn as u32);
        g.u32(&k("attention.head_count"), self.heads as u32);
        g.u32(&k("attention.head_count_kv"), self.kv_heads as u32);
        g.u32(&k("context_length"), context);
        if self.mla.is_none() {
            g.u32(&k("attention.key_length"), self.head_dim as u32);
            g.u32(&k("attention.value_length"), self.head_dim as u32);
        }
        if let Some(m) = &self.moe {
            g.u32(&k("expert_count"), m.experts as u32);
            g.u32(&k("expert_used_count"), m.used as u32);
            g.u32(&k("expert_feed_forward_length"), m.ffn as u32);
        }
    }
}

// ---------------------------------------------------------------- corruption

/// A small valid GGUF with every kind of metadata and a few tensors.
pub fn sample_gguf() -> Vec<u8> {
    let mut g = GgufWriter::default();
    g.string("general.architecture", "llama")
        .u32("llama.block_count", 1)
        .u32("llama.embedding_length", 64)
        .u32("llama.feed_forward_length", 256)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 2)
        .u32("llama.context_length", 128)
        .f32("llama.rope.freq_base", 10000.0)
        .bool("tokenizer.ggml.add_bos_token", true)
        .strings(
            "tokenizer.ggml.tokens",
            &(0..8).map(|i| format!("tok{i}")).collect::<Vec<_>>(),
        )
        .i32s("tokenizer.ggml.token_type", &[1; 8]);
    g.tensor("token_embd.weight", &[64, 8], Ty::Q8_0)
        .tensor("blk.0.attn_norm.weight", &[64], Ty::F32)
        .tensor("blk.0.attn_q.weight", &[64, 64], Ty::Q8_0)
        .tensor("blk.0.attn_k.weight", &[64, 32], Ty::Q8_0)
        .tensor("blk.0.attn_v.weight", &[64, 32], Ty::Q8_0)
        .tensor("blk.0.attn_output.weight", &[64, 64], Ty::Q8_0)
        .tensor("blk.0.ffn_norm.weight", &[64], Ty::F32)
        .tensor("blk.0.ffn_gate.weight", &[64, 256], Ty::Q8_0)
        .tensor("blk.0.ffn_up.weight", &[64, 256], Ty::Q8_0)
        .tensor("blk.0.ffn_down.weight", &[256, 64], Ty::Q4_K)
        .tensor("output_norm.weight", &[64], Ty::F32);
    g.bytes()
}

pub fn sample_safetensors() -> Vec<u8> {
    let (json, len) = st_header(
        &[
            ("model.embed_tokens.weight", "BF16", vec![8, 4]),
            ("model.layers.0.self_attn.q_proj.qweight", "I32", vec![1, 4]),
            ("model.layers.0.self_attn.q_proj.scales", "F16", vec![1, 4]),
            ("model.layers.0.mlp.up_proj.weight", "F8_E4M3", vec![4, 4]),
            ("model.layers.0.mlp.up_proj.weight_scale", "F32", vec![]),
            ("lm_head.weight", "F4", vec![8, 4]),
        ],
        &[("format", "pt")],
    );
    st_bytes(&json, len)
}

/// What a corruption does to a file.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Overwrite one byte.
    Set(usize, u8),
    /// Overwrite 8 bytes with a little-endian integer (a length, a count, an offset).
    SetU64(usize, u64),
    /// Keep only a prefix.
    Truncate(usize),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Remove a range.
    Remove(usize, usize),
}

pub fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Set(i, b) => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x = *b;
                }
            }
            Mutation::SetU64(i, v) => {
                let at = i % len;
                for (k, b) in v.to_le_bytes().into_iter().enumerate() {
                    if let Some(x) = bytes.get_mut(at + k) {
                        *x = b;
                    }
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Insert(i, v) => {
                let at = (i % len).min(bytes.len());
                bytes.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = (i % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

/// Whatever the GGUF reader accepts must be consistent: tensors inside the
/// file. Returns whether it accepted the bytes.
pub fn check_gguf(bytes: &[u8]) -> bool {
    let Ok(file) = sizeup_formats::gguf::read_bytes(bytes) else {
        return false;
    };
    let table = file.tensor_table().expect("sums of in-file sizes fit");
    assert!(file.data_offset + table.bytes <= bytes.len() as u64);
    let _ = file.architecture();
    true
}

/// Whatever the safetensors reader accepts must tile the file exactly.
pub fn check_safetensors(
    bytes: &[u8],
) -> Result<(), sizeup_formats::safetensors::SafetensorsError> {
    let header = sizeup_formats::safetensors::read_header(io::Cursor::new(bytes), "fuzz")?;
    let sum: u64 = header.tensors.iter().map(|t| t.bytes).sum();
    assert_eq!(8 + header.header_len + sum, bytes.len() as u64);
    let ckpt = sizeup_formats::safetensors::assemble("fuzz", None, vec![("fuzz".into(), header)])?;
    assert_eq!(ckpt.table.bytes, sum);
    Ok(())
}

use super::*;

fn stored(name: &str, shape: &[u64], dtype: Dtype) -> StoredTensor {
    let layout = dtype.layout();
    let elements: u64 = shape.iter().product();
    StoredTensor {
        name: name.to_string(),
        shape: shape.to_vec(),
        dtype,
        bytes: elements / layout.elements * layout.bytes,
    }
}

#[test]
fn hugging_face_names_get_their_roles() {
    let cases = [
        ("model.embed_tokens.weight", Role::Embedding),
        ("model.layers.0.self_attn.q_proj.weight", Role::Attention),
        ("model.layers.0.self_attn.q_proj.bias", Role::Attention),
        ("model.layers.0.self_attn.sinks", Role::Attention),
        ("model.layers.0.self_attn.q_norm.weight", Role::Norm),
        ("model.layers.0.self_attn.kv_a_layernorm.weight", Role::Norm),
        (
            "model.layers.0.self_attn.kv_a_proj_with_mqa.weight",
            Role::Attention,
        ),
        ("model.layers.0.input_layernorm.weight", Role::Norm),
        (
            "model.layers.0.post_feedforward_layernorm.weight",
            Role::Norm,
        ),
        ("model.layers.0.mlp.gate_proj.weight", Role::Mlp),
        ("model.layers.0.mlp.down_proj.weight", Role::Mlp),
        (
            "model.layers.3.mlp.experts.17.up_proj.weight",
            Role::MoeRoutedExperts,
        ),
        (
            "model.layers.0.mlp.experts.gate_up_proj_bias",
            Role::MoeRoutedExperts,
        ),
        (
            "model.layers.0.block_sparse_moe.experts.7.w2.weight",
            Role::MoeRoutedExperts,
        ),
        (
            "model.layers.0.block_sparse_moe.gate.weight",
            Role::MoeRouter,
        ),
        ("model.layers.0.mlp.gate.weight", Role::MoeRouter),
        ("model.layers.0.mlp.router.bias", Role::MoeRouter),
        (
            "model.layers.0.mlp.shared_expert.up_proj.weight",
            Role::MoeSharedExperts,
        ),
        (
            "model.layers.0.mlp.shared_expert_gate.weight",
            Role::MoeSharedExperts,
        ),
        (
            "model.layers.0.mlp.shared_experts.down_proj.weight",
            Role::MoeSharedExperts,
        ),
        (
            "model.layers.3.mlp.gate.e_score_correction_bias",
            Role::Buffer,
        ),
        ("model.norm.weight", Role::Norm),
        ("lm_head.weight", Role::LmHead),
        // LLaVA-style image-text checkpoints nest the head
        ("language_model.lm_head.weight", Role::LmHead),
        // MiniMax-M2's `modules_to_not_convert` names its routers `gate`
        ("gate", Role::MoeRouter),
        ("model.layers.0.mlp.gate_proj.weight", Role::Mlp),
        ("transformer.wte.weight", Role::Embedding),
        ("transformer.wpe.weight", Role::PositionEmbedding),
        ("transformer.h.0.attn.c_attn.weight", Role::Attention),
        ("transformer.h.0.attn.c_proj.bias", Role::Attention),
        ("transformer.h.0.attn.bias", Role::Buffer),
        ("transformer.h.0.attn.masked_bias", Role::Buffer),
        ("transformer.h.0.mlp.c_fc.weight", Role::Mlp),
        ("transformer.h.0.ln_1.weight", Role::Norm),
        ("transformer.ln_f.bias", Role::Norm),
        (
            "model.decoder.embed_positions.weight",
            Role::PositionEmbedding,
        ),
        ("gpt_neox.embed_in.weight", Role::Embedding),
        (
            "gpt_neox.layers.0.attention.query_key_value.weight",
            Role::Attention,
        ),
        ("gpt_neox.layers.0.mlp.dense_h_to_4h.weight", Role::Mlp),
        ("embed_out.weight", Role::LmHead),
        ("transformer.word_embeddings_layernorm.weight", Role::Norm),
        ("model.layers.0.self_attn.rotary_emb.inv_freq", Role::Buffer),
        (
            "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight",
            Role::VisionAndProjector,
        ),
        (
            "multi_modal_projector.linear_1.weight",
            Role::VisionAndProjector,
        ),
        (
            "model.layers.0.self_attn.q_proj.weight_scale_inv",
            Role::QuantScales,
        ),
        (
            "model.layers.0.mlp.up_proj.weight.absmax",
            Role::QuantScales,
        ),
        (
            "model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4",
            Role::QuantScales,
        ),
        ("model.decoder.layers.0.fc1.weight", Role::Mlp),
        (
            "model.decoder.layers.0.self_attn_layer_norm.bias",
            Role::Norm,
        ),
        (
            "transformer.blocks.0.norm_attn_norm.attn.Wqkv.weight",
            Role::Attention,
        ),
        (
            "transformer.blocks.0.norm_attn_norm.norm_1.weight",
            Role::Norm,
        ),
        (
            "transformer.blocks.0.ffn.experts.mlp.w1",
            Role::MoeRoutedExperts,
        ),
        (
            "transformer.blocks.0.ffn.router.layer.weight",
            Role::MoeRouter,
        ),
        (
            "transformer.h.0.self_attention.query_key_value.weight",
            Role::Attention,
        ),
        ("model.layers.0.self_attn.qkv_proj.weight", Role::Attention),
        ("model.layers.0.mlp.gate_up_proj.weight", Role::Mlp),
        ("something.unusual", Role::Other),
    ];
    for (name, role) in cases {
        assert_eq!(classify(name), role, "{name}");
    }
}

#[test]
fn gguf_names_get_their_roles() {
    let cases = [
        ("token_embd.weight", Role::Embedding),
        ("token_embd_norm.weight", Role::Norm),
        ("position_embd.weight", Role::PositionEmbedding),
        ("blk.0.attn_q.weight", Role::Attention),
        ("blk.0.attn_qkv.bias", Role::Attention),
        ("blk.0.attn_output.weight", Role::Attention),
        ("blk.0.attn_kv_a_mqa.weight", Role::Attention),
        ("blk.0.attn_sinks.weight", Role::Attention),
        ("blk.0.attn_q_norm.weight", Role::Norm),
        ("blk.0.attn_norm.weight", Role::Norm),
        ("blk.0.ffn_norm.weight", Role::Norm),
        ("blk.0.post_ffw_norm.weight", Role::Norm),
        ("blk.0.ffn_gate.weight", Role::Mlp),
        ("blk.0.ffn_down.weight", Role::Mlp),
        ("blk.0.ffn_gate_exps.weight", Role::MoeRoutedExperts),
        ("blk.0.ffn_gate_up_exps.bias", Role::MoeRoutedExperts),
        ("blk.0.ffn_up.3.weight", Role::MoeRoutedExperts),
        ("blk.0.ffn_up_shexp.weight", Role::MoeSharedExperts),
        ("blk.0.ffn_gate_inp_shexp.weight", Role::MoeSharedExperts),
        ("blk.0.ffn_gate_inp.weight", Role::MoeRouter),
        ("blk.0.exp_probs_b.bias", Role::Buffer),
        ("rope_freqs.weight", Role::Buffer),
        ("output_norm.weight", Role::Norm),
        ("output.weight", Role::LmHead),
        ("v.blk.0.attn_q.weight", Role::VisionAndProjector),
        ("mm.0.weight", Role::VisionAndProjector),
    ];
    for (name, role) in cases {
        assert_eq!(classify(name), role, "{name}");
    }
}

#[test]
fn gptq_qweight_counts_eight_int4_per_int32() {
    // Llama-2-7B q_proj, 4096×4096, GPTQ group 128: qweight [4096/8, 4096] int32,
    // qzeros [32, 4096/8] int32, scales [32, 4096] fp16, g_idx [4096] int32
    let p = "model.layers.0.self_attn.q_proj";
    let table = TensorTable::new(vec![
        stored(&format!("{p}.qweight"), &[512, 4096], Dtype::I32),
        stored(&format!("{p}.qzeros"), &[32, 512], Dtype::I32),
        stored(&format!("{p}.scales"), &[32, 4096], Dtype::F16),
        stored(&format!("{p}.g_idx"), &[4096], Dtype::I32),
    ])
    .unwrap();
    assert_eq!(table.params, 4096 * 4096);
    assert_eq!(table.role(Role::Attention).params, 4096 * 4096);
    assert_eq!(
        table.role(Role::QuantScales).params,
        32 * 512 + 32 * 4096 + 4096
    );
    // int4 weights: half a byte each; plus the side tensors
    assert_eq!(table.role(Role::Attention).bytes, 4096 * 4096 / 2);
    assert_eq!(
        table.bytes,
        4096 * 4096 / 2 + 32 * 512 * 4 + 32 * 4096 * 2 + 4096 * 4
    );
}

#[test]
fn bitsandbytes_4bit_and_nvfp4_count_two_per_byte() {
    let table = TensorTable::new(vec![
        // bitsandbytes NF4 stores a flat [n/2, 1] uint8 tensor
        stored(
            "model.layers.0.mlp.up_proj.weight",
            &[5_767_168, 1],
            Dtype::U8,
        ),
        stored(
            "model.layers.0.mlp.up_proj.weight.absmax",
            &[180_224],
            Dtype::F32,
        ),
        stored(
            "model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4",
            &[100],
            Dtype::U8,
        ),
        stored(
            "model.layers.0.mlp.down_proj.weight",
            &[4096, 5504],
            Dtype::U8,
        ),
        stored(
            "model.layers.0.mlp.down_proj.weight_scale",
            &[4096, 688],
            Dtype::F8_E4M3,
        ),
        stored(
            "model.layers.0.mlp.down_proj.weight_scale_2",
            &[],
            Dtype::F32,
        ),
    ])
    .unwrap();
    assert_eq!(
        table.role(Role::Mlp).params,
        2 * 5_767_168 + 2 * 4096 * 5504
    );
    assert_eq!(table.role(Role::QuantScales).tensors, 4);
    assert_eq!(table.params, 2 * 5_767_168 + 2 * 4096 * 5504);
}

#[test]
fn fp8_weights_count_one_per_element_and_scales_apart() {
    // DeepSeek-V3 style: fp8 weight with 128×128 block scales
    let table = TensorTable::new(vec![
        stored(
            "model.layers.0.self_attn.o_proj.weight",
            &[7168, 16384],
            Dtype::F8_E4M3,
        ),
        stored(
            "model.layers.0.self_attn.o_proj.weight_scale_inv",
            &[56, 128],
            Dtype::F32,
        ),
    ])
    .unwrap();
    assert_eq!(table.params, 7168 * 16384);
    assert_eq!(table.role(Role::QuantScales).params, 56 * 128);
    assert_eq!(table.bytes, 7168 * 16384 + 56 * 128 * 4);
}

#[test]
fn compressed_tensors_and_mxfp4_unpack() {
    let table = TensorTable::new(vec![
        stored(
            "model.layers.0.mlp.up_proj.weight_packed",
            &[11008, 512],
            Dtype::I32,
        ),
        stored(
            "model.layers.0.mlp.up_proj.weight_scale",
            &[11008, 32],
            Dtype::BF16,
        ),
        stored("model.layers.0.mlp.up_proj.weight_shape", &[2], Dtype::I64),
        // gpt-oss-20b layer: 32 experts, 5760×2880 gate_up in 90 blocks of 16 bytes
        stored(
            "model.layers.0.mlp.experts.gate_up_proj_blocks",
            &[32, 5760, 90, 16],
            Dtype::U8,
        ),
        stored(
            "model.layers.0.mlp.experts.gate_up_proj_scales",
            &[32, 5760, 90],
            Dtype::U8,
        ),
    ])
    .unwrap();
    assert_eq!(table.role(Role::Mlp).params, 11008 * 4096);
    // 32·5760·2880 = 530_841_600 parameters: gpt-oss-20b's gate_up_proj per layer
    assert_eq!(table.role(Role::MoeRoutedExperts).params, 530_841_600);
    assert_eq!(table.role(Role::QuantScales).tensors, 3);
}

#[test]
fn totals_by_dtype_and_comparison() {
    let table = TensorTable::new(vec![
        stored("model.embed_tokens.weight", &[32000, 4096], Dtype::BF16),
        stored("model.norm.weight", &[4096], Dtype::F32),
    ])
    .unwrap();
    assert_eq!(table.by_dtype[&Dtype::BF16].bytes, 32000 * 4096 * 2);
    assert_eq!(table.by_dtype[&Dtype::F32].params, 4096);
    let cmp = compare_with_config(32000 * 4096 + 4096 + 10, &table);
    assert_eq!(cmp.missing_in_file, 10);
    assert_eq!(cmp.extra_in_file, 0);
    assert!(cmp.relative_difference < 0.0);
}

#[test]
fn overflowing_shapes_are_errors() {
    let t = StoredTensor {
        name: "x".into(),
        shape: vec![u64::MAX, 3],
        dtype: Dtype::F32,
        bytes: 0,
    };
    assert!(TensorTable::new(vec![t]).is_err());
}

#[test]
fn dtype_names_round_trip() {
    for d in Dtype::PLAIN {
        assert_eq!(Dtype::from_safetensors_name(d.name()), Some(d));
    }
    assert_eq!(Dtype::from_safetensors_name("Q4_K"), None);
    assert_eq!(Dtype::from_ggml(GgmlType::Q4_K).name(), "Q4_K");
    assert_eq!(Dtype::from_ggml(GgmlType::BF16), Dtype::BF16);
    assert_eq!(Dtype::F4.layout().bytes_for(6), Some(3));
}

/// Every dtype, plain or ggml block type, reads back from the name JSON gives it.
#[test]
fn dtype_json_round_trips() {
    let all = Dtype::PLAIN
        .into_iter()
        .chain(GgmlType::ALL.into_iter().map(Dtype::from_ggml));
    for d in all {
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{}\"", d.name()));
        assert_eq!(serde_json::from_str::<Dtype>(&json).unwrap(), d);
    }
    assert!(serde_json::from_str::<Dtype>("\"F7\"").is_err());
}

#!/usr/bin/env python3
"""Expected RoPE frequencies for worker-runtime's RopeParametersTest, from transformers' own code.

    /opt/refvenv/bin/python worker-runtime/scripts/make_rope_fixture.py

Writes worker-runtime/src/test/resources/rope/expected_rope.json: for each case a config.json
fragment and the inv_freq and attention factor that transformers' ROPE_INIT_FUNCTIONS derive from it
(torch 2.15.0, transformers 4.57.6, CPU).
"""
import json
from pathlib import Path

import transformers
from transformers import DeepseekV3Config, MixtralConfig, Qwen2MoeConfig, Qwen3MoeConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

OUT = Path(__file__).resolve().parent.parent / "src" / "test" / "resources" / "rope" / "expected_rope.json"

CASES = [
    ("default", MixtralConfig, dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=1e6)),
    ("linear", Qwen2MoeConfig, dict(hidden_size=64, num_attention_heads=2, num_key_value_heads=2, rope_theta=10000.0,
                                    rope_scaling={"type": "linear", "factor": 2.0})),
    ("yarn", Qwen3MoeConfig, dict(hidden_size=64, num_attention_heads=2, num_key_value_heads=1, head_dim=32, rope_theta=1e6,
                                  max_position_embeddings=4096,
                                  rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                                "original_max_position_embeddings": 1024})),
    ("yarn_deepseek", DeepseekV3Config, dict(hidden_size=64, num_attention_heads=2, qk_rope_head_dim=64,
                                             rope_theta=10000.0, max_position_embeddings=163840,
                                             rope_scaling={"type": "yarn", "factor": 40, "beta_fast": 32,
                                                           "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0,
                                                           "original_max_position_embeddings": 4096})),
    ("yarn_mscale", DeepseekV3Config, dict(hidden_size=64, num_attention_heads=2, qk_rope_head_dim=16,
                                           rope_theta=10000.0, max_position_embeddings=256,
                                           rope_scaling={"rope_type": "yarn", "factor": 4.0, "mscale": 0.707,
                                                         "mscale_all_dim": 1.0,
                                                         "original_max_position_embeddings": 64})),
    ("llama3", MixtralConfig, dict(hidden_size=128, num_attention_heads=2, num_key_value_heads=1, rope_theta=500000.0,
                                   max_position_embeddings=131072,
                                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0,
                                                 "original_max_position_embeddings": 8192})),
    ("partial", MixtralConfig, dict(hidden_size=64, num_attention_heads=2, num_key_value_heads=2, rope_theta=10000.0,
                                    partial_rotary_factor=0.5)),
]


def main():
    cases = []
    for name, cls, kwargs in CASES:
        config = cls(**kwargs)
        rope_type = (getattr(config, "rope_scaling", None) or {}).get("rope_type", "default")
        inv_freq, factor = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu")
        saved = {k: v for k, v in config.to_dict().items()
                 if k in ("model_type", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "rope_theta", "rope_scaling",
                          "max_position_embeddings", "partial_rotary_factor", "qk_rope_head_dim", "qk_nope_head_dim",
                          "rope_interleave")}
        cases.append({"name": name, "config": saved, "inv_freq": [float(v) for v in inv_freq.tolist()],
                      "attention_factor": float(factor)})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"transformers": transformers.__version__, "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()

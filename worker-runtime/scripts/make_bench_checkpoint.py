#!/usr/bin/env python3
"""A synthetic Qwen3-MoE checkpoint for decode-speed benchmarks (bench-vs-llama-cpp).

    /opt/refvenv/bin/python worker-runtime/scripts/make_bench_checkpoint.py OUT_DIR

(torch 2.15.0 and transformers 4.57.6 from PyPI, CPU, about a minute.) OUT_DIR gets what
transformers' save_pretrained writes: config.json, generation_config.json, model.safetensors (f32
random weights, fixed seed) and a byte-level BPE tokenizer trained here on a generated corpus
(tokenizer.json, tokenizer_config.json with a ChatML chat_template, special_tokens_map.json). The
same bytes on every run. Nothing is downloaded.

The shape is chosen so one decode step is memory-bound on a CPU: 107 M parameters (428 MB), of which
one decoded token reads about 18.5 M (74 MB: every layer's attention and router, 4 of its 32 experts,
the LM head).

Routing is made to spread over the experts as in a trained MoE, not send every token to the same few
(checked below on a random prompt: every expert of every layer is used, none by more than 2.5 times
its share). With transformers' default initializer_range (0.02) the layers past the first route every
token to one or two experts; at 0.2 they spread (1.3-2.2 times the share at most), but the first
layer still does not: its input is dominated by its attention output, an average over the prompt
much the same for every token. Embeddings 50 times larger (std 10) let the first router see the token.
"""

import argparse
import random
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3MoeConfig, Qwen3MoeForCausalLM

SEED = 20261204
VOCAB = 1024
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
INIT_RANGE = 0.2
EMBED_SCALE = 50.0
# Routing check: at most this many times an expert's fair share of the routed slots.
MAX_SHARE = 2.5


def config() -> Qwen3MoeConfig:
    return Qwen3MoeConfig(
        vocab_size=VOCAB, hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
        head_dim=64, intermediate_size=1024, moe_intermediate_size=256, num_experts=32, num_experts_per_tok=4,
        norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], max_position_embeddings=4096,
        tie_word_embeddings=False, initializer_range=INIT_RANGE, bos_token_id=None, eos_token_id=0,
        dtype="float32")


def corpus(rng: random.Random) -> list[str]:
    """Pseudo-English lines: words from a fixed syllable set, numbers, punctuation, some non-ASCII."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "an", "er", "in", "on", "st", "th",
                 "ch", "qu", "ex", "pr", "ly", "é", "ö", "ß", "и", "на", "工", "作"]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(600)]
    lines = []
    for _ in range(4000):
        parts = []
        for _ in range(rng.randint(3, 16)):
            r = rng.random()
            parts.append(str(rng.randint(0, 9999)) if r < 0.08 else rng.choice(words).capitalize() if r < 0.2
                         else rng.choice(words))
        lines.append(" ".join(parts) + rng.choice([".", ",", "!", "?", ":", " -", ""]))
    return lines


def tokenizer(rng: random.Random) -> PreTrainedTokenizerFast:
    """A GPT-2 style byte-level BPE: every byte is a token, so any text encodes."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(rng), trainer=trainer)
    if tok.get_vocab_size() != VOCAB:
        sys.exit(f"make_bench_checkpoint: error: the tokenizer has {tok.get_vocab_size()} tokens, not {VOCAB}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=SPECIAL[0], pad_token=SPECIAL[0],
                                   chat_template=CHAT_TEMPLATE, model_max_length=4096)


def check_routing(model: Qwen3MoeForCausalLM, cfg: Qwen3MoeConfig) -> None:
    """Fails when a layer leaves an expert unused or sends one far more than its share of tokens."""
    gen = torch.Generator().manual_seed(SEED)
    ids = torch.randint(0, VOCAB, (1, 512), generator=gen)
    with torch.no_grad():
        out = model(ids, output_router_logits=True)
    worst = 0.0
    for layer, logits in enumerate(out.router_logits):
        chosen = logits.topk(cfg.num_experts_per_tok, dim=-1).indices.flatten()
        counts = torch.bincount(chosen, minlength=cfg.num_experts).double()
        share = counts.max().item() / counts.mean().item()
        if counts.min().item() == 0 or share > MAX_SHARE:
            sys.exit(f"make_bench_checkpoint: error: layer {layer} routes unevenly: {counts.long().tolist()}")
        worst = max(worst, share)
    print(f"routing: every expert used in every layer; busiest expert {worst:.2f}x its share", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output directory (created; files in it are overwritten)")
    args = parser.parse_args()
    if args.out.exists() and not args.out.is_dir():
        sys.exit(f"make_bench_checkpoint: error: {args.out} exists and is not a directory")

    torch.manual_seed(SEED)
    cfg = config()
    model = Qwen3MoeForCausalLM(cfg).eval()
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(EMBED_SCALE)
    model.generation_config = GenerationConfig(eos_token_id=cfg.eos_token_id, pad_token_id=cfg.eos_token_id,
                                               do_sample=False)
    check_routing(model, cfg)
    tok = tokenizer(random.Random(SEED))

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True, max_shard_size="4GB")
    # chat_template inside tokenizer_config.json, where the runtime's tokenizer reads it.
    tok.save_pretrained(args.out, save_jinja_files=False)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: Qwen3-MoE, {params / 1e6:.1f} M parameters, {params * 4 / 1e6:.0f} MB f32",
          file=sys.stderr)


if __name__ == "__main__":
    main()

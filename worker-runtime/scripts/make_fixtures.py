#!/usr/bin/env python3
"""Reference fixtures for worker-runtime: tiny MoE checkpoints, their tokenizers, and transformers' outputs.

Run from the repository root (a minute or two on a CPU, no GPU needed):

    python3 -m venv /opt/refvenv
    /opt/refvenv/bin/pip install torch==2.15.0 transformers==4.57.6   # brings tokenizers, safetensors, jinja2
    python3 -m venv /opt/refvenv5                                       # only re-saves: the <name>_v5/ copies
    /opt/refvenv5/bin/pip install torch==2.15.0 transformers==5.23.0
    /opt/refvenv/bin/python worker-runtime/scripts/make_fixtures.py

It rewrites worker-runtime/src/test/resources/fixtures/ (the same bytes on every run: fixed seeds, and the
tokenizers are trained here on a fixed corpus). The transformers 5.x step runs resave_v5.py with
$REFVENV5_PYTHON (default /opt/refvenv5/bin/python) in a subprocess.

Each fixture is a tiny random checkpoint written by transformers' own model class and save_pretrained, so tensor
names, layouts and config.json are the real ones, plus:
- a fast tokenizer in its family's style (byte-level BPE, or SentencePiece-style BPE with byte fallback) with the
  published model's special tokens and chat template, saved by transformers' save_pretrained;
- expected_layer<L>.safetensors: one MoE block's input and transformers' output for it;
- expected_model.safetensors: transformers' whole-model fp32 logits and greedy continuation of two prompts;
- expected_tokenizer.json and expected_chat.json: transformers' encode/decode and apply_chat_template;
- <name>_v5/: the same model and tokenizer re-saved by transformers 5.x, checked to give the same logits.
deepseek_v3_fp8 is the DeepSeek-V3 model with its expert weights stored block-fp8 the way the published
DeepSeek-V3 checkpoint stores them.

Every MoE block output is recomputed from the files on disk alone by `spec_moe_block`, the math the Java runtime
implements (written out in fixtures/README.md with the rest of the model), and the two must agree.
"""

import collections
import copy
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tokenizers
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoTokenizer,
    DeepseekV3Config,
    DeepseekV3ForCausalLM,
    GenerationConfig,
    GPTNeoXTokenizerFast,
    LlamaTokenizerFast,
    MixtralConfig,
    MixtralForCausalLM,
    OlmoeConfig,
    OlmoeForCausalLM,
    Qwen2MoeConfig,
    Qwen2MoeForCausalLM,
    Qwen2TokenizerFast,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

TORCH_VERSION = "2.15.0"
TRANSFORMERS_VERSION = "4.57.6"
TOKENIZERS_VERSION = "0.22.2"
SCRIPTS = Path(__file__).resolve().parent
FIXTURES = SCRIPTS.parent / "src" / "test" / "resources" / "fixtures"
TOKENS = 24
# Router scores closer than this could order differently in the runtime's fp32 arithmetic.
MIN_GAP = 1e-4
SPEC_TOLERANCE = 1e-5
FP8_BLOCK = 128
FP8_MAX = 448.0  # largest finite float8_e4m3fn
VOCAB_SIZE = 512  # the models' embedding rows; the tokenizers have fewer tokens, as real models do
TOKENIZER_SIZE = 500
MAX_POSITIONS = 256
MAX_NEW_TOKENS = 32
# Every greedy step's top-1 logit exceeds its top-2 by this times the step's max |logit|, so an fp32
# reimplementation (other summation orders) picks the same tokens.
MIN_MARGIN = 1e-3
# A feature counts as exercised when switching it off moves some logit by more than this times max |logit|.
FEATURE_EFFECT = 1e-3


# ---------------------------------------------------------------------------------------------------
# Chat templates: the published models' own text (sources in fixtures/README.md).
# ---------------------------------------------------------------------------------------------------

# mistralai/Mixtral-8x7B-Instruct-v0.1 (Mistral's "v1" template with its optional system message).
MIXTRAL_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
    "        {{- raise_exception('After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/...') }}\n"
    "    {%- endif %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {%- if loop.first and system_message is defined %}\n"
    "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
    "        {%- else %}\n"
    "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- ' ' + message['content'] + eos_token}}\n"
    "    {%- else %}\n"
    "        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial "
    "optional system message!') }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
)

# Qwen/Qwen1.5-MoE-A2.7B-Chat (ChatML with Qwen1.5's default system message).
QWEN2_MOE_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Qwen/Qwen3-30B-A3B (ChatML with tools, reasoning_content / <think> handling and enable_thinking).
QWEN3_MOE_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

# allenai/OLMoE-1B-7B-0924-Instruct (Tulu's template).
OLMOE_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ '<|system|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'user' %}"
    "{{ '<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}"
    "{% if not loop.last %}{{ '<|assistant|>\\n'  + message['content'] + eos_token + '\\n' }}"
    "{% else %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}"
)

# deepseek-ai/DeepSeek-V3 (system prompts joined first, <｜User｜>/<｜Assistant｜> turns, tool calls and outputs).
DEEPSEEK_V3_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}"
    "{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}"
    "{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}"
    "{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}"
    "{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}"
    "{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}"
    "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' "
    "+ tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' "
    "+ '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' "
    "+ tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' "
    "+ tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}"
    "{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    "{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- set ns.is_output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] "
    "+ '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}"
    "{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}"
    "{{'<｜Assistant｜>'}}{% endif %}"
)


# ---------------------------------------------------------------------------------------------------
# Tokenizers: trained here on CORPUS in each family's style, wrapped in the family's transformers class.
# ---------------------------------------------------------------------------------------------------

CORPUS = [
    "The quick brown fox jumps over the lazy dog. A model reads the text, one token after another, and "
    "predicts what comes next. Good tokenizers keep common words whole and split rare ones into pieces.",
    "Mixture-of-experts layers route every token to a few experts out of many: 8 experts, top-2, or 256 "
    "experts in groups of 32. Each expert is a small feed-forward network; the router's weights decide how "
    "much each one contributes. Load balancing matters when 4, 16 or 64 GPUs share the work.",
    "On Monday, 3 March 2025, at 10:45, the team measured 1,234 requests per second (p99: 87 ms). "
    "Prices rose 12.5% to $19.99; call +1 (555) 010-0199 or write to ops@example.com for details!",
    "She said: \"It's naïve to think the café opens at 7 a.m.\" He replied, 'I'll check.' They'd "
    "already ordered crème brûlée, a piñata and two jalapeño pizzas. Über-cool, déjà vu, façade.",
    "日本語の文章も少し入れます。東京は大きな都市です。Emoji too: 🙂 🚀 👍 ❤️ — and symbols: © ™ € £ ± × ÷ → ≤ ≥.",
    "def route(x, k=2):\n    scores = softmax(x @ w.T)\n    return scores.topk(k)\n\n"
    "for i in range(10):\n\tprint(i, i * i)  # squares\n",
    "User: Hello! Can you help me with a question?\nAssistant: Of course. What would you like to know?\n"
    "User: What is the capital of France?\nAssistant: The capital of France is Paris.",
    "system: You are a helpful assistant. Answer briefly and truthfully. Think step by step, then answer.",
    "[INST] Summarize the report in two lines. [/INST] Sales grew; costs fell.\n<|user|>\nNext question?\n"
    "<|assistant|>\nNo further questions.\n<|system|>\nBe kind.",
]


@dataclasses.dataclass
class TokenizerSpec:
    style: str  # "sentencepiece", "gpt2" or "qwen"
    cls: type  # the family's transformers fast tokenizer class
    first: list  # special tokens with the lowest ids, in order
    last: list  # special tokens appended after the trained vocabulary
    plain: list  # added tokens that are not special (decode keeps them with skip_special_tokens=True)
    kwargs: dict  # what the published tokenizer_config.json sets
    template: str
    nfc: bool = False


def train_sentencepiece_style(spec):
    """Llama/Mistral-style BPE: ids 0..2 <unk> <s> </s>, then the 256 byte tokens <0x00>..<0xFF> that byte
    fallback uses for characters outside the vocabulary, then the trained pieces; ' ' becomes '▁' and a '▁'
    is prepended (Mixtral's normalizer), and the decoder undoes both."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    # Pieces start at a '▁' and never cross one, as in SentencePiece.
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=TOKENIZER_SIZE - len(spec.first) - len(byte_tokens),
                                  show_progress=False)
    # Characters seen once stay out of the vocabulary and go through byte fallback. (The trainer's own
    # limit_alphabet breaks ties between equally frequent characters differently from run to run.)
    counts = collections.Counter("".join(CORPUS))
    trainer_tok.train_from_iterator(["".join(c for c in p if counts[c] > 1) for p in CORPUS], trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    pieces = sorted(trained["vocab"], key=trained["vocab"].get)
    vocab = {t: i for i, t in enumerate(spec.first + byte_tokens + pieces)}
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = trainer_tok.normalizer
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in spec.first])
    return tok


QWEN_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def train_byte_level(spec):
    """GPT-2-style byte-level BPE: the 256 byte symbols are the alphabet, so nothing is unknown. The Qwen style
    splits words with Qwen2's regex (single digits, letters with one leading non-letter) and NFC-normalises."""
    tok = Tokenizer(models.BPE())
    if spec.nfc:
        tok.normalizer = normalizers.NFC()
    if spec.style == "qwen":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=TOKENIZER_SIZE - len(spec.last) - len(spec.plain),
                                  special_tokens=[AddedToken(t, special=True, normalized=False) for t in spec.first],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in spec.last])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec.plain])
    return tok


QWEN_CHATML = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
DEEPSEEK_BOS, DEEPSEEK_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
DEEPSEEK_PLAIN = ["<｜User｜>", "<｜Assistant｜>", "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>",
                  "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>",
                  "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>"]
QWEN_COMMON = dict(bos_token=None, unk_token=None, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                   additional_special_tokens=["<|im_start|>", "<|im_end|>"], errors="replace",
                   split_special_tokens=False, clean_up_tokenization_spaces=False)


def tokenizer_specs():
    return {
        "mixtral": TokenizerSpec(
            "sentencepiece", LlamaTokenizerFast, ["<unk>", "<s>", "</s>"], [], [],
            dict(unk_token="<unk>", bos_token="<s>", eos_token="</s>", add_bos_token=True, add_eos_token=False,
                 legacy=True, clean_up_tokenization_spaces=False, spaces_between_special_tokens=False,
                 use_default_system_prompt=False),
            MIXTRAL_TEMPLATE),
        "qwen2_moe": TokenizerSpec("qwen", Qwen2TokenizerFast, [], QWEN_CHATML, [], QWEN_COMMON,
                                   QWEN2_MOE_TEMPLATE, nfc=True),
        "qwen3_moe": TokenizerSpec(
            "qwen", Qwen2TokenizerFast, [], QWEN_CHATML,
            ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"],
            QWEN_COMMON, QWEN3_MOE_TEMPLATE, nfc=True),
        # GPT-NeoX's layout (OLMo's tokenizer derives from it): <|endoftext|> 0, <|padding|> 1.
        "olmoe": TokenizerSpec(
            "gpt2", GPTNeoXTokenizerFast, ["<|endoftext|>", "<|padding|>"], [], [],
            dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                 pad_token="<|padding|>", add_bos_token=False, add_eos_token=False,
                 clean_up_tokenization_spaces=True),
            OLMOE_TEMPLATE, nfc=True),
        "deepseek_v3": TokenizerSpec(
            "gpt2", LlamaTokenizerFast, [DEEPSEEK_BOS, DEEPSEEK_EOS, "<｜▁pad▁｜>"], [], DEEPSEEK_PLAIN,
            dict(bos_token=DEEPSEEK_BOS, eos_token=DEEPSEEK_EOS, pad_token=DEEPSEEK_EOS, unk_token=None,
                 add_bos_token=True, add_eos_token=False, legacy=True, clean_up_tokenization_spaces=False,
                 use_default_system_prompt=False),
            DEEPSEEK_V3_TEMPLATE),
    }


def make_tokenizer(family):
    spec = tokenizer_specs()[family]
    raw = train_sentencepiece_style(spec) if spec.style == "sentencepiece" else train_byte_level(spec)
    if raw.get_vocab_size(with_added_tokens=True) > TOKENIZER_SIZE:
        raise AssertionError(f"{family}: {raw.get_vocab_size(with_added_tokens=True)} tokens > {TOKENIZER_SIZE}")
    return spec.cls(tokenizer_object=raw, chat_template=spec.template, model_max_length=MAX_POSITIONS,
                    **spec.kwargs)


def save_tokenizer(tok, directory):
    # The chat template inside tokenizer_config.json, as the published checkpoints have it.
    tok.save_pretrained(directory, save_jinja_files=False)


TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    " a single leading space",
    "   three leading spaces,  two  inside and trailing  ",
    "naïve café, Zürich, São Paulo — 日本語のテキスト",
    "emoji: 🙂🚀 👍🏽 ❤️ done",
    "Numbers 12345 and 3.14159; 2025-03-03 at 10:45, $19.99!",
    "line one\nline two\n\n\ttabbed\r\nend",
    "Hello , world ! It 's done . Isn 't it ?",
    "",
]
SPECIAL_TEXTS = {
    "mixtral": ["<s>[INST] Hi there [/INST] Hello!</s>", "a</s>b<unk>c"],
    "qwen2_moe": ["<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", "a<|endoftext|>b"],
    "qwen3_moe": ["<|im_start|>assistant\n<think>\nhmm\n</think>\n\nHi<|im_end|>", "<tool_call>{}</tool_call>"],
    "olmoe": ["<|user|>\nHi there\n<|assistant|>\nHello!<|endoftext|>", "a<|padding|>b"],
    "deepseek_v3": [f"{DEEPSEEK_BOS}Be brief.<｜User｜>Hi there<｜Assistant｜>Hello!{DEEPSEEK_EOS}",
                    "x<｜tool▁sep｜>y"],
}


def expected_tokenizer(tok, family):
    cases = []
    for text in TEXTS + SPECIAL_TEXTS[family]:
        for add_special in (True, False):
            ids = tok(text, add_special_tokens=add_special)["input_ids"]
            cases.append({"text": text, "add_special_tokens": add_special, "ids": ids,
                          "decoded": tok.decode(ids, skip_special_tokens=True),
                          "tokens": tok.convert_ids_to_tokens(ids)})
    return cases


SYSTEM = {"role": "system", "content": "You are a concise assistant. Answer in one sentence."}
USER1 = {"role": "user", "content": "What is a mixture of experts? Explain it to a naïve reader."}
ASSISTANT1 = {"role": "assistant", "content": "A router sends each token to a few small expert networks."}
USER2 = {"role": "user", "content": "And why does that save compute? 🙂"}
CHATS = [
    ([SYSTEM, USER1], True, {}),
    ([SYSTEM, USER1], False, {}),
    ([USER1], True, {}),
    ([USER1], False, {}),
    ([USER1, ASSISTANT1, USER2], True, {}),
    ([SYSTEM, USER1, ASSISTANT1, USER2], True, {}),
    ([SYSTEM, USER1, ASSISTANT1], False, {}),
]
THINKING = {"role": "assistant", "content": "<think>\nThe user wants a short answer.\n</think>\n\n" + ASSISTANT1["content"]}
EXTRA_CHATS = {
    "qwen3_moe": [
        ([USER1], True, {"enable_thinking": False}),
        ([USER1, THINKING, USER2], True, {}),  # reasoning of turns before the last query is dropped
        ([USER1, THINKING], False, {}),  # ... and kept after it
    ],
}


def expected_chat(tok, family):
    cases = []
    for messages, add_generation_prompt, kwargs in CHATS + EXTRA_CHATS.get(family, []):
        text = tok.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False,
                                       **kwargs)
        ids = tok.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=True,
                                      **kwargs)
        if ids != tok(text, add_special_tokens=False)["input_ids"]:
            raise AssertionError(f"{family}: apply_chat_template's ids are not its text's encoding")
        case = {"messages": messages, "add_generation_prompt": add_generation_prompt, "text": text, "ids": ids}
        if kwargs:
            case["chat_template_kwargs"] = kwargs
        cases.append(case)
    return cases


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# The fixtures: each keeps its MoE block's role and exercises its family's attention features.
# ---------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Fixture:
    name: str
    model_class: type
    config: object  # ids -> config: ids maps bos/eos/pad/eot/im_end to the tokenizer's token ids
    layer: int  # the MoE layer whose block the expected file covers
    seed: int
    family: str  # tokenizer and chat template
    generation: object  # ids -> generation_config.json's token ids, as the published chat model has them
    features: list  # (what, how to switch it off) pairs; switching each off must change the logits
    max_shard_size: str | None = None  # None: one model.safetensors


COMMON = dict(vocab_size=VOCAB_SIZE, max_position_embeddings=MAX_POSITIONS, num_hidden_layers=2,
              hidden_act="silu", initializer_range=0.15, dtype="float32", attn_implementation="eager")
# The real models' rope scaling, scaled down so that it acts at the fixtures' positions (max_position_embeddings
# = factor * original_max_position_embeddings, as in the published configs).
QWEN2_ROPE = {"rope_type": "linear", "factor": 2.0}
QWEN3_YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": MAX_POSITIONS // 4}
# DeepSeek-V3's own keys and spelling ("type"); it has factor 40, original 4096.
DEEPSEEK_YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": MAX_POSITIONS // 4,
                 "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}
# Small enough that OLMoE's clamp cuts some q, k and v values of these random weights (asserted).
OLMOE_CLIP_QKV = 1.5


def qwen_generation(ids):
    return dict(bos_token_id=ids["eot"], eos_token_id=[ids["im_end"], ids["eot"]], pad_token_id=ids["eot"])


def fixtures():
    return [
        Fixture("mixtral", MixtralForCausalLM, lambda ids: MixtralConfig(
            hidden_size=64, intermediate_size=32, num_local_experts=8, num_experts_per_tok=2,
            num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=16,
            bos_token_id=ids["bos"], eos_token_id=ids["eos"], **COMMON),
            layer=1, seed=11, family="mixtral",
            generation=lambda ids: dict(bos_token_id=ids["bos"], eos_token_id=ids["eos"]),
            features=[("sliding window 16", switch_config(sliding_window=None))]),
        # Qwen's two ways of making a layer dense (decoder_sparse_step, mlp_only_layers), one each:
        # the runtime must find the MoE layers from config.json, and the fixtures stay small.
        Fixture("qwen2_moe", Qwen2MoeForCausalLM, lambda ids: Qwen2MoeConfig(
            hidden_size=64, intermediate_size=48, moe_intermediate_size=32, shared_expert_intermediate_size=64,
            num_experts=8, num_experts_per_tok=4, norm_topk_prob=False, decoder_sparse_step=2,
            num_attention_heads=2, num_key_value_heads=1, rope_scaling=QWEN2_ROPE,
            bos_token_id=ids["eot"], eos_token_id=ids["im_end"], **COMMON),
            layer=1, seed=12, family="qwen2_moe", generation=qwen_generation, max_shard_size="150KB",
            features=[("linear rope scaling", switch_config(rope_scaling=None)),
                      ("q/k/v biases", zero_params(".self_attn.q_proj.bias", ".self_attn.k_proj.bias",
                                                   ".self_attn.v_proj.bias"))]),
        Fixture("qwen3_moe", Qwen3MoeForCausalLM, lambda ids: Qwen3MoeConfig(
            hidden_size=64, intermediate_size=48, moe_intermediate_size=40, num_experts=8, num_experts_per_tok=3,
            norm_topk_prob=True, mlp_only_layers=[1], num_attention_heads=2, num_key_value_heads=1, head_dim=16,
            rope_scaling=QWEN3_YARN, bos_token_id=ids["eot"], eos_token_id=ids["im_end"], **COMMON),
            layer=0, seed=13, family="qwen3_moe", generation=qwen_generation,
            features=[("yarn rope scaling", switch_config(rope_scaling=None)),
                      ("per-head q/k RMSNorm", drop_modules("q_norm", "k_norm"))]),
        Fixture("olmoe", OlmoeForCausalLM, lambda ids: OlmoeConfig(
            hidden_size=64, intermediate_size=32, num_experts=8, num_experts_per_tok=2,
            num_attention_heads=2, num_key_value_heads=1, clip_qkv=OLMOE_CLIP_QKV,
            bos_token_id=None, eos_token_id=ids["eos"], pad_token_id=ids["pad"], **COMMON),
            layer=0, seed=14, family="olmoe",
            generation=lambda ids: dict(eos_token_id=ids["eos"], pad_token_id=ids["pad"]),
            features=[("clip_qkv", switch_config(clip_qkv=None)),
                      ("whole-projection q/k RMSNorm", drop_modules("q_norm", "k_norm"))]),
        # 136 = one full and one partial 128-block, 32 = one partial block: the fp8 copy exercises both.
        Fixture("deepseek_v3", DeepseekV3ForCausalLM, lambda ids: DeepseekV3Config(
            hidden_size=136, intermediate_size=48, moe_intermediate_size=32, n_routed_experts=16,
            n_shared_experts=1, n_group=4, topk_group=2, num_experts_per_tok=4, routed_scaling_factor=2.5,
            norm_topk_prob=True, first_k_dense_replace=1, num_attention_heads=2, num_key_value_heads=2,
            q_lora_rank=16, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=16,
            rope_interleave=True, rope_scaling=DEEPSEEK_YARN, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
            **{**COMMON, "initializer_range": 0.1}),
            layer=1, seed=15, family="deepseek_v3", max_shard_size="300KB",
            generation=lambda ids: dict(bos_token_id=ids["bos"], eos_token_id=ids["eos"]),
            features=[("interleaved rope", switch_config(rope_interleave=False)),
                      ("yarn rope scaling", switch_config(rope_scaling=None)),
                      ("yarn mscale^2 on the softmax scale", unscale_softmax)]),
        # MLA without the query LoRA (q_proj, as DeepSeek-V2-Lite), rope_interleave off, no rope scaling.
        Fixture("deepseek_v3_q_proj", DeepseekV3ForCausalLM, lambda ids: DeepseekV3Config(
            hidden_size=64, intermediate_size=48, moe_intermediate_size=16, n_routed_experts=8,
            n_shared_experts=1, n_group=2, topk_group=1, num_experts_per_tok=2, routed_scaling_factor=2.5,
            norm_topk_prob=True, first_k_dense_replace=1, num_attention_heads=2, num_key_value_heads=2,
            q_lora_rank=None, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=16,
            rope_interleave=False, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
            **{**COMMON, "initializer_range": 0.1}),
            layer=1, seed=16, family="deepseek_v3",
            generation=lambda ids: dict(bos_token_id=ids["bos"], eos_token_id=ids["eos"]),
            features=[("rope not interleaved", switch_config(rope_interleave=True))]),
    ]


def token_ids(tok):
    ids = {"bos": tok.bos_token_id, "eos": tok.eos_token_id, "pad": tok.pad_token_id}
    for role, token in (("eot", "<|endoftext|>"), ("im_end", "<|im_end|>")):
        if token in tok.get_vocab():
            ids[role] = tok.convert_tokens_to_ids(token)
    return ids


# Ways to switch a feature off: each returns a copy of the model without it.

def switch_config(**changes):
    def apply(model):
        cfg = copy.deepcopy(model.config)
        for key, value in changes.items():
            setattr(cfg, key, value)
        other = type(model)(cfg).eval()
        other.load_state_dict(model.state_dict())
        return other
    return apply


def zero_params(*suffixes):
    def apply(model):
        other = copy.deepcopy(model)
        with torch.no_grad():
            for name, p in other.named_parameters():
                if name.endswith(suffixes):
                    p.zero_()
        return other
    return apply


def drop_modules(*names):
    def apply(model):
        other = copy.deepcopy(model)
        for layer in other.model.layers:
            for name in names:
                setattr(layer.self_attn, name, torch.nn.Identity())
        return other
    return apply


def unscale_softmax(model):
    other = copy.deepcopy(model)
    for layer in other.model.layers:
        layer.self_attn.scaling = layer.self_attn.qk_head_dim ** -0.5
    return other


# ---------------------------------------------------------------------------------------------------
# The spec: one MoE block computed from config.json and the checkpoint's tensors only.
# ---------------------------------------------------------------------------------------------------

def load_checkpoint(directory):
    """All tensors of a checkpoint (single file or sharded), block-fp8 weights dequantised to fp32."""
    index = directory / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for f in files:
        tensors.update(load_file(directory / f))
    for name in [n for n in tensors if n.endswith("_scale_inv")]:
        weight = name[: -len("_scale_inv")]
        tensors[weight] = dequantize_fp8(tensors[weight], tensors.pop(name))
    return tensors


def dequantize_fp8(q, scale_inv):
    """w[i, j] = float(q[i, j]) * scale_inv[i // 128, j // 128] (the last blocks may be partial)."""
    rows, cols = q.shape
    s = scale_inv.repeat_interleave(FP8_BLOCK, 0).repeat_interleave(FP8_BLOCK, 1)[:rows, :cols]
    return q.to(torch.float32) * s


def is_moe_layer(cfg, layer):
    """Which decoder layers have a MoE block; the others have a dense SwiGLU MLP and no router."""
    arch = cfg["model_type"]
    if arch == "deepseek_v3":
        return layer >= cfg["first_k_dense_replace"]
    if arch in ("qwen2_moe", "qwen3_moe"):
        return (layer not in (cfg.get("mlp_only_layers") or []) and cfg["num_experts"] > 0
                and (layer + 1) % cfg["decoder_sparse_step"] == 0)
    return True


def layer_prefix(arch, layer):
    return f"model.layers.{layer}.block_sparse_moe." if arch == "mixtral" else f"model.layers.{layer}.mlp."


def expert_names(arch):
    """(gate, up, down) projection names: y = down(silu(gate(x)) * up(x))."""
    return ("w1", "w3", "w2") if arch == "mixtral" else ("gate_proj", "up_proj", "down_proj")


def spec_route(cfg, t, layer, x):
    """Routing of tokens x [T,H] (float64). Returns ids [T,k], weights [T,k] sorted by descending weight,
    and the scores the margin checks need."""
    arch = cfg["model_type"]
    p = layer_prefix(arch, layer)
    k = cfg["num_experts_per_tok"]
    logits = x @ t[p + "gate.weight"].double().T  # [T,E]
    if arch == "deepseek_v3":
        groups, keep_groups = cfg["n_group"], cfg["topk_group"]
        scores = torch.sigmoid(logits)
        choice = scores + t[p + "gate.e_score_correction_bias"].double()  # the bias steers choice only
        per_group = choice.view(len(x), groups, -1)
        group_scores = per_group.topk(2, dim=-1).values.sum(-1)  # [T,G]: sum of each group's best two
        kept = torch.zeros_like(group_scores, dtype=torch.bool)
        kept.scatter_(1, group_scores.topk(keep_groups, dim=-1).indices, True)
        choice = per_group.masked_fill(~kept[:, :, None], -math.inf).view(len(x), -1)
        ids = choice.topk(k, dim=-1).indices
        weights = scores.gather(1, ids)
        if cfg["norm_topk_prob"]:
            weights = weights / weights.sum(-1, keepdim=True)
        weights = weights * cfg["routed_scaling_factor"]
        extra = {"group_scores": group_scores, "groups_kept": keep_groups}
    else:
        choice = torch.softmax(logits, dim=-1)
        ids = choice.topk(k, dim=-1).indices
        weights = choice.gather(1, ids)
        if arch == "mixtral" or cfg["norm_topk_prob"]:
            weights = weights / weights.sum(-1, keepdim=True)
        extra = {}
    order = weights.argsort(dim=-1, descending=True)
    ids, weights = ids.gather(1, order), weights.gather(1, order)
    return ids, weights, {"choice": choice, **extra}


def spec_ffn(t, prefix, names, x):
    gate, up, down = (t[prefix + n + ".weight"].double() for n in names)
    g = x @ gate.T
    return (g * torch.sigmoid(g) * (x @ up.T)) @ down.T


def spec_moe_block(cfg, t, layer, x):
    """The MoE block for tokens x [T,H]: sum_j w_j * expert_{id_j}(x), plus the shared expert."""
    arch = cfg["model_type"]
    p = layer_prefix(arch, layer)
    names = expert_names(arch)
    if not is_moe_layer(cfg, layer):
        raise ValueError(f"layer {layer} of {arch} is not a MoE layer")
    x = x.double()
    ids, weights, _ = spec_route(cfg, t, layer, x)
    out = torch.zeros_like(x)
    for e in ids.unique().tolist():
        rows, slots = torch.where(ids == e)
        out.index_add_(0, rows, weights[rows, slots, None] * spec_ffn(t, f"{p}experts.{e}.", names, x[rows]))
    if arch == "qwen2_moe":
        gate = torch.sigmoid(x @ t[p + "shared_expert_gate.weight"].double().T)  # [T,1]
        out += gate * spec_ffn(t, p + "shared_expert.", names, x)
    elif arch == "deepseek_v3":
        out += spec_ffn(t, p + "shared_experts.", names, x)
    return out, ids, weights


# ---------------------------------------------------------------------------------------------------
# Making the fixtures.
# ---------------------------------------------------------------------------------------------------

def round_bf16(tensors):
    """The bf16 variant: every weight rounded to bf16 and back; the DeepSeek bias is an fp32 buffer
    (fp32 in the published checkpoint too) and stays as it is."""
    return {n: v if n.endswith("e_score_correction_bias") else v.to(torch.bfloat16).to(torch.float32)
            for n, v in tensors.items()}


def rows_with_clear_routing(cfg, t, t_bf16, layer, x):
    """Tokens whose routing cannot flip under rounding differences: gaps of at least MIN_GAP between
    the k-th and (k+1)-th choice, between consecutive chosen weights and (DeepSeek) at the group cut;
    the same experts with bf16 weights. For DeepSeek also a positive k-th choice score, so that masking
    dropped groups with 0 (transformers) or with -inf (DeepSeek's own code) picks the same experts."""
    k = cfg["num_experts_per_tok"]
    x = x.double()
    ids, weights, s = spec_route(cfg, t, layer, x)
    ids_bf16, _, _ = spec_route(cfg, t_bf16, layer, x)
    ranked = s["choice"].sort(dim=-1, descending=True).values
    ok = ranked[:, k - 1] - ranked[:, k] > MIN_GAP
    ok &= ((weights[:, :-1] - weights[:, 1:]) > MIN_GAP).all(-1)
    ok &= (ids.sort(-1).values == ids_bf16.sort(-1).values).all(-1)
    if "group_scores" in s:
        g = s["group_scores"].sort(dim=-1, descending=True).values
        ok &= g[:, s["groups_kept"] - 1] - g[:, s["groups_kept"]] > MIN_GAP
        ok &= ranked[:, k - 1] > MIN_GAP
    return ok


def draw_input(cfg, t, layer, seed):
    t_bf16 = round_bf16(t)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(TOKENS, cfg["hidden_size"], generator=gen)
    for _ in range(100):
        bad = ~rows_with_clear_routing(cfg, t, t_bf16, layer, x)
        if not bad.any():
            return x
        x[bad] = torch.randn(int(bad.sum()), cfg["hidden_size"], generator=gen)
    raise RuntimeError(f"{cfg['model_type']}: no well separated routing after 100 draws")


def moe_block(model, layer):
    decoder = model.model.layers[layer]
    return decoder.block_sparse_moe if hasattr(decoder, "block_sparse_moe") else decoder.mlp


@torch.no_grad()
def transformers_expected(block, arch, cfg, x):
    """transformers' block on x (fp32): output, and the routing as the block computes it."""
    result = block(x[None])
    out = (result[0] if isinstance(result, tuple) else result)[0]
    k = cfg["num_experts_per_tok"]
    if arch == "deepseek_v3":
        ids, weights = block.gate(x)  # the router returns its top-k (unsorted) directly
    else:
        # As the softmax blocks do it in 4.57.6: softmax in fp32 over the gate logits the block returns,
        # top-k, renormalised always in Mixtral and by norm_topk_prob in the others.
        probs = F.softmax(result[1], dim=1, dtype=torch.float)
        weights, ids = torch.topk(probs, k, dim=-1)
        if arch == "mixtral" or block.norm_topk_prob:
            weights = weights / weights.sum(dim=-1, keepdim=True)
    order = weights.argsort(dim=-1, descending=True)
    return out, ids.gather(1, order).to(torch.int64), weights.gather(1, order)


@torch.no_grad()
def bf16_block(block):
    rounded = copy.deepcopy(block)
    for param in rounded.parameters():
        param.copy_(param.to(torch.bfloat16).to(torch.float32))
    return rounded


def check_close(what, got, want, scale):
    err = (got.double() - want.double()).abs().max().item()
    if err > SPEC_TOLERANCE * scale:
        raise AssertionError(f"{what}: max abs difference {err:.3g} > {SPEC_TOLERANCE} * {scale:.3g}")


def verify(directory, layer, expected):
    """Recomputes the expected file from the checkpoint on disk with the spec."""
    cfg = json.loads((directory / "config.json").read_text())
    t = load_checkpoint(directory)
    x = expected["input"]
    for key, tensors in (("output", t), ("output_bf16", round_bf16(t))):
        out, ids, weights = spec_moe_block(cfg, tensors, layer, x)
        scale = expected[key].abs().max().item()
        check_close(f"{directory.name} {key}", out, expected[key], scale)
        if key == "output":
            if not torch.equal(ids, expected["topk_ids"]):
                raise AssertionError(f"{directory.name}: spec routing ids differ from transformers'")
            check_close(f"{directory.name} topk_weights", weights, expected["topk_weights"], 1.0)


def write_expected(directory, layer, expected):
    # No metadata: safetensors writes several keys in a random order, and the README has the versions.
    save_file({k: v.contiguous() for k, v in expected.items()}, directory / f"expected_layer{layer}.safetensors")


def check_deepseek_routing_is_exercised(cfg, t, layer, x):
    """A runtime that ignored the group limit or the correction bias must fail these fixtures."""
    x = x.double()
    ids = spec_route(cfg, t, layer, x)[0].sort(-1).values
    no_bias = dict(t)
    no_bias[layer_prefix("deepseek_v3", layer) + "gate.e_score_correction_bias"] = torch.zeros(
        cfg["n_routed_experts"])
    if torch.equal(ids, spec_route(cfg, no_bias, layer, x)[0].sort(-1).values):
        raise AssertionError("deepseek_v3: the correction bias changes no token's experts")
    one_group = {**cfg, "n_group": 1, "topk_group": 1}
    if torch.equal(ids, spec_route(one_group, t, layer, x)[0].sort(-1).values):
        raise AssertionError("deepseek_v3: the group limit changes no token's experts")


def make(fx):
    directory = FIXTURES / fx.name
    shutil.rmtree(directory, ignore_errors=True)
    tok = make_tokenizer(fx.family)
    ids = token_ids(tok)
    torch.manual_seed(fx.seed)
    model = fx.model_class(fx.config(ids)).eval()
    randomize_constant_parameters(model, seed=2000 + fx.seed)
    if fx.model_class is DeepseekV3ForCausalLM:
        for decoder in model.model.layers[model.config.first_k_dense_replace:]:
            decoder.mlp.gate.e_score_correction_bias.normal_(0.0, 0.1)  # persistent buffer: saved
    model.generation_config = GenerationConfig(**fx.generation(ids))
    kwargs = {"max_shard_size": fx.max_shard_size} if fx.max_shard_size else {}
    model.save_pretrained(directory, safe_serialization=True, **kwargs)
    save_tokenizer(tok, directory)

    # What a reader of the files gets.
    tok = AutoTokenizer.from_pretrained(directory)
    write_json(directory / "expected_tokenizer.json", expected_tokenizer(tok, fx.family))
    write_json(directory / "expected_chat.json", expected_chat(tok, fx.family))

    cfg = json.loads((directory / "config.json").read_text())
    t = load_checkpoint(directory)
    x = draw_input(cfg, t, fx.layer, seed=1000 + fx.seed)
    for layer in range(cfg["num_hidden_layers"]):
        has_router = layer_prefix(cfg["model_type"], layer) + "gate.weight" in t
        if has_router != is_moe_layer(cfg, layer):
            raise AssertionError(f"{fx.name}: is_moe_layer({layer}) disagrees with the checkpoint")
    if cfg["model_type"] == "deepseek_v3":
        check_deepseek_routing_is_exercised(cfg, t, fx.layer, x)
    block = moe_block(model, fx.layer)
    expected = expected_for(block, cfg, x)
    write_expected(directory, fx.layer, expected)
    verify(directory, fx.layer, expected)

    pad = model.generation_config.pad_token_id
    if pad is None:
        eos = model.generation_config.eos_token_id
        pad = eos[0] if isinstance(eos, list) else eos
    whole, prompts = expected_model(model, tok, fx.name, pad)
    save_file({k: v.contiguous() for k, v in whole.items()}, directory / "expected_model.safetensors")
    attn = model.model.layers[0].self_attn
    facts = {"prompts": prompts, "features": check_features(fx, model, whole),
             "inv_freq": model.model.rotary_emb.inv_freq.tolist(),
             "rope_scale": model.model.rotary_emb.attention_scaling,
             "softmax_scale": getattr(attn, "scaling", None) or attn.head_dim ** -0.5}
    if cfg["model_type"] == "olmoe":
        seq = torch.cat([whole["prompt_ids"], whole["generated_ids"]])[None]
        facts["clipped"] = clipped_fraction(model, seq)
        if min(facts["clipped"]) <= 0:
            raise AssertionError(f"olmoe: clip_qkv {OLMOE_CLIP_QKV} clips nothing in some q, k or v: {facts['clipped']}")
    return model, x, facts


def expected_for(block, cfg, x):
    out, ids, weights = transformers_expected(block, cfg["model_type"], cfg, x)
    out_bf16 = transformers_expected(bf16_block(block), cfg["model_type"], cfg, x)[0]
    return {"input": x, "output": out, "topk_ids": ids, "topk_weights": weights, "output_bf16": out_bf16}


def quantize_fp8(w):
    """Block-fp8 as in DeepSeek-V3's checkpoint: per 128x128 block scale_inv = max|w| / 448,
    q = w / scale_inv rounded to float8_e4m3fn."""
    rows, cols = w.shape
    br, bc = -(-rows // FP8_BLOCK), -(-cols // FP8_BLOCK)
    padded = torch.zeros(br * FP8_BLOCK, bc * FP8_BLOCK)
    padded[:rows, :cols] = w
    amax = padded.view(br, FP8_BLOCK, bc, FP8_BLOCK).abs().amax(dim=(1, 3))
    scale_inv = (amax / FP8_MAX).to(torch.float32)
    s = scale_inv.repeat_interleave(FP8_BLOCK, 0).repeat_interleave(FP8_BLOCK, 1)[:rows, :cols]
    q = (w / s).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return q, scale_inv


def is_fp8_weight(name):
    """Routed and shared expert projections, the weights the runtime reads from an fp8 checkpoint."""
    return ".mlp.experts." in name or ".mlp.shared_experts." in name


def make_deepseek_fp8(model, layer, x):
    source, directory = FIXTURES / "deepseek_v3", FIXTURES / "deepseek_v3_fp8"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    cfg = json.loads((source / "config.json").read_text())
    cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                  "weight_block_size": [FP8_BLOCK, FP8_BLOCK]}
    (directory / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    stored, dequantized = {}, {}
    for name, w in load_checkpoint(source).items():
        if is_fp8_weight(name):
            q, scale_inv = quantize_fp8(w)
            stored[name], stored[name + "_scale_inv"] = q, scale_inv
            dequantized[name] = dequantize_fp8(q, scale_inv)
        else:
            stored[name] = w
    write_sharded(directory, stored, max_bytes=120_000)

    # transformers' block with the dequantised weights; the router is not quantised, so the input keeps
    # its well separated routing.
    block = copy.deepcopy(moe_block(model, layer))
    prefix = f"model.layers.{layer}.mlp."
    block.load_state_dict({n[len(prefix):]: v for n, v in dequantized.items() if n.startswith(prefix)},
                          strict=False)
    assert all(torch.equal(block.get_parameter(n[len(prefix):]), v)
               for n, v in dequantized.items() if n.startswith(prefix))
    expected = expected_for(block, cfg, x)
    write_expected(directory, layer, expected)
    verify(directory, layer, expected)


def write_sharded(directory, tensors, max_bytes):
    """Shards in name order, filled up to max_bytes, with an index like save_pretrained's; a weight and
    its scale may land in different shards, as in the published checkpoint."""
    shards, current, size = [], {}, 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * tensors[name].element_size()
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = {}, 0
        current[name] = tensors[name].contiguous()
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, directory / file, metadata={"format": "pt"})
        for name, v in shard.items():
            weight_map[name] = file
            total += v.numel() * v.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")




# ---------------------------------------------------------------------------------------------------
# Whole-model expectations: logits and greedy continuations of two prompts.
# ---------------------------------------------------------------------------------------------------

PROMPTS = [
    "The capital of France is Paris, and the capital of Japan is",
    "Once upon a time, in a small village by the sea, there lived",
    "Mixture-of-experts models route each token to a few experts.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "Q: What is 12 times 12?\nA:",
    "She ordered a café au lait and a croissant, then",
    "Load balancing across 8 GPUs: each expert gets",
    "Le petit déjeuner est servi à 7 heures.",
    "1, 2, 3, 4, 5, 6, 7, 8, 9,",
    "The router picks the top two experts for every token, and",
    "In 2025 the team measured 1,234 requests per second.",
    "Translate to German: good morning, my friend.",
]


def margins(logits):
    """Per row: (top-1 - top-2) / max |logit|."""
    top = logits.topk(2, dim=-1).values
    return (top[:, 0] - top[:, 1]) / logits.abs().amax(dim=-1)


@torch.no_grad()
def continuation(model, ids, pad_token_id):
    """transformers' greedy generate (KV cache) and its step logits, checked against a recomputation of the
    whole sequence without the cache."""
    out = model.generate(ids[None], attention_mask=torch.ones(1, len(ids), dtype=torch.long), do_sample=False,
                         max_new_tokens=MAX_NEW_TOKENS, output_logits=True, return_dict_in_generate=True,
                         pad_token_id=pad_token_id)
    generated = out.sequences[0, len(ids):]
    cached = torch.stack(out.logits)[:, 0].float()
    full = model(torch.cat([ids, generated])[None], use_cache=False).logits[0]
    uncached = full[len(ids) - 1: len(ids) - 1 + len(generated)]
    same = torch.equal(uncached.argmax(-1), generated)
    margin = min(margins(cached).min().item(), margins(uncached).min().item())
    return generated, same, margin


@torch.no_grad()
def expected_model(model, tok, name, pad_token_id):
    """Two prompts (of different lengths, 12..40 tokens) whose every greedy step is clear by MIN_MARGIN and
    that run the whole MAX_NEW_TOKENS (the first candidates in PROMPTS order that do)."""
    chosen, tried = [], []
    for text in PROMPTS:
        ids = torch.tensor(tok(text)["input_ids"], dtype=torch.long)
        if not 12 <= len(ids) <= 40 or any(len(ids) == len(c[1]) for c in chosen):
            continue
        generated, same, margin = continuation(model, ids, pad_token_id)
        tried.append((text, len(ids), len(generated), margin))
        if not same:
            raise AssertionError(f"{name}: greedy decoding with the KV cache and without it pick different tokens")
        if margin >= MIN_MARGIN and len(generated) == MAX_NEW_TOKENS:
            chosen.append((text, ids, generated, margin))
            if len(chosen) == 2:
                break
    if len(chosen) < 2:
        raise AssertionError(f"{name}: fewer than two prompts with clear greedy steps: {tried}")
    expected = {}
    for suffix, (text, ids, generated, margin) in zip(("", "2"), chosen):
        expected[f"prompt{suffix}_ids"] = ids
        expected[f"logits{suffix}"] = model(ids[None], use_cache=False).logits[0].float()
        expected[f"generated{suffix}_ids"] = generated.to(torch.int64)
    summary = [{"text": text, "tokens": len(ids), "generated": len(generated), "margin": margin}
               for text, ids, generated, margin in chosen]
    return expected, summary


@torch.no_grad()
def check_features(fx, model, expected):
    """Switching off each of the fixture's attention features changes the logits of prompt + continuation."""
    seq = torch.cat([expected["prompt_ids"], expected["generated_ids"]])[None]
    base = model(seq, use_cache=False).logits[0]
    effects = {}
    for what, switch_off in fx.features:
        other = switch_off(model)
        effect = ((other(seq, use_cache=False).logits[0] - base).abs().max() / base.abs().max()).item()
        if effect <= FEATURE_EFFECT:
            raise AssertionError(f"{fx.name}: {what} changes the logits by only {effect:.2g} of their max")
        effects[what] = effect
    return effects


@torch.no_grad()
def clipped_fraction(model, seq):
    """OLMoE: the fraction of q (after its norm), k (after its norm) and v values that clip_qkv cuts, per layer."""
    clip, seen, hooks = model.config.clip_qkv, [], []
    for layer in model.model.layers:
        attn = layer.self_attn
        for module in (attn.q_norm, attn.k_norm, attn.v_proj):
            hooks.append(module.register_forward_hook(
                lambda m, args, out: seen.append((out.abs() > clip).float().mean().item())))
    model(seq, use_cache=False)
    for h in hooks:
        h.remove()
    return seen


def randomize_constant_parameters(model, seed):
    """Norm weights start at 1 and biases at 0 in transformers' init; give them random values so that a
    runtime that skipped or misplaced one would fail the fixtures."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))


# ---------------------------------------------------------------------------------------------------
# transformers 5.x copies
# ---------------------------------------------------------------------------------------------------

def v5_python():
    python = os.environ.get("REFVENV5_PYTHON", "/opt/refvenv5/bin/python")
    if not Path(python).exists():
        sys.exit(f"{python} not found: the <name>_v5/ copies need a transformers 5.x Python (see this script's "
                 "header), or set REFVENV5_PYTHON")
    return python


def make_v5(names):
    """resave_v5.py under transformers 5.x writes <name>_v5/ and checks it; returns its report."""
    run = subprocess.run([v5_python(), str(SCRIPTS / "resave_v5.py"), str(FIXTURES), *names],
                         check=True, capture_output=True, text=True)
    return json.loads(run.stdout)


def dict_difference(old, new):
    return {"removed": {k: old[k] for k in sorted(old) if k not in new},
            "added": {k: new[k] for k in sorted(new) if k not in old},
            "changed": {k: [old[k], new[k]] for k in sorted(old) if k in new and old[k] != new[k]}}


def v5_differences(name):
    """How <name>_v5/ (transformers 5.x) differs from <name>/ (4.57.6), file by file."""
    old, new = FIXTURES / name, FIXTURES / f"{name}_v5"
    mine = {"expected_layer", "expected_model", "expected_tokenizer", "expected_chat"}
    files_old = {p.name for p in old.iterdir() if not any(p.name.startswith(m) for m in mine)}
    files_new = {p.name for p in new.iterdir()}
    out = {"files_only_4.57": sorted(files_old - files_new), "files_only_5.x": sorted(files_new - files_old)}
    for file in ("config.json", "generation_config.json", "tokenizer_config.json"):
        a, b = (json.loads((d / file).read_text(encoding="utf-8")) for d in (old, new))
        a.pop("transformers_version", None)
        b.pop("transformers_version", None)
        for d in (a, b):
            for long_value in ("chat_template", "added_tokens_decoder"):
                if long_value in d:
                    d[long_value] = "(...)"
        out[file] = dict_difference(a, b)
    a, b = (json.loads((d / "tokenizer.json").read_text(encoding="utf-8")) for d in (old, new))
    out["tokenizer.json"] = {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b))
                             if k != "model" and a.get(k) != b.get(k)}
    model_a = {k: v for k, v in a["model"].items() if k not in ("vocab", "merges")}
    model_b = {k: v for k, v in b["model"].items() if k not in ("vocab", "merges")}
    out["tokenizer.json model"] = dict_difference(model_a, model_b)
    out["same vocab and merges"] = (a["model"].get("vocab"), a["model"].get("merges")) == (
        b["model"].get("vocab"), b["model"].get("merges"))
    ta, tb = load_checkpoint(old), load_checkpoint(new)
    out["tensors"] = {"only_4.57": sorted(set(ta) - set(tb)), "only_5.x": sorted(set(tb) - set(ta)),
                      "shape_or_dtype_changed": sorted(n for n in ta if n in tb and (
                          ta[n].shape != tb[n].shape or ta[n].dtype != tb[n].dtype)),
                      "values_identical": all(n in tb and torch.equal(ta[n], tb[n]) for n in ta)}
    return out


# ---------------------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------------------

SPEC_TEXT = """\
## The MoE block (`spec_moe_block` in make_fixtures.py, what the runtime implements)

For tokens x [T,H], one MoE layer L. Every expert (and shared expert) is a SwiGLU FFN:
`E(x) = W_down (silu(W_gate x) * (W_up x))`, silu(z) = z * sigmoid(z), weights stored [out, in]
(nn.Linear layout), so `W x` is `x @ W^T`. The block output is `y = sum_j w_j E_{id_j}(x) (+ shared)`.

| arch | router | top-k weights | shared expert |
|---|---|---|---|
| mixtral | p = softmax(x G^T) | top-k of p, always renormalised: w_j = p_j / sum p | none |
| qwen2_moe | p = softmax(x G^T) | top-k of p, renormalised only if `norm_topk_prob` (false here, as in Qwen1.5-MoE) | `sigmoid(x g^T) * S(x)`, g = `shared_expert_gate.weight` [1,H] |
| qwen3_moe | p = softmax(x G^T) | top-k of p, renormalised if `norm_topk_prob` (true here, as in Qwen3) | none |
| olmoe | p = softmax(x G^T) | top-k of p, renormalised if `norm_topk_prob` (config default false, as in OLMoE-1B-7B) | none |
| deepseek_v3 | s = sigmoid(x G^T); c = s + b (b = `e_score_correction_bias`, steers the choice only) | groups: c split in `n_group` consecutive groups, group score = sum of its two largest c; keep the `topk_group` best groups; top-k of c over the kept groups' experts; w_j = s_j (bias-free), / sum s if `norm_topk_prob`, then * `routed_scaling_factor` | `+ S(x)`, ungated (`shared_experts`, `n_shared_experts` * moe_intermediate wide) |

MoE layers (`is_moe_layer`): all in mixtral and olmoe; deepseek_v3 layers >= `first_k_dense_replace`;
qwen2_moe/qwen3_moe layer l when l is not in `mlp_only_layers`, `num_experts` > 0 and
(l + 1) % `decoder_sparse_step` == 0. Other layers have a dense `mlp.gate_proj/up_proj/down_proj` and no
router, and the runtime must refuse them as MoE layers.

In DeepSeek-V3, transformers masks dropped groups with 0 before the top-k and DeepSeek's own code with
-inf; they agree when the k-th choice score is positive, which every fixture token satisfies.

Block fp8 (`deepseek_v3_fp8`): a weight W [out,in] is stored as float8_e4m3fn `q` plus float32
`<name>_scale_inv` [ceil(out/128), ceil(in/128)]; W[i,j] = float(q[i,j]) * scale_inv[i/128, j/128]
(integer division; the last row and column blocks are partial here).

Tensor names, prefix P = `model.layers.L.block_sparse_moe.` (mixtral) or `model.layers.L.mlp.` (others):
- router G [E,H]: `P gate.weight`; DeepSeek's bias b [E] f32: `P gate.e_score_correction_bias`
- expert e: mixtral `P experts.e.w1.weight` (gate [I,H]), `w3` (up [I,H]), `w2` (down [H,I]);
  others `P experts.e.gate_proj.weight`, `up_proj`, `down_proj`
- shared expert S: qwen2_moe `P shared_expert.{gate,up,down}_proj.weight` and `P shared_expert_gate.weight`;
  deepseek_v3 `P shared_experts.{gate,up,down}_proj.weight`
"""


def shapes(cfg):
    arch = cfg["model_type"]
    experts = cfg.get("num_local_experts") or cfg.get("num_experts") or cfg.get("n_routed_experts")
    inter = cfg["intermediate_size"] if arch in ("mixtral", "olmoe") else cfg["moe_intermediate_size"]
    shared = {"qwen2_moe": f"shared {cfg.get('shared_expert_intermediate_size')} (sigmoid gate)",
              "deepseek_v3": f"shared {cfg.get('n_shared_experts', 0) * inter} (ungated)"}.get(arch, "no shared")
    return f"H {cfg['hidden_size']}, {experts} experts, top-{cfg['num_experts_per_tok']}, expert I {inter}, {shared}"


FFN_NAMES = ("experts", "shared_expert", "shared_experts")


FILES_TEXT = """\
## Files of a fixture `<name>/`

| file | what |
|---|---|
| `config.json`, `generation_config.json` | the model's configuration as `save_pretrained` writes it; `generation_config.json` has the published chat model's token ids only (bos, eos — a list where the chat model stops at two tokens —, pad), none of its sampling defaults |
| `model.safetensors` or `model-0000i-of-0000n.safetensors` + `model.safetensors.index.json` | the weights, f32 (`deepseek_v3_fp8`: expert projections block fp8) |
| `tokenizer.json`, `tokenizer_config.json` (with `chat_template`), `special_tokens_map.json` | the fast tokenizer as 4.57.6's `save_pretrained` writes it (the Qwen ones also `vocab.json`, `merges.txt`, `added_tokens.json`, the slow tokenizer's files) |
| `expected_layer<L>.safetensors` | one MoE block: `input` [T,H] f32 (T = {tokens}, standard normal), `output` [T,H] f32, `topk_ids` [T,k] i64 and `topk_weights` [T,k] f32 sorted by descending weight (consecutive weights differ by more than {gap}), `output_bf16` [T,H] f32 (every weight of the block rounded to bf16 and back, computed in fp32; DeepSeek's `e_score_correction_bias` stays f32); inputs are drawn so that no routing decision is within {gap} of flipping |
| `expected_model.safetensors` | `prompt_ids` [T] i64 (a text encoded by the fixture's tokenizer, with BOS where the tokenizer adds one), `logits` [T,{vocab}] f32 (transformers' forward of the whole model over the prompt: fp32, eager attention, no cache), `generated_ids` [N] i64 (`generate(prompt, do_sample=False, max_new_tokens={new})`, N = {new}: no prompt hit EOS), and the same for a second prompt of another length: `prompt2_ids`, `logits2`, `generated2_ids` |
| `expected_tokenizer.json` | list of `{{"text", "add_special_tokens", "ids", "decoded", "tokens"}}`: `tokenizer(text, add_special_tokens=...)`, `decode(ids, skip_special_tokens=True)`, `convert_ids_to_tokens(ids)`; texts: plain, leading/inner/trailing spaces, accents, CJK, emoji (with a skin-tone modifier and a variation selector), digits, newlines/tabs/CRLF, spaces before punctuation, the empty string, and the family's special and added tokens inside text |
| `expected_chat.json` | list of `{{"messages", "add_generation_prompt", "text", "ids"}}` (+ `chat_template_kwargs` where the call passed some): `apply_chat_template(messages, add_generation_prompt=..., tokenize=False)` and `tokenize=True` (= the text encoded with `add_special_tokens=False`); system + user, user alone, multi-turn with an assistant reply, ending with a reply, each with and without the generation prompt; qwen3_moe also `enable_thinking=False` and assistant turns with `<think>` reasoning |

`<name>_v5/` holds the same model and tokenizer loaded and saved again by transformers {v5} (below); no expectations.
"""

TOKENIZER_TEXT = """\
## Tokenizers

Trained by `make_fixtures.py` with the `tokenizers` library ({tokenizers}) on `CORPUS` (eight short paragraphs: English,
digits and prices, accents, Japanese, emoji, code, a dialogue, chat markers), {size} tokens each including special
and added tokens; the models have {vocab} embedding rows, so ids {size}..{last} exist in the model and are never produced
by the tokenizer (as in real checkpoints). Pipelines, in `tokenizer.json`:

| family | normalizer | pre-tokenizer | model | decoder | post-processor (BOS) |
|---|---|---|---|---|---|
| mixtral (Llama/Mistral SentencePiece-style, as Mixtral-8x7B's `tokenizer.json`) | `Prepend("▁")`, `Replace(" ", "▁")` | none | BPE, `byte_fallback`, `fuse_unk`, `unk_token` `<unk>`; ids 3..258 are `<0x00>`..`<0xFF>`; characters seen once in the corpus are left out, so they go through byte fallback | `Replace("▁", " ")`, `ByteFallback`, `Fuse`, `Strip(" ", 1, 0)` | `TemplateProcessing` `<s> $A` |
| qwen2_moe, qwen3_moe (Qwen2 style) | `NFC` | `Split` with Qwen2's regex (isolated), `ByteLevel(add_prefix_space=false, use_regex=false)` | byte-level BPE | `ByteLevel` | `ByteLevel` (no BOS) |
| olmoe (GPT-NeoX style) | `NFC` | `ByteLevel(add_prefix_space=false, use_regex=true)` (GPT-2's regex) | byte-level BPE | `ByteLevel` | `TemplateProcessing` `$A` (no BOS) |
| deepseek_v3, deepseek_v3_q_proj | none | `ByteLevel(add_prefix_space=false, use_regex=true)` (DeepSeek-V3 has its own split regexes; GPT-2's here) | byte-level BPE | `ByteLevel` | `TemplateProcessing` `<｜begin▁of▁sentence｜> $A` |

Special tokens (`special: true`: `skip_special_tokens` drops them) and added tokens that are not special (decode keeps them):

{specials}

Layouts follow the published tokenizers where they are small: Mixtral `<unk>` `<s>` `</s>` 0-2 then the byte tokens;
DeepSeek-V3 BOS, EOS, `<｜▁pad▁｜>` 0-2 (its `pad_token` is EOS); Qwen's specials after the trained vocabulary, with
Qwen3's `<think>`, `<tool_call>`... as added tokens that are not special. olmoe uses GPT-NeoX's `<|endoftext|>` 0,
`<|padding|>` 1 (OLMoE's own tokenizer has `<|padding|>` 1, `<|endoftext|>` 50279 and PII placeholder tokens, left
out); its config.json has no BOS id (null, as OLMoE's), the tokenizer's `bos_token` `<|endoftext|>` is only what
the chat template writes first, and encode adds none.

Decoding: transformers' `decode(ids, skip_special_tokens=True)` drops special tokens, decodes the rest with the
`tokenizer.json` decoder, and, where `clean_up_tokenization_spaces` is true (olmoe only, as in OLMoE's
`tokenizer_config.json`), then replaces `" ."`, `" ?"`, `" !"`, `" ,"`, `" ' "`, `" n't"`, `" 'm"`, `" 's"`, `" 've"`,
`" 're"` by `"."`, `"?"`, `"!"`, `","`, `"'"`, `"n't"`, `"'m"`, `"'s"`, `"'ve"`, `"'re"` (see the `Hello , world !`
case). transformers 5.x ignores that flag for BPE tokenizers; the expected files follow 4.57.6.

Chat templates, verbatim in `tokenizer_config.json`:
- mixtral: Mixtral-8x7B-Instruct-v0.1's (Mistral's "v1" template: `<s>`, ` [INST] ... [/INST]`, the system message
  prepended to the first user message with a blank line, assistant replies ` ...</s>`, alternation enforced with
  `raise_exception`).
- qwen2_moe: Qwen1.5-MoE-A2.7B-Chat's ChatML (`<|im_start|>role\\n...<|im_end|>\\n`, the default system message
  `You are a helpful assistant` when the first message is not a system one).
- qwen3_moe: Qwen3-30B-A3B's (ChatML; tools; `reasoning_content` or `<think>...</think>` in assistant turns, kept only
  after the last user query; `enable_thinking=false` adds an empty think block to the generation prompt).
- olmoe: OLMoE-1B-7B-0924-Instruct's Tulu template (`{{{{ bos_token }}}}`, `<|system|>\\n`, `<|user|>\\n`,
  `<|assistant|>\\n`, replies end with `eos_token`, `\\n` between turns). `<|user|>` etc. are plain text here, not
  added tokens.
- deepseek_v3: DeepSeek-V3's (BOS, system prompts joined, `<｜User｜>`/`<｜Assistant｜>`, replies end with
  `<｜end▁of▁sentence｜>`, tool calls and outputs).

The texts were taken from public copies of those `tokenizer_config.json` files (the Mixtral one from llama.cpp's
template tests, where Mistral's v1 template with a system message is listed for Mistral-7B-Instruct-v0.2, which shares
Mixtral-8x7B-Instruct-v0.1's tokenizer; the Qwen1.5 one from several projects quoting Qwen1.5 chat models; Qwen3's from a
llama.cpp conversion log of a Qwen3 checkpoint; the Tulu one from projects quoting the OLMo/Tulu `tokenizer_config.json`;
DeepSeek-V3's from a model catalogue quoting deepseek-ai/DeepSeek-V3). They could not be compared with the Hugging Face
files themselves: a later revision of a published file may differ (Qwen1.5 and Qwen3 updated theirs at least once).
"""

MODEL_TEXT = """\
## The whole model (`expected_model.safetensors`; transformers 4.57.6, fp32, eager attention)

Notation: weights [out, in] as nn.Linear stores them, `W x` = `x @ W^T`; RMSNorm `n(x) = x / sqrt(mean(x^2) + eps) * w`
over the last dimension (fp32), eps = `rms_norm_eps`; positions p = 0, 1, ... from the start of the sequence.

    h = E[ids]                                  # model.embed_tokens.weight [V, H], no scaling
    for each layer l:
        h = h + Attn_l(n_in(h))                 # model.layers.l.input_layernorm
        h = h + Mlp_l(n_post(h))                # model.layers.l.post_attention_layernorm; MoE block or dense SwiGLU
    logits = W_lm n_f(h)                        # model.norm, lm_head.weight [V, H] (untied, no bias)

Dense SwiGLU (DeepSeek-V3 layers < `first_k_dense_replace`, Qwen dense layers): `W_down(silu(W_gate x) * W_up x)`,
tensors `model.layers.l.mlp.{{gate,up,down}}_proj.weight`, width `intermediate_size`. The MoE block is below.

**RoPE.** For a rotated width d (head_dim; MLA: `qk_rope_head_dim`), pair i < d/2 turns by the angle `p * inv_freq[i]`;
`cos` and `sin` are multiplied by `rope_scale` (YaRN's attention factor, 1 otherwise).
- default: `inv_freq[i] = rope_theta^(-2i/d)`.
- linear (qwen2_moe): `inv_freq[i] = rope_theta^(-2i/d) / factor`.
- yarn (qwen3_moe, deepseek_v3): with `orig = original_max_position_embeddings`, `beta_fast` (default 32),
  `beta_slow` (default 1): `low = floor(d ln(orig / (beta_fast 2 pi)) / (2 ln rope_theta))`,
  `high = ceil(d ln(orig / (beta_slow 2 pi)) / (2 ln rope_theta))`, clamped to [0, d-1] (`high += 0.001` if equal);
  `ramp[i] = clamp((i - low) / (high - low), 0, 1)`; `inv_freq[i] = rope_theta^(-2i/d) * (ramp[i] / factor + 1 - ramp[i])`.
  `rope_scale = m(factor, mscale) / m(factor, mscale_all_dim)` when both are set (DeepSeek: 1), else `m(factor, 1)`,
  with `m(s, k) = 0.1 k ln(s) + 1` (1 if s <= 1).
- rotate_half (all GQA models; DeepSeek with `rope_interleave` false): x[i] pairs with x[i + d/2]:
  `y[i] = x[i] cos - x[i + d/2] sin`, `y[i + d/2] = x[i + d/2] cos + x[i] sin`.
- interleaved (DeepSeek with `rope_interleave` true): x[2i] pairs with x[2i+1]: `y[2i] = x[2i] cos - x[2i+1] sin`,
  `y[2i+1] = x[2i+1] cos + x[2i] sin`. (transformers first permutes each vector to (x0, x2, ..., x1, x3, ...) and
  then applies rotate_half, so its cached keys are in that order; q.k is the same.)

Values in these fixtures (`inv_freq` of layer 0, `rope_scale`, softmax scale):

{rope}

**GQA attention** (mixtral, qwen2_moe, qwen3_moe, olmoe): heads `num_attention_heads`, kv heads `num_key_value_heads`,
`head_dim` (olmoe: hidden / heads); tensors `model.layers.l.self_attn.{{q,k,v,o}}_proj.weight` (+ `.bias` of q, k, v in
qwen2_moe: `qkv_bias`, none on o).
1. `q = W_q x (+ b_q)`, `k = W_k x (+ b_k)`, `v = W_v x (+ b_v)`.
2. qwen3_moe: q and k split into heads, each head RMSNorm'd over head_dim with `q_norm.weight` / `k_norm.weight`
   [head_dim] (eps `rms_norm_eps`). olmoe: q RMSNorm'd over its whole width (heads * head_dim) with `q_norm.weight`,
   k over kv_heads * head_dim with `k_norm.weight`, before splitting into heads; then q, k and v are each clamped to
   [-`clip_qkv`, `clip_qkv`] (after the norms).
3. RoPE (rotate_half) on every q and k head.
4. query head j uses kv head `j / (heads / kv_heads)`; `s[p, t] = softmax_scale * q_p . k_t` with softmax_scale =
   head_dim^-0.5, over keys t <= p, and t > p - `sliding_window` where the model has one (mixtral: 16, so the window
   acts inside both prompts and during generation; qwen `use_sliding_window` is false); softmax in fp32;
   `o_p = sum_t a[p, t] v_t`.
5. `y = W_o concat(heads)`.

**MLA** (deepseek_v3, deepseek_v3_q_proj): nope = `qk_nope_head_dim`, rope = `qk_rope_head_dim`, vd = `v_head_dim`,
c = `kv_lora_rank`; tensors under `model.layers.l.self_attn.`.
1. `q = W_qb n_qa(W_qa x)` (`q_a_proj` [q_lora_rank, H], `q_a_layernorm`, `q_b_proj` [heads (nope + rope), q_lora_rank]),
   or `q = W_q x` (`q_proj`) when `q_lora_rank` is null (deepseek_v3_q_proj); per head `q = [q_nope (nope), q_pe (rope)]`.
2. `[c_kv (c), k_pe (rope)] = W_kva x` (`kv_a_proj_with_mqa` [c + rope, H]); k_pe is one vector shared by all heads.
3. `[k_nope (nope), v (vd)]` per head `= W_kvb n_kva(c_kv)` (`kv_a_layernorm` [c], `kv_b_proj` [heads (nope + vd), c]).
4. RoPE on q_pe and k_pe (interleaved or rotate_half by `rope_interleave`).
5. `s = softmax_scale * ([q_nope, q_pe] . [k_nope, k_pe])`, softmax_scale = (nope + rope)^-0.5, times `m(factor,
   mscale_all_dim)^2` when `rope_scaling` has `mscale_all_dim` (deepseek_v3: 1.1386^2); causal; softmax fp32;
   `o = sum a v` (vd per head); `y = W_o concat(heads)` (`o_proj` [H, heads vd]). A cache may hold n_kva(c_kv) and
   the rotated k_pe (c + rope floats per position) and expand k_nope and v from them.

`attention_bias` is false in every fixture but qwen2_moe's q/k/v. Norm weights and biases are random (transformers
initialises them to 1 and 0), so a skipped or misplaced one shows.

**Prompts and margins.** The prompts are the first candidates in `PROMPTS` (make_fixtures.py) with 12..40 tokens
(the second of another length) whose greedy continuation runs all {new} steps with every step's top-1 logit ahead of
the top-2 by at least {margin} of that step's max |logit|, both in generate's logits (KV cache) and in a recomputation of
prompt + continuation without the cache, which picks the same tokens (asserted). Switching off each attention feature
(recomputing prompt + continuation) moves the logits by the given fraction of their max |logit| (asserted > {effect}).

{prompts}
"""


READING_TEXT = """\
## What a reader of these files must handle

config.json (4.57.6's spelling; `->` what 5.x writes instead, see the last section):
- every family: `vocab_size`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`,
  `rms_norm_eps`, `max_position_embeddings`, `tie_word_embeddings` (false here), `bos_token_id`, `eos_token_id`,
  `pad_token_id` (each may be null or absent), `rope_theta` and `rope_scaling` (null, or an object with `rope_type` —
  DeepSeek-V3's config spells it `type`, and 4.57.6 writes both — and that type's parameters) -> one
  `rope_parameters` object holding `rope_theta` and `rope_type` (`default` when unscaled) and the parameters.
- attention head width: `head_dim` where the config has it (mixtral, qwen3_moe), else hidden_size /
  num_attention_heads (qwen2_moe, olmoe). DeepSeek-V3's `head_dim` is `qk_rope_head_dim`, the rotated width.
- mixtral: `sliding_window` (null: none).
- qwen2_moe: `qkv_bias` (q, k and v have biases, o none); `use_sliding_window` false, so `sliding_window` and
  `max_window_layers` do not apply -> 5.x also writes `layer_types` (all `full_attention`) and `sliding_window` 0.
- qwen3_moe: `attention_bias`; q/k norms always; `num_experts` -> `num_local_experts` (worker-runtime's MoeConfig
  reads `num_experts` and would take its default of 128 for a 5.x-written Qwen3-MoE config).
- olmoe: `clip_qkv` (null: none), `attention_bias`; q/k norms always.
- deepseek_v3: `q_lora_rank` (null: `q_proj`), `kv_lora_rank`, `qk_nope_head_dim`, `qk_rope_head_dim`, `v_head_dim`,
  `rope_interleave`, `attention_bias`; `rope_scaling.mscale_all_dim` also scales the softmax -> 5.x adds
  `num_nextn_predict_layers` 1 (the multi-token-prediction layer, whose weights no fixture has: ignore it).
- generation_config.json: `eos_token_id` is an int or a list (Qwen chat models stop at either token).

Tokenizer files: take the pipeline and every added token (id, `special`, `normalized`, `lstrip`/`rstrip`) from
`tokenizer.json`; from `tokenizer_config.json` `chat_template`, the role names `bos_token`, `eos_token`, `pad_token`,
`unk_token` (a string or null) that the template and the API use, and `clean_up_tokenization_spaces`. 5.x writes the
template to `chat_template.jinja` instead, the special-token list as `extra_special_tokens`, no
`added_tokens_decoder` and no `add_bos_token` (the BOS comes from `tokenizer.json`'s post-processor in both).

Weights: transformers 5.23.0 writes the same tensor names, shapes, dtypes and values as 4.57.6, in one
`model.safetensors` without an index where 4.57.6 sharded them. In memory 5.x fuses each MoE layer's experts into
`model.layers.L.mlp.experts.gate_up_proj` [E, 2I, H] (gate rows, then up rows) and `...experts.down_proj` [E, H, I],
Mixtral's `block_sparse_moe` becoming `mlp`, but converts back to the per-expert names when it saves.
"""


def specials_table():
    rows = ["| family | special (id) | added, not special (id) | BOS added by encode | config bos / eos / pad | generation_config eos |",
            "|---|---|---|---|---|---|"]
    for family in ("mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3"):
        d = FIXTURES / family
        tok_json = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
        special = ", ".join(f"`{t['content']}` {t['id']}" for t in tok_json["added_tokens"] if t["special"])
        plain = ", ".join(f"`{t['content']}` {t['id']}" for t in tok_json["added_tokens"] if not t["special"]) or "-"
        cfg = json.loads((d / "config.json").read_text())
        gen = json.loads((d / "generation_config.json").read_text())
        tc = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
        ids = " / ".join(str(cfg.get(k)) for k in ("bos_token_id", "eos_token_id", "pad_token_id"))
        rows.append(f"| {family} | {special} | {plain} | {'yes' if tc.get('add_bos_token') else 'no'} | {ids} | "
                    f"{gen.get('eos_token_id')} |")
    return "\n".join(rows)


def rope_table(facts):
    rows = ["| fixture | rope | inv_freq | rope_scale | softmax scale |", "|---|---|---|---|---|"]
    for name, f in facts.items():
        cfg = json.loads((FIXTURES / name / "config.json").read_text())
        scaling = cfg.get("rope_scaling") or {}
        kind = scaling.get("rope_type", "default")
        rows.append(f"| {name} | {kind}, theta {cfg['rope_theta']:g}{', interleaved' if cfg.get('rope_interleave') else ''} | "
                    f"{', '.join(f'{v:.6g}' for v in f['inv_freq'])} | {f['rope_scale']:.6g} | {f['softmax_scale']:.6g} |")
    return "\n".join(rows)


def prompts_table(facts):
    rows = ["| fixture | prompt (T tokens, N generated, min margin) | second prompt | features switched off: effect |",
            "|---|---|---|---|"]
    for name, f in facts.items():
        cells = [f"{json.dumps(p['text'], ensure_ascii=False)} (T {p['tokens']}, N {p['generated']}, {p['margin']:.2g})"
                 for p in f["prompts"]]
        effects = "; ".join(f"{what}: {effect:.2f}" for what, effect in f["features"].items())
        if "clipped" in f:
            effects += "; clip_qkv cuts " + ", ".join(f"{c:.0%}" for c in f["clipped"]) + " of q, k, v (layer 0, 1)"
        rows.append(f"| {name} | {cells[0]} | {cells[1]} | {effects} |")
    return "\n".join(rows)


def v5_text(report, differences):
    lines = [
        f"## transformers {report['transformers']} copies (`<name>_v5/`)",
        "",
        f"`resave_v5.py`, run by make_fixtures.py with a transformers {report['transformers']} Python "
        f"(torch {report['torch']}; `$REFVENV5_PYTHON`, default /opt/refvenv5/bin/python), loads each fixture with "
        "5.x's `AutoModelForCausalLM` (fp32, eager) and `AutoTokenizer`, saves both with 5.x's `save_pretrained` into "
        "`<name>_v5/`, loads that copy again and compares it with the 4.57.6 expectations. 4.57.6 made every expected "
        "value; 5.x only re-saves. `deepseek_v3_fp8` has no copy: 5.x loads block-fp8 only through its FineGrainedFP8 "
        "quantizer, which needs `accelerate` (not in the reference environments).",
        "",
        "| fixture | logits vs expected_model (max abs diff / max abs) | greedy generate continues both prompts the same | "
        "tokenizer class 5.x loads | tokenizer or chat differences from the 4.57.6 expectations |",
        "|---|---|---|---|---|",
    ]
    for name in differences:
        r = report[name]
        diffs = "; ".join(json.dumps(d, ensure_ascii=False) for d in r["tokenizer_differences"]) or "none"
        lines.append(f"| {name} | {r['logits_max_relative_difference']:.2g} | "
                     f"{'yes' if r['same_greedy_continuations'] else '**no**'} | {r['tokenizer_class']} | {diffs} |")
    lines += ["", "Every copy gives the same logits within 1e-5 relative (asserted). What 5.x writes differently, "
              "per file (`transformers_version` aside; `(...)` = a long value):", ""]
    for name, diff in differences.items():
        lines.append(f"- **{name}_v5**: files only in 4.57.6's `{', '.join(diff['files_only_4.57']) or '-'}`; "
                     f"only in 5.x's `{', '.join(diff['files_only_5.x']) or '-'}`.")
        for file in ("config.json", "generation_config.json", "tokenizer_config.json", "tokenizer.json model"):
            d = diff[file]
            parts = [f"{what} {json.dumps(d[what], ensure_ascii=False)}" for what in ("removed", "added", "changed")
                     if d[what]]
            lines.append(f"  - `{file}`: {'; '.join(parts) if parts else 'same'}")
        other = diff["tokenizer.json"]
        lines.append("  - `tokenizer.json` other fields: " + ("; ".join(
            f"`{k}` {json.dumps(v[0], ensure_ascii=False)} -> {json.dumps(v[1], ensure_ascii=False)}"
            for k, v in other.items()) or "same") + f"; vocab and merges {'same' if diff['same vocab and merges'] else '**differ**'}")
        t = diff["tensors"]
        lines.append(f"  - weights: tensors only in 4.57.6 {t['only_4.57'] or 'none'}, only in 5.x {t['only_5.x'] or 'none'}, "
                     f"shape or dtype changed {t['shape_or_dtype_changed'] or 'none'}; values "
                     f"{'bit-identical' if t['values_identical'] else '**differ**'}")
    return "\n".join(lines)


def write_readme(made, facts, report, differences):
    lines = [
        "# worker-runtime reference fixtures",
        "",
        "Made by `worker-runtime/scripts/make_fixtures.py` (see its header to rerun) with torch "
        f"{torch.__version__.split('+')[0]}, transformers {transformers.__version__} and tokenizers "
        f"{tokenizers.__version__}, on CPU, fp32; the `<name>_v5/` copies with transformers {report['transformers']} "
        "(`resave_v5.py`). Each directory is a tiny random checkpoint written by transformers' `save_pretrained` "
        "(deepseek_v3_fp8: requantised by the script) with its tokenizer and transformers' outputs. Every run writes "
        "the same bytes.",
        "",
        FILES_TEXT.format(tokens=TOKENS, gap=MIN_GAP, vocab=VOCAB_SIZE, new=MAX_NEW_TOKENS, v5=report["transformers"]),
        "## Fixtures",
        "",
        "Columns bf16 (a) and (b): max abs difference / max abs(`output`) between `output_bf16` and (a) `output`, "
        "(b) the block with only the expert FFN weights rounded (router and Qwen's shared gate f32), i.e. what "
        "tolerance a bf16 comparison of the MoE block needs.",
        "",
        "| fixture | class | MoE shapes | layers | MoE layer L | attention | files | bf16 (a) | bf16 (b) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, cls, layer in made:
        d = FIXTURES / name
        cfg = json.loads((d / "config.json").read_text())
        exp = load_file(d / f"expected_layer{layer}.safetensors")
        scale = exp["output"].abs().max().item()
        rel = (exp["output_bf16"] - exp["output"]).abs().max().item() / scale
        t = {n: v.to(torch.bfloat16).to(torch.float32) if any(f".{e}." in n for e in FFN_NAMES) else v
             for n, v in load_checkpoint(d).items()}
        experts_only = spec_moe_block(cfg, t, layer, exp["input"])[0]
        rel_experts = (experts_only - exp["output_bf16"].double()).abs().max().item() / scale
        shards = sorted(p.name for p in d.glob("model*.safetensors"))
        files = f"sharded, {len(shards)} files + index" if len(shards) > 1 else "model.safetensors"
        files += f", {sum(p.stat().st_size for p in d.iterdir()) / 1e6:.2f} MB"
        dense = [l for l in range(cfg["num_hidden_layers"]) if not is_moe_layer(cfg, l)]
        layers = f"{cfg['num_hidden_layers']}" + (f" (dense: {dense})" if dense else "")
        lines.append(f"| `{name}` | {cls} | {shapes(cfg)} | {layers} | {layer} | {attention(cfg)} | {files} | "
                     f"{rel:.1e} | {rel_experts:.1e} |")
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md")
    lines += [
        "",
        f"All fixtures together, with the `_v5` copies: {total / 1e6:.1f} MB.",
        "",
        "`deepseek_v3_fp8` is `deepseek_v3` with its routed and shared expert projections stored as block fp8 "
        "and DeepSeek-V3's `quantization_config` in config.json; the other tensors are the same f32 ones. "
        "Its expected outputs come from transformers' block holding the dequantised weights; its input and "
        "routing equal `deepseek_v3`'s (the router is not quantised). It has no tokenizer or whole-model "
        "expectations (they would be deepseek_v3's with dequantised experts).",
        "",
        TOKENIZER_TEXT.format(tokenizers=tokenizers.__version__, size=TOKENIZER_SIZE, vocab=VOCAB_SIZE,
                              last=VOCAB_SIZE - 1, specials=specials_table()),
        MODEL_TEXT.format(rope=rope_table(facts), new=MAX_NEW_TOKENS, margin=MIN_MARGIN, effect=FEATURE_EFFECT,
                          prompts=prompts_table(facts)),
        SPEC_TEXT,
        READING_TEXT,
        v5_text(report, differences),
        "",
    ]
    (FIXTURES / "README.md").write_text("\n".join(lines), encoding="utf-8")


def attention(cfg):
    arch = cfg["model_type"]
    if arch == "deepseek_v3":
        q = f"q_lora {cfg['q_lora_rank']}" if cfg.get("q_lora_rank") else "q_proj"
        kind = (cfg.get("rope_scaling") or {}).get("rope_type", "default")
        return (f"MLA, {cfg['num_attention_heads']} heads, {q}, kv_lora {cfg['kv_lora_rank']}, nope "
                f"{cfg['qk_nope_head_dim']} + rope {cfg['qk_rope_head_dim']}, v {cfg['v_head_dim']}, rope {kind}"
                f"{', interleaved' if cfg.get('rope_interleave') else ''}")
    heads = f"GQA {cfg['num_attention_heads']}/{cfg['num_key_value_heads']} heads"
    extra = {"mixtral": f"sliding window {cfg.get('sliding_window')}",
             "qwen2_moe": "q/k/v biases, rope linear x2",
             "qwen3_moe": "per-head q/k norms, rope yarn x4",
             "olmoe": f"whole q/k norms, clip_qkv {cfg.get('clip_qkv')}"}[arch]
    return f"{heads}, {extra}"


def main():
    found = (torch.__version__.split("+")[0], transformers.__version__, tokenizers.__version__)
    if found != (TORCH_VERSION, TRANSFORMERS_VERSION, TOKENIZERS_VERSION):
        sys.exit(f"needs torch=={TORCH_VERSION} transformers=={TRANSFORMERS_VERSION} tokenizers=={TOKENIZERS_VERSION} "
                 f"(the fixtures record their versions), found {found}")
    v5_python()  # before the long part
    torch.use_deterministic_algorithms(True)
    made, facts = [], {}
    for fx in fixtures():
        model, x, facts[fx.name] = make(fx)
        made.append((fx.name, fx.model_class.__name__, fx.layer))
        if fx.name == "deepseek_v3":
            make_deepseek_fp8(model, fx.layer, x)
            made.append(("deepseek_v3_fp8", "DeepseekV3ForCausalLM (block fp8)", fx.layer))
    report = make_v5(list(facts))
    write_readme(made, facts, report, {name: v5_differences(name) for name in facts})
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"wrote {len(made)} fixtures and their transformers {report['transformers']} copies to {FIXTURES} "
          f"({total / 1e6:.2f} MB), all verified")


if __name__ == "__main__":
    main()

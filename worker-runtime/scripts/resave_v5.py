#!/usr/bin/env python3
"""The fixtures as transformers 5.x writes them: make_fixtures.py runs this with a transformers 5.x Python
(/opt/refvenv5/bin/python, torch 2.15.0 + transformers 5.23.0) as

    resave_v5.py FIXTURES_DIR NAME...

For each NAME it loads FIXTURES_DIR/NAME (written by transformers 4.57.6) with 5.x's Auto classes, saves model
(config.json, weights, generation_config.json) and tokenizer with 5.x's save_pretrained into FIXTURES_DIR/NAME_v5,
loads that copy again and checks it against NAME's expectations, which 4.57.6 made:
- logits of both prompts within MAX_RELATIVE of expected_model.safetensors (asserted), and whether 5.x's greedy
  generate continues them the same way;
- expected_tokenizer.json ids and decodes and expected_chat.json texts and ids (differences reported, since 5.x
  is allowed to tokenize differently and the fixtures README says where it does).
It prints one JSON object: per fixture, the logits' max relative difference and the tokenizer differences.
"""

import json
import shutil
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

TRANSFORMERS_MAJOR = "5."
MAX_RELATIVE = 1e-5


def load(directory):
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager")
    return model.eval(), AutoTokenizer.from_pretrained(directory)


@torch.no_grad()
def logits_difference(model, expected):
    worst = 0.0
    for suffix in ("", "2"):
        want = expected[f"logits{suffix}"]
        got = model(expected[f"prompt{suffix}_ids"][None], use_cache=False).logits[0].float()
        worst = max(worst, ((got - want).abs().max() / want.abs().max()).item())
    return worst


@torch.no_grad()
def same_continuations(model, expected):
    """5.x's greedy generate (with its KV cache) continues both prompts as 4.57.6 did."""
    for suffix in ("", "2"):
        prompt, want = expected[f"prompt{suffix}_ids"], expected[f"generated{suffix}_ids"]
        out = model.generate(prompt[None], attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                             do_sample=False, max_new_tokens=len(want))
        if not torch.equal(out[0, len(prompt):], want):
            return False
    return True


def tokenizer_differences(tok, source):
    differences = []
    for case in json.loads((source / "expected_tokenizer.json").read_text(encoding="utf-8")):
        ids = tok(case["text"], add_special_tokens=case["add_special_tokens"])["input_ids"]
        if ids != case["ids"]:
            differences.append({"text": case["text"], "add_special_tokens": case["add_special_tokens"],
                                "what": "ids", "v5": ids})
        decoded = tok.decode(case["ids"], skip_special_tokens=True)
        if decoded != case["decoded"] and not any(d["text"] == case["text"] and d["what"] == "decoded"
                                                  for d in differences):
            differences.append({"text": case["text"], "what": "decoded", "v5": decoded})
    for i, case in enumerate(json.loads((source / "expected_chat.json").read_text(encoding="utf-8"))):
        kwargs = dict(add_generation_prompt=case["add_generation_prompt"], **case.get("chat_template_kwargs", {}))
        text = tok.apply_chat_template(case["messages"], tokenize=False, **kwargs)
        ids = tok.apply_chat_template(case["messages"], tokenize=True, return_dict=False, **kwargs)
        if text != case["text"] or list(ids) != case["ids"]:
            differences.append({"chat": i, "what": "text" if text != case["text"] else "ids"})
    return differences


def main():
    if not transformers.__version__.startswith(TRANSFORMERS_MAJOR):
        sys.exit(f"resave_v5.py needs transformers 5.x, found {transformers.__version__}")
    fixtures, names = Path(sys.argv[1]), sys.argv[2:]
    report = {"torch": torch.__version__.split("+")[0], "transformers": transformers.__version__}
    for name in names:
        source, target = fixtures / name, fixtures / f"{name}_v5"
        shutil.rmtree(target, ignore_errors=True)
        model, tok = load(source)
        model.save_pretrained(target)
        tok.save_pretrained(target)
        model, tok = load(target)
        expected = load_file(source / "expected_model.safetensors")
        difference = logits_difference(model, expected)
        if difference > MAX_RELATIVE:
            raise AssertionError(f"{name}_v5: logits differ from 4.57.6's by {difference:.3g} of their max")
        report[name] = {"logits_max_relative_difference": difference,
                        "same_greedy_continuations": same_continuations(model, expected),
                        "tokenizer_class": type(tok).__name__,
                        "tokenizer_differences": tokenizer_differences(tok, source)}
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()

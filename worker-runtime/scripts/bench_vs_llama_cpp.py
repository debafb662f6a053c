#!/usr/bin/env python3
"""The arithmetic and the table of bench-vs-llama-cpp (standard library only).

    bench_vs_llama_cpp.py bytes-per-token CONFIG.json
        The weight bytes one decoded token reads, by part, from a transformers config.json.
    bench_vs_llama_cpp.py report --run DIR --config CONFIG.json --threads N --concurrency 1,16 ...
        The side-by-side table from the raw outputs bench-vs-llama-cpp left in DIR.
"""

import argparse
import json
import re
import struct
import sys
from pathlib import Path

PROG = "bench-vs-llama-cpp"
# Both engines run f32 weights: the GGUF is converted f32 and serve's default --dtype is fp32.
BYTES_PER_WEIGHT = 4
# The targets: ours / llama.cpp output tokens/s at one stream and at the most streams.
TARGET_ONE_STREAM = 0.8
TARGET_MOST_STREAMS = 1.0


def fail(message: str):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def weights_per_token(cfg: dict) -> dict:
    """Weights one decoded token reads, by part: every layer's attention (with its norms) and router,
    the experts it is routed to (plus a shared expert, or a dense MLP in a dense layer), the final norm,
    the LM head, one embedding row. KV-cache reads are not counted (at a 200-token context, under 2%)."""
    kind = cfg.get("model_type")
    if kind not in ("qwen3_moe", "qwen2_moe", "mixtral", "olmoe"):
        fail(f"bytes per token are known for qwen3_moe, qwen2_moe, mixtral and olmoe, not '{kind}'")
    try:
        h = cfg["hidden_size"]
        layers = cfg["num_hidden_layers"]
        heads = cfg["num_attention_heads"]
        kv = cfg.get("num_key_value_heads") or heads
        hd = cfg.get("head_dim") or h // heads
        # transformers 5.x names num_experts num_local_experts, as Mixtral always has
        experts = cfg["num_local_experts"] if "num_local_experts" in cfg else cfg["num_experts"]
        k = cfg["num_experts_per_tok"]
        expert_inter = cfg["intermediate_size"] if kind in ("mixtral", "olmoe") else cfg["moe_intermediate_size"]
        vocab = cfg["vocab_size"]
    except KeyError as e:
        fail(f"config.json has no {e.args[0]}")
    q, kvd = heads * hd, kv * hd
    attention = h * q + 2 * h * kvd + q * h + 2 * h  # q, k, v, o; input and post-attention norms
    if kind == "qwen2_moe" or cfg.get("attention_bias"):
        attention += q + 2 * kvd
    if kind == "qwen3_moe":
        attention += 2 * hd  # q_norm, k_norm over a head
    if kind == "olmoe":
        attention += q + kvd  # q_norm, k_norm over all heads
    ffn = 3 * h * expert_inter
    moe_layers = layers
    if kind in ("qwen3_moe", "qwen2_moe"):
        step, dense_only = cfg.get("decoder_sparse_step", 1), set(cfg.get("mlp_only_layers") or [])
        moe_layers = sum(1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0)
    parts = {
        "attention": layers * attention,
        "routers": moe_layers * experts * h,
        f"{k} of {experts} experts": moe_layers * k * ffn,
    }
    if kind == "qwen2_moe":
        parts["shared experts"] = moe_layers * (3 * h * cfg["shared_expert_intermediate_size"] + h)
    if moe_layers < layers:
        parts["dense MLPs"] = (layers - moe_layers) * 3 * h * cfg["intermediate_size"]
    parts["LM head"] = vocab * h
    parts["final norm, embedding row"] = 2 * h
    return {name: n * BYTES_PER_WEIGHT for name, n in parts.items()}


def checkpoint_bytes(directory: Path) -> int:
    """Bytes of all tensors in the checkpoint's safetensors files, from their headers."""
    sizes = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
             "I8": 1, "U8": 1, "BOOL": 1}
    total = 0
    for f in sorted(directory.glob("model*.safetensors")):
        with f.open("rb") as fh:
            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        for name, t in header.items():
            if name != "__metadata__":
                n = sizes.get(t["dtype"], 0)
                for d in t["shape"]:
                    n *= d
                total += n
    return total


def serving_tokens_per_s(run: Path, engine: str) -> dict:
    """Output tokens/s per concurrency level from bench-serving's printouts, one file per level: a table
    whose header names a concurrency column and an output tok/s column (columns two or more spaces
    apart), or lines that carry both `concurrency N` and `X tok/s`."""
    found = {}
    for path in sorted(run.glob(f"serving-{engine}-*.txt")):
        lines = path.read_text().splitlines()
        before = len(found)
        for i, line in enumerate(lines):
            cols = [c.strip().lower() for c in re.split(r"\s{2,}|\t|\|", line.strip()) if c.strip()]
            conc = [j for j, c in enumerate(cols) if re.fullmatch(r"(concurrency|streams|conc)", c)]
            rate = [j for j, c in enumerate(cols) if re.search(r"tok(en)?s?/s", c)]
            if conc and rate:
                rate = [j for j in rate if "output" in cols[j]] or rate
                for row in lines[i + 1:]:
                    cells = [c for c in re.split(r"\s+|\|", row.strip()) if c]
                    if len(cells) == len(cols) and re.fullmatch(r"\d+", cells[conc[0]]):
                        found[int(cells[conc[0]])] = float(cells[rate[0]])
        if len(found) == before:
            for line in lines:
                c = re.search(r"concurrency\D{0,3}(\d+)", line, re.I)
                r = re.findall(r"(\d+(?:\.\d+)?)\s*(?:output\s+)?tok(?:en)?s?/s", line, re.I)
                if c and r:
                    found[int(c.group(1))] = float(r[-1])
        if len(found) == before:
            fail(f"no output tokens/s per concurrency level found in {path}: expected a table with a "
                 "'concurrency' column and an 'output tok/s' column")
    return found


def read_bandwidth(path: Path) -> tuple[float, str]:
    m = re.search(r"^read bandwidth \(([^)]*)\): ([\d.]+) GB/s", path.read_text(), re.M)
    if not m:
        fail(f"no 'read bandwidth (...): X GB/s' line in {path}")
    return float(m.group(2)), m.group(1)


def llama_bench(run: Path, gen: int):
    """llama-bench's figures as text, and its decode tokens/s; None when it did not run."""
    path = run / "llama-bench.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text())
    figure = {}
    for r in rows:
        test = f"pp{r['n_prompt']}" if r["n_gen"] == 0 else f"tg{r['n_gen']}"
        figure[test] = (r["avg_ts"], r["stddev_ts"])
    return ", ".join(f"{t} {m:.1f} ± {s:.1f}" for t, (m, s) in figure.items()), figure.get(f"tg{gen}", (0, 0))[0]


def batched_bench(run: Path) -> dict:
    path = run / "llama-batched-bench.jsonl"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            if "pl" in r and "speed_tg" in r:
                out[int(r["pl"])] = float(r["speed_tg"])
    return out


def report(a):
    cfg_path = Path(a.config)
    cfg = json.loads(cfg_path.read_text())
    parts = weights_per_token(cfg)
    per_token = sum(parts.values())
    levels = [int(x) for x in a.concurrency.split(",")]
    run = Path(a.run)
    llama = serving_tokens_per_s(run, "llama.cpp")
    ours = serving_tokens_per_s(run, "ours")
    bandwidth, source = read_bandwidth(run / "bench-kernels.txt")

    print(f"Decode speed, our engine (serve --api) against llama.cpp's llama-server: {cfg['model_type']}, "
          f"{checkpoint_bytes(cfg_path.parent) / 1e6:.0f} MB of f32 weights, {a.threads} threads, "
          f"{a.prompt_tokens}-token prompts, {a.max_tokens} output tokens per request")
    print()
    print("output tokens/s (bench-serving, streamed /v1/completions, ignore_eos)")
    print(f"{'streams':>8} {'llama.cpp':>10} {'ours':>10} {'ours/llama.cpp':>15} {'target':>8}")
    fmt = lambda v, f: f.format(v) if v is not None else "-"
    for n in levels:
        l, o = llama.get(n), ours.get(n)
        ratio = o / l if l and o is not None else None
        target = TARGET_ONE_STREAM if n == 1 else TARGET_MOST_STREAMS if n == max(levels) else None
        verdict = "" if ratio is None or target is None else "  met" if ratio >= target else "  NOT met"
        print(f"{n:>8} {fmt(l, '{:.1f}'):>10} {fmt(o, '{:.1f}'):>10} {fmt(ratio, '{:.2f}x'):>15} "
              f"{fmt(target, '>= {:.1f}x'):>8}{verdict}")

    own = llama_bench(run, a.max_tokens)
    batched = batched_bench(run)
    if own or batched:
        print()
        print("llama.cpp's own tools, tokens/s:")
        if own:
            print(f"  llama-bench -t {a.threads}: {own[0]}")
        if batched:
            print(f"  llama-batched-bench -t {a.threads}, decode: "
                  + ", ".join(f"{batched[n]:.1f} at {n} stream{'s' if n > 1 else ''}" for n in sorted(batched)))

    cpu = run / "cpu.txt"
    if cpu.exists():
        print()
        print("CPU during each bench-serving run, % of all cores; on few cores other work slows an engine many"
              " times over:")
        for line in cpu.read_text().splitlines():
            engine, level, total, busy, server, client = line.split()
            share = lambda ticks: 100 * int(ticks) / max(1, int(total))
            other = share(busy) - share(server) - share(client)
            streams = f"{level} stream{'s' if int(level) > 1 else ''}"
            print(f"  {engine:>9}, {streams:>10}: server {share(server):3.0f}%, client {share(client):3.0f}%,"
                  f" other work {max(0.0, other):3.0f}%{'  (disturbed)' if other > 10 else ''}")

    print()
    print(f"weights read per decoded token: {per_token / 1e6:.2f} MB ("
          + ", ".join(f"{name} {b / 1e6:.2f}" for name, b in parts.items()) + ")")
    print(f"read bandwidth: {bandwidth:.1f} GB/s ({source})")
    print("decode bandwidth at one stream (bytes per token x tokens/s / read bandwidth):")
    rows = [("llama.cpp, llama-server", llama.get(1)), ("ours, serve", ours.get(1))]
    if own:
        rows.append((f"llama.cpp, llama-bench tg{a.max_tokens}", own[1]))
    for name, tps in rows:
        if tps:
            gbs = per_token * tps / 1e9
            print(f"  {name:<26} {tps:8.1f} tokens/s  {gbs:6.1f} GB/s  {100 * gbs / bandwidth:5.0f}%")
        else:
            print(f"  {name:<26} not measured")


def main():
    parser = argparse.ArgumentParser(prog="bench_vs_llama_cpp.py")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bytes-per-token")
    b.add_argument("config")
    r = sub.add_parser("report")
    r.add_argument("--run", required=True)
    r.add_argument("--config", required=True)
    r.add_argument("--threads", type=int, required=True)
    r.add_argument("--concurrency", required=True)
    r.add_argument("--prompt-tokens", type=int, required=True)
    r.add_argument("--max-tokens", type=int, required=True)
    a = parser.parse_args()
    if a.command == "bytes-per-token":
        try:
            cfg = json.loads(Path(a.config).read_text())
        except (OSError, ValueError) as e:
            fail(f"cannot read {a.config}: {e}")
        parts = weights_per_token(cfg)
        for name, n in parts.items():
            print(f"{name}: {n} bytes")
        print(f"total: {sum(parts.values())} bytes")
    else:
        report(a)


if __name__ == "__main__":
    main()

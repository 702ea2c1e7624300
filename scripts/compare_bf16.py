#!/usr/bin/env python3
"""Compares the f32 and bf16 runs of pipelines/bf16-check.toml and prints a Markdown table.

Usage: python3 scripts/compare_bf16.py [RUN_DIR]   (default runs/bf16-check)

- general distillation: the loss at the last logged step and the largest relative difference
  over the logged curve (metrics.jsonl);
- prediction-layer distillation: the dev score and how many dev examples it amounts to;
- augmentation: the share of candidate positions whose MLM candidate lists are identical (and
  whose best candidate is), and the share of identical augmented rows.
"""
import json
import sys
from pathlib import Path


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main():
    run = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bf16-check")
    rows = []

    curves = {d: {r["step"]: r["loss"] for r in jsonl(run / "general" / d / "metrics.jsonl")} for d in ("f32", "bf16")}
    steps = sorted(set(curves["f32"]) & set(curves["bf16"]))
    last = steps[-1]
    f, b = curves["f32"][last], curves["bf16"][last]
    worst = max(abs(curves["bf16"][s] - curves["f32"][s]) / abs(curves["f32"][s]) for s in steps)
    rows.append((f"general distillation, loss at step {last}", f"{f:.5f}", f"{b:.5f}",
                 f"{abs(b - f) / abs(f):.2%} (largest over {len(steps)} logged steps: {worst:.2%})"))

    dev = {d: json.loads((run / "td-pred" / d / "summary.json").read_text()) for d in ("f32", "bf16")}
    n = sum(1 for _ in (Path("../shared/data/glue/SST-2/dev.tsv")).open()) - 1
    sf, sb = dev["f32"]["score"], dev["bf16"]["score"]
    rows.append(("prediction-layer distillation, SST-2 dev accuracy", f"{sf:.4f}", f"{sb:.4f}",
                 f"{abs(sb - sf) * n:.1f} of {n} examples"))

    cands = {}
    for d in ("f32", "bf16"):
        cands[d] = {(r["source_index"], r["field"], r["word_index"]): r
                    for r in jsonl(run / "augment" / d / "candidates.jsonl")}
    keys = sorted(set(cands["f32"]) & set(cands["bf16"]))
    mlm = [k for k in keys if cands["f32"][k]["source"] == "mlm"]
    lists = [(cands["f32"][k]["candidates"], cands["bf16"][k]["candidates"]) for k in mlm]
    same = sum(a == b for a, b in lists)
    same_set = sum(set(a) == set(b) for a, b in lists)
    top1 = sum(a[:1] == b[:1] for a, b in lists)
    overlap = sum(len(set(a) & set(b)) / max(len(a), 1) for a, b in lists) / len(lists)
    rows.append(("augmentation, MLM candidates (K = 15) per position", f"{len(mlm)} positions", "",
                 f"{same / len(mlm):.1%} identical lists, {same_set / len(mlm):.1%} identical sets "
                 f"(mean overlap {overlap:.1%}), {top1 / len(mlm):.1%} identical best candidate"))
    # Without the header line.
    aug = {d: (run / "augment" / d / "train_aug.tsv").read_text().splitlines()[1:] for d in ("f32", "bf16")}
    same_rows = sum(a == b for a, b in zip(aug["f32"], aug["bf16"]))
    rows.append(("augmentation, augmented rows identical", f"{len(aug['f32'])} rows", f"{len(aug['bf16'])} rows",
                 f"{same_rows / max(len(aug['f32']), 1):.1%}"))

    print("| check | f32 teacher | bf16 teacher | difference |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()

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

    n = sum(1 for _ in (Path("../shared/data/glue/SST-2/dev.tsv")).open()) - 1

    def score(stage, d):
        return json.loads((run / stage / d / "summary.json").read_text())["score"]

    for stage, seed in (("td-pred", 42), ("td-pred-seed43", 43)):
        sf, sb = score(stage, "f32"), score(stage, "bf16")
        rows.append((f"prediction-layer distillation, SST-2 dev accuracy, seed {seed}", f"{sf:.4f}",
                     f"{sb:.4f}", f"{abs(sb - sf) * n:.0f} of {n} examples"))
    for d in ("f32", "bf16"):
        a, b = score("td-pred", d), score("td-pred-seed43", d)
        rows.append((f"the same, seed 42 vs seed 43 ({d} teacher)", f"{a:.4f}", f"{b:.4f}",
                     f"{abs(a - b) * n:.0f} of {n} examples (seed alone)"))
    tf, tb = score("eval-teacher", "f32"), score("eval-teacher", "bf16")
    agree = ""
    try:
        import pyarrow.parquet as pq
        preds = {d: pq.read_table(run / "eval-teacher" / d / "predictions_dev.parquet").to_pydict()
                 for d in ("f32", "bf16")}
        col = "prediction" if "prediction" in preds["f32"] else sorted(preds["f32"])[-1]
        same = sum(a == b for a, b in zip(preds["f32"][col], preds["bf16"][col]))
        agree = f", {len(preds['f32'][col]) - same} predictions differ"
    except ImportError:
        pass
    rows.append(("the fine-tuned teacher itself, SST-2 dev accuracy", f"{tf:.4f}", f"{tb:.4f}",
                 f"{abs(tb - tf) * n:.0f} of {n} examples{agree}"))

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

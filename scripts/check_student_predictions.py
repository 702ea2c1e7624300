#!/usr/bin/env python3
"""Checks that a classifier written by tinybert gives the same dev predictions in transformers.

The model folder loads in `transformers.BertModel` (no missing or unexpected encoder keys); the
task head of SPEC §1 (`logits = W_c · ReLU(pooled)`, tensors `classifier.weight`/`classifier.bias`
in `model.safetensors`) is applied on top, and the logits are compared with the ones tinybert
wrote in an eval run's `predictions_<split>.parquet`, on the exact token ids of the tokenised
split tinybert evaluated (`tinybert data glue` output: `part-*.parquet`).

    PY=$(bash ../shared/bench/setup.sh); $PY -m pip install -q pyarrow
    $PY scripts/check_student_predictions.py MODEL_DIR DATASET_DIR PREDICTIONS.parquet [LABELS]

LABELS (optional, comma-separated, e.g. `negative,positive` for a task of one's own) are the
label names the model must carry: `transformers` reads them from config.json (`id2label`,
`label2id`) and they must be these, in this order.

Prints the largest logit difference and the number of differing predicted labels; exits 0 when
every prediction agrees, the logits agree to 1e-4 (relative to the largest logit) and the labels
are the expected ones.
"""
import glob
import os
import sys

import pyarrow.parquet as pq
import torch
from safetensors.torch import load_file
from transformers import BertModel


def main(model_dir, dataset_dir, predictions_file, labels=None, batch=64):
    model, info = BertModel.from_pretrained(model_dir, output_loading_info=True)
    model.eval()
    names_ok = True
    if labels is not None:
        expected = labels.split(",")
        id2label = model.config.id2label
        names = [id2label.get(i) for i in range(len(id2label))]
        names_ok = names == expected and all(model.config.label2id.get(l) == i
                                             for i, l in enumerate(expected))
        print(f"id2label: {names} (expected {expected}); label2id: {model.config.label2id}")
    missing, unexpected = info["missing_keys"], info["unexpected_keys"]
    unexpected = [k for k in unexpected if not k.startswith("classifier.")]
    print(f"missing keys: {sorted(missing)}; unexpected encoder keys: {sorted(unexpected)}")
    head = load_file(os.path.join(model_dir, "model.safetensors"))
    w, b = head["classifier.weight"], head["classifier.bias"]

    rows = []
    for f in sorted(glob.glob(os.path.join(dataset_dir, "part-*.parquet"))):
        rows.extend(pq.read_table(f).to_pylist())
    ours = pq.read_table(predictions_file).to_pylist()
    if len(rows) != len(ours):
        print(f"FAIL: {len(rows)} examples in {dataset_dir}, {len(ours)} predictions")
        return 1

    logits = []
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            n = max(len(r["input_ids"]) for r in chunk)
            pad = lambda key: torch.tensor([r[key] + [0] * (n - len(r[key])) for r in chunk])
            mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (n - len(r["input_ids"]))
                                 for r in chunk])
            pooled = model(input_ids=pad("input_ids"), token_type_ids=pad("token_type_ids"),
                           attention_mask=mask).pooler_output
            logits.append(torch.relu(pooled) @ w.T + b)
    theirs = torch.cat(logits)
    mine = torch.tensor([r["logits"] for r in ours])
    scale = mine.abs().max().item()
    diff = (theirs - mine).abs().max().item() / max(scale, 1e-12)
    if theirs.shape[1] == 1:
        differing = 0  # regression: no labels to compare; the logit check covers it
    else:
        differing = int((theirs.argmax(1) != mine.argmax(1)).sum())
    print(f"{len(rows)} examples: max |logit diff| / max |logit| = {diff:.2e}; "
          f"{differing} predictions differ")
    ok = not missing and not unexpected and differing == 0 and diff <= 1e-4 and names_ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))

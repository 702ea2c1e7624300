#!/usr/bin/env python3
"""Checks tinybert's augmentation candidates against the Python reference's.

The random choices of `tinybert data augment` and of `../shared/bench/augment_reference.py` come
from different generators (Rust vs Python), so their augmented rows cannot be compared; what does
not depend on them can: the candidate list of every candidate word. This script

  1. builds one MLM teacher both sides load: the all-MiniLM-L6-v2 encoder with a freshly
     initialised (seeded) masked-LM head, saved as a Hugging Face folder with its vocab.txt;
  2. runs `tinybert data augment --log-candidates` on the first N training examples;
  3. asks the reference's own code (imported from the read-only script, not copied) for the
     candidates of the same words: its BasicTokenizer words, `is_candidate`, and its
     `Augmenter.word_candidates` (one unbatched MLM forward per single-piece word, float64
     GloVe search per multi-piece word), recording the raw lists before its word-itself fallback;
  4. compares, position by position: the words, whether MLM or GloVe was used, and the lists.

tinybert drops the special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]) from the MLM top-K as well as
the `##` pieces; the reference drops only `##` pieces, so its lists are compared without the
special tokens (how often that mattered is reported).

Usage (the reference's venv):
  PY=$(bash ../shared/bench/setup.sh)
  $PY scripts/data/check_augment_candidates.py --tinybert target/release/tinybert [--limit 40]

Exit status 1 when a word or a candidate source differs, or more than --max-diff-frac of the
candidate lists differ (near-ties of float32 logits may swap two neighbours).
"""

import argparse
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
SPECIAL = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tinybert", default=os.path.join(ROOT, "target", "release", "tinybert"))
    ap.add_argument("--reference", default=os.path.join(SHARED, "bench", "augment_reference.py"))
    ap.add_argument("--encoder", default=os.path.join(SHARED, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--glue", default=os.path.join(SHARED, "data", "glue"))
    ap.add_argument("--glove", default=os.path.join(SHARED, "data", "glove", "glove.6B.50d.top100k.txt"))
    ap.add_argument("--task", default="SST-2")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--k", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0, help="seed of the MLM head's initialisation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-diff-frac", type=float, default=0.02)
    ap.add_argument("--keep", default=None, help="keep the work folder here")
    return ap.parse_args()


def import_reference(path):
    spec = importlib.util.spec_from_file_location("augment_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # not __main__: parses no arguments
    return mod


def build_teacher(encoder, out, seed, torch):
    from transformers import BertForMaskedLM
    torch.manual_seed(seed)
    model = BertForMaskedLM.from_pretrained(encoder)  # the MLM head is freshly initialised
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    shutil.copy(os.path.join(encoder, "vocab.txt"), os.path.join(out, "vocab.txt"))


def reference_candidates(ref, teacher, args, torch, rows, columns):
    """{(example, field, word_index): (word, source, raw candidates)} from the reference's code."""
    from transformers import BertForMaskedLM
    tok, _ = ref.load_slow_tokenizer(os.path.join(teacher, "vocab.txt"))
    model = BertForMaskedLM.from_pretrained(teacher)
    model.eval()
    glove = ref.load_glove(args.glove, 100000)
    aug = ref.Augmenter(tok, model, torch, glove, args.k, 1, 0.4, random.Random(0),
                        no_grad=True, log_candidates=False)
    last = {}
    mlm, glv = aug.mlm_candidates, aug.glove_candidates

    def mlm_logged(text, masked, pos):
        last["source"], last["found"] = "mlm", mlm(text, masked, pos)
        return last["found"]

    def glove_logged(word):
        last["source"], last["found"] = "glove", glv(word)
        return last["found"]

    aug.mlm_candidates, aug.glove_candidates = mlm_logged, glove_logged
    out = {}
    for i, row in enumerate(rows):
        for f, col in enumerate(columns):
            text = row[col]
            for n, w in enumerate(aug.basic.tokenize(text)):
                if not ref.is_candidate(w):
                    continue
                last.clear()
                aug.word_candidates(text, n, w)
                out[(i, f, n)] = (w, last.get("source", "none"), last.get("found", []))
    return out


def main():
    args = parse_args()
    if not os.path.isfile(args.tinybert):
        sys.exit("%s: not built (cargo build --release -p tinybert)" % args.tinybert)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    ref = import_reference(args.reference)
    columns, has_header, _ = ref.TASKS[args.task]
    import csv
    with open(os.path.join(args.glue, args.task, "train.tsv"), encoding="utf-8-sig") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = (rows[1:] if has_header else rows)[: args.limit]

    work = args.keep or tempfile.mkdtemp(prefix="check-augment-")
    os.makedirs(work, exist_ok=True)
    teacher = os.path.join(work, "teacher")
    build_teacher(args.encoder, teacher, args.seed, torch)

    log = os.path.join(work, "candidates.jsonl")
    cmd = [args.tinybert, "-q", "data", "augment", "--task", args.task, "--data-dir", args.glue,
           "--teacher", teacher, "--glove", args.glove, "--k", str(args.k), "--n-aug", "1",
           "--limit", str(args.limit), "--output", os.path.join(work, "out"),
           "--log-candidates", log]
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    ours = {}
    with open(log) as f:
        for line in f:
            r = json.loads(line)
            ours[(r["source_index"], r["field"], r["word_index"])] = (r["word"], r["source"], r["candidates"])

    theirs = reference_candidates(ref, teacher, args, torch, rows, columns)

    stats = {s: {"positions": 0, "identical": 0, "same_set_other_order": 0, "different": 0}
             for s in ("mlm", "glove", "none")}
    problems, diffs, special_dropped = [], [], 0
    for key in sorted(set(ours) | set(theirs)):
        if key not in ours or key not in theirs:
            problems.append("position %s only in %s" % (key, "tinybert" if key in ours else "reference"))
            continue
        (w1, s1, c1), (w2, s2, c2) = ours[key], theirs[key]
        if w1 != w2 or s1 != s2:
            problems.append("position %s: tinybert %r/%s, reference %r/%s" % (key, w1, s1, w2, s2))
            continue
        c2f = [c for c in c2 if c not in SPECIAL]
        special_dropped += len(c2) - len(c2f)
        st = stats[s1]
        st["positions"] += 1
        if c1 == c2f:
            st["identical"] += 1
        elif sorted(c1) == sorted(c2f):
            st["same_set_other_order"] += 1
            diffs.append((key, w1, c1, c2f))
        else:
            st["different"] += 1
            diffs.append((key, w1, c1, c2f))

    total = sum(s["positions"] for s in stats.values())
    differing = sum(s["same_set_other_order"] + s["different"] for s in stats.values())
    report = {"task": args.task, "examples": len(rows), "k": args.k, "positions": total,
              "by_source": stats, "reference_special_tokens_dropped": special_dropped,
              "word_or_source_mismatches": len(problems), "differing_lists": differing,
              "work": work if args.keep else None}
    print(json.dumps(report, indent=2))
    for p in problems[:10]:
        print("MISMATCH", p)
    for key, w, a, b in diffs[:10]:
        print("DIFF %s %r\n  tinybert : %s\n  reference: %s" % (key, w, a, b))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = not problems and total > 0 and differing <= args.max_diff_frac * total
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

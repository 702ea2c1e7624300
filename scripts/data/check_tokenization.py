#!/usr/bin/env python3
"""Check `tinybert data glue` against Hugging Face `transformers` on every row of real GLUE files.

For every GLUE file found (by default `../shared/data/glue/<TASK>/{train,dev,test}.tsv`, and for
MNLI the `dev_matched`-style names), this script

  1. runs `tinybert data glue` to write the tokenised Parquet dataset (task default max length,
     and again with a short length so that many pairs are truncated),
  2. reads the `.tsv` itself, independently of the Rust reader (UTF-8 with BOM stripped, tab
     split only, no quoting, columns by header name; CoLA train/dev: no header),
  3. tokenises it with `transformers.BertTokenizerFast(vocab.txt, do_lower_case=True)` using
     `truncation="longest_first", max_length=N`,
  4. compares row count, guid, input_ids, token_type_ids and label of every row, and checks the
     Parquet key-value metadata (schema version, tokenizer hash, task, split, labels).

Exit status 0 only when every row of every file matches. Needs python with `transformers` and
`pyarrow` (e.g. the venv printed by `bash ../shared/bench/setup.sh`, plus `pip install pyarrow`).

    cargo build --release -p tinybert
    PY=$(bash ../shared/bench/setup.sh); $PY -m pip install -q pyarrow
    $PY scripts/data/check_tokenization.py [--json check.json]
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    import pyarrow.parquet as pq
    from transformers import BertTokenizerFast
except ImportError as e:  # pragma: no cover
    sys.exit(f"needs transformers and pyarrow ({e}); see the module docstring")

# Columns by header name (SPEC §7): text_a, text_b, label, guid (None: data-row number).
LAYOUT = {
    "CoLA": ("sentence", None, "label", None),
    "SST-2": ("sentence", None, "label", None),
    "MRPC": ("#1 String", "#2 String", "Quality", None),
    "STS-B": ("sentence1", "sentence2", "score", "index"),
    "QQP": ("question1", "question2", "is_duplicate", "id"),
    "MNLI": ("sentence1", "sentence2", "gold_label", "index"),
    "QNLI": ("question", "sentence", "label", "index"),
    "RTE": ("sentence1", "sentence2", "label", "index"),
    "WNLI": ("sentence1", "sentence2", "label", "index"),
}
LABELS = {
    "CoLA": ["0", "1"], "SST-2": ["0", "1"], "MRPC": ["0", "1"], "STS-B": [], "QQP": ["0", "1"],
    "MNLI": ["contradiction", "entailment", "neutral"], "QNLI": ["entailment", "not_entailment"],
    "RTE": ["entailment", "not_entailment"], "WNLI": ["0", "1"],
}
PAIR = {t for t, l in LAYOUT.items() if l[1] is not None}


def read_tsv(task, split, path):
    """Rows as dicts: guid, a, b, label (class id, float, or None)."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [l[:-1] if l.endswith("\r") else l for l in lines]
    test = split.startswith("test")
    a_name, b_name, label_name, guid_name = LAYOUT[task]
    if task == "CoLA" and not test:
        a_col, b_col, label_col, guid_col, data = 3, None, 1, None, lines
    else:
        header = lines[0].split("\t")
        col = {name: i for i, name in enumerate(header)}
        if test:
            guid_name = "id" if task == "QQP" else "index"
        a_col = col[a_name]
        b_col = col[b_name] if b_name else None
        label_col = None if test else col[label_name]
        guid_col = col[guid_name] if guid_name else None
        data = lines[1:]
    rows = []
    for i, line in enumerate(data):
        f = line.split("\t")
        if label_col is None:
            label = None
        elif task == "STS-B":
            label = float(f[label_col])
        else:
            label = LABELS[task].index(f[label_col])
        rows.append({
            "guid": f[guid_col] if guid_col is not None else str(i),
            "a": f[a_col],
            "b": f[b_col] if b_col is not None else None,
            "label": label,
        })
    return rows


def read_parquet(folder):
    files = sorted(glob.glob(os.path.join(folder, "part-*.parquet")))
    rows, metas = [], []
    for p in files:
        md = pq.read_metadata(p).metadata or {}
        metas.append({k.decode(): v.decode() for k, v in md.items() if k.startswith(b"tinybert.")})
        rows.extend(pq.read_table(p).to_pylist())
    return rows, metas


def load_hf_tokenizer(vocab_path):
    """BertTokenizerFast from a vocab.txt (transformers 5 takes `vocab=`, 4.x `vocab_file=`)."""
    import inspect
    params = inspect.signature(BertTokenizerFast.__init__).parameters
    key = "vocab" if "vocab" in params else "vocab_file"
    tok = BertTokenizerFast(**{key: vocab_path}, do_lower_case=True)
    probe = tok("hello world")["input_ids"]
    if tok.unk_token_id in probe or len(probe) != 4:
        sys.exit(f"the vocabulary was not loaded from {vocab_path}: {probe}")
    return tok


def hf_encode(tok, rows, max_len):
    a = [r["a"] for r in rows]
    kwargs = dict(truncation="longest_first", max_length=max_len, return_attention_mask=False)
    if rows and rows[0]["b"] is not None:
        enc = tok(a, [r["b"] for r in rows], **kwargs)
    else:
        enc = tok(a, **kwargs)
    return enc["input_ids"], enc["token_type_ids"]


def check_file(args, tok, task, split, path, max_len, work):
    out = os.path.join(work, f"{task}-{split}-{max_len or 'default'}")
    cmd = [args.tinybert, "-q", "data", "glue", "--task", task, "--data-dir", args.glue_dir,
           "--split", split, "--model", args.model, "--output", out]
    if max_len:
        cmd += ["--max-seq-len", str(max_len)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rust_s = time.perf_counter() - t0
    ours, metas = read_parquet(out)
    meta = metas[0]
    n = max_len or int(meta["tinybert.max_seq_len"])
    ref = read_tsv(task, split, path)
    ids, types = hf_encode(tok, ref, n)
    res = {"task": task, "split": split, "max_seq_len": n, "rows_tsv": len(ref),
           "rows_parquet": len(ours), "ids_mismatch": 0, "type_ids_mismatch": 0,
           "label_mismatch": 0, "guid_mismatch": 0, "truncated": 0, "metadata_ok": True,
           "tinybert_seconds": round(rust_s, 2), "examples": []}
    want_meta = {"tinybert.schema_version": "1", "tinybert.kind": "glue", "tinybert.task": task,
                 "tinybert.split": split, "tinybert.labels": json.dumps(LABELS[task])}
    for m in metas:
        for k, v in want_meta.items():
            if k == "tinybert.labels":
                ok = json.loads(m.get(k, "null")) == LABELS[task]
            else:
                ok = m.get(k) == v
            if not ok:
                res["metadata_ok"] = False
                res["examples"].append(f"metadata {k}={m.get(k)!r}, expected {v!r}")
        if len(m.get("tinybert.tokenizer_hash", "")) != 64:
            res["metadata_ok"] = False
            res["examples"].append("metadata: no 64-hex tokenizer hash")
    for i, (r, o) in enumerate(zip(ref, ours)):
        if o["input_ids"] != ids[i]:
            res["ids_mismatch"] += 1
            if len(res["examples"]) < 5:
                res["examples"].append({"row": i, "guid": r["guid"], "ours": o["input_ids"], "hf": ids[i]})
        if o["token_type_ids"] != types[i]:
            res["type_ids_mismatch"] += 1
        if o["guid"] != r["guid"]:
            res["guid_mismatch"] += 1
        lab = o["label"]
        if (lab is None) != (r["label"] is None) or (
                lab is not None and abs(float(lab) - float(r["label"])) > 1e-6):
            res["label_mismatch"] += 1
        if o["length"] != len(o["input_ids"]):
            res["ids_mismatch"] += 1
        if len(ids[i]) == n:
            res["truncated"] += 1  # at the limit (truncated or exactly full)
    res["ok"] = (res["rows_tsv"] == res["rows_parquet"] and res["metadata_ok"] and
                 res["ids_mismatch"] == res["type_ids_mismatch"] == res["label_mismatch"] ==
                 res["guid_mismatch"] == 0)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_bin = os.path.join(ROOT, "target", "release", "tinybert")
    if not os.path.exists(default_bin):
        default_bin = os.path.join(ROOT, "target", "debug", "tinybert")
    ap.add_argument("--tinybert", default=default_bin, help="the tinybert binary")
    ap.add_argument("--glue-dir", default=os.path.join(ROOT, "..", "shared", "data", "glue"))
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--short-len", type=int, default=32,
                    help="second pass with this max length (many truncated pairs); 0: skip")
    ap.add_argument("--work", default=None, help="folder for the Parquet outputs (default: temporary)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()
    if not os.path.isdir(args.glue_dir):
        print(f"SKIPPED: {args.glue_dir} is absent")
        return 0
    tok = load_hf_tokenizer(os.path.join(args.model, "vocab.txt"))
    work_ctx = tempfile.TemporaryDirectory() if args.work is None else None
    work = args.work or work_ctx.name
    results = []
    for task in LAYOUT:
        for path in sorted(glob.glob(os.path.join(args.glue_dir, task, "*.tsv"))):
            split = os.path.splitext(os.path.basename(path))[0]
            if split not in ("train", "dev", "test", "dev_matched", "dev_mismatched",
                             "test_matched", "test_mismatched"):
                continue
            for max_len in [None] + ([args.short_len] if args.short_len else []):
                r = check_file(args, tok, task, split, path, max_len, work)
                results.append(r)
                print(f"{task:6s} {split:15s} len {r['max_seq_len']:4d}: rows {r['rows_parquet']:6d}/"
                      f"{r['rows_tsv']:6d}  ids mismatches {r['ids_mismatch']}  type-id mismatches "
                      f"{r['type_ids_mismatch']}  label {r['label_mismatch']}  guid {r['guid_mismatch']}  "
                      f"at-limit {r['truncated']}  metadata {'ok' if r['metadata_ok'] else 'BAD'}  "
                      f"{'OK' if r['ok'] else 'FAIL'}")
                for ex in r["examples"]:
                    print("   ", ex)
    import transformers
    total_rows = sum(r["rows_parquet"] for r in results)
    bad = [r for r in results if not r["ok"]]
    summary = {"files_checked": len(results), "rows_checked": total_rows, "failed": len(bad),
               "transformers": transformers.__version__, "tokenizer": type(tok).__name__,
               "results": results}
    print(f"\n{len(results)} file/length combinations, {total_rows} rows compared: "
          f"{'ALL MATCH' if not bad else f'{len(bad)} FAILED'} "
          f"(transformers {transformers.__version__}, {type(tok).__name__})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

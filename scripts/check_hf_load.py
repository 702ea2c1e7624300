#!/usr/bin/env python3
"""Checks that a model folder written by tinybert loads in transformers' BertModel with no missing
or unexpected keys and computes the same hidden states and pooled output as tinybert.

    ./target/release/tinybert model init --config tinybert-4 --tokenizer-from ../shared/models/all-MiniLM-L6-v2 \
        --fit-size 384 --output /tmp/student
    ./target/release/tinybert model forward --model /tmp/student --text "A short test." \
        --text-pair "And its pair." --max-seq-len 16 --output /tmp/student_fwd.safetensors
    PY=$(bash ../shared/bench/setup.sh); $PY scripts/check_hf_load.py /tmp/student /tmp/student_fwd.safetensors
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import BertModel


def main(model_dir, forward_file):
    model, info = BertModel.from_pretrained(model_dir, output_loading_info=True)
    model.eval()
    missing, unexpected = info["missing_keys"], info["unexpected_keys"]
    print(f"missing keys: {sorted(missing)}")
    print(f"unexpected keys: {sorted(unexpected)}")
    ours = load_file(forward_file)
    with torch.no_grad():
        out = model(input_ids=ours["input_ids"], token_type_ids=ours["token_type_ids"],
                    attention_mask=ours["attention_mask"], output_hidden_states=True)
    worst = 0.0
    for i, h in enumerate(out.hidden_states):
        ref = ours[f"hidden_states.{i}"]
        err = ((h - ref).abs().max() / ref.abs().max()).item()
        worst = max(worst, err)
        print(f"hidden_states.{i}: max|diff|/max|ref| = {err:.2e}")
    err = ((out.pooler_output - ours["pooled_output"]).abs().max() / ours["pooled_output"].abs().max()).item()
    worst = max(worst, err)
    print(f"pooled_output: max|diff|/max|ref| = {err:.2e}")
    ok = not missing and not unexpected and worst <= 1e-4
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

#!/usr/bin/env python3
"""Per-stage ratio of an estimate (`tinybert estimate ... --estimate-json E.json`) to the real
stage times of a run (a JSON object stage -> seconds, e.g. docs/glue-mini/stage-times.json).

usage: compare.py ESTIMATE.json REAL.json [--factor 1.5] [--min-seconds 5]

Prints a Markdown table (stage, projected, real, ratio, within the factor) and a summary line;
stages shorter than --min-seconds in the real run are listed but not counted."""
import json, sys

args = sys.argv[1:]
factor = 1.5
min_s = 5.0
if "--factor" in args:
    i = args.index("--factor"); factor = float(args[i + 1]); del args[i:i + 2]
if "--min-seconds" in args:
    i = args.index("--min-seconds"); min_s = float(args[i + 1]); del args[i:i + 2]
est = json.load(open(args[0]))
real = json.load(open(args[1]))

def fmt(s):
    if s < 60: return f"{s:.1f} s"
    m, s = divmod(round(s), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"

print("| stage | kind | projected | real | ratio | within |")
print("|---|---|---|---|---|---|")
ok = bad = 0
worst = (1.0, "")
tot_e = tot_r = 0.0
for s in est["stages"]:
    name = s["name"]
    if name not in real:
        continue
    e, r = s["seconds"], real[name]
    tot_e += e; tot_r += r
    ratio = e / r if r > 0 else float("inf")
    counted = r >= min_s
    within = 1 / factor <= ratio <= factor
    if counted:
        ok += within; bad += not within
        if max(ratio, 1 / ratio) > max(worst[0], 1 / worst[0]): worst = (ratio, name)
    mark = ("yes" if within else "**no**") if counted else f"(< {min_s:g} s)"
    print(f"| {name} | {s['kind']} | {fmt(e)} | {fmt(r)} | {ratio:.2f} | {mark} |")
print(f"| **total** | | {fmt(tot_e)} | {fmt(tot_r)} | {tot_e / tot_r:.2f} | |")
print()
print(f"{ok} of {ok + bad} stages of at least {min_s:g} s within a factor of {factor}; "
      f"worst ratio {worst[0]:.2f} ({worst[1]}); load {est.get('load')} on {est.get('cores')} cores; "
      f"estimating took {fmt(est['probe_seconds'])}")

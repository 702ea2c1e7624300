#!/usr/bin/env python3
# Per-stage wall time of glue-mini's last full run, from the run logs (as /work/logs/times2.py,
# per stage instead of per group): the final attempt of each stage plus interrupted attempts it
# resumed from; superseded teacher attempts are not counted.
import re, collections, json
logs=['/work/logs/glue-mini.1.log','/work/logs/glue-mini.2.log','/work/logs/glue-mini.3.log','/work/logs/glue-mini.log']
def secs(s):
    return sum(float(n)*{'h':3600,'m':60,'s':1}[u] for n,u in re.findall(r'([\d.]+)(h|m|s)',s))
done={}; partial=collections.defaultdict(float)
superseded={('teacher@RTE',0),('teacher@STS-B',2)}
for li,f in enumerate(logs):
    txt=open(f).read()
    for m in re.finditer(r'^\[\d+/\d+\] (\S+): done in (\S+(?: \S+)?)$',txt,re.M):
        if (m.group(1),li) in superseded: continue
        done[m.group(1)]=secs(m.group(2))
    for m in re.finditer(r'^(\S+)\s+FAILED\s+(\S+)\s+.*interrupted',txt,re.M):
        partial[m.group(1)]+=secs(m.group(2))
locked=set(re.findall(r'^\[stages\."?([^\]."]+(?:@[^\]"]+)?)"?\]$',open('/work/main/pipelines/glue-mini.lock').read(),re.M))
out={n:round(s+partial.get(n,0),1) for n,s in done.items() if n in locked}
print(json.dumps(out,indent=1))
print(len(out), sum(out.values())/3600, file=__import__('sys').stderr)

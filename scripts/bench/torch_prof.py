"""Dev aid: PyTorch's time per op of one study workload's step (the bench's definition in torch_bench.py), on 2 threads.

    node --conditions=@promptkd/source --import tsx scripts/bench/torch-spec.ts kdp-cpu-student | python3 scripts/bench/torch_prof.py [steps=20]

Prints the step time (mean of 100 after 30) and torch.profiler's table, self CPU time summed over `steps` steps.
"""
import json
import os
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench  # noqa: E402

torch.set_num_threads(2)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
w = torch_bench.study_workload(json.loads(sys.stdin.read()))
for _ in range(30):
    w.step()
t0 = time.perf_counter()
for _ in range(100):
    w.step()
print(f"{w.name}: {(time.perf_counter() - t0) * 10:.1f} ms per step (mean of 100); the table sums {steps} steps")
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(steps):
        w.step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))

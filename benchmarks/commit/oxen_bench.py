"""One vote per commit into a local Oxen repository (oxenai from PyPI), for drover-bench-commit.

Usage: oxen_bench.py DIRECTORY COMMITS — DIRECTORY holds train.csv; prints one JSON line:
{"times_ms": [...], "store_bytes": N, "data_bytes": N}.
"""
import json
import os
import sys
import time

import oxen

directory, commits = sys.argv[1], int(sys.argv[2])
if not oxen.is_configured():
    oxen.user.config_user("Drover bench", "bench@localhost")
repo = oxen.Repo(directory)
repo.init()
path = os.path.join(directory, "train.csv")
repo.add(path)
repo.commit("preload")
times = []
for k in range(commits):
    started = time.perf_counter()
    with open(path, "a") as f:
        f.write(f"a fluffy ox eating almonds,images/{k % 10}.png,Approve,new-{k},0-1,2026-11-29T00:00:00.000Z,bench\n")
    repo.add(path)
    repo.commit(f"vote {k}")
    times.append((time.perf_counter() - started) * 1000)


def size(root, skip=None):
    total = 0
    for folder, dirs, files in os.walk(root):
        if skip and skip in dirs:
            dirs.remove(skip)
        total += sum(os.path.getsize(os.path.join(folder, name)) for name in files)
    return total


print(json.dumps({"times_ms": times, "store_bytes": size(os.path.join(directory, ".oxen")), "data_bytes": size(directory, ".oxen")}))

#!/usr/bin/env python3
"""Summarizes a scripts/bench.sh run: medians per tool from the hyperfine JSON exports
(every round of a step merged), ratios against the targets of issue 5 with PASS/FAIL, peak
memory, and the scaling table. Usage: summarize.py DIR (the run's target/bench)."""
import glob
import json
import os
import statistics
import sys

TOOLS = ["portowner", "ss -ltnp", "lsof", "listeners", "portowner wrong-owner"]


def medians(directory, step):
    """Median seconds per tool over all rounds of `step`, and the number of runs."""
    times = {}
    for path in sorted(glob.glob(os.path.join(directory, step + "-*.json"))):
        with open(path) as f:
            for result in json.load(f)["results"]:
                times.setdefault(result["command"], []).extend(result["times"])
    return {tool: (statistics.median(t), len(t)) for tool, t in times.items()}


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def targets(main, rss):
    po = main["portowner"][0]
    rows = [
        ("portowner / ss -ltnp", po / main["ss -ltnp"][0], "<= 0.20", po <= 0.2 * main["ss -ltnp"][0]),
        ("portowner / lsof", po / main["lsof"][0], "<= 0.05", po <= 0.05 * main["lsof"][0]),
        ("portowner / listeners", po / main["listeners"][0], "< 1", po < main["listeners"][0]),
        ("wrong-owner / ss -ltnp", main["portowner wrong-owner"][0] / main["ss -ltnp"][0],
         "<= 1", main["portowner wrong-owner"][0] <= main["ss -ltnp"][0]),
    ]
    print("| target | measured | goal | result |")
    print("|---|---|---|---|")
    for name, ratio, goal, ok in rows:
        print(f"| {name} | {ratio:.3f}x | {goal} | {verdict(ok)} |")
    if "portowner" in rss:
        kib = rss["portowner"]
        print(f"| portowner peak RSS | {kib / 1024:.1f} MiB | <= 10 MiB | {verdict(kib <= 10 * 1024)} |")


def step_table(main):
    print("| tool | median | runs | vs portowner |")
    print("|---|---|---|---|")
    po = main["portowner"][0]
    for tool in TOOLS:
        if tool in main:
            median, runs = main[tool]
            print(f"| {tool} | {ms(median)} | {runs} | {median / po:.1f}x |")


def read_rss(directory):
    rss = {}
    path = os.path.join(directory, "rss.txt")
    if os.path.exists(path):
        for line in open(path):
            tool, _, kib = line.rstrip("\n").partition("\t")
            if kib.strip().isdigit():
                rss[tool] = int(kib)
    return rss


def main():
    directory = sys.argv[1]
    steps = sorted(
        {os.path.basename(p).rsplit("-", 1)[0] for p in glob.glob(os.path.join(directory, "scale-*.json"))},
        key=lambda s: int(s.split("-")[1]),
    )
    rss = read_rss(directory)
    main_step = medians(directory, "scale-2000")
    print("## 2,000 extra processes x 100 descriptors, owner matches the expectation\n")
    step_table(main_step)
    print()
    targets(main_step, rss)
    if rss:
        print("\n## Peak resident memory (one run each, /usr/bin/time)\n")
        print("| tool | peak RSS |")
        print("|---|---|")
        for tool, kib in rss.items():
            print(f"| {tool} | {kib / 1024:.1f} MiB |")
    print("\n## Scaling: median wall time by number of extra processes\n")
    print("| processes | " + " | ".join(TOOLS) + " |")
    print("|---" * (len(TOOLS) + 1) + "|")
    for step in steps:
        found = medians(directory, step)
        cells = [ms(found[t][0]) if t in found else "-" for t in TOOLS]
        print(f"| {int(step.split('-')[1]):,} | " + " | ".join(cells) + " |")
    early = medians(directory, "early-2000")
    if early:
        print("\n## Owner started before the crowd (lowest PIDs), 2,000 extra processes\n")
        step_table(early)


if __name__ == "__main__":
    main()

"""Throughput against size, keir and its baselines, from the JSON of table.py, as a PNG.

    python benchmarks/table.py --cases gauss3 --dtypes float32 --sizes 1000 3000 10000 \\
        30000 100000 --json sizes.json
    python benchmarks/plot.py sizes.json -o docs/benchmarks.png

Needs matplotlib (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"keir": "o-", "C": "s--", "pykeops": "^-.", "numpy": "v:"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", help="JSON written by table.py --json")
    p.add_argument("-o", "--output", default="benchmarks.png")
    args = p.parse_args()
    with open(args.table) as fh:
        data = json.load(fh)
    draw(data, args.output)
    print(f"wrote {args.output}")


def draw(data: dict, output, title: str = "2-core AMD EPYC") -> None:
    """The PNG of table.py's JSON `data` ({"keir": version, "rows": [...]}) at `output`."""
    series = {}  # (case, dtype, tool) -> [(n, rate)]
    for row in data["rows"]:
        for tool, rate in row["rates"].items():
            series.setdefault((row["case"], row["dtype"], tool), []).append((row["n"], rate))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for (case, dtype, tool), points in sorted(series.items()):
        n, rate = zip(*sorted(points))
        ax.plot(n, rate, STYLE.get(tool, "x-"), label=f"{tool} ({case}, {dtype})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("M = N")
    ax.set_ylabel("G pairs / s (higher is better)")
    ax.set_title(f"keir {data['keir']}: Gaussian kernel sum, {title}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Several `simreal experiment pose` folders (the same study with other `--seed`s) as one table: each
variant's mAP and PCKh@0.5, mean ± sample std over the folders that ran it, the values per seed, and the
mAP difference to M_R+M of the same seed (paired).

    .venv/bin/python scripts/pose_seeds.py STUDY [STUDY...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simreal.utils.report import format_mean_std, markdown_table, mean_std


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="+", type=Path)
    args = ap.parse_args()
    results = [json.loads((s / "results.json").read_text())["results"] for s in args.studies]
    variants = list(dict.fromkeys(v for r in results for v in r))
    rows = []
    for v in variants:
        runs = [r for r in results if v in r]
        m_ap = [r[v]["mpii"]["mAP"] for r in runs]
        pckh = [r[v]["pckh"]["PCKh@0.5"] for r in runs]
        paired = [r[v]["mpii"]["mAP"] - r["M_R+M"]["mpii"]["mAP"] for r in runs if "M_R+M" in r]
        rows.append([v, format_mean_std(mean_std(m_ap)), " / ".join(f"{x:.1f}" for x in m_ap),
                     format_mean_std(mean_std(paired)) if v != "M_R+M" and paired else "–",
                     format_mean_std(mean_std(pckh))])
    print(markdown_table(["model", "mAP", "mAP per seed", "mAP − M_R+M (same seed)", "PCKh@0.5"], rows))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate crates/text/data/regions.txt from the shipped GB/T 2260 division tables.

Usage (from the repository root):
    python3 crates/text/scripts/gen_regions.py ../shared/data/regions > crates/text/data/regions.txt

Output: one name per line, `name<TAB>level` where level is p (province), c (city),
a (county) or s (township), deduplicated (the highest level wins) and sorted.
Names are facts (the division list is WTFPL-licensed); placeholder names such as
市辖区 are left out.
"""
import csv
import sys
from pathlib import Path

SKIP = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
LEVELS = [("provinces", "p"), ("cities", "c"), ("areas", "a"), ("streets", "s")]


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/regions")
    names: dict[str, str] = {}
    for stem, level in LEVELS:
        with open(root / f"{stem}.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                name = row["name"].strip()
                if not name or name in SKIP or len(name) < 2:
                    continue
                names.setdefault(name, level)
    for name in sorted(names):
        print(f"{name}\t{names[name]}")


if __name__ == "__main__":
    main()

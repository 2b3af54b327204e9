"""Check that two commits give byte-identical CSV outputs for every shipped scenario.

Run: ``python benchmarks/same_outputs.py OLD NEW [--jobs 2]`` from the repository. Each commit is
checked out into a temporary folder (``git worktree``), every file in its ``scenarios/`` is run
with ``python -m sim run SCENARIO --out DIR --seed 0 --format csv`` from that folder (so each
tree runs its own code), and every CSV file the two runs wrote is compared byte for byte.
Exits 0 when all match, 1 otherwise, printing each difference. A refactoring that must not
change a number is checked with it: its first and last commits.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def checkout(ref: str, tree: Path) -> Path:
    """A detached work tree of ``ref`` at ``tree``."""
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), ref],
        check=True,
    )
    return tree


def run_all(tree: Path, out: Path, jobs: int) -> dict[str, Path]:
    """Every scenario of ``tree`` run with that tree's code; the output folder of each."""
    scenarios = sorted((tree / "scenarios").glob("*.yaml"))
    # Compile the kernels once before running in parallel (numba's cache).
    subprocess.run([sys.executable, "-c", "import sim"], cwd=tree, check=True)

    def one(path: Path) -> tuple[str, Path]:
        folder = out / path.stem
        command = [sys.executable, "-m", "sim", "run", str(path), "--out", str(folder)]
        # every table as CSV (monthly ones are Parquet by default), to compare byte for byte
        command += ["--seed", "0", "--format", "csv"]
        subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)
        return path.name, folder

    with ThreadPoolExecutor(jobs) as pool:
        return dict(pool.map(one, scenarios))


def differences(old: dict[str, Path], new: dict[str, Path]) -> list[str]:
    """What differs between two sets of run folders: missing scenarios or CSV files, or bytes."""
    found = [f"{name}: only in one tree" for name in sorted(set(old) ^ set(new))]
    for name in sorted(set(old) & set(new)):
        old_csv = {p.name for p in old[name].glob("*.csv")}
        new_csv = {p.name for p in new[name].glob("*.csv")}
        found += [f"{name}: {csv} only in one tree" for csv in sorted(old_csv ^ new_csv)]
        for csv in sorted(old_csv & new_csv):
            if not filecmp.cmp(old[name] / csv, new[name] / csv, shallow=False):
                found.append(f"{name}: {csv} differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the first commit (or any git ref)")
    parser.add_argument("new", help="the second commit (or any git ref)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        trees = [checkout(ref, root / f"tree{i}") for i, ref in enumerate((args.old, args.new))]
        try:
            runs = [run_all(tree, root / f"out{i}", args.jobs) for i, tree in enumerate(trees)]
        finally:
            for tree in trees:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                    check=False,
                )
        found = differences(*runs)
        csvs = sum(len(list(folder.glob("*.csv"))) for folder in runs[1].values())
    for line in found:
        print(line)
    print(f"{len(runs[1])} scenarios, {csvs} CSV files: {len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

"""Draw docs/images/baseline-prices.png: NdPr and Dy oxide in the baseline, by tier, with the
incentive band ex-China projects need (Benchmark Mineral Intelligence, Q2 2024).

Run: ``python docs/baseline_prices.py`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import sim  # noqa: E402

ROOT = Path(__file__).parent.parent
INCENTIVE_USD_PER_KG = (75.0, 85.0)  # NdPr, ~40% of pipeline ex-China mines (Benchmark, Q2 2024)


def main() -> None:
    result = sim.run(sim.load_scenario(ROOT / "scenarios" / "baseline.yaml"))
    prices = result.prices
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, product, title in (
        (axes[0], "NdPr_oxide", "NdPr oxide"),
        (axes[1], "Dy_oxide", "Dy oxide"),
    ):
        for market, style in (("china", "-"), ("ex_china", "--")):
            rows = prices[(prices["product"] == product) & (prices["market"] == market)]
            label = "China (domestic)" if market == "china" else "ex-China (FOB)"
            ax.plot(rows["date"], rows["usd_per_kg"], style, label=label)
        ax.set_title(f"{title}, baseline 2024-2035 (no event)")
        ax.set_ylabel("US$/kg")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].axhspan(*INCENTIVE_USD_PER_KG, color="tab:green", alpha=0.15)
    axes[0].set_ylim(0, 100)
    axes[0].text(
        prices["date"].min(),
        INCENTIVE_USD_PER_KG[1] + 2,
        "NdPr most ex-China projects need: US$75-85/kg (Benchmark, Q2 2024)",
        fontsize=8,
    )
    axes[0].legend(loc="lower right")
    fig.autofmt_xdate()
    fig.tight_layout()
    out = ROOT / "docs" / "images" / "baseline-prices.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

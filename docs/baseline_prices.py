"""Draw docs/images/baseline-prices.png: NdPr, Dy and Tb oxide in the baseline, by tier, beside
the incentive band ex-China projects need (Benchmark Mineral Intelligence, Q2 2024) and the
price outlooks published before April 2025 (``docs/data/price-outlooks.csv``, with sources).

Run: ``python docs/baseline_prices.py`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import sim  # noqa: E402

ROOT = Path(__file__).parent.parent
OUTLOOKS = ROOT / "docs" / "data" / "price-outlooks.csv"
INCENTIVE_USD_PER_KG = (75.0, 85.0)  # NdPr, ~40% of pipeline ex-China mines (Benchmark, Q2 2024)
OUTLOOK_STYLE = {
    "adamas-2020": ("tab:purple", "Adamas outlook, Aug 2020 (5.6-9.9%/yr)"),
    "adamas-2022": ("tab:red", "Adamas outlook, Oct 2022"),
}


def outlooks() -> pd.DataFrame:
    """The published outlooks, one row per outlook, product and year."""
    table = pd.read_csv(OUTLOOKS, comment="#")
    table["date"] = pd.to_datetime(table["year"].astype(str) + "-07-01")
    return table


def draw_outlooks(ax: plt.Axes, table: pd.DataFrame, product: str) -> None:
    """Each outlook of ``product``: a band between its years' ranges, or points."""
    for name, rows in table[table["product"] == product].groupby("outlook"):
        colour, label = OUTLOOK_STYLE[str(name)]
        low, high = rows["usd_per_kg_low"], rows["usd_per_kg_high"]
        if (low < high).any():
            ax.fill_between(rows["date"], low, high, color=colour, alpha=0.15, label=label)
        else:
            ax.plot(rows["date"], low, "o:", color=colour, label=label)


def main() -> None:
    result = sim.run(sim.load_scenario(ROOT / "scenarios" / "baseline.yaml"))
    prices, published = result.prices, outlooks()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), sharex=True)
    for ax, product, title in (
        (axes[0], "NdPr_oxide", "NdPr oxide"),
        (axes[1], "Dy_oxide", "Dy oxide"),
        (axes[2], "Tb_oxide", "Tb oxide"),
    ):
        for market, style in (("china", "-"), ("ex_china", "--")):
            rows = prices[(prices["product"] == product) & (prices["market"] == market)]
            label = "model: China (domestic)" if market == "china" else "model: ex-China (FOB)"
            ax.plot(rows["date"], rows["usd_per_kg"], style, label=label)
        draw_outlooks(ax, published, product)
        ax.set_title(f"{title}, baseline 2024-2035 (no event)")
        ax.set_ylabel("US$/kg")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    axes[0].axhspan(*INCENTIVE_USD_PER_KG, color="tab:green", alpha=0.15)
    axes[0].text(
        prices["date"].max(),
        INCENTIVE_USD_PER_KG[0] - 9,
        "incentive price most ex-China\nprojects need (Benchmark, Q2 2024)",
        fontsize=7,
        ha="right",
    )
    fig.autofmt_xdate()
    fig.tight_layout()
    out = ROOT / "docs" / "images" / "baseline-prices.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

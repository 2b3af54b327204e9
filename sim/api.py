"""The public Python API: load a scenario, run it, sweep it, compare two, backtest one, and read
the results as pandas DataFrames.

The top layer: it wraps what the command line does (`sim.io.cli`) and adds no model logic.
Modules are imported when a function is first called, so that ``import sim`` stays light (not
even `typing` or `dataclasses`; no numpy, pandas, numba, Dask or matplotlib until needed).

Example:
    >>> import sim
    >>> result = sim.run("scenarios/china-magnet-ban-us.yaml")
    >>> result.summary.nlargest(5, "shortfall_t")[["region", "sector", "shortfall_t"]]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

TYPE_CHECKING = False  # `typing.TYPE_CHECKING` without importing typing (mypy reads both)
if TYPE_CHECKING:
    from typing import Literal

    import pandas as pd

    from sim.config.scenario import Scenario
    from sim.runs.backtest import Backtest
    from sim.runs.engine import RunResult
    from sim.runs.sweep import SweepResult
    from sim.world.world import World


def load_scenario(path: str | os.PathLike[str], world: World | str | None = None) -> Scenario:
    """Read, validate and check a scenario file.

    Args:
        path: the scenario's YAML file (``extends:`` is followed).
        world: the world to check it against, or its name; by default the world the scenario
            names (``world:``, e.g. ``default@2009``).

    Returns:
        The scenario, with every field written as a distribution at its median and listed in
        its ``uncertain`` inputs.

    Raises:
        InputError: ``FILE:LINE: field.path: problem (got VALUE)`` for the first problem found.

    Example:
        >>> scenario = sim.load_scenario("scenarios/baseline.yaml")
        >>> scenario.horizon.start
        datetime.date(2024, 1, 1)
    """
    from sim.io.scenario_files import load_scenario as load

    return load(Path(path), None if world is None else load_world(world))


def edit(scenario: Scenario, changes: Mapping[str, object]) -> Scenario:
    """A copy of ``scenario`` with fields changed, checked as a scenario file is.

    Args:
        scenario: a scenario, from `load_scenario` or an earlier `edit`.
        changes: values by field path: ``{"events[0].approval_rate": 0.6, "horizon.end":
            datetime.date(2027, 12, 31)}``. A field that was uncertain holds the value given.

    Returns:
        The changed scenario (the one given is frozen and stays as it was).

    Raises:
        InputError: ``<python>: field.path: problem (got VALUE)`` for a path the scenario
            does not have or a value it does not accept.

    Example:
        >>> scenario = sim.load_scenario("scenarios/china-2025-april-licensing.yaml")
        >>> sim.edit(scenario, {"events[0].approval_rate": 0.6}).events[0].approval_rate
        0.6
    """
    from sim.io.scenario_files import edit_scenario

    return edit_scenario(scenario, changes)


def load_world(name: World | str = "default") -> World:
    """The embedded world of a name: ``default`` (2024) or a vintage such as ``default@2009``.

    Args:
        name: the world's name (a `World` is returned as it is).

    Returns:
        The world: facilities, buyers, trade costs and parameters, with their sources.

    Raises:
        InputError: if there is no world of that name.

    Example:
        >>> world = sim.load_world("default@2009")
    """
    from sim.errors import bad_value
    from sim.world.loader import vintage_world, world_names

    if not isinstance(name, str):
        return name
    try:
        return vintage_world(name)
    except (KeyError, ValueError):
        raise bad_value(f"unknown world; expected one of {world_names()}", "world", name) from None


def _scenario_and_world(
    scenario: Scenario | str | os.PathLike[str], world: World | str | None
) -> tuple[Scenario, World]:
    """A scenario (loaded if a path) and the world it runs on (by default, the one it names)."""
    from sim.config.scenario import Scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, world)
    return scenario, load_world(scenario.world if world is None else world)


class Result:
    """One run of a scenario. Each table is a pandas DataFrame built when first read and then
    kept (copy it before changing it in place); ``raw`` holds the engine's arrays.

    Attributes:
        raw: the engine's `sim.runs.engine.RunResult` (arrays ``[sample, month, ...]``).
    """

    def __init__(self, raw: RunResult) -> None:
        self.raw = raw

    @property
    def scenario(self) -> Scenario:
        """The scenario that was run."""
        return self.raw.scenario

    @property
    def wall_seconds(self) -> float:
        """Seconds the simulation took (tables excluded)."""
        return self.raw.wall_seconds

    @property
    def residual(self) -> float:
        """The largest mass-balance residual of the run's books."""
        return self.raw.residual

    @cached_property
    def shortfall(self) -> pd.DataFrame:
        """``date, region, sector, material, demand_t, delivered_t, shortfall_t``, a row a
        month x buyer group (t of magnet for magnets, else t of element)."""
        from sim.runs.tables import shortfall_table

        return shortfall_table(self.raw)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per region x sector x material: cumulative and peak shortfall, share of demand,
        months short, the first month short and the month of recovery."""
        from sim.runs.tables import summary_table

        return summary_table(self.shortfall)

    @cached_property
    def prices(self) -> pd.DataFrame:
        """``date, market, product, usd_per_kg``: monthly prices by market tier."""
        from sim.runs.tables import prices_table

        return prices_table(self.raw)

    @cached_property
    def flows(self) -> pd.DataFrame:
        """Every shipment (and recycled swarf): ``date, stage, source, target,
        source_country, target_country, form, element, tonnes`` (t of element)."""
        from sim.runs.tables import flows_table

        return flows_table(self.raw)

    @cached_property
    def stocks(self) -> pd.DataFrame:
        """End-of-month stocks of every facility and buyer, t of element."""
        from sim.runs.tables import stocks_table

        return stocks_table(self.raw)

    @cached_property
    def production(self) -> pd.DataFrame:
        """Monthly output of every facility, t of element."""
        from sim.runs.tables import production_table

        return production_table(self.raw)

    @cached_property
    def _impact(self) -> dict[str, pd.DataFrame]:
        from sim.runs.impact import impact_tables
        from sim.runs.windows import BY_YEAR

        return impact_tables(self.raw, self.shortfall, BY_YEAR)

    @property
    def units_not_built(self) -> pd.DataFrame:
        """Units not built (cars, MW of wind, ...) beside those planned, and the value of the
        output lost, by year x region (and ex-China, G7, world) x sector x product."""
        return self._impact["units_not_built.csv"]

    @property
    def extra_cost(self) -> pd.DataFrame:
        """What buyers paid over 2024 prices for what they bought (US$), by year x region
        (and roll-ups) x sector x material."""
        return self._impact["extra_cost.csv"]

    @property
    def resilience(self) -> pd.DataFrame:
        """A row a buyer group (and roll-up): lag after the first event, depth, months
        short, recovery and cumulative shortfall."""
        return self._impact["resilience.csv"]

    def write(self, folder: str | os.PathLike[str], table_format: str = "parquet") -> Path:
        """Write the folder ``sim run`` writes (every table, the picture, the manifest).

        Args:
            folder: the folder to create; it must not exist yet.
            table_format: ``"parquet"`` or ``"csv"``, the monthly tables' format.

        Returns:
            The folder written.

        Raises:
            InputError: if ``folder`` exists.
        """
        from sim.errors import bad_value
        from sim.io.report import check_free, write_run
        from sim.io.table_files import FORMATS, TableChoice

        if table_format not in FORMATS:
            raise bad_value(f"expected one of {', '.join(FORMATS)}", "table_format", table_format)
        check_free(Path(folder))
        write_run(self.raw, Path(folder), choice=TableChoice(format=table_format))
        return Path(folder)


def run(
    scenario: Scenario | str | os.PathLike[str], *, world: World | str | None = None, seed: int = 0
) -> Result:
    """Run one future of a scenario (uncertain inputs at their medians), as ``sim run`` does.

    Args:
        scenario: a `Scenario`, or the path of its YAML file.
        world: the world to run on, or its name; by default the world the scenario names.
        seed: the random seed (recorded; a single run draws nothing).

    Returns:
        The run's `Result`: its tables as DataFrames (``.shortfall``, ``.summary``,
        ``.prices``, ``.flows``, ``.stocks``, ``.production``, and what buyers lose:
        ``.units_not_built``, ``.extra_cost``, ``.resilience``).

    Raises:
        InputError: if the scenario file is not valid, or the run would not fit in memory.
        MassBalanceError: if the run's books do not balance.

    Example:
        >>> result = sim.run("scenarios/baseline.yaml")
        >>> result.shortfall.groupby("region")["shortfall_t"].sum()
    """
    from sim.runs.engine import run as run_engine

    scenario, world = _scenario_and_world(scenario, world)
    return Result(run_engine(world, scenario, seed=seed))


class Sweep:
    """Many futures of one scenario. Each table is a pandas DataFrame built when first read
    and then kept; ``raw`` holds every sample's paths.

    Attributes:
        raw: the `sim.runs.sweep.SweepResult` (arrays ``[sample, month, ...]`` and draws).
    """

    def __init__(self, raw: SweepResult, world: World | None = None) -> None:
        self.raw = raw
        self._swept_on = world  # the world swept (None: the one its scenario names)

    @property
    def samples(self) -> int:
        """The number of futures."""
        return self.raw.samples

    @property
    def scenario(self) -> Scenario:
        """The scenario that was swept."""
        return self.raw.scenario

    @cached_property
    def summary(self) -> pd.DataFrame:
        """``date, region, sector, material, metric, mean, p05, p50, p95``: monthly shortfall
        (t), its share of demand, and prices by tier, over the futures."""
        from sim.runs.sweep_tables import summary_table

        return summary_table(self.raw)

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Cumulative shortfall over the horizon by buyer group: mean, percentiles, share of
        demand and the share of futures with any shortfall."""
        from sim.runs.sweep_tables import totals_table

        return totals_table(self.raw)

    @cached_property
    def parameters(self) -> pd.DataFrame:
        """One row a future: its index, its seed and every drawn input."""
        from sim.runs.sweep_tables import parameters_table

        return parameters_table(self.raw)

    @cached_property
    def units_not_built(self) -> pd.DataFrame:
        """Units not built and the output at risk, by year x region (and roll-ups) x product:
        mean and percentiles over the futures, beside the units planned."""
        from sim.runs.sweep_impact import sweep_impact_table
        from sim.runs.windows import BY_YEAR

        return sweep_impact_table(self.raw, self._world, BY_YEAR)

    @cached_property
    def extra_cost(self) -> pd.DataFrame:
        """What buyers paid over 2024 prices (US$), by year x region (and roll-ups) x sector x
        material: mean and percentiles over the futures."""
        from sim.runs.sweep_costs import sweep_extra_cost_table
        from sim.runs.windows import BY_YEAR

        return sweep_extra_cost_table(self.raw, self._world, BY_YEAR)

    @cached_property
    def resilience(self) -> pd.DataFrame:
        """By buyer group (and roll-up) x metric (depth, months short, cumulative shortfall):
        mean and percentiles over the futures, and the share of futures that ran short."""
        from sim.runs.sweep_resilience import sweep_resilience_table

        return sweep_resilience_table(self.raw)

    def write(self, folder: str | os.PathLike[str], keep_samples: bool = False) -> Path:
        """Write the folder ``sim sweep`` writes (with ``keep_samples`` every future's path
        too) and return it; `InputError` if ``folder`` exists."""
        from sim.io.report import check_free, write_sweep

        check_free(Path(folder))
        write_sweep(self.raw, Path(folder), keep_samples, {}, world=self._world)
        return Path(folder)

    @cached_property
    def _world(self) -> World:
        from sim.world.loader import vintage_world

        return self._swept_on or vintage_world(self.raw.scenario.world)


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    samples: int,
    *,
    seed: int = 0,
    workers: int = 1,
    method: Literal["random", "lhs", "sobol"] = "random",
    scheduler: str | None = None,
    batch_size: int | None = None,
    world: World | str | None = None,
) -> Sweep:
    """Run many futures of a scenario, drawing its uncertain inputs, as ``sim sweep`` does.

    Args:
        scenario: a `Scenario`, or the path of its YAML file.
        samples: the number of futures (1 to 1,000,000).
        seed: the random seed; the same seed gives the same numbers whatever runs them.
        workers: processes to run batches on (1: this process).
        method: how inputs are drawn: ``random``, ``lhs`` or ``sobol``.
        scheduler: a Dask scheduler's address (``tcp://HOST:PORT``), or ``local`` for a local
            Dask cluster; by default no Dask.
        batch_size: samples a batch (by default up to 500, two batches a worker); it changes
            no number.
        world: the world to run on, or its name; by default the world the scenario names.

    Returns:
        The `Sweep`: ``.summary``, ``.totals``, ``.parameters``, ``.units_not_built``,
        ``.extra_cost`` and ``.resilience`` as DataFrames.

    Raises:
        InputError: if the scenario is not valid or the sweep would not fit in memory.
        MassBalanceError: if a future's books do not balance.

    Example:
        >>> futures = sim.sweep("scenarios/china-2025-licensing-uncertain.yaml", 200, seed=1)
        >>> futures.totals.nlargest(5, "mean")
    """
    from sim.runs.sweep import sweep as sweep_engine

    scenario, world = _scenario_and_world(scenario, world)
    return Sweep(
        sweep_engine(
            world,
            scenario,
            samples,
            seed=seed,
            method=method,
            workers=workers,
            scheduler=scheduler,
            batch_size=batch_size,
        ),
        world,
    )


def compare(
    a: Scenario | str | os.PathLike[str],
    b: Scenario | str | os.PathLike[str],
    samples: int,
    *,
    seed: int = 0,
    workers: int = 1,
    method: Literal["random", "lhs", "sobol"] = "random",
    world: World | str | None = None,
) -> pd.DataFrame:
    """Sweep two scenarios with the same draws of their shared inputs and measure B against
    A future by future, as ``sim compare`` does.

    Args:
        a: the reference scenario, or the path of its YAML file.
        b: the scenario compared with it.
        samples: the number of futures of each.
        seed: the random seed of both sweeps.
        workers: processes to run batches on (1: this process).
        method: how inputs are drawn: ``random``, ``lhs`` or ``sobol``.
        world: the world both run on, or its name; by default the world each names.

    Returns:
        One row a buyer group: cumulative shortfall in A and B (``a_mean``, ``b_mean``), the
        paired difference B - A (``diff_mean``, ``diff_p05``, ``diff_p50``, ``diff_p95``)
        and the share of futures where B is lower or higher.

    Raises:
        InputError: if either scenario is not valid, or they run on different worlds or
            horizons.

    Example:
        >>> sim.compare("scenarios/baseline.yaml", "scenarios/china-magnet-ban-us.yaml", 1)
    """
    from sim.runs.sweep import check_comparable
    from sim.runs.sweep_tables import comparison_table

    (scenario_a, world_a), (scenario_b, world_b) = (_scenario_and_world(s, world) for s in (a, b))
    check_comparable(scenario_a, scenario_b, one_world=world is not None)
    first, second = (
        sweep(one, samples, seed=seed, workers=workers, method=method, world=on)
        for one, on in ((scenario_a, world_a), (scenario_b, world_b))
    )
    return comparison_table(first.raw, second.raw)


def backtest(
    scenario: Scenario | str | os.PathLike[str],
    observed: str | os.PathLike[str],
    *,
    world: World | str | None = None,
    seed: int = 0,
) -> Backtest:
    """Run a scenario and hold its monthly series against observed ones, as ``sim backtest``
    does.

    Args:
        scenario: a `Scenario`, or the path of its YAML file.
        observed: a CSV file of observations, columns ``date, series, key, value`` (see the
            README's "Backtests").
        world: the world to run on, or its name; by default the world the scenario names.
        seed: the random seed (recorded).

    Returns:
        The `sim.runs.backtest.Backtest`: DataFrames ``summary`` (errors, peak ratios and
        lags a key), ``directions`` (after each event), ``compared`` (each observed period)
        and ``simulated`` (the run's monthly series).

    Raises:
        InputError: if the scenario or the observed file is not valid.

    Example:
        >>> found = sim.backtest(
        ...     "scenarios/china-2010-quotas.yaml",
        ...     "scenarios/observed/china-2010-quotas-pre-event.csv",
        ... )
        >>> found.summary[["series", "key", "mape"]]
    """
    from sim.io.observed import check_observed, read_observed
    from sim.runs.backtest import compare as hold

    scenario, world = _scenario_and_world(scenario, world)
    table = read_observed(Path(observed))
    check_observed(table, world, str(observed))
    return hold(run(scenario, world=world, seed=seed).raw, table)

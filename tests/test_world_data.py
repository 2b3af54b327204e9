"""The world's data files go through row models: a bad row is an input error at its file, line
and column (exit status 2, no traceback), as a bad scenario is."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

import sim.world
from sim.errors import InputError
from sim.io.cli import main
from sim.world import data_files
from sim.world.data_files import parse_rows, read_rows
from sim.world.loader import built_world, vintage_world
from sim.world.rows import MineRow, OreRow, PlantRow

DATA = Path(sim.world.__file__).parent / "data"
PACKAGED = data_files.DATA
SCENARIO = "name: s\nhorizon: {start: 2024-01-01, end: 2024-12-31}\n"


@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the embedded data that the loader reads instead of the package's."""
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    monkeypatch.setattr(data_files, "DATA", copy)
    return copy


def _edit(path: Path, line: int, column: str, value: str | None) -> None:
    """Set one cell of a CSV file (``value=None`` drops the whole column)."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    at = rows[0].index(column)
    for number, row in enumerate(rows, start=1):
        if value is None:
            del row[at]
        elif number == line:
            row[at] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _validate(tmp_path: Path, capsys) -> tuple[int, str]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    status = main(["validate", str(scenario)])
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "problem"),
    [
        (
            "mines.csv",
            3,
            "output_t_reo",
            "lots",
            "output_t_reo: Input should be a valid number, unable to parse string as a number "
            "(got 'lots')",
        ),
        (
            "plants.csv",
            4,
            "start",
            "2025-02-30",
            "start: Input should be a valid date or datetime, day value is outside expected "
            "range (got '2025-02-30')",
        ),
        ("plants.csv", 5, "start", "soon", "start: must be a date YYYY-MM-DD (got 'soon')"),
        ("demand.csv", 1, "growth_pa", None, "growth_pa: missing column"),
        ("routes.csv", 2, "lead_time_days", "inf", "lead_time_days: Input should be a finite"),
        ("prices.csv", 6, "usd_per_kg", "-3", "usd_per_kg: Input should be greater than 0"),
        ("ores.csv", 2, "NdPr", "30", "the element percentages sum to 105.24, not 100"),
        ("countries.csv", 3, "region", "", "region: a value is required (the cell is blank)"),
    ],
)
def test_a_bad_data_row_is_an_input_error_at_its_file_line_and_column(
    data_copy, tmp_path, capsys, name, line, column, value, problem
) -> None:
    _edit(data_copy / name, line, column, value)
    status, err = _validate(tmp_path, capsys)
    assert status == 2
    assert err.startswith(f"error: {data_copy / name}:{line}: {problem}"), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_vintage_file_is_named_in_its_own_folder(data_copy, tmp_path, capsys) -> None:
    _edit(data_copy / "vintages/2009/mines.csv", 2, "growth_pa", "fast")
    with pytest.raises(InputError) as err:
        vintage_world("default@2009")
    assert str(err.value).startswith(f"{data_copy}/vintages/2009/mines.csv:2: growth_pa: ")


def test_an_unknown_or_repeated_column_is_refused_at_the_header() -> None:
    text = "ore,NdPr,Dy,Tb,Sm,La,Ce,Y,Gdd,source,confidence\n"
    with pytest.raises(InputError) as err:
        parse_rows(OreRow, text, "ores.csv")
    assert str(err.value) == "ores.csv:1: Gdd: unknown column; did you mean 'Gd'?"
    with pytest.raises(InputError) as err:
        parse_rows(MineRow, "id,id\n", "mines.csv")
    assert str(err.value) == "mines.csv:1: id: column given twice"


def test_a_row_with_too_many_cells_and_blank_lines_keep_their_line_numbers() -> None:
    header = "id,name,country,ore,output_t_reo,source,confidence\n"
    row = "m,Mine,US,o,10,s,A\n"
    rows = parse_rows(MineRow, header + row + "\n" + row, "mines.csv")
    assert [r.line for r in rows] == [2, 4]
    with pytest.raises(InputError) as err:
        parse_rows(MineRow, header + "\n" + row.replace(",A", ",A,extra"), "mines.csv")
    assert str(err.value) == "mines.csv:3: 8 cells, but the header has 7 columns"


def test_blank_cells_take_the_columns_defaults() -> None:
    [plant] = read_rows(PlantRow, "plants.csv")[:1]
    assert plant.recovers == "all" and plant.priority == 1
    header = "id,name,country,ore,output_t_reo,growth_pa,source,confidence\n"
    [mine] = parse_rows(MineRow, header + "m,Mine,US,o,10,,s,A\n", "mines.csv")
    assert mine.row.growth_pa == 0.0


def test_a_world_is_built_once_per_vintage_and_data_folder(data_copy) -> None:
    world = vintage_world("default")
    assert vintage_world("default@2024") is world is built_world(2024, data_copy)
    assert built_world(2024, PACKAGED) is not world
    assert built_world(2024, PACKAGED).facilities == world.facilities

"""Bad input for the policy levers' fields: exit 2 with file, line and field path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sim.errors import InputError
from sim.io.cli import main
from sim.io.scenario_files import load_scenario

HEAD = """\
name: t
horizon:
  start: 2024-01-01
  end: 2026-12-31
events:
"""
PLANT = """\
  - kind: new_capacity
    facility: mp_10x
    nameplate_tpa: 1000
    start: 2026-01-01
"""
CONTROL = """\
  - kind: export_control
    exporter: CN
    elements: [Dy, Tb]
    start: 2025-04-04
"""
PILE = """\
  - kind: stockpile
    region: US
    material: NdFeB
    initial_t: 100
    max_release_t_per_month: 5
    start: 2025-01-01
"""
FLOOR = """\
  - kind: price_floor
    product: NdPr_oxide
    usd_per_kg: 110
    beneficiary: mp_materials
    years: 10
    start: 2025-07-10
"""
OXIDE_OFFTAKE = """\
  - kind: offtake
    facility: lynas_malaysia
    share: 1
    region: JP
    start: 2024-07-01
"""
# (event text, line of the bad field, its path, words the message must hold)

CASES = [
    (
        PLANT + "    completion_probability: 1.4\n",
        10,
        "events[0].completion_probability",
        "less than or equal to 1",
    ),
    (
        PLANT + "    completion_probability: -0.1\n",
        10,
        "events[0].completion_probability",
        "greater than or equal to 0",
    ),
    (PLANT + "    ramp: cubic\n", 10, "events[0].ramp", "linear"),
    (PLANT + "    delay_months: -2\n", 10, "events[0].delay_months", "greater than or equal"),
    (PLANT + "    delay_month: 2\n", 10, "events[0].delay_month", "did you mean 'delay_months'"),
    (
        CONTROL + "    mode: licence\n    approval_rate: 1.4\n",
        11,
        "events[0].approval_rate",
        "less than or equal to 1",
    ),
    (CONTROL + "    mode: licence\n", 6, "events[0]", "needs 'approval_rate'"),
    (
        CONTROL + "    mode: licence\n    approval_rate: 0.5\n    share: 0.5\n",
        6,
        "events[0]",
        "not 'share'",
    ),
    (
        CONTROL + "    mode: ban\n    review_delay_days: 45\n",
        6,
        "events[0]",
        "only apply to mode 'licence'",
    ),
    (
        CONTROL + "    mode: licence\n    approval_rate: 0.5\n    review_delay_days: -1\n",
        12,
        "events[0].review_delay_days",
        "greater than or equal to 0",
    ),
    (CONTROL + "    mode: licences\n", 10, "events[0].mode", "'licence'"),
    (
        CONTROL + "    mode: ban\n    suspended: 2025-06-01\n    resumed: 2025-05-01\n",
        6,
        "events[0]",
        "must be after suspended",
    ),
    (CONTROL + "    mode: ban\n    resumed: 2025-05-01\n", 6, "events[0]", "needs 'suspended'"),
    (
        CONTROL + "    mode: ban\n    announced: 2025-05-01\n",
        6,
        "events[0]",
        "must not be after start",
    ),
    (
        CONTROL + "    mode: ban\n    sectors: [defense]\n",
        11,
        "events[0].sectors",
        "did you mean 'defence'",
    ),
    (
        CONTROL + "    mode: ban\n    general_licence: [USA]\n",
        11,
        "events[0].general_licence",
        "unknown country or region",
    ),
    (PILE.replace("region: US", "region: USA"), 7, "events[0].region", "did you mean 'US'"),
    (
        PILE.replace("material: NdFeB", "material: NdFe"),
        8,
        "events[0].material",
        "did you mean 'NdFeB'",
    ),
    (PILE + "    sectors: [defense]\n", 12, "events[0].sectors", "did you mean 'defence'"),
    (PILE + "    purchase_t_per_month: 2\n", 6, "events[0]", "needs 'target_t'"),
    (
        PILE.replace("initial_t: 100", "initial_t: -1"),
        9,
        "events[0].initial_t",
        "greater than or equal to 0",
    ),
    (
        PILE.replace("max_release_t_per_month: 5", "max_release_t_per_month: 0"),
        10,
        "events[0].max_release_t_per_month",
        "greater than 0",
    ),
    (
        PILE + "    release_threshold: 2\n",
        12,
        "events[0].release_threshold",
        "less than or equal to 1",
    ),
    (
        FLOOR.replace("mp_materials", "mp_material"),
        9,
        "events[0].beneficiary",
        "did you mean 'mp_materials'",
    ),
    (FLOOR.replace("NdPr_oxide", "Dy_oxide"), 7, "events[0].product", "sells NdPr_oxide"),
    (FLOOR.replace("years: 10", "years: 0"), 10, "events[0].years", "greater than 0"),
    (
        FLOOR.replace("usd_per_kg: 110", "usd_per_kg: -5"),
        8,
        "events[0].usd_per_kg",
        "greater than 0",
    ),
    (
        "  - kind: price_level\n    product: NdPr_oxide\n    tiers: [domestic]\n"
        "    usd_per_kg: 37\n    start: 2025-01-01\n",
        8,
        "events[0].tiers",
        "unknown tiers",
    ),
    (
        "  - kind: offtake\n    facility: thailand\n    share: 1\n    region: US\n"
        "    start: 2028-07-01\n",
        7,
        "events[0].facility",
        "not a magnet or separation plant",
    ),
    (
        "  - kind: offtake\n    facility: mp_materials\n    share: 1\n    region: US\n"
        "    start: 2028-07-01\n    elements: [NdPr]\n",
        11,
        "events[0].elements",
        "only for a separation plant",
    ),
    (OXIDE_OFFTAKE + "    sectors: [ev_traction]\n", 11, "events[0].sectors", "metal plants"),
    (OXIDE_OFFTAKE.replace("JP", "KR"), 9, "events[0].region", "no metal plant in that region"),
    (OXIDE_OFFTAKE + "    elements: [Nb]\n", 11, "events[0].elements", "unknown elements"),
    (OXIDE_OFFTAKE + "    tonnes_pa: 0\n", 11, "events[0].tonnes_pa", "greater than 0"),
    (
        "  - kind: offtake\n    facility: mp_10x\n    share: 1\n    region: US\n"
        "    start: 2028-07-01\n    elements: [Dy]\n",
        11,
        "events[0].elements",
        "only for a separation plant",
    ),
    (
        "  - kind: offtake\n    facility: mp_10x\n    share: 1\n    region: US\n"
        "    start: 2028-07-01\n    tonnes_pa: 100\n",
        11,
        "events[0].tonnes_pa",
        "only for a separation plant",
    ),
    (
        "  - kind: offtake\n    facility: mp_10x\n    share: 1.5\n    region: US\n"
        "    start: 2028-07-01\n",
        8,
        "events[0].share",
        "less than or equal to 1",
    ),
    (
        "  - kind: offtake\n    facility: mp_10x\n    share: 1\n    region: US\n"
        "    sectors: [defense]\n    start: 2028-07-01\n",
        10,
        "events[0].sectors",
        "did you mean 'defence'",
    ),
    (
        "  - kind: offtake\n    facility: mp_10x\n    share: 1\n    region: USA\n"
        "    start: 2028-07-01\n",
        9,
        "events[0].region",
        "did you mean 'US'",
    ),
    (
        "  - kind: offtake\n    facility: mp_10x\n    share: 1\n    region: US\n"
        "    years: 0\n    start: 2028-07-01\n",
        10,
        "events[0].years",
        "greater than 0",
    ),
    (
        PILE + "    purchase_t_per_month: 2\n    target_t: -5\n",
        13,
        "events[0].target_t",
        "greater than or equal to 0",
    ),
    (
        CONTROL + "    mode: ban\n    foreign_content_threshold: 1.5\n",
        11,
        "events[0].foreign_content_threshold",
        "less than or equal to 1",
    ),
    (
        CONTROL + "    mode: ban\n    suspended: 2025-13-01\n",
        11,
        "events[0].suspended",
        "not a valid",
    ),
    (
        "  - kind: price_cap\n    product: Dy_oxide\n    usd_per_kg: 0\n    start: 2025-01-01\n",
        8,
        "events[0].usd_per_kg",
        "greater than 0",
    ),
    (
        "  - kind: price_cap\n    product: Dy_oxide\n    usd_per_kg: 500\n    start: 2025-01-01\n"
        "    end: 2024-01-01\n",
        6,
        "events[0]",
        "must be after start",
    ),
    (
        "  - kind: price_level\n    product: NdPr_metal\n    usd_per_kg: 37\n"
        "    start: 2025-01-01\n",
        7,
        "events[0].product",
        "'NdPr_oxide'",
    ),
]


@pytest.mark.parametrize(
    ("event", "line", "path", "words"),
    CASES,
    ids=[c[2] + ":" + c[0].splitlines()[-1].strip() for c in CASES],
)
def test_bad_lever_field_names_file_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], event: str, line: int, path: str, words: str
) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(HEAD + textwrap.dedent(event), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(file)
    err = info.value
    assert (err.line, err.path) == (line, path), str(err)
    assert words in str(err)
    assert main(["validate", str(file)]) == 2
    out = capsys.readouterr().err
    assert f"{file}:{line}: {path}: " in out and "Traceback" not in out

"""Scenario files: every bad input is an `InputError` naming file, line, field path and value."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from sim.config.events import ExportControl, Outage
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.scenario_files import load_scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"

HEAD = """\
name: t
horizon:
  start: 2024-01-01
  end: 2026-12-31
"""
# Lines 1-4 are HEAD; an `events:` block starts at line 5 and its first event at line 6.
EXPORT = """\
events:
  - kind: export_control
    exporter: CN
    destinations: [US]
    elements: [Dy, Tb]
    forms: [magnet]
    mode: ban
    start: 2025-04-04
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def fails(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    err = info.value
    assert str(err) == err.render()
    assert path.name in str(err)
    return err


def check(
    err: InputError, line: int | None, field: str | None, *words: str, value: object = ...
) -> None:
    text = str(err)
    assert err.line == line, text
    if line is not None:
        assert f"{err.file}:{line}: " in text
    assert err.path == field, text
    if field is not None:
        assert f": {field}: " in text
    for word in words:
        assert word in text, text
    if value is not ...:
        assert err.has_value and err.value == value, text
        assert f"(got {value!r})" in text


# -- valid files ------------------------------------------------------------------------------
def test_minimal_file_loads(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, HEAD))
    assert isinstance(s, Scenario)
    assert s.name == "t" and s.events == []
    assert s.horizon.start == dt.date(2024, 1, 1) and s.horizon.end == dt.date(2026, 12, 31)


def test_file_with_every_event_kind_loads(tmp_path: Path) -> None:
    s = load_scenario(
        write(
            tmp_path,
            HEAD
            + EXPORT
            + """\
  - kind: export_control
    exporter: CN
    mode: quota
    share: 0.4
    start: 2025-01-01
    end: 2026-01-01
  - kind: outage
    facility: mountain_pass
    share: 0.5
    start: 2025-01-01
    end: 2025-06-01
  - kind: new_capacity
    facility: new_us_metal
    stage: metal
    country: US
    nameplate_tpa: 1000
    ramp_months: 12
    start: 2026-01-01
""",
        )
    )
    assert [e.kind for e in s.events] == [
        "export_control",
        "export_control",
        "outage",
        "new_capacity",
    ]
    assert isinstance(s.events[1], ExportControl) and s.events[1].share == 0.4


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    s = load_scenario(path)
    assert isinstance(s, Scenario)
    assert s.name == path.stem


def test_shipped_scenarios_exist() -> None:
    assert len(list(SCENARIOS.glob("*.yaml"))) >= 3


# -- schema errors ----------------------------------------------------------------------------
def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + EXPORT.replace("    exporter: CN", "    exporterr: CN"))
    err = fails(path)
    check(err, 7, "events[0].exporterr", "unknown field", "did you mean 'exporter'?")


def test_unknown_top_level_field(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "horizn: 3\n"))
    check(err, 5, "horizn", "unknown field", "did you mean 'horizon'?")


def test_wrong_type_for_nameplate(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: new_capacity
    facility: mp_10x
    nameplate_tpa: lots
    start: 2026-01-01
""",
        )
    )
    check(err, 8, "events[0].nameplate_tpa", value="lots")


def test_negative_tonnage(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: new_capacity
    facility: mp_10x
    start: 2026-01-01
    nameplate_tpa: -5
""",
        )
    )
    check(err, 9, "events[0].nameplate_tpa", "greater than 0", value=-5)


def test_share_outside_zero_one(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: export_control
    exporter: CN
    mode: quota
    start: 2025-01-01
    share: 1.4
""",
        )
    )
    check(err, 10, "events[0].share", "less than or equal to 1", value=1.4)


def test_quota_without_share(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: export_control
    exporter: CN
    mode: quota
    start: 2025-01-01
""",
        )
    )
    check(err, 6, "events[0]", "mode 'quota' needs 'share'")


def test_export_control_end_before_start(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT + "    end: 2025-01-01\n"))
    check(err, 6, "events[0]", "end (2025-01-01) must be after start (2025-04-04)")


def test_horizon_end_before_start(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            """\
name: t
horizon:
  start: 2026-01-01
  end: 2025-01-01
""",
        )
    )
    check(err, 2, "horizon", "end (2025-01-01) must be after start (2026-01-01)")


def test_outage_end_before_start(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: outage
    facility: mountain_pass
    start: 2025-06-01
    end: 2025-06-01
""",
        )
    )
    check(err, 6, "events[0]", "must be after start")


def test_unknown_element(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("[Dy, Tb]", "[Dy, Xx]")))
    check(err, 9, "events[0].elements", "unknown elements ['Xx']")


def test_unknown_form(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("[magnet]", "[magnets]")))
    check(err, 10, "events[0].forms", "unknown forms ['magnets']")


def test_unknown_event_kind(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("kind: export_control", "kind: embargo")))
    check(err, 6, "events[0]", "unknown event kind", "export_control")


def test_event_without_kind(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("kind: export_control", "label: x")))
    check(err, 6, "events[0]", "needs a 'kind'")


def test_missing_horizon(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "name: t\nevents: []\n"))
    check(err, 1, "horizon", "required field is missing")
    assert "(got" not in str(err)


def test_missing_event_field(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("    start: 2025-04-04\n", "")))
    check(err, 6, "events[0].start", "required field is missing")


@pytest.mark.parametrize("text", [".nan", ".NaN", ".inf", "-.inf", ".Inf"])
def test_nan_and_inf_refused(tmp_path: Path, text: str) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + f"""\
events:
  - kind: outage
    facility: mountain_pass
    start: 2025-01-01
    end: 2025-06-01
    share: {text}
""",
        )
    )
    check(err, 10, "events[0].share", "finite")
    assert err.has_value


def test_inf_nameplate_refused(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: new_capacity
    facility: mp_10x
    start: 2026-01-01
    nameplate_tpa: .inf
""",
        )
    )
    check(err, 9, "events[0].nameplate_tpa", "finite", value=float("inf"))


def test_bad_name_pattern(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD.replace("name: t", "name: ../escape")))
    check(err, 1, "name", value="../escape")


def test_union_field_path_has_no_pydantic_internals(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("[US]", "5")))
    check(err, 8, "events[0].destinations", value=5)


# -- world checks -----------------------------------------------------------------------------
def test_unknown_facility_in_outage(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: outage
    facility: mountain_pas
    start: 2025-01-01
    end: 2025-06-01
""",
        )
    )
    check(
        err,
        7,
        "events[0].facility",
        "unknown facility",
        "did you mean 'mountain_pass'?",
        value="mountain_pas",
    )


def test_unknown_exporter(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("exporter: CN", "exporter: ZZ")))
    check(err, 7, "events[0].exporter", "unknown country", value="ZZ")


def test_unknown_destination(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("[US]", "[US, Mars]")))
    check(err, 8, "events[0].destinations", "unknown country or region", value="Mars")


def test_new_facility_needs_stage(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + """\
events:
  - kind: new_capacity
    facility: brand_new
    country: US
    nameplate_tpa: 10
    start: 2026-01-01
""",
        )
    )
    check(err, 6, "events[0].stage", "needs 'stage'")


def test_second_event_error_points_at_second_event(tmp_path: Path) -> None:
    err = fails(
        write(
            tmp_path,
            HEAD
            + EXPORT
            + """\
  - kind: outage
    facility: nowhere
    start: 2025-01-01
    end: 2025-06-01
""",
        )
    )
    check(err, 14, "events[1].facility", value="nowhere")


# -- YAML-level errors ------------------------------------------------------------------------
def test_empty_file(tmp_path: Path) -> None:
    err = fails(write(tmp_path, ""))
    check(err, 1, None, "empty")


def test_comment_only_file(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "# nothing here\n"))
    assert "empty" in str(err)


def test_not_yaml(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "name: [unclosed\nhorizon: 3\n"))
    assert "not valid YAML" in str(err)
    assert err.line is not None and 1 <= err.line <= 3


def test_tab_indentation_is_invalid_yaml(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "name: t\nhorizon:\n\tstart: 2024-01-01\n"))
    assert "not valid YAML" in str(err) and err.line == 3


def test_top_level_list(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "- name: t\n- horizon: 3\n"))
    check(err, 1, None, "mapping at the top level", value="list")


def test_top_level_scalar(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "just text\n"))
    check(err, 1, None, "mapping at the top level", value="str")


def test_duplicate_key(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "name: again\n"))
    check(err, 5, "name", "duplicate", "first at line 1")


def test_duplicate_key_in_event(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT + "    mode: quota\n"))
    check(err, 13, "events[0].mode", "duplicate", "first at line 11")


def test_non_text_key(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "3: x\n"))
    check(err, 5, None, "keys must be text", value=3)


def test_two_documents(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "---\n" + HEAD))
    assert "not valid YAML" in str(err)


def test_python_tags_are_never_constructed(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "description: !!python/name:os.system ''\n"))
    assert "not valid YAML" in str(err) and err.line == 5
    marker = tmp_path / "ran"
    err = fails(
        write(tmp_path, HEAD + f"description: !!python/object/apply:os.system ['touch {marker}']\n")
    )
    assert err.line == 5 and not marker.exists()


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.replace("name: t", "name: caf\xe9").encode("latin-1"))
    assert "UTF-8" in str(fails(path))


def test_control_character(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "description: a\x00b\n"))
    check(err, 5, None, "not valid YAML")


@pytest.mark.parametrize("text", ["2024-13-45", "0000-01-01", "!!timestamp soon"])
def test_impossible_date(tmp_path: Path, text: str) -> None:
    err = fails(write(tmp_path, f"name: t\nhorizon:\n  start: {text}\n  end: 2026-12-31\n"))
    check(err, 3, "horizon.start", "not a valid date")
    assert "YYYY-MM-DD" in str(err)


@pytest.mark.parametrize("text", ["!!int abc", "!!float abc", "!!bool maybe"])
def test_bad_explicit_tag(tmp_path: Path, text: str) -> None:
    err = fails(write(tmp_path, HEAD + f"description: {text}\n"))
    check(err, 5, "description", "not a valid")


def test_list_inside_element_list(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("[Dy, Tb]", "[Dy, [Tb]]")))
    check(err, 9, "events[0].elements[1]", "must be a name")


def test_mapping_inside_form_list(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + EXPORT.replace("[magnet]", "\n      - {a: 1}")))
    check(err, 11, "events[0].forms[0]", "must be a name")


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    err = fails(write(tmp_path, "\n".join(lines) + "\n"))
    assert "too many" in str(err) or "more than" in str(err)


def test_recursive_alias(tmp_path: Path) -> None:
    fails(write(tmp_path, "name: &a [*a]\n"))


def test_deep_nesting(tmp_path: Path) -> None:
    fails(write(tmp_path, "name: " + "[" * 3000 + "]" * 3000 + "\n"))


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(HEAD + "description: " + "x" * 1_000_001 + "\n")
    assert "larger than" in str(fails(path))


def test_missing_file(tmp_path: Path) -> None:
    err = fails(tmp_path / "nope.yaml")
    assert "no such file" in str(err)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").mkdir()
    assert "no such file" in str(fails(tmp_path / "d.yaml"))


# -- extends ----------------------------------------------------------------------------------
PARENT = """\
# parent scenario
name: parent
horizon:
  start: 2024-01-01
  end: 2027-12-31
events:
  - kind: outage
    facility: mountain_pass
    start: 2025-01-01
    end: 2025-06-01
"""


def test_extends_inherits_and_appends(tmp_path: Path) -> None:
    write(tmp_path, PARENT, "parent.yaml")
    child = write(tmp_path, "extends: parent.yaml\nname: child\n" + EXPORT, "child.yaml")
    s = load_scenario(child)
    assert s.name == "child"
    assert s.horizon.end == dt.date(2027, 12, 31)
    assert isinstance(s.events[0], Outage) and isinstance(s.events[1], ExportControl)
    assert len(s.events) == 2


def test_extends_child_overrides_horizon_field(tmp_path: Path) -> None:
    write(tmp_path, PARENT, "parent.yaml")
    child = write(
        tmp_path, "extends: parent.yaml\nname: child\nhorizon:\n  end: 2030-12-31\n", "child.yaml"
    )
    s = load_scenario(child)
    assert s.horizon.start == dt.date(2024, 1, 1) and s.horizon.end == dt.date(2030, 12, 31)
    assert len(s.events) == 1


def test_extends_chain_of_three(tmp_path: Path) -> None:
    write(tmp_path, PARENT, "a.yaml")
    write(tmp_path, "extends: a.yaml\nname: b\n" + EXPORT, "b.yaml")
    c = write(
        tmp_path,
        "extends: b.yaml\nname: c\nevents:\n  - kind: outage\n"
        "    facility: lynas_malaysia\n    start: 2026-01-01\n    end: 2026-02-01\n",
        "c.yaml",
    )
    s = load_scenario(c)
    assert [e.kind for e in s.events] == ["outage", "export_control", "outage"]
    assert s.events[2].facility == "lynas_malaysia"  # type: ignore[union-attr]


def test_extends_subfolder_relative_to_child(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "base", PARENT, "parent.yaml")
    (tmp_path / "kids").mkdir()
    child = write(tmp_path / "kids", "extends: ../base/parent.yaml\nname: child\n", "c.yaml")
    assert load_scenario(child).horizon.end == dt.date(2027, 12, 31)


def test_extends_shipped_baseline(tmp_path: Path) -> None:
    child = write(tmp_path, f"extends: {SCENARIOS / 'baseline.yaml'}\nname: mine\n")
    s = load_scenario(child)
    assert s.horizon == load_scenario(SCENARIOS / "baseline.yaml").horizon


def test_error_in_parent_event_points_at_parent(tmp_path: Path) -> None:
    parent = write(
        tmp_path, PARENT.replace("facility: mountain_pass", "facility: atlantis"), "parent.yaml"
    )
    child = write(tmp_path, "extends: parent.yaml\nname: child\n" + EXPORT, "child.yaml")
    with pytest.raises(InputError) as info:
        load_scenario(child)
    err = info.value
    assert Path(err.file or "").name == "parent.yaml" and Path(err.file or "") == parent
    check(err, 8, "events[0].facility", value="atlantis")


def test_schema_error_in_parent_points_at_parent(tmp_path: Path) -> None:
    write(
        tmp_path,
        PARENT.replace("    end: 2025-06-01", "    end: 2025-06-01\n    share: 2"),
        "parent.yaml",
    )
    child = write(tmp_path, "extends: parent.yaml\nname: child\n", "child.yaml")
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert Path(info.value.file or "").name == "parent.yaml"
    check(info.value, 11, "events[0].share", value=2)


def test_error_in_child_event_points_at_child_with_merged_index(tmp_path: Path) -> None:
    write(tmp_path, PARENT, "parent.yaml")
    child = write(
        tmp_path,
        "extends: parent.yaml\nname: child\n" + EXPORT.replace("exporter: CN", "exporter: ZZ"),
        "child.yaml",
    )
    err = fails(child)
    assert Path(err.file or "").name == "child.yaml"
    check(err, 5, "events[1].exporter", value="ZZ")


def test_error_in_child_horizon_points_at_child(tmp_path: Path) -> None:
    write(tmp_path, PARENT, "parent.yaml")
    child = write(
        tmp_path, "extends: parent.yaml\nname: child\nhorizon:\n  end: 2020-01-01\n", "child.yaml"
    )
    err = fails(child)
    assert "must be after start" in str(err) and err.path == "horizon"


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, "extends: b.yaml\nname: a\n" + HEAD[8:], "a.yaml")
    write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    err = fails(tmp_path / "a.yaml")
    check(err, 1, "extends", "cycle")
    assert "a.yaml" in str(err) and "b.yaml" in str(err)


def test_extends_self(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "extends: s.yaml\n" + HEAD))
    assert "cycle" in str(err)


def test_extends_missing_parent(tmp_path: Path) -> None:
    err = fails(write(tmp_path, HEAD + "extends: nowhere.yaml\n"))
    check(err, 5, "extends", "not found", value="nowhere.yaml")


def test_extends_not_a_path(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "extends: [a.yaml]\n" + HEAD))
    check(err, 1, "extends", "path to another scenario file", value=["a.yaml"])


def test_extends_invalid_yaml_parent(tmp_path: Path) -> None:
    write(tmp_path, "name: [unclosed\n", "parent.yaml")
    child = write(tmp_path, "extends: parent.yaml\nname: child\n", "child.yaml")
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert "parent.yaml" in str(info.value) and "not valid YAML" in str(info.value)


def test_child_without_name_points_at_child(tmp_path: Path) -> None:
    write(tmp_path, PARENT, "parent.yaml")
    child = write(tmp_path, "extends: parent.yaml\n", "child.yaml")
    err = fails(child)
    assert Path(err.file or "").name == "child.yaml"
    check(err, 1, "name", "required field is missing")

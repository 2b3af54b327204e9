"""Fuzzing the loader: any file gives a `Scenario` or an `InputError`, never anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.loading import load_scenario
from sim.scenario import Scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"
SHIPPED = {p.name: p.read_text(encoding="utf-8") for p in sorted(SCENARIOS.glob("*.yaml"))}
FIELDS = ["name", "horizon", "start", "end", "step", "events", "kind", "exporter", "share",
          "mode", "elements", "forms", "destinations", "facility", "nameplate_tpa", "extends",
          "ramp_months", "stage", "country", "feeds_from", "label", "world", "replace"]
WORDS = ["CN", "US", "all", "ban", "quota", "outage", "export_control", "new_capacity",
         "mountain_pass", "mp_10x", "Dy", "Xx", "magnet", "oxide", "2025-04-04", "2024-13-45",
         "baseline.yaml", "nowhere.yaml", ".nan", ".inf", "-1", "1e9", "~", "yes", "&a", "*a",
         "!!int", "!!python/name:os.system", "[", "{", "- ", ": ", "\t", "'", '"', "#", "---"]

scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
           | st.sampled_from(WORDS) | st.dates().map(str) | st.dates())
keys = st.sampled_from(FIELDS) | st.text(max_size=10)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def dump(value: object) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=None, sort_keys=False)


@st.composite
def random_text(draw: st.DrawFn) -> str:
    """Random YAML-looking text: fragments of keys, words and punctuation on random lines."""
    parts = st.sampled_from(FIELDS).map(lambda k: k + ":") | st.sampled_from(WORDS) | st.text(
        max_size=8)
    lines = draw(st.lists(st.tuples(st.integers(0, 6), st.lists(parts, max_size=4)),
                          max_size=12))
    return "\n".join(" " * indent + " ".join(words) for indent, words in lines)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """A shipped scenario with one random change, as (file name, text)."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    text = SHIPPED[name]
    how = draw(st.sampled_from(["delete", "replace", "rename", "duplicate", "truncate",
                                "insert"]))
    if how == "truncate":
        return name, text[: draw(st.integers(0, len(text)))]
    lines = text.splitlines()
    if how == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        return name, "\n".join([*lines[: i + 1], lines[i], *lines[i + 1:]]) + "\n"
    if how == "insert":
        i = draw(st.integers(0, len(lines)))
        extra = draw(random_text())
        return name, "\n".join([*lines[:i], extra, *lines[i:]]) + "\n"
    data = yaml.safe_load(text)
    # Walk down to a random mapping inside the document (the top, horizon or an event).
    targets: list[dict] = [data, data["horizon"], *[e for e in data.get("events") or []]]
    target = draw(st.sampled_from(targets))
    key = draw(st.sampled_from(sorted(target)))
    if how == "delete":
        del target[key]
    elif how == "replace":
        target[key] = draw(documents)
    else:
        target[draw(keys)] = target.pop(key)
    return name, dump(data)


@st.composite
def files(draw: st.DrawFn) -> tuple[str, str | bytes]:
    kind = draw(st.sampled_from(["document", "text", "mutated", "mutated", "bytes"]))
    if kind == "document":
        return "doc.yaml", dump(draw(documents))
    if kind == "text":
        return "text.yaml", draw(random_text() | st.text(max_size=200))
    if kind == "bytes":
        return "bytes.yaml", draw(st.binary(max_size=200))
    return draw(mutated())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_loader_returns_scenario_or_input_error(case: tuple[str, str | bytes]) -> None:
    name, content = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Relative `extends:` of the shipped files resolve beside the written file.
        for shipped, text in SHIPPED.items():
            (folder / shipped).write_text(text, encoding="utf-8")
        path = folder / f"fuzz-{name}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        try:
            result = load_scenario(path)
        except InputError as err:
            text = str(err)
            assert text and err.file, text
            assert "Traceback" not in text
            return
        assert isinstance(result, Scenario)

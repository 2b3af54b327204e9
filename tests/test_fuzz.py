"""Fuzzing the loader: any file gives a `Scenario` or an `InputError`, never anything else."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.scenario_files import load_scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"
SHIPPED = {p.name: p.read_text(encoding="utf-8") for p in sorted(SCENARIOS.glob("*.yaml"))}
FIELDS = [
    "name",
    "horizon",
    "start",
    "end",
    "step",
    "events",
    "kind",
    "exporter",
    "share",
    "mode",
    "elements",
    "forms",
    "destinations",
    "facility",
    "nameplate_tpa",
    "extends",
    "ramp_months",
    "stage",
    "country",
    "feeds_from",
    "label",
    "world",
    "replace",
]
WORDS = [
    "CN",
    "US",
    "all",
    "ban",
    "quota",
    "outage",
    "export_control",
    "new_capacity",
    "mountain_pass",
    "mp_10x",
    "Dy",
    "Xx",
    "magnet",
    "oxide",
    "2025-04-04",
    "2024-13-45",
    "baseline.yaml",
    "nowhere.yaml",
    ".nan",
    ".inf",
    "-1",
    "1e9",
    "~",
    "yes",
    "&a",
    "*a",
    "!!int",
    "!!python/name:os.system",
    "[",
    "{",
    "- ",
    ": ",
    "\t",
    "'",
    '"',
    "#",
    "---",
]

# Mostly printable text; control characters now and then.
chars = st.characters(
    min_codepoint=0x20, max_codepoint=0xD7FF, exclude_categories=("Cc",)
) | st.sampled_from(["\n", "\t", " "])
texts = st.text(chars, max_size=20) | st.text(max_size=5)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
    | st.sampled_from(WORDS)
    | st.dates().map(str)
    | st.dates()
)
keys = st.sampled_from(FIELDS) | st.text(chars, max_size=10)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


DATES = (
    st.sampled_from(["2024-01-01", "2025-04-04", "2026-01-01", "2028-12-31"])
    | st.dates(dt.date(2000, 1, 1), dt.date(2040, 1, 1))
    | st.dates().map(str)
)
VALUES = {
    "kind": st.sampled_from(["export_control", "new_capacity", "outage", "embargo"]),
    "exporter": st.sampled_from(["CN", "US", "MY", "ZZ"]),
    "mode": st.sampled_from(["ban", "quota", "total"]),
    "share": st.floats(-0.5, 1.5) | st.none(),
    "start": DATES,
    "end": DATES,
    "facility": st.sampled_from(["mountain_pass", "mp_10x", "china_ndfeb", "brand_new", "x"]),
    "elements": st.just("all") | st.lists(st.sampled_from(["Dy", "Tb", "NdPr", "Xx"]), max_size=3),
    "forms": st.just("all") | st.lists(st.sampled_from(["magnet", "oxide", "ore"]), max_size=3),
    "destinations": st.just("all")
    | st.lists(st.sampled_from(["US", "EU", "JP", "QQ"]), max_size=3),
    "nameplate_tpa": st.floats(-10, 1e6) | st.integers(-5, 10**6),
    "ramp_months": st.integers(-1, 300),
    "stage": st.sampled_from(["mine", "separation", "metal", "magnet"]),
    "country": st.sampled_from(["US", "CN", "ZZ"]),
    "feeds_from": st.lists(st.sampled_from(["mountain_pass", "mt_weld", "nope"]), max_size=2),
}
KIND_FIELDS = {
    "export_control": ["exporter", "mode", "share", "end", "elements", "forms", "destinations"],
    "new_capacity": ["facility", "nameplate_tpa", "ramp_months", "stage", "country", "feeds_from"],
    "outage": ["facility", "end", "share"],
    "embargo": ["exporter", "mode"],
}


@st.composite
def events(draw: st.DrawFn) -> dict:
    """An event of a random kind with mostly its own fields, mostly plausible values."""
    kind = draw(VALUES["kind"])
    names = draw(st.lists(st.sampled_from(KIND_FIELDS[kind]), unique=True))
    if draw(st.integers(0, 9)) == 0:
        names.append(draw(st.sampled_from(sorted(VALUES))))
    event = {"kind": kind, "start": draw(VALUES["start"])}
    for name in names:
        event[name] = draw(VALUES[name] if draw(st.integers(0, 5)) else scalars)
    return event


scenario_like = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["fuzz", "fuzz", "fuzz", "ok-2.x", "bad name", ""]),
        "horizon": st.just({"start": "2024-01-01", "end": "2028-12-31"})
        | st.fixed_dictionaries({"start": DATES, "end": DATES}),
        "events": st.lists(events(), max_size=4),
    },
    optional={"extends": st.sampled_from(["baseline.yaml", "missing.yaml"])},
)


def dump(value: object) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=None, sort_keys=False)


@st.composite
def random_text(draw: st.DrawFn) -> str:
    """Random YAML-looking text: fragments of keys, words and punctuation on random lines."""
    parts = st.sampled_from(FIELDS).map(lambda k: k + ":") | st.sampled_from(WORDS) | texts
    lines = draw(st.lists(st.tuples(st.integers(0, 6), st.lists(parts, max_size=4)), max_size=12))
    return "\n".join(" " * indent + " ".join(words) for indent, words in lines)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """A shipped scenario with one random change, as (file name, text)."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    text = SHIPPED[name]
    how = draw(st.sampled_from(["delete", "replace", "rename", "duplicate", "truncate", "insert"]))
    if how == "truncate":
        return name, text[: draw(st.integers(0, len(text)))]
    lines = text.splitlines()
    if how == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        return name, "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]) + "\n"
    if how == "insert":
        i = draw(st.integers(0, len(lines)))
        extra = draw(random_text())
        return name, "\n".join([*lines[:i], extra, *lines[i:]]) + "\n"
    data = yaml.safe_load(text)
    # Walk down to a random mapping inside the document (the top, horizon or an event).
    horizon = [data["horizon"]] if isinstance(data.get("horizon"), dict) else []
    targets: list[dict] = [data, *horizon, *[e for e in data.get("events") or []]]
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
    kind = draw(st.sampled_from(["document", "scenario", "text", "mutated", "mutated", "bytes"]))
    if kind == "document":
        return "doc.yaml", dump(draw(st.dictionaries(keys, documents, max_size=6) | documents))
    if kind == "scenario":
        return "like.yaml", dump(draw(scenario_like))
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

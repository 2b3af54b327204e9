"""Reading input: scenario YAML files (with line numbers and `extends:`) and the embedded world.

Every error raised here is an `InputError` naming the file, the line, the field path, the bad
value and what was expected.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.config import draws as sampling
from sim.config.distributions import Distribution, Uncertain
from sim.config.events import (
    EVENT_KINDS,
    NewCapacity,
    Offtake,
    Outage,
    PriceFloor,
    Recycling,
    Stockpile,
    Substitution,
)
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.world.loader import vintage_world, world_names
from sim.world.world import World

Lines = dict[tuple[Any, ...], tuple[str, int]]
MAX_BYTES = 1_000_000
MAX_NODES = 200_000  # values after alias expansion (guards against "billion laughs" files)


# -- YAML with positions ------------------------------------------------------------------------
def _construct(
    node: yaml.Node, loader: yaml.SafeLoader, file: str, path: tuple[Any, ...], lines: Lines
) -> Any:
    lines[path] = (file, node.start_mark.line + 1)
    if len(lines) > MAX_NODES:
        raise InputError(
            f"YAML expands to more than {MAX_NODES} values (aliases?)",
            file=file,
            line=node.start_mark.line + 1,
        )
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader, file, path)
            if not isinstance(key, str):
                raise InputError(
                    "keys must be text",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    path=_dotted(path) or None,
                    value=key,
                    has_value=True,
                )
            if key in out:
                raise InputError(
                    f"duplicate key '{key}' (first at line {lines[(*path, key)][1]})",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    path=_dotted((*path, key)),
                )
            lines[(*path, key)] = (file, key_node.start_mark.line + 1)
            out[key] = _construct(value_node, loader, file, (*path, key), lines)
            lines[(*path, key)] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, loader, file, (*path, i), lines) for i, n in enumerate(node.value)]
    return _scalar(node, loader, file, path)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader, file: str, path: tuple[Any, ...]) -> Any:
    """PyYAML's own constructor, whose non-YAML errors (``2024-13-45``, ``!!int abc``) become
    `InputError`s."""
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except Exception as exc:  # ValueError, KeyError, AttributeError... from PyYAML constructors
        why = f" ({exc})" if isinstance(exc, ValueError) else ""
        raise InputError(
            f"not a valid {node.tag.rsplit(':', 1)[-1]}{why}",
            file=file,
            line=node.start_mark.line + 1,
            path=_dotted(path) or None,
            value=getattr(node, "value", None) if isinstance(node, yaml.ScalarNode) else None,
            has_value=isinstance(node, yaml.ScalarNode),
        ) from None


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_text(path: Path, limit: int) -> str:
    """A UTF-8 text file of at most ``limit`` bytes, or an `InputError` saying why not."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    if len(raw) > limit:
        raise InputError(f"file is larger than {limit} bytes", file=str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(path)) from None


def read_yaml(path: Path) -> tuple[dict[str, Any], Lines]:
    """Parse one YAML file safely into a mapping and the line of every field."""
    file = str(path)
    text = read_text(path, MAX_BYTES)
    try:
        loader = yaml.SafeLoader(text)  # the reader checks characters here: keep it in the try
    except yaml.reader.ReaderError as exc:
        raise InputError(
            f"not valid YAML: {exc.reason} (character #x{exc.character:04x})",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
        ) from None
    try:
        node = loader.get_single_node()
        lines: Lines = {}
        data = None if node is None else _construct(node, loader, file, (), lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(
            f"not valid YAML: {exc.problem or exc.context}", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", file=file) from None
    finally:
        loader.dispose()
    if data is None:
        raise InputError(
            "the file is empty; expected a scenario mapping (name, horizon, events)",
            file=file,
            line=1,
        )
    if not isinstance(data, dict):
        raise InputError(
            "expected a mapping at the top level (name, horizon, events)",
            file=file,
            line=1,
            value=type(data).__name__,
            has_value=True,
        )
    return data, lines


def _merge(
    parent: dict[str, Any], plines: Lines, child: dict[str, Any], clines: Lines
) -> tuple[dict[str, Any], Lines]:
    """Child keys override the parent's, mappings merge, and ``events`` lists concatenate."""
    out = dict(parent)
    lines = dict(plines)
    for key, value in child.items():
        if key == "events" and isinstance(value, list) and isinstance(parent.get(key), list):
            offset = len(parent[key])
            out[key] = [*parent[key], *value]
            for path, where in clines.items():
                if path[:1] == ("events",) and len(path) > 1 and isinstance(path[1], int):
                    lines[("events", path[1] + offset, *path[2:])] = where
            continue
        if isinstance(value, dict) and isinstance(parent.get(key), dict):
            out[key] = {**parent[key], **value}
        else:
            out[key] = value
            lines = {p: w for p, w in lines.items() if p[:1] != (key,)}
        lines.update({p: w for p, w in clines.items() if p[:1] == (key,)})
    if () in clines:  # the merged document is the child's: top-level problems point at it
        lines[()] = clines[()]
    return out, lines


def resolve(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Lines]:
    """A scenario file with its `extends:` chain merged in (parent first)."""
    path = path.resolve() if path.exists() else path
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise InputError(f"extends: cycle {chain}", file=str(seen[-1]), path="extends")
    data, lines = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    if not isinstance(parent, str):
        raise InputError(
            "must be a path to another scenario file",
            file=str(path),
            line=lines[("extends",)][1],
            path="extends",
            value=parent,
            has_value=True,
        )
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise InputError(
            f"parent scenario {parent_path} not found",
            file=str(path),
            line=lines[("extends",)][1],
            path="extends",
            value=parent,
            has_value=True,
        )
    pdata, plines = resolve(parent_path, (*seen, path))
    pdata.pop("name", None)
    plines = {p: w for p, w in plines.items() if p[:1] != ("name",)}
    return _merge(pdata, plines, data, lines)


def _locate(loc: tuple[Any, ...], lines: Lines, fallback: str) -> tuple[str, int | None, str]:
    """File, line and dotted path of a pydantic error location (event kinds dropped)."""
    path = tuple(
        p
        for i, p in enumerate(loc)
        if not (isinstance(p, str) and p in EVENT_KINDS and i == 2)
        and not (isinstance(p, str) and "[" in p)
    )  # union members: "literal['all']"
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            file, line = lines[path[:cut]]
            return file, line, _dotted(path)
    return fallback, None, _dotted(path)


def _suggest(field: str, loc: tuple[Any, ...]) -> str:
    """A 'did you mean' for an unknown field, from the model's known fields."""
    from sim.config import events
    from sim.config.scenario import Horizon

    models: list[type] = [
        Scenario,
        Horizon,
        events.ExportControl,
        events.NewCapacity,
        events.Outage,
        events.Stockpile,
        events.PriceFloor,
        events.PriceLevel,
        events.PriceCap,
        events.Offtake,
        events.Substitution,
        events.Recycling,
        Distribution,
    ]
    known = {name for m in models for name in m.model_fields}  # type: ignore[attr-defined]
    close = difflib.get_close_matches(field, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _problem(err: Any) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field" + _suggest(str(err["loc"][-1]), err["loc"])
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f"unknown event kind; expected one of {list(EVENT_KINDS)}"
    if kind == "union_tag_not_found":
        return f"event needs a 'kind' (one of {list(EVENT_KINDS)})"
    return msg.removeprefix("Value error, ")


def validate(data: dict[str, Any], lines: Lines, file: str) -> Scenario:
    """The frozen `Scenario`, or an `InputError` for the first problem found."""
    _check_name_lists(data, lines, file)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown field first: a misspelt required field is also reported "missing"
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where_file, line, path = _locate(tuple(err["loc"]), lines, file)
        value = err.get("input")
        has_value = err["type"] not in ("missing", "extra_forbidden") and not isinstance(
            value, (dict, list)
        )
        raise InputError(
            _problem(err), file=where_file, line=line, path=path, value=value, has_value=has_value
        ) from None


def _check_name_lists(data: dict[str, Any], lines: Lines, file: str) -> None:
    """A list or mapping inside an event's `elements`/`forms` (the schema's validator looks
    names up in a dict, so an unhashable item would raise TypeError there)."""
    events = data.get("events")
    for i, ev in enumerate(events if isinstance(events, list) else []):
        for field in ("elements", "forms"):
            items = ev.get(field) if isinstance(ev, dict) else None
            for j, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, (dict, list)):
                    where_file, line, path = _locate(("events", i, field, j), lines, file)
                    raise InputError(
                        f"each of {field} must be a name, not a {type(item).__name__}",
                        file=where_file,
                        line=line,
                        path=path,
                    )


def check_against_world(scenario: Scenario, world: World, lines: Lines, file: str) -> None:
    """References the schema alone cannot check: facilities, countries, horizon vs world."""

    def fail(index: int, field: str, problem: str, value: Any) -> None:
        where_file, line, path = _locate(("events", index, field), lines, file)
        raise InputError(
            problem, file=where_file, line=line, path=path, value=value, has_value=True
        )

    if scenario.horizon.start.year < world.base_year:
        where_file, line, path = _locate(("horizon", "start"), lines, file)
        raise InputError(
            f"this world is as of {world.base_year}; the horizon may not start "
            "before that year (choose an earlier vintage, e.g. world: "
            "default@2009)",
            file=where_file,
            line=line,
            path=path,
            value=scenario.horizon.start.isoformat(),
            has_value=True,
        )
    ids = {f.id for f in world.facilities}
    known_countries = set(world.countries)
    places = known_countries | set(world.countries.values())
    for i, ev in enumerate(scenario.events):
        if isinstance(ev, Outage) and ev.facility not in ids:
            fail(i, "facility", f"unknown facility; {_nearest(ev.facility, ids)}", ev.facility)
        if isinstance(ev, NewCapacity):
            ids = _check_new_capacity(i, ev, world, ids, fail)
        if isinstance(ev, Stockpile):
            _check_stockpile(i, ev, world, fail)
        if isinstance(ev, Offtake):
            _check_offtake(i, ev, world, fail)
        if isinstance(ev, (Substitution, Recycling)):
            _check_demand_response(i, ev, world, fail)
        if isinstance(ev, PriceFloor):
            producers = {p.id: p for p in world.producers}
            if ev.beneficiary not in producers:
                fail(
                    i,
                    "beneficiary",
                    "unknown producer (sim/world/data/producers.csv); "
                    f"{_nearest(ev.beneficiary, set(producers))}",
                    ev.beneficiary,
                )
            elif producers[ev.beneficiary].product != ev.product:
                fail(
                    i,
                    "product",
                    f"producer '{ev.beneficiary}' sells {producers[ev.beneficiary].product}",
                    ev.product,
                )
        exporter = getattr(ev, "exporter", None)
        if exporter is not None and exporter not in known_countries:
            fail(i, "exporter", f"unknown country; {_nearest(exporter, known_countries)}", exporter)
        dest = getattr(ev, "destinations", "all")
        if dest != "all":
            for d in dest:
                if d not in places:
                    fail(i, "destinations", f"unknown country or region; {_nearest(d, places)}", d)
        for d in getattr(ev, "general_licence", ()):
            if d not in places:
                fail(i, "general_licence", f"unknown country or region; {_nearest(d, places)}", d)
        sectors = getattr(ev, "sectors", "all")
        known_sectors = {b.sector for b in world.buyers}
        for sector in () if sectors == "all" else sectors:
            if sector not in known_sectors:
                fail(i, "sectors", f"unknown sector; {_nearest(sector, known_sectors)}", sector)


def _check_stockpile(i: int, ev: Stockpile, world: World, fail: Any) -> None:
    regions = {b.region for b in world.buyers}
    if ev.region not in regions:
        fail(i, "region", f"unknown demand region; {_nearest(ev.region, regions)}", ev.region)
    materials = {b.material for b in world.buyers if b.region == ev.region}
    if ev.material not in materials:
        fail(
            i,
            "material",
            f"no buyers of it in {ev.region}; {_nearest(ev.material, materials)}",
            ev.material,
        )
    sectors = {
        b.sector for b in world.buyers if b.region == ev.region and b.material == ev.material
    }
    for sector in () if ev.sectors == "all" else ev.sectors:
        if sector not in sectors:
            fail(
                i,
                "sectors",
                f"no {ev.material} buyers of this sector in {ev.region}; "
                f"{_nearest(sector, sectors)}",
                sector,
            )


def _check_demand_response(i: int, ev: Substitution | Recycling, world: World, fail: Any) -> None:
    """Names a substitution or recycling event uses exist among the world's buyers/plants."""
    known = {
        "regions": {b.region for b in world.buyers},
        "sectors": {b.sector for b in world.buyers},
        "materials": {b.material for b in world.buyers},
    }
    if isinstance(ev, Recycling):
        if ev.region not in known["regions"]:
            fail(
                i,
                "region",
                f"unknown demand region; {_nearest(ev.region, known['regions'])}",
                ev.region,
            )
        seps = {f.id for f in world.by_stage("separation")}
        if ev.facility not in seps:
            fail(
                i, "facility", f"not a separation plant; {_nearest(ev.facility, seps)}", ev.facility
            )
        return
    for field, names in known.items():
        value = getattr(ev, field)
        for name in () if value == "all" else value:
            if name not in names:
                fail(i, field, f"unknown name; {_nearest(name, names)}", name)


def _check_offtake(i: int, ev: Offtake, world: World, fail: Any) -> None:
    magnets = {f.id for f in world.by_stage("magnet")}
    if ev.facility not in magnets:
        fail(i, "facility", f"not a magnet plant; {_nearest(ev.facility, magnets)}", ev.facility)
    regions = {b.region for b in world.buyers}
    if ev.region not in regions:
        fail(i, "region", f"unknown demand region; {_nearest(ev.region, regions)}", ev.region)
    sectors = {b.sector for b in world.buyers if b.region == ev.region}
    for sector in () if ev.sectors == "all" else ev.sectors:
        if sector not in sectors:
            fail(i, "sectors", f"unknown sector; {_nearest(sector, sectors)}", sector)


def _check_new_capacity(
    i: int, ev: NewCapacity, world: World, ids: set[str], fail: Any
) -> set[str]:
    if ev.facility in ids:
        return ids
    if ev.stage is None:
        fail(
            i,
            "stage",
            f"'{ev.facility}' is a new facility (no such id; "
            f"{_nearest(ev.facility, ids)}): it needs 'stage'",
            None,
        )
    if ev.country is None:
        fail(i, "country", "a new facility needs 'country' (ISO-2 code)", None)
    elif ev.country not in world.countries:
        fail(
            i,
            "country",
            f"unknown country; {_nearest(ev.country, set(world.countries))}",
            ev.country,
        )
    mines = {f.id for f in world.by_stage("mine")}
    for m in ev.feeds_from or ():
        if m not in mines:
            fail(i, "feeds_from", f"unknown mine; {_nearest(m, mines)}", m)
    return ids | {ev.facility}


def _nearest(name: str, options: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"did you mean '{close[0]}'?" if close else f"expected one of {sorted(options)}"


def _distributions(
    node: Any, path: tuple[Any, ...], lines: Lines, file: str
) -> list[tuple[tuple[Any, ...], Distribution]]:
    """Every ``{dist: ...}`` mapping in a document, validated, with its path."""
    if isinstance(node, dict):
        if "dist" in node and path:
            try:
                return [(path, Distribution.model_validate(node))]
            except ValidationError as exc:
                err = exc.errors()[0]
                where_file, line, dotted = _locate((*path, *err["loc"]), lines, file)
                value = err.get("input")
                raise InputError(
                    _problem(err),
                    file=where_file,
                    line=line,
                    path=dotted,
                    value=value,
                    has_value=err["type"] not in ("missing", "extra_forbidden")
                    and not isinstance(value, (dict, list)),
                ) from None
        return [hit for k, v in node.items() for hit in _distributions(v, (*path, k), lines, file)]
    if isinstance(node, list):
        return [
            hit for i, v in enumerate(node) for hit in _distributions(v, (*path, i), lines, file)
        ]
    return []


def _put(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` replaced (the rest shared)."""

    def go(node: Any, rest: tuple[Any, ...]) -> Any:
        if not rest:
            return value
        head, tail = rest[0], rest[1:]
        if isinstance(node, list):
            return [go(v, tail) if i == head else v for i, v in enumerate(node)]
        return {k: (go(v, tail) if k == head else v) for k, v in node.items()}

    return dict(go(data, path))


def _field(scenario: Scenario, path: tuple[Any, ...]) -> Any:
    node: Any = scenario
    for part in path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def uncertain_inputs(
    data: dict[str, Any], lines: Lines, file: str
) -> tuple[dict[str, Any], list[Uncertain]]:
    """Replace every ``{dist: ...}`` by its central value; return the inputs found."""
    if "uncertain" in data:
        where_file, line, _ = _locate(("uncertain",), lines, file)
        raise InputError(
            "reserved: write a distribution in place of the value it varies, "
            "e.g. start: {dist: uniform, low: 2027-01-01, high: 2028-06-30}",
            file=where_file,
            line=line,
            path="uncertain",
        )
    found = _distributions(data, (), lines, file)
    inputs = []
    for path, dist in found:
        where_file, line, dotted = _locate(path, lines, file)
        if path[0] != "events" or len(path) != 3:
            raise InputError(
                "only the numbers and dates of events may be uncertain (the "
                "horizon and names are shared by every sample)",
                file=where_file,
                line=line,
                path=dotted,
            )
        data = _put(data, path, sampling.central(dist))
        inputs.append(
            Uncertain(path=dotted, key=dist.name or dotted, dist=dist, line=line, file=where_file)
        )
    return data, inputs


def _check_uncertain(
    data: dict[str, Any], lines: Lines, file: str, scenario: Scenario, found: list[Uncertain]
) -> None:
    """Each uncertain field is a number or date of the distribution's kind, and every value
    the sweep can draw (down to the EPS quantiles) is one the schema accepts."""
    for u in found:
        path = tuple(
            int(p) if p.isdigit() else p
            for p in u.path.replace("[", ".").replace("]", "").split(".")
        )
        current = _field(scenario, path)
        is_date = isinstance(current, dt.date)
        if isinstance(current, bool) or not isinstance(current, (int, float, dt.date)):
            raise InputError(
                "only numbers and dates may be uncertain",
                file=u.file or file,
                line=u.line,
                path=u.path,
            )
        if is_date != u.dist.is_date:
            want = "a date" if is_date else "a number"
            raise InputError(
                f"this field is {want}; the distribution's parameters must be too",
                file=u.file or file,
                line=u.line,
                path=u.path,
            )
        for label, value in zip(("lowest", "highest"), sampling.extremes(u.dist)):
            try:
                validate(_put(data, path, value), lines, file)
            except InputError as exc:
                raise InputError(
                    f"the distribution's {label} draw is refused here: {exc.problem}; narrow "
                    "it or add bounds: [low, high]",
                    file=u.file or file,
                    line=u.line,
                    path=u.path,
                    value=value,
                    has_value=True,
                ) from None


def load_scenario(path: str | Path, world: World | None = None) -> Scenario:
    """Read, merge, validate and check a scenario file against ``world`` (default: the world
    the scenario names, e.g. ``default@2009``).

    Fields written as distributions hold their central value in the returned scenario and
    are listed in its ``uncertain`` inputs."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    data, lines = resolve(path)
    data, found = uncertain_inputs(data, lines, str(path))
    scenario = validate(data, lines, str(path))
    _check_uncertain(data, lines, str(path), scenario, found)
    if found:
        scenario = scenario.model_copy(update={"uncertain": tuple(found)})
    if world is None:
        try:
            world = vintage_world(scenario.world)
        except KeyError:
            where_file, line, field = _locate(("world",), lines, str(path))
            raise InputError(
                f"unknown world; expected one of {world_names()}",
                file=where_file,
                line=line,
                path=field,
                value=scenario.world,
                has_value=True,
            ) from None
    check_against_world(scenario, world, lines, str(path))
    return scenario

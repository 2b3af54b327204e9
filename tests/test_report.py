"""`sim report` and ``--report``: one self-contained HTML page of a run, a sweep and a
comparison, checked as text (no URL, every chart a PNG data URI, the tables, the scenario as
run, refusals) and in a real browser (headless Chromium: no console error, every image drawn,
a screenshot that is not blank).

URLs: the page holds none at all, not even an SVG namespace (charts are PNG, so there is no
``xmlns``); only text the user wrote (a scenario's description and text, marked
``class="user"``) may hold one, as text. The browser test skips when Chromium or its driver is
missing, except under CI (``CI=true``), where it fails: `.ci/run` installs them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

from sim.io import report_charts
from sim.io.cli import main
from sim.io.report_folder import read_folder
from sim.io.report_tables import number
from sim.io.sankey import sankey_links
from sim.io.scenario_files import load_scenario
from sim.io.scenario_record import scenario_text

ROOT = Path(__file__).parent.parent
SCENARIOS = ROOT / "scenarios"
LICENSING = """\
extends: {parent}
name: {name}
description: Short April 2025 licensing, for the report's tests.{extra}
horizon: {{start: 2024-07-01, end: 2026-06-30}}
"""
OUTAGE = """
events:
  - kind: outage
    facility: lynas_malaysia
    start: 2025-06-01
    end: 2025-12-31
"""
DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _scenario(folder: Path, name: str, parent: str, extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    text = LICENSING.format(parent=SCENARIOS / parent, name=name, extra="")
    path.write_text(text + extra)
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A short run (with --report), a small sweep and a comparison, and their reports."""
    root = tmp_path_factory.mktemp("report")
    run = _scenario(root, "short-licensing", "china-heavy-ree-controls-2025.yaml")
    forecast = _scenario(root, "short-forecast", "china-2025-april-forecast.yaml")
    outage = _scenario(root, "short-outage", "china-heavy-ree-controls-2025.yaml", OUTAGE)
    sweep = ["-n", "6", "--workers", "1"]
    assert main(["run", str(run), "--out", str(root / "run"), "--report"]) == 0
    assert main(["sweep", str(forecast), *sweep, "--out", str(root / "sweep")]) == 0
    assert main(["compare", str(run), str(outage), *sweep, "--out", str(root / "compare")]) == 0
    for kind in ("sweep", "compare"):
        assert main(["report", str(root / kind)]) == 0
    return {kind: root / kind for kind in ("run", "sweep", "compare")}


def _page(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def _outside_user_text(page: str) -> str:
    """The page less what the user wrote (description paragraphs and scenario text)."""
    return re.sub(r'<(p|pre) class="user">.*?</\1>', "", page, flags=re.DOTALL)


# -- the page as text -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["run", "sweep", "compare"])
def test_the_page_needs_no_network(folders: dict[str, Path], kind: str) -> None:
    page = DATA_PNG.sub('src=""', _page(folders[kind]))  # base64 may hold "//"
    assert not re.search(r"(?i)https?:|ftp:|//[a-z0-9]", page)  # no URL, no namespace, no //host
    assert not re.search(r"(?i)<script|<link|<iframe|<object|@import|url\(", page)
    sources = re.findall(r'(?i)\bsrc="([^"]*)"', _page(folders[kind]))
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_a_url_the_user_wrote_stays_text(tmp_path: Path) -> None:
    scenario = tmp_path / "with-url.yaml"
    scenario.write_text(
        "name: with-url\ndescription: from https://example.org/notice\n"
        "horizon: {start: 2024-01-01, end: 2024-03-31}\n"
    )
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--report"]) == 0
    page = _page(tmp_path / "out")
    assert page.count("https://example.org/notice") == 2  # the description and the YAML text
    assert "https://" not in _outside_user_text(page)
    assert 'href="https' not in page


@pytest.mark.parametrize("kind", ["run", "sweep", "compare"])
def test_every_chart_is_a_png_that_is_drawn(folders: dict[str, Path], kind: str) -> None:
    charts = DATA_PNG.findall(_page(folders[kind]))
    assert len(charts) == {"run": 3, "sweep": 2, "compare": 2}[kind]
    for encoded in charts:
        pixels = image.imread(io.BytesIO(base64.b64decode(encoded)), format="png")
        assert pixels.shape[0] > 300 and pixels.shape[1] > 600
        assert _colours(pixels) > 20


def test_a_run_report_says_what_ran(folders: dict[str, Path]) -> None:
    page = _page(folders["run"])
    manifest = json.loads((folders["run"] / "manifest.json").read_text())
    assert "<title>sim report: short-licensing</title>" in page
    assert "Short April 2025 licensing, for the report&#x27;s tests." in page
    assert "2024-07-01 to 2026-06-30" in page and manifest["created_utc"] in page
    for anchor in ("shortfall", "prices", "flows", "tables", "scenario", "manifest"):
        assert f'<section id="{anchor}">' in page, anchor
    assert "moved in 2026" in page and 'alt="flows in 2026"' in page  # after the event
    assert "Shortfall by buyer group" in page and "Price peaks by tier" in page
    assert re.search(r'<td class="num">\d{1,3}(,\d{3})+</td>', page)  # thousands separators
    assert "CN heavy-RE licensing (40% approved)" in page  # the scenario as run, in the page


def test_a_comparison_report_draws_b_minus_a(folders: dict[str, Path]) -> None:
    page = _page(folders["compare"])
    assert "A = short-licensing" in page and "B = short-outage" in page
    assert "B - A over time" in page and "Cumulative shortfall, B - A" in page
    monthly = pd.read_csv(folders["compare"] / "comparison_monthly.csv")
    assert {"shortfall_t", "price_usd_per_kg"} == set(monthly["metric"])
    assert (monthly["diff_mean"].abs() > 1).any()  # the outage moves something


def test_a_comparison_report_shows_the_folder_pictures_or_draws_them(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    # the pictures sim compare drew, as they are, and for a folder without them (written
    # before sim compare drew them), the same charts drawn for the page
    shown = DATA_PNG.findall(_page(folders["compare"]))
    files = [folders["compare"] / name for name in report_charts.DIFFERENCE_FILES]
    assert shown == [base64.b64encode(f.read_bytes()).decode("ascii") for f in files]
    older = tmp_path / "older"
    shutil.copytree(folders["compare"], older)
    for name in (*report_charts.DIFFERENCE_FILES, "report.html"):
        (older / name).unlink()
    assert main(["report", str(older)]) == 0
    drawn = DATA_PNG.findall(_page(older))
    assert len(drawn) == 2 and set(drawn).isdisjoint(shown)


def test_a_comparison_that_moves_no_shortfall_says_so(folders: dict[str, Path]) -> None:
    monthly = pd.read_csv(folders["compare"] / "comparison_monthly.csv")
    still = monthly.assign(**{c: 0.0 for c in ("diff_mean", "diff_p05", "diff_p95")})
    scenarios = read_folder(folders["compare"]).scenarios
    assert report_charts.shortfall_differences(still, scenarios, 6) is None
    assert report_charts.shortfall_differences(monthly, scenarios, 6) is not None


def test_a_sweep_report_lists_its_uncertain_inputs(folders: dict[str, Path]) -> None:
    page = _page(folders["sweep"])
    assert "sweep of 6 futures" in page and "first_approvals" in page
    assert "Cumulative shortfall by buyer group over the futures" in page


# -- refusals ---------------------------------------------------------------------------------
def test_an_existing_report_is_never_overwritten(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    report = folders["run"] / "report.html"
    before = report.read_bytes(), report.stat().st_mtime_ns
    assert main(["report", str(folders["run"])]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (report.read_bytes(), report.stat().st_mtime_ns) == before
    assert not list(folders["run"].glob(".report*"))


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "not a folder"),
        ("empty", "no manifest.json"),
        ("bad-json", "not valid JSON"),
        ("sensitivity", "a sensitivity folder"),
        ("no-summary", "holds summary.parquet or summary.csv; it is missing"),
    ],
)
def test_bad_folders_get_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    folder = tmp_path / "folder"
    if setup != "missing":
        folder.mkdir()
    contents = {
        "bad-json": "{not json",
        "sensitivity": json.dumps({"scenario": "x", "output": "shortfall_t:US"}),
        "no-summary": json.dumps({"scenario": "x", "seed": 0}),
    }
    if setup in contents:
        (folder / "manifest.json").write_text(contents[setup])
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (folder / "report.html").exists()


def test_a_year_outside_the_horizon_is_refused(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(folders["run"]), "--year", "2031", "--out", str(out)]) == 2
    assert "--year: outside the horizon (2024 to 2026) (got 2031)" in capsys.readouterr().err
    assert not out.exists()
    assert main(["report", str(folders["run"]), "--year", "2026", "--out", str(out)]) == 0
    assert 'alt="flows in 2026"' in out.read_text(encoding="utf-8")


# -- parts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_the_scenario_as_run_loads_to_the_same_scenario(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    copy = tmp_path / "scenario.yaml"
    copy.write_text(scenario_text(scenario))
    assert _comparable(load_scenario(copy)) == _comparable(scenario)


def _comparable(scenario: Any) -> dict[str, Any]:
    """The scenario less where its uncertain inputs were written (file and line)."""
    dumped: dict[str, Any] = scenario.model_dump(mode="json")
    for entry in dumped["uncertain"]:
        entry.pop("file"), entry.pop("line")
    return dumped


def test_the_sankey_keeps_every_tonne_of_the_year() -> None:
    flows = pd.DataFrame(
        {
            "date": ["2025-01-01", "2025-02-01", "2025-01-01", "2026-01-01", "2025-01-01"],
            "stage": ["mining", "mining", "separation", "mining", "separation"],
            "source": ["m", "m", "s", "m", "s"],
            "target": ["s", "s", "p", "s", "CN:other:La"],
            "source_country": ["AU", "AU", "MY", "AU", "MY"],
            "target_country": ["MY", "MY", "JP", "MY", "CN"],
            "tonnes": [100.0, 50.0, 90.0, 999.0, 40.0],
        }
    )
    links = sankey_links(flows, 2025)
    as_tuples = set(links.itertuples(index=False, name=None))
    assert as_tuples == {
        (0, "AU", 1, "MY", 150.0),
        (1, "MY", 2, "JP", 90.0),
        (1, "MY", 2, "CN oxide buyers", 40.0),
    }


def test_numbers_have_separators_and_units() -> None:
    assert number(1234567.4, "t") == "1,234,567"
    assert number(2.345, "t") == "2.3"
    assert number(-4997.2, "+t") == "-4,997" and number(2201, "+t") == "+2,201"
    assert number(0.4567, "share") == "45.7%"
    assert number(1113.66, "usd_per_kg") == "1,113.7" and number(0.983, "usd_per_kg") == "0.98"
    assert number(float("nan"), "t") == "" and number(3.14159, "ratio") == "3.14x"


# -- in a real browser ------------------------------------------------------------------------
def _browser() -> Any:
    """A headless Chromium driven by Selenium, reading the browser's console; a skip (a
    failure under CI) when Chromium, its driver or Selenium is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    webdriver = _selenium()
    if chromium is None or driver is None or webdriver is None:
        reason = (
            "headless Chromium test: needs chromium, chromedriver and selenium "
            "(apt-get install chromium chromium-driver; pip install -e '.[test]')"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run it (.ci/run installs them)")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(options=options, service=Service(driver))


def _selenium() -> Any:
    try:
        from selenium import webdriver
    except ImportError:
        return None
    return webdriver


@pytest.fixture(scope="module")
def browser() -> Any:
    driver = _browser()
    yield driver
    driver.quit()


def _load(browser: Any, page: Path) -> tuple[list[dict[str, Any]], list[list[Any]], np.ndarray]:
    """The page's console messages, each image's natural size and whether it loaded, and a
    screenshot of the whole page (RGB pixels)."""
    browser.set_window_size(1300, 900)
    browser.get(page.resolve().as_uri())
    images = browser.execute_script(
        "return Array.from(document.images, i => [i.naturalWidth, i.naturalHeight, i.complete])"
    )
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1300, min(int(height) + 100, 16000))
    shot = browser.get_screenshot_as_png()
    pixels = image.imread(io.BytesIO(shot), format="png")[:, :, :3]
    return browser.get_log("browser"), images, pixels


def _blank(pixels: np.ndarray) -> bool:
    """A screenshot with hardly any colour or hardly anything that is not white."""
    inked = float((pixels[:, :, :3] < 0.95).any(axis=2).mean())
    return _colours(pixels) < 50 or inked < 0.05


def _colours(pixels: np.ndarray) -> int:
    """How many distinct RGB colours an image (floats 0-1) holds."""
    rgb = (pixels[:, :, :3] * 255).round().astype(np.uint32)
    packed = (rgb[:, :, 0] << 16) | (rgb[:, :, 1] << 8) | rgb[:, :, 2]
    return int(np.count_nonzero(np.bincount(packed.ravel(), minlength=1 << 24)))


@pytest.mark.parametrize("kind", ["run", "sweep", "compare"])
def test_the_report_renders_in_chromium(
    browser: Any, folders: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    console, images, pixels = _load(browser, folders[kind] / "report.html")
    assert [m for m in console if m["level"] == "SEVERE"] == []
    assert len(images) == len(DATA_PNG.findall(_page(folders[kind])))
    assert all(width > 300 and height > 200 and done for width, height, done in images), images
    assert pixels.shape[0] > 2000 and not _blank(pixels)
    image.imsave(tmp_path / f"{kind}.png", pixels)  # left for a look when a run fails


def test_the_browser_checks_catch_a_broken_page(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'\"></head><body>"
        '<img src="data:image/png;base64,AAAA"><img src="missing.png"></body></html>'
    )
    console, images, pixels = _load(browser, page)
    assert [m for m in console if m["level"] == "SEVERE"]  # the refused fetch is an error
    assert any(width == 0 for width, _, _ in images)
    assert _blank(pixels)

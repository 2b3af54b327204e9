"""The code stays small enough to read: modules, classes and functions have size limits.

Limits (issue 13): no module over 500 lines, no class over 250 lines, no function over 60
lines (a compiled kernel may be longer when a comment on its ``def`` line's block says why:
``# long kernel: ...``), and the median function 8 lines or fewer. Lines are counted from the
``def``/``class`` line to the last line of the body, docstrings included.
"""

from __future__ import annotations

import ast
import statistics
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "sim"
MAX_MODULE, MAX_CLASS, MAX_FUNCTION, MAX_MEDIAN = 500, 250, 60, 8
LONG_KERNEL = "# long kernel:"


def shapes() -> tuple[dict[str, int], dict[str, int], dict[str, tuple[int, bool]]]:
    """Lines of every module, class and function (with whether it says why it is long)."""
    modules, classes, functions = {}, {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        name = str(path.relative_to(PACKAGE.parent))
        modules[name] = len(lines)
        for node in ast.walk(ast.parse(text)):
            size = (
                (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "lineno") else 0
            )
            if isinstance(node, ast.ClassDef):
                classes[f"{name}:{node.name}"] = size
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
                excused = any(LONG_KERNEL in line for line in body)
                functions[f"{name}:{node.lineno}:{node.name}"] = (size, excused)
    return modules, classes, functions


def test_no_module_over_the_limit() -> None:
    modules, _, _ = shapes()
    assert {m: n for m, n in modules.items() if n > MAX_MODULE} == {}


def test_no_class_over_the_limit() -> None:
    _, classes, _ = shapes()
    assert {c: n for c, n in classes.items() if n > MAX_CLASS} == {}


def test_no_function_over_the_limit() -> None:
    _, _, functions = shapes()
    long = {f: n for f, (n, excused) in functions.items() if n > MAX_FUNCTION and not excused}
    assert long == {}


def test_median_function_is_short() -> None:
    _, _, functions = shapes()
    assert statistics.median(n for n, _ in functions.values()) <= MAX_MEDIAN


if __name__ == "__main__":
    modules, classes, functions = shapes()
    sizes = [n for n, _ in functions.values()]
    print(
        f"{len(modules)} modules, {sum(modules.values())} lines; {len(functions)} functions, "
        f"median {statistics.median(sizes)}"
    )
    for title, table, limit in (
        ("modules", modules, MAX_MODULE),
        ("classes", classes, MAX_CLASS),
        ("functions", {k: v[0] for k, v in functions.items()}, MAX_FUNCTION),
    ):
        over = sorted(((n, k) for k, n in table.items() if n > limit), reverse=True)
        print(f"{title} over {limit}: {len(over)}")
        for n, k in over:
            print(f"  {n:5d} {k}")

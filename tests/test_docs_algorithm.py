"""docs/algorithm.md maps each line of Algorithm 2 to a line of code: each quoted line is there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A table row: | line | Algorithm 2 | path: `function` | `code` |
ROW = re.compile(
    r"^\| [\d-]+ \| .* \| (?P<path>[\w/.]+\.py): `(?P<function>\w+)` \| `(?P<code>.+)` \|$"
)


def _rows() -> list[re.Match[str]]:
    text = (ROOT / "docs" / "algorithm.md").read_text()
    section = text.split("## Algorithm 2, line by line", 1)[1].split("\n## ", 1)[0]
    return [match for line in section.splitlines() if (match := ROW.match(line))]


def _function_source(path: Path, name: str) -> str:
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            segment = ast.get_source_segment(source, node)
            assert segment is not None
            return segment
    raise AssertionError(f"{path.relative_to(ROOT)} has no function {name}")


def test_every_line_of_algorithm_2_is_mapped() -> None:
    lines = {match.group(0).split("|")[1].strip() for match in _rows()}
    covered = {int(n) for label in lines for n in label.split("-")}
    assert set(range(1, 15)) - {13} <= covered, sorted(covered)


def test_each_quoted_line_is_in_its_function() -> None:
    rows = _rows()
    assert len(rows) >= 14
    for row in rows:
        source = _function_source(ROOT / row["path"], row["function"])
        assert row["code"] in source, (row["path"], row["function"], row["code"])

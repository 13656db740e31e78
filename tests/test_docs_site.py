"""The documentation site: ``mkdocs build --strict`` with no warning, no raw Sphinx role.

The API pages render docstrings with mkdocstrings, whose cross-references are written
``[`title`][dotted.path]``; a Sphinx role such as ``:func:`radam_core.step``` would show as
raw text. Long signatures must be formatted over several lines (mkdocstrings-python does
that only when ruff or black is installed, at mkdocs.yml's ``line_length``).

Only the nox ``docs`` session runs these tests (``--backend docs``).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend("docs")

ROOT = Path(__file__).resolve().parent.parent
ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj):(?:`|<code>)")
SIGNATURE = re.compile(r'<div class="doc-signature highlight"><pre>(.*?)</pre>', re.DOTALL)
API_PAGES = sorted(path.stem for path in (ROOT / "docs" / "api").glob("*.md"))


class Site:
    def __init__(self, returncode: int, output: str, directory: Path) -> None:
        self.returncode = returncode
        self.output = output
        self.directory = directory

    def page(self, name: str) -> str:
        """The HTML of the API page ``docs/api/<name>.md``."""
        path = self.directory / "api" / name / "index.html"
        if not path.exists():
            pytest.fail(f"the build wrote no {path}:\n{self.output}")
        return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The site, built once into a temporary directory."""
    pytest.importorskip("mkdocs")
    directory = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return Site(built.returncode, built.stdout + built.stderr, directory)


def signatures(page: str) -> list[str]:
    """The text of every separate signature block on a page."""
    return [
        html.unescape(re.sub(r"<[^>]+>", "", block)).strip() for block in SIGNATURE.findall(page)
    ]


def line_length() -> int:
    """mkdocstrings' ``line_length`` in mkdocs.yml."""
    found = re.search(r"^\s*line_length:\s*(\d+)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert found, "mkdocs.yml sets no line_length for mkdocstrings' signatures"
    return int(found.group(1))


def test_build_is_strict_and_warning_free(site: Site) -> None:
    warnings = [line for line in site.output.splitlines() if "WARNING" in line]
    assert site.returncode == 0, site.output
    assert not warnings, "\n".join(warnings)


def test_no_raw_sphinx_role(site: Site) -> None:
    pages = sorted(site.directory.rglob("*.html"))
    assert pages, site.output
    raw = []
    for path in pages:
        text = path.read_text(encoding="utf-8")
        for match in ROLE.finditer(text):
            context = text[max(match.start() - 60, 0) : match.end() + 60].replace("\n", " ")
            raw.append(f"{path.relative_to(site.directory)}: ...{context}...")
    assert not raw, f"{len(raw)} raw Sphinx role(s) in the built site:\n" + "\n".join(raw)


@pytest.mark.parametrize("name", API_PAGES)
def test_long_signatures_span_several_lines(site: Site, name: str) -> None:
    found = signatures(site.page(name))
    assert found, f"no signature on api/{name}: has mkdocstrings' markup changed?"
    limit = line_length()
    long = [text for text in found if "\n" not in text and len(text) > limit]
    assert not long, "signatures left on one line (is ruff installed?):\n" + "\n".join(long)


def test_radam_torch_signature_is_formatted(site: Site) -> None:
    page = site.page("radam_torch")
    heading = page.find('id="radam_torch.RAdam"')
    assert heading >= 0, "no radam_torch.RAdam on api/radam_torch"
    following = signatures(page[heading:])
    assert following, "no signature after radam_torch.RAdam's heading"
    text = following[0]
    lines = text.splitlines()
    assert lines[0] == "RAdam(", text
    assert len(lines) > 10, text
    assert max(len(line) for line in lines) <= line_length(), text

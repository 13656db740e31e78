"""The fenced code blocks of the project's Markdown pages, for the tests that run them."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FRAMEWORK_OF_MODULE = {
    "radam_torch": "torch",
    "torch": "torch",
    "radam_keras": "keras",
    "keras": "keras",
    "radam_optax": "jax",
    "optax": "jax",
    "jax": "jax",
}


def fenced_blocks(page: Path, language: str) -> list[str]:
    """The bodies of ``page``'s fenced blocks in ``language`` (```python, ```bash), in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.S | re.M)


def section_blocks(page: Path, title: str, language: str) -> list[str]:
    """The fenced ``language`` blocks under ``page``'s level-2 heading ``## title``, in order.

    The section runs to the next level-2 heading; the page must have exactly one such heading.
    """
    sections = re.split(r"^## ", page.read_text(), flags=re.M)[1:]
    matches = [section for section in sections if section.splitlines()[0].strip() == title]
    assert len(matches) == 1, f"{page.name} has {len(matches)} sections '## {title}'"
    return re.findall(rf"^```{language}\n(.*?)^```", matches[0], re.S | re.M)


def framework_of(code: str) -> str:
    """The framework a Python example needs: "torch", "keras", "jax" or "numpy".

    Read from its imports (``import x`` and ``from x import y``): Keras wins over the
    framework it runs on, and an example that imports none of them needs only NumPy.
    """
    modules = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", code, re.M))
    found = {FRAMEWORK_OF_MODULE[m] for m in modules if m in FRAMEWORK_OF_MODULE}
    for framework in ("keras", "torch", "jax"):
        if framework in found:
            return framework
    return "numpy"

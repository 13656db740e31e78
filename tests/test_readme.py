"""The README tells the truth: its examples run and print, and its quick start is what CI runs.

Each Python example runs in a fresh process (as a reader would paste it into a file) in the
nox session that has its framework; the Keras one runs once per Keras backend in
tests/keras_backends/test_keras_readme.py.
"""

import re
import subprocess
import sys
import tomllib

import pytest

from tests.markdown_code import README, ROOT, fenced_blocks, framework_of

BACKEND_OF_FRAMEWORK = {"numpy": "numpy", "torch": "torch", "jax": "jax"}
EXAMPLES = [code for code in fenced_blocks(README, "python")]


def run_example(code: str, cwd) -> subprocess.CompletedProcess:
    """Run ``code`` as a script in a fresh interpreter in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def assert_ran_and_printed(result: subprocess.CompletedProcess, what: str) -> None:
    assert result.returncode == 0, f"{what} raised:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{what} printed nothing"


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(i, marks=pytest.mark.backend(BACKEND_OF_FRAMEWORK[framework_of(code)]))
        for i, code in enumerate(EXAMPLES)
        if framework_of(code) != "keras"
    ],
)
def test_readme_example_runs_and_prints(index, tmp_path):
    assert_ran_and_printed(run_example(EXAMPLES[index], tmp_path), f"README example {index}")


def test_every_framework_has_an_example():
    assert {framework_of(code) for code in EXAMPLES} == {"numpy", "torch", "keras", "jax"}


def quick_start() -> tuple[str, str]:
    """The quick start's two commands: the main job and the tests."""
    (block,) = [b for b in fenced_blocks(README, "bash") if "# the main job" in b]
    lines = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert len(lines) == 2, block
    return lines[0], lines[1]


def noxfile_constant(name: str) -> str:
    match = re.search(rf'^{name} = "(.*)"$', (ROOT / "noxfile.py").read_text(), re.M)
    assert match, f"noxfile.py has no {name}"
    return match.group(1)


def test_quick_start_main_job_is_what_the_torch_session_installs_and_runs():
    main_job, _ = quick_start()
    steps = [step.strip() for step in main_job.split("&&")]
    assert steps[0] == f"python -m pip install {noxfile_constant('TORCH')}"
    extras = re.fullmatch(r'python -m pip install "\.\[(.*)\]"', steps[1])
    assert extras, steps[1]
    # The torch session installs those extras (torch==2.13.0 first), and runs the demo's tests.
    session = re.search(r"def torch\(session.*?\n\n\n", (ROOT / "noxfile.py").read_text(), re.S)
    assert session, "noxfile.py has no torch session"
    installed = re.search(r'session\.install\("-e", "\.\[(.*?)\]"\)', session.group(0))
    assert installed, "the torch session installs no extras"
    assert set(extras.group(1).split(",")) <= set(installed.group(1).split(","))
    assert session.group(0).index("TORCH") < session.group(0).index(installed.group(0))
    script = steps[2].split()[0]
    assert script in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert steps[2] == "radam demo"


def test_quick_start_tests_line_is_what_ci_runs():
    _, tests = quick_start()
    install, run = (step.strip() for step in tests.split("&&"))
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert install.startswith("python -m pip install nox")
    assert any(line.startswith("python -m pip install") and "nox" in line for line in ci), ci
    assert ci[-1] == run == "nox"


def test_every_install_line_names_extras_the_project_has():
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    named = re.findall(r'pip install "?\.\[([\w,-]+)\]', README.read_text())
    assert named
    for group in named:
        assert set(group.split(",")) <= extras, group
    assert not re.search(r"pip install \.\[", README.read_text()), "quote .[extras] (zsh)"


def test_the_docs_home_page_has_the_readmes_install_lines():
    def install_block(page):
        (block,) = [b for b in fenced_blocks(page, "bash") if '".[all]"' in b]
        return block

    assert install_block(ROOT / "docs" / "index.md") == install_block(README)


def test_no_install_line_names_a_radam_on_the_package_index():
    pages = [README, *(ROOT / "docs").rglob("*.md"), *(ROOT / "adapters").rglob("*.py")]
    for page in pages:
        found = re.search(r"pip install ['\"]?radam\b(?!\[[\w,-]+\] @ git\+)", page.read_text())
        assert found is None, f"{page.relative_to(ROOT)}: {found.group(0)!r}: not on PyPI"

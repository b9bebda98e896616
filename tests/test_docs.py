"""The README's example and the docstring examples run as written."""

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def _modules_with_examples() -> list[str]:
    """Every gdl module whose docstrings hold a runnable example (a ``>>>`` line not marked ``+SKIP``)."""
    names = []
    for path in sorted((ROOT / "gdl").rglob("*.py")):
        if any(">>>" in line and "+SKIP" not in line for line in path.read_text().splitlines()):
            names.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return names


DOCTESTED = _modules_with_examples()


def test_readme_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["cnn"].group.step == 4


def test_readme_shows_the_two_commands_first():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert first_block.splitlines()[0].startswith("make run") and first_block.splitlines()[1].startswith("make test")


def test_the_examples_of_every_domain_are_doctested():
    assert {name.split(".")[1] for name in DOCTESTED} >= {"grids", "groups", "graphs", "geodesics", "gauges"}


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

"""The README's Python example runs as written."""

from __future__ import annotations

import re

import matplotlib
import pytest
from conftest import REPO_ROOT

# these tests apply models to their own training samples on purpose
pytestmark = pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")


def test_python_api_example_runs(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert (tmp_path / "models" / "cd.mlmodel").is_file()
    assert namespace["model"].card.task.positive_class == "CD"
    assert namespace["clr"].shape[0] == len(namespace["table"])


def test_functions_the_readme_names_are_exported():
    import mlmicro

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bmlmicro\.([a-z_][a-z0-9_]*)\(", text))
    assert {"read_metaml", "read_table", "train", "load_model"} <= named
    missing = sorted(n for n in named if not callable(getattr(mlmicro, n, None)))
    assert not missing, f"README names mlmicro.{missing} but mlmicro does not export them"
    assert set(named) <= set(mlmicro.__all__) | set(dir(mlmicro))

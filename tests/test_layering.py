"""The package's imports flow one way and form no cycle.

Layers, lowest first; a module may import its own layer or any below it::

    0 exceptions
    1 taxonomy                      lineage strings (the readers canonicalise names)
    2 io, config, datasets          files in, files out; configuration; the embedded cohort
    3 alignment, transforms         matching names to a model; the preprocessing steps
    4 model                         pipelines, cross-validation, the model and its card
    5 predict, explain              applying and explaining a model
    6 report, figures               rendering only
    7 the package root, cli         the notebook facade and the command line

Function-level imports count too. The only upward imports are the convenience
methods listed in :data:`CONVENIENCE`, which import their implementation when
called (``model.explain()``, ``explanation.plot_bar()``).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np

import mlmicro

PACKAGE = Path(mlmicro.__file__).parent

LAYERS = {
    "mlmicro.exceptions": 0,
    "mlmicro.choices": 0,
    "mlmicro.taxonomy": 1,
    "mlmicro.io": 2,
    "mlmicro.config": 2,
    "mlmicro.datasets": 2,
    "mlmicro.presets": 2,
    "mlmicro.cohorts": 2,
    "mlmicro.alignment": 3,
    "mlmicro.transforms": 3,
    "mlmicro.model": 4,
    "mlmicro.predict": 5,
    "mlmicro.explain": 5,
    "mlmicro.report": 6,
    "mlmicro.figures": 6,
    "mlmicro.cli": 7,
    "mlmicro.__main__": 7,
    "mlmicro": 7,
}

#: (importer, imported): convenience methods that import a higher layer when called.
CONVENIENCE = {
    ("mlmicro.model.model", "mlmicro.explain"),  # Model.explain()
    ("mlmicro.explain.explanation", "mlmicro.figures"),  # Explanation.plot_*()
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _layer(module: str) -> int:
    name = module
    while name not in LAYERS:
        name = name.rsplit(".", 1)[0]
    return LAYERS[name]


def _imports(modules: dict[str, Path]) -> set[tuple[str, str]]:
    edges = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = set()
        for node in ast.walk(tree):  # `if TYPE_CHECKING:` imports are for annotations only
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                guarded |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.append(full if full in modules else node.module)
            for target in targets:
                if target.startswith("mlmicro") and target != module:
                    edges.add((module, target))
    return edges


def test_no_module_imports_a_layer_above_it():
    modules = _modules()
    upward = sorted(
        (src, dst)
        for src, dst in _imports(modules)
        if _layer(dst) > _layer(src) and (src, dst) not in CONVENIENCE
    )
    assert upward == []


def test_the_imports_form_no_cycle():
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for src, dst in _imports(modules) - CONVENIENCE:
        if dst in graph and not (dst == "mlmicro" or src.startswith(dst + ".")):
            graph[src].add(dst)  # a package's own __init__ re-exports are not a cycle
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_no_private_name_is_imported_across_modules():
    modules = _modules()
    crossing = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("mlmicro")
            ):
                package = node.module.rsplit(".", 1)[0] if node.module in modules else node.module
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    # a package's private helper modules serve that package alone
                    inside = module.startswith(package + ".") or module == package
                    if private and not (inside and f"{node.module}.{alias.name}" in modules):
                        crossing.append(f"{module}: {node.module}.{alias.name}")
    assert crossing == []


def test_no_module_is_overly_long():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > 660}
    assert long == {}


def test_every_registry_is_keyed_by_the_named_choices():
    from mlmicro import choices
    from mlmicro.config import TrainConfig
    from mlmicro.model.estimators import CLASSIFIERS, DEFAULT_PARAMS
    from mlmicro.model.training import TUNING_GRIDS
    from mlmicro.transforms.table import TRANSFORM_STEPS
    from mlmicro.transforms.zeros import ZeroReplacement

    assert list(CLASSIFIERS) == list(choices.CLASSIFIERS)
    assert set(DEFAULT_PARAMS) == set(TUNING_GRIDS) == set(choices.CLASSIFIERS)
    assert list(TRANSFORM_STEPS) == list(choices.TRANSFORMS)
    for method in choices.ZERO_METHODS:  # every named method is implemented
        replaced = ZeroReplacement(method=method).fit_transform(np.array([[1.0, 0.0], [2.0, 1.0]]))
        assert (replaced > 0).all()
    # one set of defaults: configuration, transformer and transform_table agree
    prep = TrainConfig().preprocessing
    assert prep.zeros == ZeroReplacement().method == choices.DEFAULT_ZEROS
    assert prep.min_prevalence == choices.DEFAULT_MIN_PREVALENCE
    assert prep.transform == choices.DEFAULT_TRANSFORM
    assert TrainConfig().model == choices.DEFAULT_CLASSIFIER
    zeros = inspect.signature(mlmicro.transform_table).parameters["zeros"].default
    assert zeros == choices.DEFAULT_ZEROS

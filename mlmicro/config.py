"""Typed training configuration and the presets in ``configs/``.

A configuration is a TOML file with sections that mirror
:class:`TrainConfig`::

    rank = "species"
    model = "xgboost"

    [preprocessing]
    min_prevalence = 0.1
    transform = "relative"

    [cv]
    folds = 10
    repeats = 5

    [xgboost]
    n_estimators = 300

Presets ship with mlmicro (``default``, ``shotgun-species``, ``16s-genus``,
``fast``) and are chosen by name; any other value is read as a path.
Command-line flags override the file; the resolved configuration is stored in
every model bundle.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmicro.choices import (
    CLASSIFIERS,
    DEFAULT_CLASSIFIER,
    DEFAULT_MIN_PREVALENCE,
    DEFAULT_TRANSFORM,
    DEFAULT_ZEROS,
    TRANSFORMS,
    ZERO_METHODS,
    ClassifierName,
    TransformName,
    ZerosName,
)
from mlmicro.exceptions import ConfigError, TaxonomyError
from mlmicro.taxonomy import normalize_rank

__all__ = [
    "PreprocessingConfig",
    "CVConfig",
    "TrainConfig",
    "MODEL_NAMES",
    "TRANSFORM_NAMES",
    "load_config",
    "list_presets",
]

ModelName = ClassifierName
MODEL_NAMES: tuple[str, ...] = tuple(CLASSIFIERS)
TRANSFORM_NAMES: tuple[str, ...] = tuple(TRANSFORMS)
ZEROS_NAMES: tuple[str, ...] = tuple(ZERO_METHODS)


@dataclass(frozen=True)
class PreprocessingConfig:
    """Steps fitted inside every CV fold before the classifier.

    Attributes
    ----------
    min_prevalence : float
        Keep taxa present in at least this share of training samples.
    min_abundance : float
        Keep taxa whose mean relative abundance is at least this.
    zeros : {"pseudocount", "multiplicative"}
        Zero replacement before a log-ratio transform.
    transform : {"relative", "log", "clr", "alr", "ilr"}
        Compositional transform of the filtered table.
    """

    min_prevalence: float = DEFAULT_MIN_PREVALENCE
    min_abundance: float = 0.0
    zeros: ZerosName = DEFAULT_ZEROS
    transform: TransformName = DEFAULT_TRANSFORM


@dataclass(frozen=True)
class CVConfig:
    """Cross-validation settings.

    Attributes
    ----------
    folds : int
        Folds per repeat (k).
    repeats : int
        Repeats of k-fold CV, each with a new shuffle.
    permutations : int
        Label permutations for the AUROC null (0 = none).
    tune : bool
        Nested hyperparameter tuning in an inner CV.
    inner_folds : int
        Folds of the inner CV when tuning.
    bootstrap : int
        Resamples of the bootstrap confidence intervals of the CV metrics
        (0: no intervals).
    grid : dict
        The nested-tuning grid: pipeline or classifier parameter names
        (``max_depth`` or ``classifier__max_depth``) to lists of values.
        Empty: mlmicro's small grid for the classifier.
    """

    folds: int = 10
    repeats: int = 5
    permutations: int = 0
    tune: bool = False
    inner_folds: int = 3
    bootstrap: int = 1000
    grid: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a model is trained.

    Attributes
    ----------
    rank : str or None
        Rank the table is collapsed to. ``"auto"`` (the default) chooses it
        from the kind of table at training time (SGB, species for MetaPhlAn
        profiles, genus for 16S read counts, the features as named without
        lineages; see :mod:`mlmicro.model.autorank`). ``None``, or ``"none"``
        in a file or on the command line: the table's deepest rows, or its
        features as named when they carry no lineage.
    model : {"xgboost", "random-forest", "logistic-l1"}
        The classifier.
    seed : int
        Seed for folds, permutations and the classifier.
    jobs : int
        Folds run in parallel (-1: one per core).
    preprocessing, cv : PreprocessingConfig, CVConfig
        See those classes.
    xgboost, random_forest, logistic_l1 : dict
        Keyword arguments for each classifier (merged over mlmicro's defaults).
    """

    rank: str | None = "auto"
    model: ModelName = DEFAULT_CLASSIFIER
    seed: int = 0
    jobs: int = -1
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    xgboost: dict[str, Any] = field(default_factory=dict)
    random_forest: dict[str, Any] = field(default_factory=dict)
    logistic_l1: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.rank, str) and self.rank.strip().lower() in ("none", "as-is"):
            object.__setattr__(self, "rank", None)  # features as named (no lineage)
        if isinstance(self.rank, str) and self.rank.strip().lower() == "auto":
            object.__setattr__(self, "rank", "auto")  # chosen from the table when training
        elif self.rank is not None:
            try:
                object.__setattr__(self, "rank", normalize_rank(self.rank))
            except TaxonomyError as exc:
                raise ConfigError(str(exc)) from None
        _check_choice("model", self.model, MODEL_NAMES)
        for section in ("xgboost", "random_forest"):
            trees = getattr(self, section).get("n_estimators")
            if trees is not None and (not isinstance(trees, int) or trees < 1):
                raise ConfigError(
                    f"{section}.n_estimators must be a whole number of at least 1, got {trees!r}."
                )
        forest = self.xgboost.get("forest_trees", 0)
        if isinstance(forest, bool) or not isinstance(forest, int) or forest < 0:
            raise ConfigError(
                f"xgboost.forest_trees must be a whole number of at least 0, got {forest!r}."
            )
        weight = self.xgboost.get("forest_weight", 4.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            raise ConfigError(f"xgboost.forest_weight must be a positive number, got {weight!r}.")
        _check_choice("preprocessing.transform", self.preprocessing.transform, TRANSFORM_NAMES)
        _check_choice("preprocessing.zeros", self.preprocessing.zeros, ZEROS_NAMES)
        if not 0.0 <= self.preprocessing.min_prevalence <= 1.0:
            raise ConfigError(
                f"min_prevalence must lie between 0 and 1, got {self.preprocessing.min_prevalence}."
            )
        if self.cv.folds < 2:
            raise ConfigError(f"cv.folds must be at least 2, got {self.cv.folds}.")
        if self.cv.repeats < 1:
            raise ConfigError(f"cv.repeats must be at least 1, got {self.cv.repeats}.")
        if self.cv.permutations < 0:
            raise ConfigError(f"cv.permutations cannot be negative, got {self.cv.permutations}.")
        if self.cv.bootstrap < 0:
            raise ConfigError(f"cv.bootstrap cannot be negative, got {self.cv.bootstrap}.")
        for name, values in self.cv.grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(
                    f"cv.grid.{name} must be a non-empty list of values, got {values!r}."
                )
        if self.jobs == 0 or self.jobs < -1:
            raise ConfigError(f"jobs must be a positive number or -1 (all cores), got {self.jobs}.")

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain nested dicts (for TOML/JSON)."""
        return dataclasses.asdict(self)

    def override(self, **changes: Any) -> TrainConfig:
        """Return a copy with top-level fields or dotted ``section.key`` fields changed.

        ``None`` values are ignored, so unset command-line flags keep the file's value.

        Examples
        --------
        >>> TrainConfig().override(**{"cv.folds": 5, "rank": None}).cv.folds
        5
        """
        data = self.to_dict()
        for key, value in changes.items():
            if value is None:
                continue
            section, _, name = key.rpartition(".")
            target = data[section] if section else data
            if section and name not in target:
                raise ConfigError(f"Unknown configuration key {key!r}.")
            target[name] = value
        return TrainConfig.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "configuration") -> TrainConfig:
        """Build a configuration from nested dicts, rejecting unknown keys."""
        data = dict(data)
        sections = {"preprocessing": PreprocessingConfig, "cv": CVConfig}
        kwargs: dict[str, Any] = {}
        known = {f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(
                    f"Unknown key {key!r} in {source}; known keys: {', '.join(sorted(known))}."
                )
            if key in sections:
                sub = sections[key]
                sub_known = {f.name for f in dataclasses.fields(sub)}
                bad = set(value) - sub_known
                if bad:
                    raise ConfigError(
                        f"Unknown key {sorted(bad)[0]!r} in [{key}] of {source}; known keys: "
                        f"{', '.join(sorted(sub_known))}."
                    )
                kwargs[key] = sub(**value)
            else:
                kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - guarded by the key checks above
            raise ConfigError(f"Invalid {source}: {exc}.") from None


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")


def list_presets() -> list[str]:
    """Return the names of the configuration presets that ship with mlmicro."""
    root = importlib.resources.files("mlmicro.presets")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_config(source: str | Path | None = None) -> TrainConfig:
    """Load a configuration preset by name, or a TOML file by path.

    Parameters
    ----------
    source : str, pathlib.Path or None
        A preset name (see :func:`list_presets`), a path to a TOML file, or
        ``None`` for the ``default`` preset.

    Returns
    -------
    TrainConfig

    Raises
    ------
    ConfigError
        If the preset or file does not exist, is not valid TOML, or holds
        unknown keys or values.

    Examples
    --------
    >>> load_config("fast").cv.repeats
    1
    """
    name = "default" if source is None else str(source)
    preset = importlib.resources.files("mlmicro.presets").joinpath(f"{name}.toml")
    if not name.endswith(".toml") and preset.is_file():
        text, where = preset.read_text(encoding="utf-8"), f"preset {name!r}"
    else:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(
                f"Configuration {name!r} is neither a preset ({', '.join(list_presets())}) "
                "nor an existing TOML file; pick a preset or fix the path."
            )
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML ({exc}); fix the syntax.") from None
    return TrainConfig.from_dict(data, source=where)

"""Confounder screening: whether a metadata column on its own tells the classes apart.

A model trained on samples whose classes differ by study, country, body site
or sample type can learn those instead of the disease. :func:`screen_confounders`
tests every metadata column against the class label:

* categorical columns: Fisher's exact test (two levels, two classes) or the
  chi-squared test of independence (more levels or classes);
* numeric columns: the Wilcoxon rank-sum test (two classes) or the
  Kruskal-Wallis test (more); a numeric column with at most
  :data:`FEW_VALUES` distinct values is screened as categorical;

p-values are adjusted for the number of columns tested (Benjamini-Hochberg).
Each column also gets its AUROC as a predictor on its own: for a categorical
column the score of a sample is the share of its level's samples in the
class, for a numeric column the value itself (``max(auc, 1 - auc)``);
multiclass: the macro mean over classes, one vs rest. That AUROC is
*in-sample* (the level shares are computed on the samples scored), so it is a
warning sign, not a validated performance.

A column *separates the classes* when its association is significant
(q < :data:`ALPHA`) and either that AUROC reaches the threshold (default
:data:`SEPARATION_AUROC`) or one of its levels holds at least
:data:`PURE_LEVEL_SHARE` of the samples (and at least
:data:`PURE_LEVEL_MIN` samples) that all belong to one class ("every biopsy
is IBD"). Identifier-like columns (sample or subject IDs), the label, the
group column and categorical columns in which each value holds one class or
each class one value (re-encodings of the label such as a disease subtype or
the diagnosis a subtype label was made from; a column completely confounded
with the label looks the same and is listed with that reason) are
skipped, and the screen says so; missing values are left
out of each column's test and counted.
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from mlmicro.io import empty_samples, join_metadata
from mlmicro.model.labels import make_target

__all__ = [
    "ALPHA",
    "FEW_VALUES",
    "PURE_LEVEL_MIN",
    "PURE_LEVEL_SHARE",
    "SEPARATION_AUROC",
    "ColumnScreen",
    "ConfounderScreen",
    "ConfounderWarning",
    "benjamini_hochberg",
    "is_identifier_like",
    "screen_cohort",
    "screen_confounders",
]

#: A column whose in-sample AUROC on its own reaches this separates the classes.
SEPARATION_AUROC: float = 0.8
#: A column separates the classes only when its BH q-value is below this.
ALPHA: float = 0.05
#: A level holding this share of the tested samples, all of one class, separates them.
PURE_LEVEL_SHARE: float = 0.1
#: ... and at least this many samples.
PURE_LEVEL_MIN: int = 10
#: Numeric columns with at most this many distinct values are screened as categorical.
FEW_VALUES: int = 10
#: Columns with fewer non-missing samples than this are not tested.
MIN_SAMPLES: int = 10

_ID_TOKENS = {"id", "ids", "accession", "barcode", "uuid", "sampleid", "subjectid"}
_ID_PREFIXES = ("sample", "subject", "host", "patient", "participant", "individual", "project")


class ConfounderWarning(UserWarning):
    """A metadata column on its own separates the classes."""


def is_identifier_like(name: str, values: pd.Series) -> str | None:
    """Why a column looks like an identifier (``None`` when it does not).

    By name (``sampleID``, ``Subject accession``, ``HOST_SUBJECT_ID``, ...)
    or, for text columns, by values: more than 20 distinct values and more
    than half as many as there are samples.

    Examples
    --------
    >>> is_identifier_like("subjectID", pd.Series(["a", "b"]))
    'its name marks an identifier'
    >>> is_identifier_like("country", pd.Series(["dk", "es"])) is None
    True
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", spaced) if t]
    joined = "".join(tokens)
    if any(t in _ID_TOKENS for t in tokens) or any(
        joined.endswith(f"{p}id") or joined.endswith(f"{p}ids") for p in _ID_PREFIXES
    ):
        return "its name marks an identifier"
    present = values.dropna()
    if not pd.api.types.is_numeric_dtype(present):
        distinct = present.astype(str).nunique()
        if distinct > 20 and distinct > 0.5 * len(present):
            return f"identifier-like values ({distinct} distinct among {len(present)} samples)"
    return None


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if len(finite) == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass(frozen=True)
class ColumnScreen:
    """The screen of one metadata column.

    Attributes
    ----------
    column : str
        The column name.
    status : {"tested", "skipped"}
        Whether it was tested.
    reason : str or None
        Why it was skipped.
    kind : {"categorical", "numeric"} or None
        How it was tested.
    test : str or None
        The test used.
    n_samples, n_missing, n_levels : int
        Samples tested, samples left out for a missing value, and distinct
        values among the tested samples.
    statistic, p_value, q_value : float or None
        Test statistic, p-value and Benjamini-Hochberg q-value (over the
        tested columns).
    auroc : float or None
        In-sample AUROC of the column as the only predictor (>= 0.5).
    pure_levels : list of dict
        Levels of at least :data:`PURE_LEVEL_SHARE` of the samples that all
        belong to one class: ``level``, ``class``, ``n``.
    separates : bool
        Whether the column on its own separates the classes (see the module
        docstring).
    """

    column: str
    status: str
    reason: str | None = None
    kind: str | None = None
    test: str | None = None
    n_samples: int = 0
    n_missing: int = 0
    n_levels: int = 0
    statistic: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    auroc: float | None = None
    pure_levels: list[dict[str, Any]] = field(default_factory=list)
    separates: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the screen as JSON-ready plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnScreen:
        """Build a column screen from :meth:`to_dict` output."""

        def number(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            column=str(data["column"]),
            status=str(data["status"]),
            reason=data.get("reason"),
            kind=data.get("kind"),
            test=data.get("test"),
            n_samples=int(data.get("n_samples", 0)),
            n_missing=int(data.get("n_missing", 0)),
            n_levels=int(data.get("n_levels", 0)),
            statistic=number("statistic"),
            p_value=number("p_value"),
            q_value=number("q_value"),
            auroc=number("auroc"),
            pure_levels=[dict(level) for level in data.get("pure_levels") or []],
            separates=bool(data.get("separates", False)),
        )

    def why(self) -> str:
        """Return in words why the column separates the classes."""
        parts = []
        if self.auroc is not None:
            parts.append(f"AUROC {self.auroc:.2f} on its own")
        for level in self.pure_levels[:2]:
            parts.append(f"all {level['n']} {level['level']!r} samples are {level['class']}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ConfounderScreen:
    """Every metadata column against the class label.

    Attributes
    ----------
    label : str
        The label column.
    classes : list of str
        The classes screened against.
    columns : list of ColumnScreen
        One entry per metadata column, tested first (by q-value), then skipped.
    threshold : float
        The AUROC at which a column separates the classes.
    """

    label: str
    classes: list[str]
    columns: list[ColumnScreen]
    threshold: float = SEPARATION_AUROC

    @property
    def tested(self) -> list[ColumnScreen]:
        """The columns tested."""
        return [c for c in self.columns if c.status == "tested"]

    @property
    def skipped(self) -> list[ColumnScreen]:
        """The columns skipped, each with its reason."""
        return [c for c in self.columns if c.status == "skipped"]

    @property
    def flagged(self) -> list[ColumnScreen]:
        """The columns that on their own separate the classes, most separating first."""
        hits = [c for c in self.columns if c.separates]
        return sorted(hits, key=lambda c: -(c.auroc or 0.0))

    def to_records(self) -> list[dict[str, Any]]:
        """Return the per-column results as plain values (the model card's ``confounders``)."""
        return [c.to_dict() for c in self.columns]

    def to_frame(self) -> pd.DataFrame:
        """Return one row per column (pure levels as text)."""
        rows = []
        for c in self.columns:
            row = c.to_dict()
            row["pure_levels"] = "; ".join(
                f"{p['level']}: all {p['n']} {p['class']}" for p in c.pure_levels
            )
            rows.append(row)
        return pd.DataFrame(rows, columns=list(ColumnScreen.__dataclass_fields__))

    def warning(self) -> str | None:
        """Return the one-line warning naming every separating column (``None`` if none)."""
        flagged = self.flagged
        if not flagged:
            return None
        named = "; ".join(f"{c.column!r} ({c.why()})" for c in flagged)
        return (
            f"{len(flagged)} metadata column(s) on their own separate the classes "
            f"({' vs '.join(self.classes)}; in-sample AUROC, not validated): {named}. The model "
            "may learn these instead of the disease: cross-validate across them with --study "
            f"{shlex.quote(str(flagged[0].column))}, or select samples so that each is balanced "
            "(one study, country, body site or sample type)."
        )


def _auroc(onehot: np.ndarray, scores: np.ndarray) -> float:
    """Macro one-vs-rest AUROC, each class ``max(auc, 1 - auc)``."""
    aucs = []
    columns = range(onehot.shape[1]) if onehot.shape[1] > 2 else [1]
    for k in columns:
        truth = onehot[:, k]
        if truth.min() == truth.max():
            continue
        auc = float(roc_auc_score(truth, scores[:, k]))
        aucs.append(max(auc, 1.0 - auc))
    return float(np.mean(aucs)) if aucs else float("nan")


def _categorical(levels: pd.Series, y: pd.Series, classes: list[str]) -> dict[str, Any]:
    table = pd.crosstab(levels, y).reindex(columns=classes, fill_value=0)
    table = table.loc[:, table.sum(axis=0) > 0]
    counts = table.to_numpy()
    if counts.shape == (2, 2):
        test = "Fisher's exact"
        statistic, p_value = stats.fisher_exact(counts)
    else:
        test = "chi-squared"
        statistic, p_value, _, _ = stats.chi2_contingency(counts, correction=False)
    shares = table.div(table.sum(axis=1), axis=0)
    scores = shares.reindex(columns=classes, fill_value=0.0).loc[levels.to_numpy()].to_numpy()
    onehot = (y.to_numpy()[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)
    n = int(counts.sum())
    pure = []
    for level, row in table.iterrows():
        size = int(row.sum())
        if size >= max(PURE_LEVEL_MIN, PURE_LEVEL_SHARE * n) and int(row.max()) == size:
            pure.append({"level": str(level), "class": str(row.idxmax()), "n": size})
    return {
        "test": test,
        "statistic": float(statistic),
        "p_value": float(p_value),
        "auroc": _auroc(onehot, scores),
        "pure_levels": sorted(pure, key=lambda p: -p["n"]),
    }


def _numeric(values: pd.Series, y: pd.Series, classes: list[str]) -> dict[str, Any]:
    x = values.to_numpy(dtype=np.float64)
    labels = y.to_numpy()
    groups = [x[labels == c] for c in classes if (labels == c).any()]
    if len(groups) == 2:
        test = "Wilcoxon rank-sum"
        statistic, p_value = stats.mannwhitneyu(groups[0], groups[1], alternative="two-sided")
    else:
        test = "Kruskal-Wallis"
        statistic, p_value = stats.kruskal(*groups)
    onehot = (labels[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)
    scores = np.repeat(x[:, None], len(classes), axis=1)
    return {
        "test": test,
        "statistic": float(statistic),
        "p_value": float(p_value),
        "auroc": _auroc(onehot, scores),
        "pure_levels": [],
    }


def _screen_column(name: str, raw: pd.Series, y: pd.Series, classes: list[str]) -> ColumnScreen:
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    values = raw[present]
    labels = y[present]
    missing = int((~present).sum())
    skipped = {"column": name, "status": "skipped", "n_samples": int(len(values))}
    skipped["n_missing"] = missing
    reason = is_identifier_like(name, values)
    if reason:
        return ColumnScreen(**skipped, reason=reason)
    if len(values) < MIN_SAMPLES:
        return ColumnScreen(**skipped, reason=f"filled in for only {len(values)} samples")
    if labels.nunique() < 2:
        only = labels.iloc[0]
        return ColumnScreen(**skipped, reason=f"filled in only for samples of class {only}")
    numeric = pd.api.types.is_numeric_dtype(values) or bool(
        pd.to_numeric(values, errors="coerce").notna().all()
    )
    if numeric:
        values = pd.to_numeric(values, errors="coerce").astype(float)
    distinct = int(values.nunique())
    if distinct < 2:
        return ColumnScreen(**skipped, reason="one value in every sample", n_levels=distinct)
    kind = "numeric" if numeric and distinct > FEW_VALUES else "categorical"
    if kind == "categorical":
        levels = values.map(lambda v: f"{v:g}" if isinstance(v, float) else str(v).strip())
        seen = pd.crosstab(levels, labels) > 0
        if seen.sum(axis=1).max() == 1 or seen.sum(axis=0).max() == 1:
            return ColumnScreen(
                **skipped,
                n_levels=distinct,
                reason="each value holds one class or each class one value (derived from the "
                "label, or completely confounded with it)",
            )
        result = _categorical(levels, labels, classes)
    else:
        result = _numeric(values, labels, classes)
    auroc = result["auroc"] if np.isfinite(result["auroc"]) else None
    return ColumnScreen(
        column=name,
        status="tested",
        kind=kind,
        test=result["test"],
        n_samples=int(len(values)),
        n_missing=missing,
        n_levels=distinct,
        statistic=result["statistic"],
        p_value=result["p_value"] if np.isfinite(result["p_value"]) else None,
        auroc=auroc,
        pure_levels=result["pure_levels"],
    )


def screen_confounders(
    metadata: pd.DataFrame,
    y: pd.Series,
    *,
    classes: Sequence[str] | None = None,
    label: str | None = None,
    group: str | None = None,
    skip: Sequence[str] = (),
    threshold: float = SEPARATION_AUROC,
    warn: bool = True,
) -> ConfounderScreen:
    """Test every metadata column against the class label.

    Parameters
    ----------
    metadata : pandas.DataFrame
        Sample metadata, indexed by sample ID (the samples of ``y``).
    y : pandas.Series
        Class per sample (as training uses it).
    classes : sequence of str, optional
        Class order (default: sorted values of ``y``).
    label : str, optional
        The label column: skipped.
    group : str, optional
        The subject column: skipped.
    skip : sequence of str
        Further columns to skip (e.g. columns the label was derived from).
    threshold : float
        In-sample AUROC at which a column separates the classes.
    warn : bool
        Issue a :class:`ConfounderWarning` naming every separating column.

    Returns
    -------
    ConfounderScreen

    Examples
    --------
    >>> md = pd.DataFrame({"site": ["a"] * 25 + ["b"] * 15, "age": range(40)},
    ...                   index=[f"s{i}" for i in range(40)])
    >>> y = pd.Series(["case"] * 20 + ["control"] * 20, index=md.index)
    >>> screen = screen_confounders(md, y, warn=False)
    >>> [(c.column, round(c.auroc, 3)) for c in screen.flagged]
    [('age', 1.0), ('site', 0.875)]
    """
    classes = [str(c) for c in (classes if classes is not None else sorted(set(y)))]
    y = y.astype(str)
    metadata = metadata.reindex(y.index)
    reasons = {label: "the label column", group: "the group (subject) column"}
    reasons |= {s: "asked to skip" for s in skip}
    screens = []
    for name in metadata.columns:
        if name in reasons and name is not None:
            screens.append(ColumnScreen(str(name), "skipped", reason=reasons[name]))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant groups in a test
            screens.append(_screen_column(str(name), metadata[name], y, classes))
    tested = [i for i, s in enumerate(screens) if s.status == "tested"]
    q = benjamini_hochberg([screens[i].p_value or np.nan for i in tested])
    for i, value in zip(tested, q, strict=True):
        screens[i] = _with_q(screens[i], value, threshold)
    order = sorted(
        range(len(screens)),
        key=lambda i: (
            screens[i].status != "tested",
            not screens[i].separates,
            screens[i].q_value if screens[i].q_value is not None else 2.0,
        ),
    )
    screen = ConfounderScreen(
        label=str(label or y.name or "label"),
        classes=classes,
        columns=[screens[i] for i in order],
        threshold=threshold,
    )
    message = screen.warning()
    if warn and message:
        warnings.warn(message, ConfounderWarning, stacklevel=2)
    return screen


def _with_q(screen: ColumnScreen, q: float, threshold: float) -> ColumnScreen:
    data = screen.to_dict()
    data["q_value"] = None if not np.isfinite(q) else float(q)
    strong = (screen.auroc is not None and screen.auroc >= threshold) or bool(screen.pure_levels)
    data["separates"] = bool(strong and np.isfinite(q) and q < ALPHA)
    return ColumnScreen.from_dict(data)


def screen_cohort(
    table: pd.DataFrame,
    metadata: pd.DataFrame,
    *,
    label: str,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
    group: str | None = None,
    threshold: float = SEPARATION_AUROC,
    warn: bool = True,
) -> ConfounderScreen:
    """Screen the samples training would use: the table's, labelled, with reads.

    Samples are joined and classes formed exactly as :func:`mlmicro.train`
    does (same ``label`` / ``positive`` / ``negative``), so the screen is the
    one training records in its model card.

    Examples
    --------
    >>> from mlmicro.datasets import load_default_cohort
    >>> cohort = load_default_cohort()
    >>> screen = screen_cohort(cohort.table, cohort.metadata, label="diagnosis",
    ...                        positive=["CD"], group="subject_id")
    >>> screen.flagged
    []
    """
    table, metadata = join_metadata(table, metadata)
    target = make_target(metadata, label, positive=positive, negative=negative)
    empty = set(empty_samples(table.loc[target.y.index]))
    y = target.y[~target.y.index.astype(str).isin(empty)]
    return screen_confounders(
        metadata.loc[y.index],
        y,
        classes=target.classes,
        label=label,
        group=group,
        threshold=threshold,
        warn=warn,
    )

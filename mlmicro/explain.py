"""SHAP explanations of a trained model, keyed by taxon; nothing here fits anything.

:func:`explain` computes exact TreeSHAP values of a model's XGBoost classifier
with XGBoost's native ``pred_contribs`` (see
:mod:`mlmicro.model.contributions`), over the training cohort kept in the
model bundle or over a new cohort run through the model's own frozen pipeline.
The result, an :class:`Explanation`, maps the values back to taxa and adds what
a reader needs to judge them: the direction of each taxon's effect, its
prevalence and abundance per class, and how often the cross-validation fold
models ranked it among their top taxa.

Values are in the classifier's margin: the log-odds of the positive class for
a binary model (positive = pushes toward it), one margin per class for a
multiclass model.

What is explained depends on the model's transform. With ``relative``,
``log`` or ``clr`` each classifier feature is one taxon. With ``alr`` each
feature is the log-ratio of a taxon to the reference taxon, and with ``ilr``
each feature is a balance between groups of taxa; the explanation says so in
:attr:`Explanation.feature_kind`, in its :attr:`Explanation.notes` and in the
``feature`` column of :meth:`Explanation.summary`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from mlmicro.exceptions import (
    CoverageError,
    InvalidTableError,
    MetadataError,
    ModelBundleError,
    TaxonomyError,
)
from mlmicro.model.contributions import supports_contributions
from mlmicro.taxonomy import (
    RANKS,
    display_names,
    normalize_rank,
    truncate_lineage,
)
from mlmicro.transforms.composition import ALR, CLR, ILR
from mlmicro.transforms.zeros import LogTransform

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from mlmicro.model.model import Model

__all__ = ["Explanation", "explain", "labels_from_metadata", "DIRECTION_THRESHOLD"]

FeatureKind = Literal["taxon", "log-ratio", "balance"]

#: A feature's direction is named only when the Spearman correlation between
#: its value and its SHAP value reaches this size; below it, ``"unclear"``.
DIRECTION_THRESHOLD: float = 0.1

_FEATURE_WORDS = {
    "taxon": "taxa",
    "log-ratio": "log-ratios to the reference taxon",
    "balance": "ILR balances",
}


class Explanation:
    """Exact SHAP values of a model over one cohort, keyed by taxon.

    Build one with :func:`explain` or :meth:`mlmicro.Model.explain`.

    Attributes
    ----------
    classes : list of str
        The model's classes, in model order.
    outputs : list of str
        The class whose margin each set of values explains: the positive
        class for a binary model, every class for a multiclass model.
    feature_kind : {"taxon", "log-ratio", "balance"}
        What a feature is: a taxon (``relative``, ``log`` and ``clr``
        transforms), a log-ratio to a reference taxon (``alr``) or a balance
        between groups of taxa (``ilr``).
    features : pandas.DataFrame
        One row per feature (index: the feature key, the lineage for taxa):
        ``name`` (readable), ``lineage`` and ``feature`` (what the classifier
        sees, in words).
    data : pandas.DataFrame
        Samples x features: the value plots show for a feature; a taxon's
        relative abundance (proportion, 0-1), or the classifier's log-ratio or
        balance.
    labels : pandas.Series or None
        True class per sample, where known.
    rank : str or None
        Rank of the features (the model's, or the one aggregated to).
    cohort : str
        What was explained (``"training cohort"`` or ``"given cohort"``).
    notes : list of str
        Plain-language caveats to show beside the numbers.
    """

    def __init__(
        self,
        values: np.ndarray,
        base: np.ndarray,
        *,
        features: pd.DataFrame,
        data: pd.DataFrame,
        abundance: pd.DataFrame | None,
        cohort_abundance: pd.DataFrame,
        classes: Sequence[str],
        outputs: Sequence[str],
        feature_kind: FeatureKind,
        labels: pd.Series | None,
        fold_importance: pd.DataFrame | None,
        rank: str | None,
        cohort: str,
        notes: Sequence[str] = (),
        margin: np.ndarray | None = None,
        probabilities: np.ndarray | None = None,
    ) -> None:
        self._values = np.asarray(values, dtype=np.float64)  # (samples, outputs, features)
        self._base = np.asarray(base, dtype=np.float64).reshape(-1)  # (outputs,)
        self._correlation: np.ndarray | None = None
        self._views: list[Explanation] | None = None
        # the model's full output (samples, outputs), kept by single-class views
        self._margin = self._base[None, :] + self._values.sum(axis=2) if margin is None else margin
        # the classifier's own probabilities (the same numbers as mlmicro predict)
        self._probabilities = probabilities
        self.features = features
        self.data = data
        self._abundance = abundance  # samples x features, relative abundance of each taxon
        self._cohort_abundance = cohort_abundance  # samples x taxa at the model's rank
        self.classes = list(classes)
        self.outputs = list(outputs)
        self.feature_kind: FeatureKind = feature_kind
        self.labels = labels
        self._fold_importance = fold_importance
        self.rank = rank
        self.cohort = cohort
        self.notes = list(notes)

    # ----------------------------------------------------------------- values
    @property
    def sample_ids(self) -> pd.Index:
        """Sample IDs, in row order."""
        return self.data.index

    @property
    def is_multiclass(self) -> bool:
        """Whether the model has more than two classes (one view per class)."""
        return len(self.outputs) > 1

    @property
    def values(self) -> pd.DataFrame:
        """SHAP values: samples x features (multiclass: rows ``(sample_id, class)``).

        Columns are feature keys (canonical lineages for taxa); :attr:`features`
        has their readable names.
        """
        keys = pd.Index(self.features.index, dtype=object)
        if not self.is_multiclass:
            return pd.DataFrame(self._values[:, 0, :], index=self.sample_ids.copy(), columns=keys)
        rows = pd.MultiIndex.from_product(
            [self.sample_ids, self.outputs], names=["sample_id", "class"]
        )
        return pd.DataFrame(self._values.reshape(-1, len(keys)), index=rows, columns=keys)

    @property
    def base_value(self) -> float | pd.Series:
        """Expected margin of the model (multiclass: a Series, one per class)."""
        if not self.is_multiclass:
            return float(self._base[0])
        return pd.Series(self._base, index=pd.Index(self.outputs, name="class"), name="base_value")

    @property
    def probability(self) -> pd.DataFrame:
        """Class probabilities: the classifier's own, equal to ``mlmicro predict``'s.

        (Rebuilt from the base value plus the SHAP sum only when the classifier's
        were not kept; the two agree to float32 precision.)
        """
        if self._probabilities is not None:
            return pd.DataFrame(
                self._probabilities,
                index=self.sample_ids.copy(),
                columns=[f"probability_{c}" for c in self.classes],
            )
        margin = self._margin
        if len(self.classes) == 2:  # the log-odds of the second class
            score = 1.0 / (1.0 + np.exp(-margin[:, 0]))
            proba = np.column_stack([1.0 - score, score])
        else:
            shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
            proba = shifted / shifted.sum(axis=1, keepdims=True)
        return pd.DataFrame(
            proba, index=self.sample_ids.copy(), columns=[f"probability_{c}" for c in self.classes]
        )

    def for_class(self, name: str) -> Explanation:
        """Return the view of one class: the SHAP values of that class's margin.

        For a binary model the view of the negative class is the positive view
        with every sign flipped (its log-odds are the positive class's, negated).

        Examples
        --------
        >>> exp.for_class("control").values.equals(-exp.values)  # doctest: +SKIP
        True
        """
        if name in self.outputs:
            return self.views()[self.outputs.index(name)]
        if not self.is_multiclass and name in self.classes:
            return self._with(-self._values, -self._base, outputs=[name])
        raise MetadataError(
            f"Class {name!r} is not one of the model's classes ({', '.join(self.classes)}); "
            "pick one of these."
        )

    def views(self) -> list[Explanation]:
        """One single-class view per explained output (one for a binary model)."""
        if self._views is None:
            self._views = (
                [
                    self._with(self._values[:, [k], :], self._base[[k]], outputs=[name])
                    for k, name in enumerate(self.outputs)
                ]
                if self.is_multiclass
                else [self]
            )
        return self._views

    def _with(self, values: np.ndarray, base: np.ndarray, *, outputs: list[str]) -> Explanation:
        return Explanation(
            values,
            base,
            features=self.features,
            data=self.data,
            abundance=self._abundance,
            cohort_abundance=self._cohort_abundance,
            classes=self.classes,
            outputs=outputs,
            feature_kind=self.feature_kind,
            labels=self.labels,
            fold_importance=self._fold_importance,
            rank=self.rank,
            cohort=self.cohort,
            notes=self.notes,
            margin=self._margin,
            probabilities=self._probabilities,
        )

    def _view(self, target: str | None) -> Explanation:
        if target is None:
            return self if not self.is_multiclass else self.for_class(self.outputs[0])
        return self.for_class(target)

    # ---------------------------------------------------------------- summary
    def summary(self, *, top_k: int = 10) -> pd.DataFrame:
        """Per-feature summary, most important first.

        Parameters
        ----------
        top_k : int
            K of ``cv_top_k_share``: the share of cross-validation fold models
            in which the feature is among their K most important.

        Returns
        -------
        pandas.DataFrame
            One row per feature (multiclass: per class and feature, with a
            ``class`` column first, ranks within each class). Columns:
            ``rank``, ``name``, ``lineage``, ``feature`` (what the classifier
            sees), ``mean_abs_shap``, ``mean_shap``, ``direction`` (the class
            the feature pushes toward when it is high, ``not <class>`` in a
            multiclass view, ``unclear`` when weak), ``direction_correlation``
            (Spearman correlation of feature value and SHAP value),
            ``prevalence_<class>`` and ``mean_abundance_<class>`` (share of
            samples where the taxon is present, and its mean relative
            abundance as a proportion, per true class and over ``all``
            samples; absent for ILR balances) and ``cv_top_k_share``.
        """
        if self.is_multiclass:
            parts = []
            for view in self.views():
                part = view.summary(top_k=top_k)
                part.insert(0, "class", view.outputs[0])
                parts.append(part)
            return pd.concat(parts, ignore_index=True)
        values = self._values[:, 0, :]
        if self._correlation is None:  # the slow part on large cohorts: compute it once
            self._correlation = _column_spearman(self.data.to_numpy(dtype=np.float64), values)
        correlation = self._correlation
        frame = self.features[["name", "lineage", "feature"]].copy()
        frame["mean_abs_shap"] = np.abs(values).mean(axis=0)
        frame["mean_shap"] = values.mean(axis=0)
        frame["direction"] = [self._direction(r) for r in correlation]
        frame["direction_correlation"] = correlation
        for column, numbers in self._abundance_columns().items():
            frame[column] = numbers
        frame["cv_top_k_share"] = self._stability(top_k)
        frame = frame.loc[self.ranked_keys()]
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        return frame.reset_index(drop=True)

    def top(self, k: int = 10, *, top_k: int | None = None) -> pd.DataFrame:
        """Return the ``k`` most important features (per class for a multiclass model).

        ``top_k`` (default: ``k``) is the K of ``cv_top_k_share``.

        Examples
        --------
        >>> model.explain().top(5)[["name", "mean_abs_shap", "direction"]]  # doctest: +SKIP
        """
        table = self.summary(top_k=top_k or k)
        if self.is_multiclass:
            return table.groupby("class", sort=False).head(k).reset_index(drop=True)
        return table.head(k).reset_index(drop=True)

    def ranked_keys(self, k: int | None = None) -> list[str]:
        """Feature keys by mean |SHAP|, largest first (the first ``k``; all by default).

        For a multiclass explanation the ranking is by mean |SHAP| over all classes.
        """
        importance = np.abs(self._values).mean(axis=(0, 1))
        order = np.argsort(-importance, kind="stable")[:k]
        return [str(self.features.index[i]) for i in order]

    def contributions(self, sample: str, *, target: str | None = None) -> pd.DataFrame:
        """One sample's explanation: each feature's value and SHAP value, largest first.

        The ``shap`` column plus :attr:`base_value` adds up to the sample's
        margin (log-odds for a binary model); this is the table behind
        :meth:`plot_waterfall`.
        """
        view = self._view(target)
        row = view.row_of(sample)
        frame = view.features[["name", "lineage", "feature"]].copy()
        frame["value"] = view.data.to_numpy(dtype=np.float64)[row]
        frame["shap"] = view._values[row, 0, :]
        frame = frame.iloc[np.argsort(-np.abs(frame["shap"].to_numpy()), kind="stable")]
        frame.insert(0, "sample_id", str(view.sample_ids[row]))
        frame.insert(1, "class", view.outputs[0])
        return frame.reset_index(drop=True)

    def row_of(self, sample: str) -> int:
        """Row position of a sample ID; a clear error when it is not in the cohort."""
        position = self.sample_ids.get_indexer([str(sample)])[0]
        if position < 0:
            shown = ", ".join(map(str, self.sample_ids[:4]))
            raise InvalidTableError(
                f"Sample {sample!r} is not in the explained cohort ({len(self.sample_ids)} "
                f"samples, e.g. {shown}); check the sample ID."
            )
        return int(position)

    def key_of(self, feature: str) -> str:
        """Return the feature key of a key (lineage) or a readable name."""
        if feature in self.features.index:
            return str(feature)
        matches = self.features.index[self.features["name"] == feature]
        if len(matches) == 1:
            return str(matches[0])
        raise InvalidTableError(
            f"{feature!r} is neither a feature lineage nor a readable name in this "
            f"explanation (e.g. {self.features['name'].iloc[0]!r}); see .features."
        )

    def _direction(self, correlation: float) -> str:
        target = self.outputs[0]
        if not np.isfinite(correlation) or abs(correlation) < DIRECTION_THRESHOLD:
            return "unclear"
        if correlation > 0:
            return target
        if len(self.classes) == 2:
            return next(c for c in self.classes if c != target)
        return f"not {target}"

    def _abundance_columns(self) -> dict[str, np.ndarray]:
        if self._abundance is None:
            return {}
        abundance = self._abundance.to_numpy(dtype=np.float64)
        groups: list[tuple[str, np.ndarray]] = []
        if self.labels is not None:
            labels = self.labels.reindex(self.sample_ids).to_numpy(dtype=object)
            groups = [(c, labels == c) for c in self.classes if (labels == c).any()]
        groups.append(("all", np.ones(len(self.sample_ids), dtype=bool)))
        out = {f"prevalence_{name}": (abundance[m] > 0).mean(axis=0) for name, m in groups}
        out |= {f"mean_abundance_{name}": abundance[m].mean(axis=0) for name, m in groups}
        return out

    def _stability(self, top_k: int) -> np.ndarray:
        keys = list(self.features.index)
        importance = self._fold_importance
        if importance is None or importance.empty or self.feature_kind == "balance":
            return np.full(len(keys), np.nan)
        matrix = importance.reindex(columns=keys, fill_value=0.0).to_numpy(dtype=np.float64)
        order = np.argsort(-matrix, axis=1, kind="stable")[:, : min(top_k, matrix.shape[1])]
        in_top = np.zeros(matrix.shape, dtype=bool)
        np.put_along_axis(in_top, order, True, axis=1)
        return (in_top & (matrix > 0)).mean(axis=0)

    # ------------------------------------------------------------ aggregation
    def aggregate(self, rank: str) -> Explanation:
        """Sum SHAP values within a higher rank (genus, family, ...), per sample.

        SHAP values are additive, so the sum over a genus's features is the
        contribution of the genus as a whole. The aggregated :attr:`data` are
        the genus's relative abundances (all its taxa in the cohort, at the
        model's rank), and ``cv_top_k_share`` ranks the fold models'
        importances summed within each group (an upper bound of their mean
        absolute sum).

        Raises
        ------
        TaxonomyError
            If ``rank`` is unknown or not above the features' rank, or the
            features carry no lineage.
        InvalidTableError
            If the model's features are ILR balances, which belong to no rank.

        Examples
        --------
        >>> model.explain().aggregate("genus").top(10)  # doctest: +SKIP
        """
        rank = normalize_rank(rank)
        if self.feature_kind == "balance":
            raise InvalidTableError(
                "ILR balances mix taxa from many lineages and cannot be summed by rank; "
                "aggregate a model trained with the relative, log, clr or alr transform."
            )
        current = self.rank or RANKS[-1]
        if RANKS.index(rank) >= RANKS.index(current):
            above = ", ".join(RANKS[1 : RANKS.index(current)]) or "none"
            raise TaxonomyError(
                f"Cannot aggregate {current}-level features to {rank!r}; pick a rank above "
                f"{current} ({above})."
            )
        keys = [str(k) for k in self.features.index]
        groups = [truncate_lineage(str(self.features.at[k, "lineage"]), rank) for k in keys]
        names = sorted(set(groups))
        summed = _sum_columns(self._values, groups, names)
        abundance = _group_columns(self._cohort_abundance, rank).reindex(
            columns=names, fill_value=0.0
        )
        fold = None
        if self._fold_importance is not None:
            mapping = dict(zip(keys, groups, strict=True))
            cols = [c for c in self._fold_importance.columns if c in mapping]
            fold = self._fold_importance[cols].T.groupby([mapping[c] for c in cols]).sum().T
        summed_what = "taxa" if self.feature_kind == "taxon" else "log-ratios to the reference"
        features = _feature_table(names, names, f"sum of {current} {summed_what}")
        note = (
            f"Aggregated to {rank}: each value is the sum of the SHAP values of the model's "
            f"{current}-level {summed_what} in that {rank}, per sample."
        )
        return Explanation(
            summed,
            self._base,
            features=features,
            data=abundance,
            abundance=abundance,
            cohort_abundance=self._cohort_abundance,
            classes=self.classes,
            outputs=self.outputs,
            feature_kind="taxon",
            labels=self.labels,
            fold_importance=fold,
            rank=rank,
            cohort=self.cohort,
            notes=[*self.notes, note],
            margin=self._margin,
            probabilities=self._probabilities,
        )

    # --------------------------------------------------------------- plotting
    def plot_bar(self, max_display: int = 20, *, target: str | None = None) -> Figure:
        """Mean |SHAP| per feature, largest first (shap's ``plots.bar``)."""
        from mlmicro import figures

        return figures.bar(self._view(target), max_display=max_display)

    def plot_beeswarm(self, max_display: int = 20, *, target: str | None = None) -> Figure:
        """Every sample's SHAP values, coloured by abundance (shap's ``plots.beeswarm``)."""
        from mlmicro import figures

        return figures.beeswarm(self._view(target), max_display=max_display)

    def plot_waterfall(
        self, sample: str, max_display: int = 15, *, target: str | None = None
    ) -> Figure:
        """One sample's explanation from base value to prediction (shap's ``plots.waterfall``)."""
        from mlmicro import figures

        return figures.waterfall(self._view(target), sample, max_display=max_display)

    def plot_dependence(self, feature: str, *, target: str | None = None) -> Figure:
        """SHAP value against abundance for one feature, given by lineage or name."""
        from mlmicro import figures

        return figures.dependence(self._view(target), self.key_of(feature))

    def __repr__(self) -> str:
        return (
            f"<mlmicro.Explanation: {len(self.sample_ids)} samples x {len(self.features)} "
            f"{_FEATURE_WORDS[self.feature_kind]} at {self.rank or 'deepest'} rank, "
            f"margin of {' / '.join(self.outputs)}; {self.cohort}>"
        )


# --------------------------------------------------------------------- explain
def explain(
    model: Model,
    table: pd.DataFrame | None = None,
    *,
    metadata: pd.DataFrame | None = None,
    threads: int | None = None,
    where: str = "the table",
) -> Explanation:
    """Exact SHAP values of a model's predictions, mapped back to taxa.

    Parameters
    ----------
    model : Model
        A trained model whose classifier is XGBoost.
    table : pandas.DataFrame, optional
        Samples x taxa of a cohort to explain, in any lineage style and at or
        below the model's rank; it goes through the model's own fitted
        pipeline (collapsed, aligned, transformed; nothing is refitted).
        Default: the training cohort kept in the model bundle.
    metadata : pandas.DataFrame, optional
        Sample metadata of ``table`` holding the model's label column; gives
        the per-class abundance columns of the summary. The training cohort's
        labels are used when ``table`` is not given.
    threads : int, optional
        Threads for XGBoost (default: every core this process may use).
    where : str
        Where ``table`` came from (a file), for messages.

    Returns
    -------
    Explanation

    Raises
    ------
    ModelBundleError
        If the classifier is not XGBoost, or no table is given and the model
        kept no training cohort.
    CoverageError
        If the table shares no taxon with the model.

    Examples
    --------
    >>> import mlmicro
    >>> model = mlmicro.load_model("models/model.joblib")  # doctest: +SKIP
    >>> exp = model.explain()  # doctest: +SKIP
    >>> exp.top(10)[["name", "mean_abs_shap", "direction", "cv_top_k_share"]]  # doctest: +SKIP
    """
    pipeline = model.pipeline
    if not supports_contributions(pipeline):
        raise ModelBundleError(
            f"Explanations need an XGBoost model, but this model's classifier is "
            f"{model.card.model_type}; retrain it with --model xgboost."
        )
    if table is None:
        if model.training is None:
            raise ModelBundleError(
                "This model bundle keeps no training cohort, so there is nothing to explain by "
                "default; pass the table of a cohort to explain."
            )
        table, labels, cohort = model.training.table(), model.training.labels(), "training cohort"
    else:
        labels = None if metadata is None else labels_from_metadata(model, metadata)
        cohort = "given cohort"
    # the one application path: the same probabilities and SHAP values as mlmicro predict
    applied = model.apply(
        table, contributions=True, threads=threads or _available_cores(), where=where
    )
    notes = [_coverage(applied.abundance, model)] if cohort == "given cohort" else []
    ids = applied.sample_ids[applied.predicted]
    if applied.n_unpredicted:
        left = applied.sample_ids[~applied.predicted]
        shown = ", ".join(repr(s) for s in left[:5]) + (", ..." if len(left) > 5 else "")
        notes.append(
            f"{len(left)} sample(s) carry no abundance on any model taxon and are not "
            f"explained: {shown}."
        )
    rank_values = applied.abundance[applied.predicted]
    totals = rank_values.sum(axis=1, keepdims=True)
    cohort_abundance = pd.DataFrame(
        rank_values / totals, index=ids, columns=pd.Index(model.features, dtype=object)
    )
    features_in = pd.DataFrame(applied.features, index=ids, columns=applied.feature_names)
    values, base = applied.contributions, applied.base
    if values.ndim == 2:
        values = values[:, None, :]
    if labels is not None:
        labels = labels.reindex(ids)
    binary = len(model.classes) == 2
    outputs = [model.classes[1]] if binary else list(model.classes)
    kind, features, data, abundance, kind_notes = _describe_features(
        pipeline, features_in, cohort_abundance
    )
    margin = f"log-odds of {outputs[0]}" if binary else "per-class margin (softmax logits)"
    notes = [
        f"SHAP values are exact TreeSHAP contributions to the {margin} of the {cohort} "
        f"({len(ids)} samples); positive values push toward "
        f"{outputs[0] if binary else 'the class shown'}.",
        *kind_notes,
        *notes,
    ]
    return Explanation(
        values,
        base,
        features=features,
        data=data,
        abundance=abundance,
        cohort_abundance=cohort_abundance,
        classes=model.classes,
        outputs=outputs,
        feature_kind=kind,
        labels=labels,
        fold_importance=None if model.cv is None else model.cv.fold_importance,
        rank=model.rank,
        cohort=cohort,
        notes=notes,
        probabilities=applied.probabilities[applied.predicted],
    )


def labels_from_metadata(model: Model, metadata: pd.DataFrame) -> pd.Series:
    """Class label per sample, from the model's label column of new sample metadata.

    The model's :class:`~mlmicro.model.labels.Task` maps the values exactly as
    at training and external validation; samples without a usable label are
    left out.

    Raises
    ------
    MetadataError
        If the metadata lack the model's label column, or hold label values
        the model does not know.
    """
    return model.task.labels(metadata).rename("label")


# --------------------------------------------------------------------- helpers
def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _coverage(rank_values: np.ndarray, model: Model) -> str:
    present = (rank_values > 0).any(axis=0)
    used = set(model.features_used)
    used_present = sum(
        1 for taxon, seen in zip(model.features, present, strict=True) if seen and taxon in used
    )
    if not present.any():
        raise CoverageError(
            f"The table shares no taxon with the model ({len(model.features)} taxa at "
            f"{model.rank or 'deepest'} rank); check that it is a profile of the same kind "
            "(lineage style, rank) as the training table."
        )
    share = used_present / max(len(used), 1)
    if share < 0.5:
        warnings.warn(
            f"Only {used_present} of the model's {len(used)} taxa occur in the table "
            f"({share:.0%}); missing taxa count as absent, so the explanation may mislead.",
            UserWarning,
            stacklevel=3,
        )
    return (
        f"{used_present} of the {len(used)} taxa the classifier uses occur in the given cohort; "
        "missing taxa count as absent."
    )


def _feature_table(keys: Sequence[str], lineages: Sequence[str], feature: str | list[str]):
    return pd.DataFrame(
        {
            "name": display_names(list(lineages)),
            "lineage": list(lineages),
            "feature": feature,
        },
        index=pd.Index(list(keys), dtype=object, name="key"),
    )


def _describe_features(
    pipeline, features_in: pd.DataFrame, cohort_abundance: pd.DataFrame
) -> tuple[FeatureKind, pd.DataFrame, pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Describe each classifier feature: its name, lineage, plotted value and abundance."""
    transform = pipeline.named_steps.get("transform")
    keys = [str(c) for c in features_in.columns]
    if isinstance(transform, (ALR, ILR)):  # the taxa the log-ratios are made of
        before = [name for name, _ in pipeline.steps].index("transform")
        taxa = [str(t) for t in pipeline[:before].get_feature_names_out()]
    data = features_in.copy()
    data.index = cohort_abundance.index
    data.columns = pd.Index(keys, dtype=object)
    if isinstance(transform, ALR):
        reference = taxa[transform.reference_index_]
        ref_name = display_names(taxa)[transform.reference_index_]
        features = _feature_table(keys, keys, f"log-ratio to {ref_name}")
        features["name"] = [f"{n} / {ref_name}" for n in features["name"]]
        note = (
            f"This model uses the ALR transform: each feature is the log-ratio of a taxon to "
            f"the reference taxon {ref_name} ({reference}). The SHAP values explain these "
            "log-ratios, not the taxa on their own; the reference has no value of its own."
        )
        return "log-ratio", features, data, cohort_abundance[keys], [note]
    if isinstance(transform, ILR):
        readable = display_names(taxa)
        names, lineages, words = [], [], []
        for j, row in enumerate(np.asarray(transform.basis_)):
            upper = np.flatnonzero(row > 1e-12)
            lower = np.flatnonzero(row < -1e-12)
            denominator = readable[lower[0]] if len(lower) == 1 else f"{len(lower)} taxa"
            names.append(f"ilr{j}: {len(upper)} taxa vs {denominator}")
            lineages.append(taxa[lower[0]] if len(lower) == 1 else "")
            words.append(
                f"balance: log of the geometric mean of {len(upper)} taxa over {denominator}"
            )
        features = pd.DataFrame(
            {"name": names, "lineage": lineages, "feature": words},
            index=pd.Index(keys, dtype=object, name="key"),
        )
        note = (
            "This model uses the ILR transform: its features are balances (log-ratios between "
            "groups of taxa), not taxa. The SHAP values explain these balances; each is named "
            "by the taxon it sets against the taxa listed before it. Abundance and "
            "cross-validation stability are left out, as balances differ between fold models."
        )
        return "balance", features, data, None, [note]
    words = {CLR: "centred log-ratio (clr)", LogTransform: "log relative abundance"}
    feature = words.get(type(transform), "relative abundance")
    abundance = cohort_abundance[keys]
    notes = []
    if isinstance(transform, CLR):
        notes.append(
            "The classifier sees centred log-ratios (each taxon relative to the geometric "
            "mean of the sample); plots show relative abundance."
        )
    return "taxon", _feature_table(keys, keys, feature), abundance, abundance, notes


def _column_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of matching columns of ``x`` and ``y`` (NaN where constant)."""
    rx = stats.rankdata(x, axis=0)
    ry = stats.rankdata(y, axis=0)
    rx -= rx.mean(axis=0)
    ry -= ry.mean(axis=0)
    denominator = np.sqrt((rx**2).sum(axis=0) * (ry**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(axis=0) / denominator, np.nan)


def _sum_columns(values: np.ndarray, groups: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """Sum the last axis of ``values`` by group: (..., features) -> (..., groups)."""
    position = {g: i for i, g in enumerate(names)}
    indicator = np.zeros((len(groups), len(names)))
    indicator[np.arange(len(groups)), [position[g] for g in groups]] = 1.0
    return values @ indicator


def _group_columns(table: pd.DataFrame, rank: str) -> pd.DataFrame:
    groups = [truncate_lineage(str(c), rank) for c in table.columns]
    names = sorted(set(groups))
    summed = _sum_columns(table.to_numpy(dtype=np.float64)[:, None, :], groups, names)[:, 0, :]
    return pd.DataFrame(summed, index=table.index, columns=pd.Index(names, dtype=object))

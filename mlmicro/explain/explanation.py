"""The :class:`Explanation`: exact SHAP values of a model over one cohort, keyed by taxon.

Built by :func:`mlmicro.explain.explain`; nothing here fits or applies a model.
Values are in the classifier's margin: the log-odds of the positive class for
a binary model (positive = pushes toward it), one margin per class for a
multiclass model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from mlmicro.exceptions import InvalidTableError, MetadataError, TaxonomyError
from mlmicro.explain.association import taxon_associations
from mlmicro.taxonomy import RANKS, display_names, normalize_rank, truncate_lineage

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "DIRECTION_THRESHOLD",
    "FEATURE_WORDS",
    "Explanation",
    "FeatureKind",
    "column_spearman",
    "feature_table",
    "group_columns",
    "sum_columns",
]

FeatureKind = Literal["taxon", "log-ratio", "balance"]

#: A feature's direction is named only when the Spearman correlation between
#: its value and its SHAP value reaches this size; below it, ``"unclear"``.
DIRECTION_THRESHOLD: float = 0.1

FEATURE_WORDS = {
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
    subjects : pandas.Series or None
        Subject per sample, where samples come from subjects (the association
        tests then count each subject once per class).
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
        unit: str = "log-odds",
        probability_source: np.ndarray | None = None,
        shap_source: np.ndarray | None = None,
        subjects: pd.Series | None = None,
    ) -> None:
        self._values = np.asarray(values, dtype=np.float64)  # (samples, outputs, features)
        self._base = np.asarray(base, dtype=np.float64).reshape(-1)  # (outputs,)
        self._correlation: np.ndarray | None = None
        self._views: list[Explanation] | None = None
        # the model's full output (samples, outputs), kept by single-class views
        self._margin = self._base[None, :] + self._values.sum(axis=2) if margin is None else margin
        # the model's probabilities (the same numbers as mlmicro predict)
        self._probabilities = probabilities
        self.unit = unit  # "log-odds" (XGBoost, logistic) or "probability" (random forest)
        # per sample: "model", or "out-of-fold" for the model's own training samples
        self.probability_source = probability_source
        # per sample: "in-sample" for the model's own training samples (their SHAP values
        # explain the final model, which saw their labels), else "out-of-sample"
        self.shap_source = shap_source
        self.features = features
        self.data = data
        self._abundance = abundance  # samples x features, relative abundance of each taxon
        self._cohort_abundance = cohort_abundance  # samples x taxa at the model's rank
        self.classes = list(classes)
        self.outputs = list(outputs)
        self.feature_kind: FeatureKind = feature_kind
        self.labels = labels
        self.subjects = subjects
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
        """Class probabilities, equal to ``mlmicro predict``'s.

        Calibrated when the model has a calibrator (:mod:`mlmicro.model.trust`);
        the SHAP values explain the classifier's log-odds before calibration.
        (Rebuilt from the base value plus the SHAP sum, uncalibrated, only when
        the probabilities were not kept.)
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
            subjects=self.subjects,
            fold_importance=self._fold_importance,
            rank=self.rank,
            cohort=self.cohort,
            notes=self.notes,
            margin=self._margin,
            probabilities=self._probabilities,
            unit=self.unit,
            probability_source=self.probability_source,
            shap_source=self.shap_source,
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
            samples; absent for ILR balances), the association tests of
            :mod:`mlmicro.explain.association` when labels are known
            (``assoc_*``, ``generalised_fold_change``, ``prevalence_shift``)
            with ``agrees_with_shap`` (whether the taxon is more abundant in
            the class its SHAP direction names; empty where either direction
            is unclear), and ``cv_top_k_share``.
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
            self._correlation = column_spearman(self.data.to_numpy(dtype=np.float64), values)
        correlation = self._correlation
        frame = self.features[["name", "lineage", "feature"]].copy()
        frame["mean_abs_shap"] = np.abs(values).mean(axis=0)
        frame["mean_shap"] = values.mean(axis=0)
        frame["direction"] = [self._direction(r) for r in correlation]
        frame["direction_correlation"] = correlation
        for column, numbers in self._abundance_columns().items():
            frame[column] = numbers
        for column, numbers in self._association_columns(frame["direction"]).items():
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

    def _association_columns(self, direction: pd.Series) -> dict[str, object]:
        """Per-taxon tests of this view's class against the rest (see ``association``)."""
        if self._abundance is None or self.labels is None or self.labels.isna().all():
            return {}
        tests = taxon_associations(
            self._abundance, self.labels, self.outputs[0], self.classes, groups=self.subjects
        )
        clear = (direction != "unclear").to_numpy() & (tests["assoc_direction"] != "none")
        agrees = np.where(clear, direction.to_numpy() == tests["assoc_direction"], None)
        return {**{c: tests[c].to_numpy() for c in tests.columns}, "agrees_with_shap": agrees}

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
        summed = sum_columns(self._values, groups, names)
        abundance = group_columns(self._cohort_abundance, rank).reindex(
            columns=names, fill_value=0.0
        )
        fold = None
        if self._fold_importance is not None:
            mapping = dict(zip(keys, groups, strict=True))
            cols = [c for c in self._fold_importance.columns if c in mapping]
            fold = self._fold_importance[cols].T.groupby([mapping[c] for c in cols]).sum().T
        summed_what = "taxa" if self.feature_kind == "taxon" else "log-ratios to the reference"
        features = feature_table(names, names, f"sum of {current} {summed_what}")
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
            subjects=self.subjects,
            fold_importance=fold,
            rank=rank,
            cohort=self.cohort,
            notes=[*self.notes, note],
            margin=self._margin,
            probabilities=self._probabilities,
            unit=self.unit,
            probability_source=self.probability_source,
            shap_source=self.shap_source,
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
            f"{FEATURE_WORDS[self.feature_kind]} at {self.rank or 'deepest'} rank, "
            f"margin of {' / '.join(self.outputs)}; {self.cohort}>"
        )


def feature_table(
    keys: Sequence[str], lineages: Sequence[str], feature: str | list[str]
) -> pd.DataFrame:
    """Return the per-feature table of an explanation: readable name, lineage, what it is."""
    return pd.DataFrame(
        {
            "name": display_names(list(lineages)),
            "lineage": list(lineages),
            "feature": feature,
        },
        index=pd.Index(list(keys), dtype=object, name="key"),
    )


def column_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of matching columns of ``x`` and ``y`` (NaN where constant)."""
    rx = stats.rankdata(x, axis=0)
    ry = stats.rankdata(y, axis=0)
    rx -= rx.mean(axis=0)
    ry -= ry.mean(axis=0)
    denominator = np.sqrt((rx**2).sum(axis=0) * (ry**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(axis=0) / denominator, np.nan)


def sum_columns(values: np.ndarray, groups: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """Sum the last axis of ``values`` by group: (..., features) -> (..., groups)."""
    position = {g: i for i, g in enumerate(names)}
    indicator = np.zeros((len(groups), len(names)))
    indicator[np.arange(len(groups)), [position[g] for g in groups]] = 1.0
    return values @ indicator


def group_columns(table: pd.DataFrame, rank: str) -> pd.DataFrame:
    """Sum the taxa columns of ``table`` within each taxon at ``rank``."""
    groups = [truncate_lineage(str(c), rank) for c in table.columns]
    names = sorted(set(groups))
    summed = sum_columns(table.to_numpy(dtype=np.float64)[:, None, :], groups, names)[:, 0, :]
    return pd.DataFrame(summed, index=table.index, columns=pd.Index(names, dtype=object))

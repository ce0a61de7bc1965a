"""Rank collapsing and feature alignment: :class:`RankCollapser`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from mlmicro.alignment import Alignment, align_columns
from mlmicro.exceptions import TransformError
from mlmicro.io.frames import frame_values
from mlmicro.taxonomy import canonical_lineage, collapse_to_rank, normalize_rank

__all__ = ["RankCollapser"]


class RankCollapser(TransformerMixin, BaseEstimator):
    """Collapse a lineage table to one rank and align it to the taxa seen in ``fit``.

    The first step of every mlmicro model pipeline. ``fit`` maps the input's
    lineage columns to ``rank`` (see :func:`mlmicro.taxonomy.rank_mapping`:
    in a hierarchical MetaPhlAn table only the rows at ``rank``, and leaves
    that stop above it, are used, so nothing is counted twice) and records the
    resulting taxa in ``taxa_``.

    ``transform`` accepts a table whose columns differ from the training table
    (a new cohort): :meth:`align` matches its columns to ``taxa_`` across
    naming styles and ranks (:mod:`mlmicro.alignment`), so the fitted
    pipeline applied to any cohort is the whole story of how a model sees it.
    Taxa the new table lacks become 0; taxa the model does not know are
    dropped.

    Parameters
    ----------
    rank : str, optional
        Rank to collapse to (``"genus"``, ``"g"``, ``"species"``, ...). ``None``
        keeps the deepest rows of a hierarchical table and every column of a
        flat one.

    Attributes
    ----------
    taxa_ : ndarray of str
        Output taxa (canonical lineages at ``rank``), sorted.
    n_features_in_ : int
        Number of columns of the training table.
    feature_names_in_ : ndarray of str
        Columns of the training table.

    Notes
    -----
    Input must be a pandas DataFrame with lineage strings as columns and
    non-negative values. Columns are put in canonical form
    (:func:`mlmicro.taxonomy.canonical_lineage`) before collapsing. Unlike
    other transformers, ``transform`` does not require the training columns.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({
    ...     "k__B": [10.0], "k__B|g__A": [6.0], "k__B|g__A|s__A_x": [6.0],
    ...     "k__B|g__C": [4.0], "k__B|g__C|s__C_y": [4.0],
    ... })
    >>> rc = RankCollapser(rank="genus").fit(train)
    >>> rc.taxa_.tolist()
    ['k__B|g__A', 'k__B|g__C']
    >>> new = pd.DataFrame({"k__B|g__C|s__C_y": [3.0], "k__B|g__Z|s__Z_z": [1.0]})
    >>> rc.transform(new)
    array([[0., 3.]])
    """

    def __init__(self, rank: str | None = None) -> None:
        self.rank = rank

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.two_d_array = True
        return tags

    def _collapse(self, X: object) -> pd.DataFrame:
        values = frame_values(X, f"the table passed to {type(self).__name__}")
        frame = pd.DataFrame(
            values, index=X.index, columns=[canonical_lineage(c) for c in X.columns]
        )
        rank = None if self.rank is None else normalize_rank(self.rank)
        return collapse_to_rank(frame, rank)

    def fit(self, X: pd.DataFrame, y: object = None) -> RankCollapser:
        """Record the taxa of ``X`` at ``rank``.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features)
            Non-negative abundances, lineage strings as columns.
        y : ignored

        Returns
        -------
        self : RankCollapser
        """
        collapsed = self._collapse(X)
        if collapsed.shape[1] == 0:
            raise TransformError(
                f"No taxon of the training table can be placed at rank {self.rank!r}; "
                "choose a higher rank or check the table's lineages."
            )
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.taxa_ = np.asarray(collapsed.columns, dtype=object)
        return self

    def align(self, columns: Sequence[str], totals: Sequence[float] | None = None) -> Alignment:
        """Decide which columns of a table feed which fitted taxon.

        This is the one place a model meets a new cohort's names: lineage
        style, partial names, deeper ranks and other upper ranks are matched
        by :func:`mlmicro.alignment.align_columns`. A fitted taxon maps onto
        itself, so the training table (or the model's own features) align
        one to one.

        Parameters
        ----------
        columns : sequence of str
            The table's columns.
        totals : sequence of float, optional
            Each column's total over the table's samples (tells a MetaPhlAn
            hierarchy from a flat table); pass the whole table's totals when
            the table is transformed in blocks.

        Returns
        -------
        Alignment
        """
        check_is_fitted(self)
        rank = None if self.rank is None else normalize_rank(self.rank)
        return align_columns(columns, self.taxa_.tolist(), rank=rank, totals=totals)

    def transform(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Collapse ``X`` to ``rank`` and align it to ``taxa_`` (:meth:`align`).

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_any)
            Non-negative abundances, lineage strings as columns; the columns
            may differ from those seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, len(taxa_))
            Fitted taxa the table lacks are 0.
        """
        check_is_fitted(self)
        values = frame_values(X, f"the table passed to {type(self).__name__}")
        return self.align(list(X.columns), values.sum(axis=0)).apply(values)

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """Return ``taxa_``.

        Parameters
        ----------
        input_features : ignored
            Accepted for pipeline compatibility; the output taxa do not depend
            on the columns of the table being transformed.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return self.taxa_.copy()

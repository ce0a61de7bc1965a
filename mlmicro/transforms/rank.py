"""Rank collapsing and feature alignment: :class:`RankCollapser`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from mlmicro.exceptions import InvalidTableError, TransformError
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
    (a new cohort): it collapses it to ``rank`` the same way, then reindexes
    it to ``taxa_``. Taxa the new table lacks become 0; taxa the model does not
    know are dropped. Which new taxon stands for which fitted one is decided by
    :meth:`_match` (exact match of canonical lineages), which subclasses may
    override to match other naming styles.

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
        name = type(self).__name__
        if not isinstance(X, pd.DataFrame):
            raise InvalidTableError(
                f"{name} needs a pandas DataFrame whose columns are taxon lineages, got "
                f"{type(X).__name__}; read the table with mlmicro.io.read_table."
            )
        bad = [c for c in X.columns if not isinstance(c, str)]
        if bad:
            raise InvalidTableError(
                f"{name} needs string (lineage) column names, but column {bad[0]!r} is a "
                f"{type(bad[0]).__name__}."
            )
        try:
            values = X.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InvalidTableError(
                f"The table passed to {name} has non-numeric values; every cell must be a number."
            ) from err
        if not np.isfinite(values).all():
            row, col = np.argwhere(~np.isfinite(values))[0]
            raise InvalidTableError(
                f"The table passed to {name} has a NaN or infinite value (sample "
                f"{X.index[row]!r}, column {X.columns[col]!r}); fill or drop it first."
            )
        if values.size and values.min() < 0:
            row, col = np.argwhere(values < 0)[0]
            raise InvalidTableError(
                f"Negative values in data passed to {name} (sample {X.index[row]!r}, column "
                f"{X.columns[col]!r}); a taxa table must hold non-negative abundances."
            )
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

    def _match(self, new_taxa: Sequence[str]) -> dict[str, str]:
        """Map taxa of a new table (at ``rank``, canonical) to fitted taxa.

        Parameters
        ----------
        new_taxa : sequence of str
            The collapsed columns of the table being transformed.

        Returns
        -------
        dict
            ``{new taxon: fitted taxon}`` for each new taxon the model knows;
            taxa left out are dropped. Several new taxa may map to one fitted
            taxon: their abundances are summed.
        """
        known = set(self.taxa_.tolist())
        return {taxon: taxon for taxon in new_taxa if taxon in known}

    def transform(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Collapse ``X`` to ``rank`` and reindex it to ``taxa_``.

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
        collapsed = self._collapse(X)
        mapping = self._match(list(collapsed.columns))
        position = {taxon: i for i, taxon in enumerate(self.taxa_.tolist())}
        columns = {str(c): i for i, c in enumerate(collapsed.columns)}
        src = np.array([columns[new] for new in mapping], dtype=np.intp)
        dest = np.array([position[fitted] for fitted in mapping.values()], dtype=np.intp)
        values = collapsed.to_numpy(dtype=np.float64, copy=False)
        out = np.zeros((values.shape[0], len(self.taxa_)), dtype=np.float64)
        if len(np.unique(dest)) == len(dest):
            out[:, dest] = values[:, src]  # one new taxon per fitted taxon: a plain copy
        else:
            np.add.at(out.T, dest, values[:, src].T)
        return out

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

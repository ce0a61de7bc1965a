"""``read_table``: one entry point for every taxa-table format.

Formats live in :data:`FORMATS`, a registry from name to reader; ``"auto"``
sniffs the name from the file's content (see :mod:`mlmicro.io._sniff`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import pandas as pd

from mlmicro.exceptions import UnknownFormatError
from mlmicro.io._orientation import Orientation, check_orientation
from mlmicro.io._sniff import sniff_format
from mlmicro.io._source import Source, open_source
from mlmicro.io._table import RawTable, finish_table
from mlmicro.io.biom import read_biom
from mlmicro.io.delimited import read_csv, read_tsv
from mlmicro.io.feature_taxonomy import TaxonomyLike, resolve_taxonomy
from mlmicro.io.metaml import read_metaml_table
from mlmicro.io.metaphlan import read_metaphlan
from mlmicro.io.parquet import read_parquet
from mlmicro.io.qiime2 import read_qza
from mlmicro.io.qiime_classic import read_qiime_classic
from mlmicro.taxonomy import is_lineage

__all__ = [
    "FORMATS",
    "FORMAT_ALIASES",
    "MissingTaxonomyWarning",
    "Reader",
    "read_table",
    "detect_format",
]


class MissingTaxonomyWarning(UserWarning):
    """A QIIME 2 feature table was read without its taxonomy: features are IDs."""


#: A reader: a checked file and an orientation in, a raw table out.
Reader = Callable[..., RawTable]

#: Table formats by name (the ``format=`` / ``--format`` values).
FORMATS: dict[str, Reader] = {
    "tsv": read_tsv,
    "csv": read_csv,
    "metaphlan": read_metaphlan,
    "metaml": read_metaml_table,
    "qiime-classic": read_qiime_classic,
    "biom": read_biom,
    "qza": read_qza,
    "parquet": read_parquet,
}

#: Other names accepted for ``format=`` (not listed in messages).
FORMAT_ALIASES: dict[str, str] = {
    "txt": "tsv",
    "mlrepo": "qiime-classic",
    "qiime1": "qiime-classic",
    "qiime1-otu": "qiime-classic",
    "qiime2": "qza",
    "qiime2-qza": "qza",
    "metaphlan2": "metaphlan",
    "metaphlan3": "metaphlan",
    "metaphlan4": "metaphlan",
}


def supported_formats() -> str:
    return ", ".join(FORMATS)


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return the format name (a key of :data:`FORMATS`) of a table file from its content.

    Raises
    ------
    InputFileError
        If the file is missing or empty.
    UnknownFormatError
        If the content matches no known format.
    """
    return detect_source_format(open_source(path))


def detect_source_format(source: Source) -> str:
    name = sniff_format(source)
    if name is None:
        raise UnknownFormatError(
            f"Cannot tell the format of {source.name} from its content; pass it with "
            f"--format (format=...), one of: {supported_formats()}."
        )
    return name


def read_table(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    orientation: Orientation = "auto",
    taxonomy: TaxonomyLike | None = None,
    allow_empty_samples: bool = True,
) -> pd.DataFrame:
    """Read a taxa table as samples x features.

    Parameters
    ----------
    path : str or path-like
        The table file; gzip / bz2 compression is handled transparently.
    format : str
        One of :data:`FORMATS` (``"tsv"``, ``"csv"``, ``"metaphlan"``,
        ``"metaml"``, ``"qiime-classic"``, ``"biom"``, ``"qza"``,
        ``"parquet"``; also the names in :data:`FORMAT_ALIASES`) or ``"auto"``
        to recognise it from the content.
    orientation : {"auto", "taxa-rows", "samples-rows"}
        For ``tsv`` / ``csv``: which axis holds the taxa. ``"auto"`` picks
        the axis whose labels look like lineages (taxa as rows when unclear).
        Other formats fix their own orientation and ignore it.
    taxonomy : str, path-like or mapping, optional
        Lineages for feature IDs: a taxonomy ``.qza``, a TSV
        (``Feature ID<TAB>Taxon``) or a ``{feature_id: lineage}`` mapping.
        It overrides lineages stored in the table; features it does not list
        keep their own lineage or ID.
    allow_empty_samples : bool
        Keep samples with no reads or abundance at all (the default: real
        tables have them; :func:`mlmicro.io.empty_samples` names them).
        ``False`` refuses such a table.

    Returns
    -------
    pandas.DataFrame
        float64 values; index ``sample_id`` (str); columns canonical lineages
        (:func:`mlmicro.taxonomy.canonical_lineage`) or raw feature IDs when
        no lineage is known. Features whose lineages become identical are
        summed. Hierarchical tables (MetaPhlAn) keep every rank.

    Raises
    ------
    InputFileError
        If the file is missing, empty, truncated or corrupt, is not a regular
        file (a named pipe, a device), has a line longer than 32 MiB, or is
        broken UTF-16.
    UnknownFormatError
        If ``format`` is unknown or cannot be recognised.
    InvalidTableError
        On non-numeric, negative, missing, infinite or too large (> 1e300)
        values, duplicate samples or taxa, names over 128 Ki characters, or
        (with ``allow_empty_samples=False``) samples with no abundance.
    TaxonomyError
        If ``taxonomy`` lists none of the table's features.

    Warns
    -----
    TextEncodingWarning
        If a text file is not UTF-8 (it is then read as cp1252 / latin-1).
    MissingTaxonomyWarning
        If a ``.qza`` feature table is read without ``taxonomy`` and none of
        its features carries a lineage.

    Examples
    --------
    >>> table = read_table("feature-table.qza", taxonomy="taxonomy.qza")  # doctest: +SKIP
    >>> table.index.name  # doctest: +SKIP
    'sample_id'
    """
    check_orientation(orientation)
    format = FORMAT_ALIASES.get(format, format)
    if format != "auto" and format not in FORMATS:
        raise UnknownFormatError(
            f"Unknown table format {format!r}; use one of: auto, {supported_formats()}."
        )
    source = open_source(path)
    name = detect_source_format(source) if format == "auto" else format
    raw = FORMATS[name](source, orientation=orientation)
    table = finish_table(raw, resolve_taxonomy(taxonomy), allow_empty_samples=allow_empty_samples)
    if name == "qza" and taxonomy is None and not any(is_lineage(str(c)) for c in table.columns):
        example = str(table.columns[0]) if len(table.columns) else ""
        warnings.warn(
            f"{source.name}: the feature table's {table.shape[1]} features are IDs without a "
            f"lineage (e.g. {example[:40]!r}); QIIME 2 keeps the taxonomy in its own artifact: "
            "pass it with --taxonomy taxonomy.qza (Python: taxonomy='taxonomy.qza') to name "
            "them by lineage.",
            MissingTaxonomyWarning,
            stacklevel=2,
        )
    return table

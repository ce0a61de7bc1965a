"""Feature ID -> lineage maps, from a taxonomy ``.qza`` or a TSV file.

Accepted files:

* a QIIME 2 ``FeatureData[Taxonomy]`` artifact (``<uuid>/data/taxonomy.tsv``);
* a TSV with a header whose first column holds feature IDs and whose
  ``Taxon`` / ``taxonomy`` / ``Consensus Lineage`` column (else the second
  column) holds lineages -- QIIME 2's ``Feature ID	Taxon	Confidence``;
* a header-less two-column file (Greengenes ``97_otu_taxonomy.txt`` style).

Lines starting with ``#`` below the header (``#q2:types``) are skipped.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

import pandas as pd

from mlmicro.exceptions import TaxonomyError
from mlmicro.io._matrix import split_line
from mlmicro.io._sniff import header_lines, sniff_delimiter
from mlmicro.io._source import decode_text, open_source
from mlmicro.io.qiime2 import read_artifact_member
from mlmicro.taxonomy import canonical_lineage, is_lineage

__all__ = ["read_feature_taxonomy", "resolve_taxonomy", "TaxonomyLike"]

#: What ``taxonomy=`` accepts: a file, or an explicit ID -> lineage mapping.
TaxonomyLike = str | os.PathLike[str] | Mapping[str, str]

_TAXON_COLUMNS = ("taxon", "taxonomy", "consensus lineage", "consensuslineage", "lineage")
_ZIP_MAGIC = b"PK\x03\x04"


def read_feature_taxonomy(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a feature taxonomy file.

    Parameters
    ----------
    path : str or path-like
        A taxonomy ``.qza`` or a TSV file (see the module notes).

    Returns
    -------
    dict of str to str
        Feature ID -> lineage string as written in the file (not yet
        canonical; empty lineages are left out).

    Raises
    ------
    InputFileError
        If the file is missing, empty, or a broken archive.
    TaxonomyError
        If it has no lineage column or lists a feature twice.

    Examples
    --------
    >>> taxa = read_feature_taxonomy("hybrid-taxonomy.qza")  # doctest: +SKIP
    >>> taxa["0000426bc561a7dfe49a4bb3a93e2c14"].split("; ")[:2]  # doctest: +SKIP
    ['k__Bacteria', 'p__Bacteroidetes']
    """
    source = open_source(path)
    if source.head(4).startswith(_ZIP_MAGIC):
        data = read_artifact_member(
            source,
            "taxonomy.tsv",
            kind="FeatureData[Taxonomy]",
            fix="give the taxonomy artifact (e.g. from `qiime feature-classifier`)",
        )
        return _parse_taxonomy_text(decode_text(data), source.name)
    return _parse_taxonomy_text(decode_text(source.text_bytes()), source.name)


def _parse_taxonomy_text(text: str, where: str) -> dict[str, str]:
    lines = header_lines(text, limit=1)
    if not lines:
        raise TaxonomyError(f"The taxonomy file {where} has no rows; give a non-empty taxonomy.")
    sep = sniff_delimiter(lines[0])
    first = split_line(lines[0], sep, where)
    has_header = len(first) < 2 or not is_lineage(canonical_lineage(first[1]))
    frame = pd.read_csv(
        io.StringIO(text),
        sep=sep,
        header=0 if has_header else None,
        dtype=object,
        na_filter=False,
        skip_blank_lines=True,
    )
    if frame.shape[1] < 2:
        raise TaxonomyError(
            f"The taxonomy file {where} has one column; give a TSV with a feature ID column "
            "and a Taxon column."
        )
    names = [str(c).strip().lower() for c in frame.columns]
    taxon_at = next((names.index(c) for c in _TAXON_COLUMNS if c in names), 1)
    ids = frame.iloc[:, 0].astype(object).str.strip()
    taxa = frame.iloc[:, taxon_at].astype(object).str.strip()
    keep = ~ids.str.startswith("#") & (ids != "") & (taxa != "")
    ids, taxa = ids[keep], taxa[keep]
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise TaxonomyError(
            f"Feature {duplicated.iloc[0]!r} is listed more than once in the taxonomy file "
            f"{where}; keep one lineage per feature."
        )
    return dict(zip(ids.tolist(), taxa.tolist(), strict=True))


def resolve_taxonomy(taxonomy: TaxonomyLike | None) -> Mapping[str, str] | None:
    """Return ``taxonomy`` as a mapping, reading it if it is a file path."""
    if taxonomy is None or isinstance(taxonomy, Mapping):
        return taxonomy
    return read_feature_taxonomy(taxonomy)

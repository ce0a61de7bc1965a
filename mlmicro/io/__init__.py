"""Read taxa tables and sample metadata; write tables.

Every reader returns samples as rows (index ``sample_id``, str) and features
as columns named by canonical lineage (:func:`mlmicro.taxonomy.canonical_lineage`)
or by raw feature ID when no lineage is known, with float64 values.

Formats (:data:`FORMATS`): ``tsv``, ``csv``, ``metaphlan``, ``metaml``,
``qiime-classic``, ``biom`` (1.0 JSON, 2.1 HDF5), ``qza`` and ``parquet``;
``format="auto"`` recognises them from the content. gzip and bz2 files are
decompressed transparently; text in UTF-8 (with or without a byte-order mark),
UTF-16 or, with a :class:`TextEncodingWarning`, cp1252 / latin-1 is decoded.
Input files are never modified. Samples with no abundance are kept
(:func:`empty_samples` names them); :func:`drop_organelles` removes
mitochondria and chloroplast features.
"""

from mlmicro.io._atomic import atomic_write
from mlmicro.io._encoding import TextEncodingWarning
from mlmicro.io._validate import EmptySamplesWarning, empty_samples, warn_empty_samples
from mlmicro.io.feature_taxonomy import read_feature_taxonomy
from mlmicro.io.metadata import UnmatchedSamplesWarning, join_metadata, read_metadata
from mlmicro.io.metaml import read_metaml
from mlmicro.io.organelles import drop_organelles, is_organelle
from mlmicro.io.selection import Selection, select_samples
from mlmicro.io.tables import FORMATS, MissingTaxonomyWarning, detect_format, read_table
from mlmicro.io.writers import write_table

__all__ = [
    "FORMATS",
    "MissingTaxonomyWarning",
    "TextEncodingWarning",
    "UnmatchedSamplesWarning",
    "atomic_write",
    "detect_format",
    "drop_organelles",
    "empty_samples",
    "EmptySamplesWarning",
    "warn_empty_samples",
    "is_organelle",
    "join_metadata",
    "read_feature_taxonomy",
    "read_metadata",
    "read_metaml",
    "read_table",
    "Selection",
    "select_samples",
    "write_table",
]

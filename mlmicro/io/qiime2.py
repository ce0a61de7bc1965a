"""QIIME 2 artifacts (``.qza``), read as zip archives without qiime2.

A ``.qza`` is a zip of one folder ``<uuid>/`` holding ``metadata.yaml`` and
``data/``. A ``FeatureTable[Frequency]`` keeps its table in
``<uuid>/data/feature-table.biom`` (BIOM 2.1 HDF5); a
``FeatureData[Taxonomy]`` keeps ``<uuid>/data/taxonomy.tsv``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from mlmicro.exceptions import InputFileError
from mlmicro.io._source import Source
from mlmicro.io._table import RawTable
from mlmicro.io.biom import parse_biom

__all__ = ["read_qza", "read_artifact_member"]


def read_artifact_member(source: Source, filename: str, *, kind: str, fix: str) -> bytes:
    """Return the bytes of ``<uuid>/data/<filename>`` inside a ``.qza`` archive.

    Parameters
    ----------
    source : Source
        The ``.qza`` file.
    filename : str
        The file name under ``data/`` (``feature-table.biom``, ``taxonomy.tsv``).
    kind : str
        The artifact type expected, for messages (``FeatureTable[Frequency]``).
    fix : str
        What to do if the member is not there, for messages.

    Raises
    ------
    InputFileError
        If the file is not a readable zip, or has no such member.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(source.read_bytes())) as archive:
            names = archive.namelist()
            member = next(
                (
                    name
                    for name in names
                    if PurePosixPath(name).name == filename
                    and PurePosixPath(name).parent.name == "data"
                ),
                None,
            )
            if member is None:
                kinds = sorted({n.split("/", 1)[0] for n in names})
                raise InputFileError(
                    f"{source.name} holds no data/{filename}, so it is not a QIIME 2 {kind} "
                    f"artifact (archive folders: {', '.join(kinds[:3]) or 'none'}); {fix}."
                )
            return archive.read(member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        if isinstance(err, InputFileError):
            raise
        raise InputFileError(
            f"{source.name} is not a readable .qza (zip) archive ({err}); "
            "export or download the artifact again."
        ) from None


def read_qza(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a QIIME 2 ``FeatureTable`` artifact.

    Parameters
    ----------
    source : Source
        The ``.qza`` file.
    orientation : str
        Ignored: the BIOM table inside names its axes.

    Returns
    -------
    RawTable
        Samples x features (feature IDs; pass ``taxonomy=`` to
        :func:`mlmicro.io.read_table` to name them by lineage).
    """
    del orientation  # fixed by the format
    data = read_artifact_member(
        source,
        "feature-table.biom",
        kind="FeatureTable",
        fix="give the feature-table .qza (a taxonomy .qza goes to --taxonomy)",
    )
    return parse_biom(data, f"{source.name} (data/feature-table.biom)")

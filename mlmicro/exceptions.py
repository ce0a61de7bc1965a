"""Typed exceptions raised by mlmicro.

Every error mlmicro raises for bad input is a :class:`MlmicroError`. Its
message is one sentence that says what is wrong, where (file, row, column or
sample), and how to fix it. The command-line interface prints that message on
one line and exits with a non-zero status; it never shows a traceback.

Subclasses also derive from the built-in exception that best describes them
(``ValueError``, ``FileNotFoundError``, ...) so that generic handlers and
scikit-learn's own checks keep working.
"""

from __future__ import annotations

__all__ = [
    "MlmicroError",
    "InputFileError",
    "UnknownFormatError",
    "InvalidTableError",
    "MetadataError",
    "TaxonomyError",
    "TransformError",
    "ConfigError",
    "ModelBundleError",
    "CoverageError",
    "OutputExistsError",
    "ClusterError",
    "DeviceError",
]


class MlmicroError(Exception):
    """Base class of every error mlmicro raises on bad input or bad use."""


class InputFileError(MlmicroError, OSError):
    """An input file is missing, empty, unreadable or truncated."""


class UnknownFormatError(MlmicroError, ValueError):
    """A file's format could not be recognised."""


class InvalidTableError(MlmicroError, ValueError):
    """A taxa table has bad values or a bad layout.

    Non-numeric cells, negative, NaN, infinite or overflowing values,
    duplicate sample IDs or taxa, over-long names, all-zero samples (only
    when a reader is asked to refuse them).
    """


class MetadataError(MlmicroError, ValueError):
    """Sample metadata is unusable: missing column, no shared samples, bad labels."""


class TaxonomyError(MlmicroError, ValueError):
    """A lineage or rank cannot be understood (for example an unknown rank)."""


class TransformError(MlmicroError, ValueError):
    """A compositional transform cannot be applied to the given data."""


class ConfigError(MlmicroError, ValueError):
    """A configuration file or option is invalid."""


class ModelBundleError(MlmicroError, ValueError):
    """A model bundle is not a bundle, has been tampered with, or is incompatible."""


class CoverageError(MlmicroError, ValueError):
    """A new cohort shares too few taxa with a model to be predicted reliably."""


class OutputExistsError(MlmicroError, FileExistsError):
    """An output file already exists and overwriting was not asked for."""


class ClusterError(MlmicroError, RuntimeError):
    """A Dask cluster cannot be used: Dask missing, scheduler unreachable or workers lost."""


class DeviceError(MlmicroError, RuntimeError):
    """The requested compute device (for example a CUDA GPU) is not available."""

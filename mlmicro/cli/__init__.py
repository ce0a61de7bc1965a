"""Command-line interface: a thin Typer layer over the Python API.

Each command lives in its own module and registers itself on :data:`app`.
"""

from mlmicro.cli import confounders as _confounders  # noqa: F401  (registers the command)
from mlmicro.cli import convert as _convert  # noqa: F401  (registers the command)
from mlmicro.cli import explain as _explain  # noqa: F401
from mlmicro.cli import predict as _predict  # noqa: F401
from mlmicro.cli import recalibrate as _recalibrate  # noqa: F401
from mlmicro.cli import train as _train  # noqa: F401  (registers the command)
from mlmicro.cli import transform as _transform  # noqa: F401
from mlmicro.cli._app import app, main, readable_metavars

readable_metavars(app)

__all__ = ["app", "main"]

"""``python -m mlmicro``: the command line."""

from mlmicro.cli import main

main()

"""``python -m mlmicro``: the command line."""

from mlmicro.cli import main

if __name__ == "__main__":
    main()

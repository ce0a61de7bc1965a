"""``python -m mlmicro.datasets``: regenerate the embedded default cohort."""

from mlmicro.datasets.simulation import main

if __name__ == "__main__":
    raise SystemExit(main())

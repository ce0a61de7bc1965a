"""The embedded simulated cohort and the registry of public cohorts.

``python -m mlmicro.datasets`` regenerates the embedded cohort byte for byte.
"""

from mlmicro.datasets.public import (
    PUBLIC_COHORTS,
    PublicCohort,
    public_cohort,
    shared_datasets_dir,
)
from mlmicro.datasets.simulation import (
    DEFAULT_SEED,
    GUT_SPECIES,
    SIMULATED_TAXA,
    SimulatedCohort,
    default_cohort_path,
    default_drivers_path,
    default_metadata_path,
    load_default_cohort,
    main,
    save_cohort,
    simulate_cohort,
)

__all__ = [
    "DEFAULT_SEED",
    "GUT_SPECIES",
    "PUBLIC_COHORTS",
    "SIMULATED_TAXA",
    "PublicCohort",
    "SimulatedCohort",
    "default_cohort_path",
    "default_drivers_path",
    "default_metadata_path",
    "load_default_cohort",
    "main",
    "public_cohort",
    "save_cohort",
    "shared_datasets_dir",
    "simulate_cohort",
]

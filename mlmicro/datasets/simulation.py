"""The embedded simulated cohort.

mlmicro ships one small *simulated* cohort so that every command can be tried
without downloading anything (``mlmicro train`` with no table uses it), and so
that tests have a ground truth: the strains that truly drive the label are
known, because they were planted.

The simulation (:func:`simulate_cohort`) draws read counts for real human gut
species (:data:`GUT_SPECIES`, with MetaPhlAn 4-style strain suffixes) with the
features of real shotgun profiles: most taxa absent from most samples, a few
dominant taxa, sequencing depth that varies from sample to sample, repeated
samples of the same subject, and a batch effect between studies. A documented
set of driver strains is enriched or depleted in Crohn's disease (``"CD"``)
cases; every other taxon is independent of the label.

The species, strain counts, baselines and driver candidates are package data
(``gut_taxa.tsv`` and ``driver_candidates.tsv`` beside the embedded cohort).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtri

from mlmicro.exceptions import ConfigError, InputFileError
from mlmicro.taxonomy import display_name

__all__ = [
    "GUT_SPECIES",
    "SIMULATED_TAXA",
    "DEFAULT_SEED",
    "SimulatedCohort",
    "simulate_cohort",
    "save_cohort",
    "load_default_cohort",
    "default_cohort_path",
    "default_metadata_path",
    "default_drivers_path",
    "main",
]

# ---------------------------------------------------------------------------
# Curated taxa (package data: datasets/gut_taxa.tsv, datasets/driver_candidates.tsv)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _DriverSpec:
    """A candidate driver: species, effect sign, relative weight, baseline."""

    species: str
    sign: int  # +1 enriched in cases, -1 depleted
    weight: float  # relative size of the effect
    prevalence: float  # prevalence among controls
    abundance: float  # log-abundance offset


def _data_rows(name: str) -> list[list[str]]:
    text = files("mlmicro.cohorts").joinpath(name).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return rows[1:]  # after the header


def _load_taxa() -> tuple[
    tuple[tuple[str, tuple[str, ...]], ...],
    Mapping[str, int],
    frozenset[str],
    Mapping[str, tuple[float, float]],
]:
    genera: dict[str, list[str]] = {}
    strains: dict[str, int] = {}
    species_only: set[str] = set()
    baselines: dict[str, tuple[float, float]] = {}
    for ranks, entry, n_strains, only, prevalence, abundance in _data_rows("gut_taxa.tsv"):
        genera.setdefault(ranks, []).append(entry)
        species = _species_name(ranks.rsplit("|", 1)[-1], entry)
        if int(n_strains) != 1:
            strains[species] = int(n_strains)
        if only == "1":
            species_only.add(species)
        if prevalence:
            baselines[species] = (float(prevalence), float(abundance))
    return (
        tuple((ranks, tuple(entries)) for ranks, entries in genera.items()),
        MappingProxyType(strains),
        frozenset(species_only),
        MappingProxyType(baselines),
    )


def _species_name(genus: str, entry: str) -> str:
    return entry if entry[:1].isupper() else f"{genus}_{entry}"


# Real human gut species grouped by genus, the species profiled as several strains,
# those reported at species level only, and known control baselines.
_GENERA, _STRAINS_PER_SPECIES, _SPECIES_LEVEL_ONLY, _BASELINES = _load_taxa()
# Candidate drivers, in the order they are planted (n_drivers takes the first n).
_DRIVER_CANDIDATES: tuple[_DriverSpec, ...] = tuple(
    _DriverSpec(species, int(sign), float(weight), float(prevalence), float(abundance))
    for species, sign, weight, prevalence, abundance in _data_rows("driver_candidates.tsv")
)


def _build_species() -> tuple[str, ...]:
    out = []
    for ranks, species in _GENERA:
        names = ranks.split("|")
        prefix = "|".join(f"{p}__{n}" for p, n in zip("kpcofg", names, strict=True))
        out.extend(f"{prefix}|s__{_species_name(names[-1], s)}" for s in species)
    return tuple(out)


def _sgb_id(species: str, index: int, taken: set[int]) -> str:
    number = 1000 + zlib.crc32(f"{species}/{index}".encode()) % 89_000
    while number in taken:
        number += 1
    taken.add(number)
    return f"SGB{number}"


def _build_taxa(species_lineages: Sequence[str]) -> tuple[str, ...]:
    taken: set[int] = set()
    out = []
    for lineage in species_lineages:
        species = lineage.rsplit("|s__", 1)[1]
        if species in _SPECIES_LEVEL_ONLY:
            out.append(lineage)
            continue
        for index in range(_STRAINS_PER_SPECIES.get(species, 1)):
            out.append(f"{lineage}|t__{_sgb_id(species, index, taken)}")
    return tuple(out)


#: Full lineages (kingdom to species) of ~240 real human gut species.
GUT_SPECIES: tuple[str, ...] = _build_species()

#: The taxa the simulation draws from: a strain (``t__SGB...``) for most species,
#: two or three for some, and the species itself for a few transient taxa. The
#: SGB numbers are made-up identifiers in MetaPhlAn 4 style, not real SGBs.
SIMULATED_TAXA: tuple[str, ...] = _build_taxa(GUT_SPECIES)

#: The seed of the embedded default cohort.
DEFAULT_SEED: int = 0

_TABLE_FILE = "default_cohort.tsv.gz"
_METADATA_FILE = "default_metadata.tsv"
_DRIVERS_FILE = "default_drivers.tsv"
_DRIVER_COLUMNS = (
    "lineage",
    "name",
    "direction",
    "log_fold_change",
    "prevalence_log_odds_shift",
    "control_prevalence",
)

# ---------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimulatedCohort:
    """A simulated cohort: counts, sample metadata and the planted drivers.

    Attributes
    ----------
    table : pandas.DataFrame
        Samples x taxa read counts (whole numbers, float64), index
        ``sample_id``, columns canonical lineages.
    metadata : pandas.DataFrame
        One row per sample (index ``sample_id``): ``subject_id``, ``study``,
        ``diagnosis`` (``"CD"`` or ``"control"``), ``timepoint``,
        ``read_depth``, ``age``, ``sex``.
    drivers : pandas.DataFrame
        One row per planted driver: ``lineage``, ``name``, ``direction``
        (``"enriched"`` or ``"depleted"`` in cases), ``log_fold_change``
        (natural log, applied to the abundance of a case with average disease
        activity), ``prevalence_log_odds_shift`` (applied to the log-odds of the
        taxon being present) and ``control_prevalence``.
    """

    table: pd.DataFrame
    metadata: pd.DataFrame
    drivers: pd.DataFrame

    @property
    def labels(self) -> pd.Series:
        """Return ``1`` for Crohn's disease and ``0`` for controls, per sample."""
        return (self.metadata["diagnosis"] == "CD").astype(np.int64).rename("label")


def _check_fraction(name: str, value: float, *, closed: bool) -> None:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ConfigError(f"{name} must lie in {interval}, got {value!r}.")


def simulate_cohort(
    *,
    n_subjects: int = 180,
    repeat_fraction: float = 0.3,
    n_studies: int = 2,
    n_taxa: int = 250,
    n_drivers: int = 10,
    effect_size: float = 1.2,
    case_fraction: float = 0.5,
    seed: int = DEFAULT_SEED,
) -> SimulatedCohort:
    """Simulate a case-control gut microbiome cohort with planted driver strains.

    Parameters
    ----------
    n_subjects : int, default 180
        Number of subjects.
    repeat_fraction : float, default 0.3
        Share of subjects sampled two or three times; the rest are sampled once.
    n_studies : int, default 2
        Number of studies; each has its own batch effect on some taxa and its
        own sequencing depth. Cases and controls are balanced across studies.
    n_taxa : int, default 250
        Number of taxa simulated, from :data:`SIMULATED_TAXA` (drivers always
        included). Taxa that end up with no reads in any sample are left out
        of the table, as in a merged profile table.
    n_drivers : int, default 10
        Number of planted driver strains (at most 16).
    effect_size : float, default 1.2
        Scale of the driver effects: a driver's log fold change (natural log)
        and its shift in the log-odds of presence are ``effect_size`` times its
        weight (0.9 to 1.2). ``0`` gives a cohort with no signal.
    case_fraction : float, default 0.5
        Share of subjects with Crohn's disease, in every study.
    seed : int, default 0
        Seed of the random generator; the same seed gives the same cohort.

    Returns
    -------
    SimulatedCohort
        The counts table, sample metadata and planted drivers.

    Raises
    ------
    ConfigError
        If an argument is out of range.

    Notes
    -----
    Each taxon has a baseline prevalence (skewed: most taxa are rare) and a
    baseline log-abundance. For each sample, a taxon is present when a latent
    Gaussian variable, shared in part by samples of the same subject, falls
    below the probit of its prevalence; the log-abundance of a present taxon is
    its baseline plus a study batch shift, a subject random effect and sample
    noise. In cases, each driver's log-abundance and log-odds of presence are
    shifted by its effect times the subject's disease activity (mean 1, from
    0 to 2), so some cases look like controls. Proportions are drawn from a
    Dirichlet around the resulting composition and read counts from a
    multinomial with a log-normal depth (about 5,000 to 100,000 reads).

    Examples
    --------
    >>> cohort = simulate_cohort(n_subjects=40, seed=1)
    >>> cohort.table.shape[0] == len(cohort.metadata)
    True
    >>> sorted(cohort.metadata["diagnosis"].unique())
    ['CD', 'control']
    """
    if n_subjects < 4:
        raise ConfigError(f"n_subjects must be at least 4, got {n_subjects!r}.")
    if n_studies < 1 or n_studies > n_subjects // 2:
        raise ConfigError(f"n_studies must lie between 1 and n_subjects / 2, got {n_studies!r}.")
    _check_fraction("repeat_fraction", repeat_fraction, closed=True)
    _check_fraction("case_fraction", case_fraction, closed=False)
    if not 0 <= n_drivers <= len(_DRIVER_CANDIDATES):
        raise ConfigError(
            f"n_drivers must lie between 0 and {len(_DRIVER_CANDIDATES)}, got {n_drivers!r}."
        )
    if not n_drivers + 1 <= n_taxa <= len(SIMULATED_TAXA):
        raise ConfigError(
            f"n_taxa must lie between n_drivers + 1 and {len(SIMULATED_TAXA)}, got {n_taxa!r}."
        )
    if not np.isfinite(effect_size) or effect_size < 0:
        raise ConfigError(f"effect_size must be a non-negative number, got {effect_size!r}.")

    rng = np.random.default_rng(seed)
    taxa, driver_specs = _choose_taxa(rng, n_taxa, n_drivers)
    subjects = _simulate_subjects(rng, n_subjects, n_studies, case_fraction, repeat_fraction)
    counts, depth = _simulate_counts(rng, taxa, driver_specs, subjects, effect_size)

    n_samples = counts.shape[0]
    sample_ids = pd.Index([f"S{i + 1:04d}" for i in range(n_samples)], name="sample_id")
    row_subject = subjects["row_subject"]
    metadata = pd.DataFrame(
        {
            "subject_id": [f"P{i + 1:03d}" for i in row_subject],
            "study": [f"study{k + 1}" for k in subjects["study"][row_subject]],
            "diagnosis": np.where(subjects["case"][row_subject], "CD", "control"),
            "timepoint": subjects["timepoint"],
            "read_depth": depth,
            "age": subjects["age"][row_subject],
            "sex": np.where(subjects["female"][row_subject], "female", "male"),
        },
        index=sample_ids,
    )
    keep = counts.sum(axis=0) > 0
    table = pd.DataFrame(
        counts[:, keep].astype(np.float64),
        index=sample_ids.copy(),
        columns=pd.Index([t for t, k in zip(taxa, keep, strict=True) if k], dtype=object),
    )
    drivers = _driver_frame(driver_specs, taxa, effect_size)
    return SimulatedCohort(table=table, metadata=metadata, drivers=drivers)


def _species_of(lineage: str) -> str:
    return lineage.split("|s__", 1)[1].split("|", 1)[0]


def _driver_lineage(species: str) -> str:
    # the first strain of the species is the driver; its other strains are not
    return next(t for t in SIMULATED_TAXA if _species_of(t) == species)


def _choose_taxa(
    rng: np.random.Generator, n_taxa: int, n_drivers: int
) -> tuple[list[str], dict[str, _DriverSpec]]:
    specs = {_driver_lineage(s.species): s for s in _DRIVER_CANDIDATES[:n_drivers]}
    others = [t for t in SIMULATED_TAXA if t not in specs]
    picked = set(rng.choice(len(others), size=n_taxa - len(specs), replace=False).tolist())
    chosen = set(specs) | {others[i] for i in picked}
    return [t for t in SIMULATED_TAXA if t in chosen], specs


def _simulate_subjects(
    rng: np.random.Generator,
    n_subjects: int,
    n_studies: int,
    case_fraction: float,
    repeat_fraction: float,
) -> dict[str, np.ndarray]:
    study = np.sort(rng.permutation(n_subjects) % n_studies)
    case = np.zeros(n_subjects, dtype=bool)
    for k in range(n_studies):
        members = np.flatnonzero(study == k)
        n_cases = int(round(case_fraction * len(members)))
        case[rng.choice(members, size=n_cases, replace=False)] = True
    # disease activity: mean 1, from 0 to 2; controls have none
    activity = np.where(case, 2.0 * rng.beta(2.0, 2.0, size=n_subjects), 0.0)
    n_visits = np.ones(n_subjects, dtype=np.int64)
    n_repeated = int(round(repeat_fraction * n_subjects))
    repeated = rng.choice(n_subjects, size=n_repeated, replace=False)
    n_visits[repeated] = rng.choice([2, 3], size=n_repeated, p=[0.6, 0.4])
    row_subject = np.repeat(np.arange(n_subjects), n_visits)
    timepoint = np.concatenate([np.arange(1, v + 1) for v in n_visits])
    return {
        "study": study,
        "case": case,
        "activity": activity,
        "age": rng.integers(18, 71, size=n_subjects),
        "female": rng.random(n_subjects) < 0.5,
        "row_subject": row_subject,
        "timepoint": timepoint,
    }


def _taxon_baselines(
    rng: np.random.Generator, taxa: Sequence[str], driver_specs: Mapping[str, _DriverSpec]
) -> tuple[np.ndarray, np.ndarray]:
    n_taxa = len(taxa)
    # skewed prevalence: most taxa are rare, a core is nearly always there
    prevalence = np.clip(rng.beta(0.7, 2.2, size=n_taxa), 0.02, 0.95)
    abundance = rng.normal(0.0, 1.2, size=n_taxa) + 0.5 * logit(prevalence)
    for j, lineage in enumerate(taxa):
        species = _species_of(lineage)
        spec = driver_specs.get(lineage)
        if spec is not None:
            prevalence[j], abundance[j] = spec.prevalence, spec.abundance
        elif species in _BASELINES:
            prevalence[j], abundance[j] = _BASELINES[species]
        else:
            continue
        strains = [t for t in taxa if _species_of(t) == species]
        if len(strains) > 1 and spec is None:
            # strains of one species rarely share a host
            prevalence[j] *= (0.7, 0.35, 0.2)[strains.index(lineage)]
    return prevalence, abundance


def _simulate_counts(
    rng: np.random.Generator,
    taxa: Sequence[str],
    driver_specs: Mapping[str, _DriverSpec],
    subjects: Mapping[str, np.ndarray],
    effect_size: float,
) -> tuple[np.ndarray, np.ndarray]:
    n_taxa = len(taxa)
    n_subjects = len(subjects["study"])
    n_studies = int(subjects["study"].max()) + 1
    row_subject = subjects["row_subject"]
    n_samples = len(row_subject)

    prevalence, abundance = _taxon_baselines(rng, taxa, driver_specs)

    # planted effects: log fold change and log-odds shift, per taxon
    effect = np.zeros(n_taxa)
    for j, lineage in enumerate(taxa):
        spec = driver_specs.get(lineage)
        if spec is not None:
            effect[j] = spec.sign * round(effect_size * spec.weight, 3)
    is_driver = effect != 0

    # study batch: shifts on ~20% of the non-driver taxa, and its own depth
    batched = (rng.random((n_studies, n_taxa)) < 0.2) & ~is_driver
    batch_abundance = np.where(batched, rng.normal(0.0, 1.0, (n_studies, n_taxa)), 0.0)
    batch_presence = np.where(batched, rng.normal(0.0, 0.8, (n_studies, n_taxa)), 0.0)
    median_depth = 25_000.0 * np.exp(rng.permutation(np.linspace(-0.4, 0.4, n_studies)))

    # subject-level random effects, shared by repeated samples
    subject_abundance = rng.normal(0.0, 1.0, (n_subjects, n_taxa))
    subject_presence = rng.standard_normal((n_subjects, n_taxa))

    study = subjects["study"][row_subject]
    activity = subjects["activity"][row_subject][:, None]
    shift = activity * effect[None, :]
    log_odds = logit(prevalence)[None, :] + batch_presence[study] + shift
    rho = 0.7
    latent = np.sqrt(rho) * subject_presence[row_subject] + np.sqrt(1 - rho) * (
        rng.standard_normal((n_samples, n_taxa))
    )
    present = latent < ndtri(expit(log_odds))
    empty = ~present.any(axis=1)
    present[empty, int(np.argmax(prevalence))] = True

    log_abundance = (
        abundance[None, :]
        + batch_abundance[study]
        + subject_abundance[row_subject]
        + rng.normal(0.0, 0.5, (n_samples, n_taxa))
        + shift
    )
    weights = np.where(present, np.exp(log_abundance - log_abundance.max(axis=1, keepdims=True)), 0)
    composition = weights / weights.sum(axis=1, keepdims=True)

    # Dirichlet-multinomial sampling: overdispersion, then a finite depth
    precision = 400.0
    draws = np.zeros_like(composition)
    alpha = composition * precision
    draws[present] = rng.gamma(alpha[present])
    zero_rows = draws.sum(axis=1) == 0
    draws[zero_rows] = composition[zero_rows]
    proportions = draws / draws.sum(axis=1, keepdims=True)
    depth = np.exp(np.log(median_depth[study]) + rng.normal(0.0, 0.5, size=n_samples))
    depth = np.clip(np.round(depth), 5_000, 100_000).astype(np.int64)
    counts = rng.multinomial(depth, proportions)
    return counts, depth


def _driver_frame(
    driver_specs: Mapping[str, _DriverSpec], taxa: Sequence[str], effect_size: float
) -> pd.DataFrame:
    rows = []
    for lineage, spec in driver_specs.items():
        lfc = spec.sign * round(effect_size * spec.weight, 3)
        rows.append(
            (
                lineage,
                display_name(lineage),
                "enriched" if spec.sign > 0 else "depleted",
                lfc,
                lfc,
                spec.prevalence,
            )
        )
    return pd.DataFrame(rows, columns=list(_DRIVER_COLUMNS))


# ---------------------------------------------------------------------------
# Files: writing and loading the embedded cohort
# ---------------------------------------------------------------------------


def _table_bytes(table: pd.DataFrame) -> bytes:
    rows = table.T.astype(np.int64)
    rows.index.name = "clade_name"
    text = rows.to_csv(sep="\t", lineterminator="\n")
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def save_cohort(
    cohort: SimulatedCohort, directory: str | os.PathLike[str], *, prefix: str = "default"
) -> list[Path]:
    """Write a cohort as the three files of the embedded default cohort.

    Parameters
    ----------
    cohort : SimulatedCohort
        The cohort to write.
    directory : path-like
        Folder to write into (created if needed).
    prefix : str, default "default"
        File name prefix: ``{prefix}_cohort.tsv.gz`` (taxa as rows, first
        header cell ``clade_name``, gzip with no time stamp so the bytes are
        reproducible), ``{prefix}_metadata.tsv`` and ``{prefix}_drivers.tsv``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    table_path = folder / f"{prefix}_cohort.tsv.gz"
    metadata_path = folder / f"{prefix}_metadata.tsv"
    drivers_path = folder / f"{prefix}_drivers.tsv"
    table_path.write_bytes(_table_bytes(cohort.table))
    metadata_path.write_text(
        cohort.metadata.to_csv(sep="\t", lineterminator="\n"), encoding="utf-8"
    )
    drivers_path.write_text(
        cohort.drivers.to_csv(sep="\t", index=False, lineterminator="\n"), encoding="utf-8"
    )
    return [table_path, metadata_path, drivers_path]


def _resource_path(name: str) -> Path:
    resource = files("mlmicro.cohorts").joinpath(name)
    if not isinstance(resource, Path):
        raise InputFileError(
            f"The embedded cohort file {name!r} is not on the file system (zipped install); "
            "install mlmicro from a wheel or source folder."
        )
    if not resource.is_file():
        raise InputFileError(
            f"The embedded cohort file {name!r} is missing from {resource.parent}; "
            "regenerate it with `python -m mlmicro.datasets`."
        )
    return resource


def default_cohort_path() -> Path:
    """Return the path of the embedded cohort's counts table (taxa as rows, gzip TSV)."""
    return _resource_path(_TABLE_FILE)


def default_metadata_path() -> Path:
    """Return the path of the embedded cohort's sample metadata (TSV)."""
    return _resource_path(_METADATA_FILE)


def default_drivers_path() -> Path:
    """Return the path of the embedded cohort's planted drivers (TSV)."""
    return _resource_path(_DRIVERS_FILE)


def load_default_cohort() -> SimulatedCohort:
    """Load the embedded simulated cohort shipped with mlmicro.

    It is ``simulate_cohort()`` with every default (seed :data:`DEFAULT_SEED`),
    written to files; see ``datasets/README.md`` in the source tree.

    Returns
    -------
    SimulatedCohort
        The same frames :func:`simulate_cohort` returns.

    Examples
    --------
    >>> cohort = load_default_cohort()
    >>> cohort.drivers["direction"].value_counts().to_dict()
    {'depleted': 5, 'enriched': 5}
    """
    with gzip.open(default_cohort_path(), "rb") as handle:
        table = pd.read_csv(io.BytesIO(handle.read()), sep="\t", index_col=0)
    table = table.T.astype(np.float64)
    table.index.name = "sample_id"
    table.columns = pd.Index([str(c) for c in table.columns], dtype=object)
    metadata = pd.read_csv(
        default_metadata_path(),
        sep="\t",
        index_col="sample_id",
        dtype={"subject_id": str, "study": str, "diagnosis": str, "sex": str},
    )
    metadata.index = metadata.index.astype(str)
    # Python's float() parses exactly what to_csv wrote, with any pandas version
    exact = {c: float for c in _DRIVER_COLUMNS[3:]}
    drivers = pd.read_csv(default_drivers_path(), sep="\t", converters=exact)
    return SimulatedCohort(table=table, metadata=metadata, drivers=drivers)


# ---------------------------------------------------------------------------
# Regeneration: python -m mlmicro.datasets
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the embedded default cohort files.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments; ``--out DIR`` writes somewhere other than the
        package's ``mlmicro.cohorts`` folder (``datasets/`` in the source tree).

    Returns
    -------
    int
        Exit status (0).
    """
    parser = argparse.ArgumentParser(
        prog="python -m mlmicro.datasets",
        description=f"Regenerate the embedded simulated cohort (seed {DEFAULT_SEED}).",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else Path(str(files("mlmicro.cohorts")))
    cohort = simulate_cohort()
    for path in save_cohort(cohort, out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0

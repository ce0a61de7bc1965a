"""A registry of the real public cohorts kept in ``../shared/datasets``.

:data:`PUBLIC_COHORTS` describes each cohort (see :func:`shared_datasets_dir`):
where its table is, its format, its label and group columns and which labels
are positive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from mlmicro.exceptions import ConfigError

__all__ = ["PUBLIC_COHORTS", "PublicCohort", "public_cohort", "shared_datasets_dir"]


@dataclass(frozen=True)
class PublicCohort:
    """Where and how a real public cohort is stored under the shared datasets folder.

    Attributes
    ----------
    name : str
        Registry key.
    table : str
        Path of the counts or abundance table, relative to
        :func:`shared_datasets_dir`.
    format : str
        The ``format=`` name of ``table`` in :func:`mlmicro.io.read_table`:
        ``"metaml"`` (MetaPhlAn 2 relative abundances, features as rows, 211
        sample-metadata rows on top), ``"qiime-classic"`` (taxa as rows; the
        MLRepo ``#OTU ID`` tables with ``;``-separated lineages as IDs, and the
        QIIME 1 ``# OTU`` tables with a last ``taxonomy`` column) or ``"qza"``
        (QIIME 2 artifact holding BIOM 2.1 HDF5).
    label_column : str
        Column (or, for ``"metaml"``, metadata row) holding the label.
    positive_labels, negative_labels : tuple of str
        Label values of cases and of controls; samples with any other label
        are left out.
    description : str
        One line on what the cohort is.
    group_column : str or None
        Column identifying the subject, for grouped cross-validation; ``None``
        when each sample is its own subject.
    sample_metadata : str or None
        Path of the sample metadata file; ``None`` when it is inside ``table``.
    labels : str or None
        Path of a separate file of labels (MLRepo task files, ``#SampleID``,
        ``Var``); ``None`` when the label is in the sample metadata.
    sample_id_column : str or None
        Metadata column that matches the table's sample IDs; ``None`` for the
        first column.
    taxonomy : str or None
        Path of a separate taxonomy (QIIME 2 ``FeatureData[Taxonomy]``).
    filters : tuple of (str, str)
        ``(column, value)`` pairs a sample must match to belong to the cohort.
    published_auroc : float or None
        A published AUROC on this task (under the authors' own protocol), as a
        sanity anchor for benchmarks.
    """

    name: str
    table: str
    format: str
    label_column: str
    positive_labels: tuple[str, ...]
    negative_labels: tuple[str, ...]
    description: str
    group_column: str | None = None
    sample_metadata: str | None = None
    labels: str | None = None
    sample_id_column: str | None = None
    taxonomy: str | None = None
    filters: tuple[tuple[str, str], ...] = ()
    published_auroc: float | None = None

    def table_path(self, root: str | os.PathLike[str] | None = None) -> Path:
        """Return the path of the table under ``root`` (default :func:`shared_datasets_dir`)."""
        return _under(root, self.table)

    def sample_metadata_path(self, root: str | os.PathLike[str] | None = None) -> Path | None:
        """Return the path of the sample metadata file, or ``None`` if there is none."""
        return None if self.sample_metadata is None else _under(root, self.sample_metadata)

    def labels_path(self, root: str | os.PathLike[str] | None = None) -> Path | None:
        """Return the path of the separate labels file, or ``None`` if there is none."""
        return None if self.labels is None else _under(root, self.labels)

    def taxonomy_path(self, root: str | os.PathLike[str] | None = None) -> Path | None:
        """Return the path of the separate taxonomy file, or ``None`` if there is none."""
        return None if self.taxonomy is None else _under(root, self.taxonomy)


def _under(root: str | os.PathLike[str] | None, relative: str) -> Path:
    base = shared_datasets_dir() if root is None else Path(root)
    return base / relative


def shared_datasets_dir() -> Path:
    """Return the folder of the real public cohorts.

    Returns
    -------
    pathlib.Path
        ``$MLMICRO_SHARED_DATASETS`` if set, else ``../shared/datasets``
        relative to the current directory. It may not exist.
    """
    env = os.environ.get("MLMICRO_SHARED_DATASETS")
    if env:
        return Path(env).expanduser()
    return (Path.cwd() / ".." / "shared" / "datasets").resolve()


_METAML = "metaml/abundance.txt.bz2"
_IBD = ("ibd_ulcerative_colitis", "ibd_crohn_disease")


def _metaml(
    name: str, dataset: str, positive: tuple[str, ...], description: str, auroc: float | None
) -> PublicCohort:
    return PublicCohort(
        name=name,
        table=_METAML,
        format="metaml",
        label_column="disease",
        positive_labels=positive,
        negative_labels=("n",),
        description=description,
        group_column="subjectID",
        filters=(("dataset_name", dataset),),
        published_auroc=auroc,
    )


def _mlrepo(
    name: str,
    study: str,
    task: str,
    labels: tuple[tuple[str, ...], tuple[str, ...]],
    description: str,
    auroc: float | None,
) -> PublicCohort:
    return PublicCohort(
        name=name,
        table=f"mlrepo/{study}/refseq/taxatable.txt",
        format="qiime-classic",
        label_column="Var",
        positive_labels=labels[0],
        negative_labels=labels[1],
        description=description,
        group_column="HOST_SUBJECT_ID",
        sample_metadata=f"mlrepo/{study}/mapping-orig.txt",
        labels=f"mlrepo/{study}/{task}",
        published_auroc=auroc,
    )


def _ibdmeta(
    name: str, cohort: str, filters: tuple[tuple[str, str], ...], description: str
) -> PublicCohort:
    return PublicCohort(
        name=name,
        table=f"ibdmeta/{cohort}/all_samples_taxonomy_closed_reference.tsv",
        format="qiime-classic",
        label_column="Disease",
        positive_labels=("CD",),
        negative_labels=("Control",),
        description=description,
        group_column="Subject accession",
        sample_metadata=f"ibdmeta/{cohort}/metadata_recoded.txt",
        sample_id_column="Sample accession (16S)",
        filters=filters,
    )


#: The real public cohorts in ``../shared/datasets``, by name (read-only).
PUBLIC_COHORTS: Mapping[str, PublicCohort] = MappingProxyType(
    {
        c.name: c
        for c in (
            _metaml(
                "metaml_ibd",
                "metahit",
                _IBD,
                "MetaHIT IBD (MetAML 'IBD' task): 25 UC/CD vs 85 controls, MetaPhlAn 2 shotgun.",
                0.890,
            ),
            _metaml(
                "metaml_nielsen_ibd",
                "Neilsen_genome_assembly",
                _IBD,
                "Nielsen 2014 IBD: 148 Spanish UC/CD vs 187 controls, country confounds label.",
                None,
            ),
            _metaml(
                "metaml_psoriasis",
                "Psoriasis_2014",
                ("y",),
                "Psoriasis 2014 skin: 36 lesion vs 34 healthy samples from 21 subjects.",
                None,
            ),
            _metaml(
                "metaml_cirrhosis",
                "Quin_gut_liver_cirrhosis",
                ("cirrhosis",),
                "Qin 2014 liver cirrhosis: 118 cases vs 114 controls, MetaPhlAn 2 shotgun.",
                0.945,
            ),
            _metaml(
                "metaml_colorectal",
                "Zeller_fecal_colorectal_cancer",
                ("cancer",),
                "Zeller 2014 colorectal cancer: 48 cancers vs 47 controls (adenomas left out).",
                0.873,
            ),
            _metaml(
                "metaml_wt2d",
                "WT2D",
                ("t2d",),
                "Karlsson 2013 Swedish women type 2 diabetes: 53 T2D vs 43 controls.",
                0.762,
            ),
            _mlrepo(
                "gevers_ileum",
                "gevers",
                "task-ileum.txt",
                (("CD",), ("no",)),
                "Gevers 2014 RISK paediatric Crohn's, ileal biopsies 16S: 78 CD vs 62 non-IBD.",
                0.71,
            ),
            _mlrepo(
                "gevers_rectum",
                "gevers",
                "task-rectum.txt",
                (("CD",), ("no",)),
                "Gevers 2014 RISK paediatric Crohn's, rectal biopsies 16S: 68 CD vs 92 non-IBD.",
                0.71,
            ),
            _mlrepo(
                "sokol_cd",
                "sokol",
                "task-healthy-cd.txt",
                (("Crohn's disease",), ("Healthy",)),
                "Morgan 2012 stool 16S (MLRepo 'sokol'): 62 Crohn's disease vs 19 healthy.",
                0.81,
            ),
            _mlrepo(
                "sokol_uc",
                "sokol",
                "task-healthy-uc.txt",
                (("Ulcerative Colitis",), ("Healthy",)),
                "Morgan 2012 stool 16S (MLRepo 'sokol'): 47 ulcerative colitis vs 19 healthy.",
                0.81,
            ),
            _ibdmeta(
                "ibdmeta_cs_prism",
                "CS-PRISM",
                (("Sample type", "Stool"),),
                "CS-PRISM stool 16S (IBD meta-analysis): 164 CD vs 42 controls, shallow samples.",
            ),
            _ibdmeta(
                "ibdmeta_hmp2",
                "HMP2",
                (),
                "HMP2 biopsies 16S (IBD meta-analysis): 85 CD vs 46 control samples, repeated.",
            ),
            _ibdmeta(
                "ibdmeta_mucosal",
                "MucosalIBD",
                (),
                "MucosalIBD ileal biopsies 16S (IBD meta-analysis): 58 CD vs 74 controls.",
            ),
            PublicCohort(
                name="jangi_ms",
                table="qiime2/jangi_ms/filt-feature-table.qza",
                format="qza",
                label_column="Host_disease",
                positive_labels=("Multiple_sclerosis_in_remission",),
                negative_labels=("Healthy_Control",),
                description="Jangi 2016 multiple sclerosis stool 16S: 61 MS vs 43 controls.",
                sample_metadata="qiime2/jangi_ms/subset_metadata_MS.tsv",
                taxonomy="qiime2/jangi_ms/hybrid-taxonomy.qza",
            ),
        )
    }
)


def public_cohort(name: str) -> PublicCohort:
    """Return the registry entry of a public cohort.

    Raises
    ------
    ConfigError
        If ``name`` is not in :data:`PUBLIC_COHORTS`.
    """
    try:
        return PUBLIC_COHORTS[name]
    except KeyError:
        known = ", ".join(PUBLIC_COHORTS)
        raise ConfigError(f"Unknown public cohort {name!r}; use one of: {known}.") from None

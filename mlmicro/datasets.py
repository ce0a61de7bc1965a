"""The embedded simulated cohort and a registry of public cohorts.

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

:data:`PUBLIC_COHORTS` describes the real public cohorts kept in
``../shared/datasets`` (see :func:`shared_datasets_dir`): where each table is,
its format, its label and group columns and which labels are positive.
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
    "PublicCohort",
    "PUBLIC_COHORTS",
    "public_cohort",
    "shared_datasets_dir",
    "main",
]

# ---------------------------------------------------------------------------
# Curated taxa
# ---------------------------------------------------------------------------

# Real human gut species, grouped by genus. Each entry is the lineage from
# kingdom to genus (ranks without prefixes) and the species of that genus.
# A lower-case species is an epithet of the genus; a capitalised one is a full
# binomial kept under the genus it belongs to today (e.g. ``Eubacterium_rectale``
# under ``Agathobacter``), because gut studies still use the older name.
# Higher ranks follow the NCBI names MetaPhlAn 2/3 use (Firmicutes,
# Clostridiales, ...), as in mlmicro.taxonomy.
_GENERA: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Bacteroidetes
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Bacteroidaceae|Bacteroides",
        (
            "vulgatus",
            "uniformis",
            "fragilis",
            "thetaiotaomicron",
            "ovatus",
            "caccae",
            "stercoris",
            "dorei",
            "massiliensis",
            "cellulosilyticus",
            "eggerthii",
            "plebeius",
            "coprocola",
            "finegoldii",
            "intestinalis",
            "xylanisolvens",
            "salyersiae",
            "faecis",
            "clarus",
            "nordii",
            "coprophilus",
            "fluxus",
        ),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Prevotellaceae|Prevotella",
        ("copri", "stercorea", "timonensis", "buccae", "disiens", "bivia", "histicola"),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Prevotellaceae|Paraprevotella",
        ("clara", "xylaniphila"),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Tannerellaceae|Parabacteroides",
        ("distasonis", "merdae", "johnsonii", "goldsteinii"),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Odoribacteraceae|Odoribacter",
        ("splanchnicus",),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Odoribacteraceae|Butyricimonas",
        ("virosa", "synergistica"),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Barnesiellaceae|Barnesiella",
        ("intestinihominis",),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Barnesiellaceae|Coprobacter",
        ("fastidiosus",),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Rikenellaceae|Alistipes",
        ("putredinis", "shahii", "onderdonkii", "finegoldii", "indistinctus", "senegalensis"),
    ),
    (
        "Bacteria|Bacteroidetes|Bacteroidia|Bacteroidales|Porphyromonadaceae|Porphyromonas",
        ("asaccharolytica", "somerae"),
    ),
    # Firmicutes: Clostridia
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Faecalibacterium",
        ("prausnitzii",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Ruminococcus",
        ("bromii", "callidus", "champanellensis", "albus", "flavefaciens"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Subdoligranulum",
        ("variabile",),
    ),
    ("Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Gemmiger", ("formicilis",)),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Anaerotruncus",
        ("colihominis",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Flavonifractor",
        ("plautii",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Ruminococcaceae|Pseudoflavonifractor",
        ("capillosus",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Oscillospiraceae|Oscillibacter",
        ("valericigenes",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Oscillospiraceae|Intestinimonas",
        ("butyriciproducens",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Butyricicoccaceae|Butyricicoccus",
        ("pullicaecorum",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Roseburia",
        ("intestinalis", "hominis", "inulinivorans", "faecis"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Agathobacter",
        ("Eubacterium_rectale",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Blautia",
        ("obeum", "wexlerae", "luti", "producta", "hansenii", "hydrogenotrophica"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Dorea",
        ("longicatena", "formicigenerans"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Coprococcus",
        ("comes", "catus", "eutactus"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Lachnospira",
        ("pectinoschiza", "Eubacterium_eligens"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Anaerostipes",
        ("hadrus", "caccae"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Anaerobutyricum",
        ("Eubacterium_hallii",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Mediterraneibacter",
        ("Ruminococcus_gnavus", "Ruminococcus_torques", "Ruminococcus_lactaris"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Fusicatenibacter",
        ("saccharivorans",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Enterocloster",
        ("Clostridium_bolteae", "Clostridium_clostridioforme", "Clostridium_citroniae"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Hungatella",
        ("hathewayi",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Tyzzerella",
        ("Clostridium_nexile",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Butyrivibrio",
        ("crossotus",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Lachnoclostridium",
        ("Clostridium_scindens", "Clostridium_symbiosum"),
    ),
    ("Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Eisenbergiella", ("tayi",)),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Sellimonas",
        ("intestinalis",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Lachnospiraceae|Marvinbryantia",
        ("formatexigens",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Clostridiaceae|Clostridium",
        ("perfringens", "butyricum", "paraputrificum", "sporogenes", "tertium", "celatum"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Peptostreptococcaceae|Clostridioides",
        ("difficile",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Peptostreptococcaceae|Romboutsia",
        ("ilealis",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Peptostreptococcaceae|Intestinibacter",
        ("bartlettii",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Peptostreptococcaceae|Terrisporobacter",
        ("glycolicus",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Peptostreptococcaceae|Peptostreptococcus",
        ("anaerobius",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Christensenellaceae|Christensenella",
        ("minuta", "timonensis"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Clostridiales|Eubacteriaceae|Eubacterium",
        ("siraeum", "ventriosum", "ramulus", "limosum", "callanderi", "xylanophilum"),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Tissierellales|Peptoniphilaceae|Peptoniphilus",
        ("harei",),
    ),
    (
        "Bacteria|Firmicutes|Clostridia|Tissierellales|Peptoniphilaceae|Anaerococcus",
        ("vaginalis",),
    ),
    ("Bacteria|Firmicutes|Clostridia|Tissierellales|Peptoniphilaceae|Finegoldia", ("magna",)),
    # Firmicutes: Negativicutes
    (
        "Bacteria|Firmicutes|Negativicutes|Veillonellales|Veillonellaceae|Veillonella",
        ("parvula", "atypica", "dispar"),
    ),
    (
        "Bacteria|Firmicutes|Negativicutes|Veillonellales|Veillonellaceae|Dialister",
        ("invisus", "succinatiphilus"),
    ),
    (
        "Bacteria|Firmicutes|Negativicutes|Veillonellales|Veillonellaceae|Megasphaera",
        ("micronuciformis", "elsdenii", "massiliensis"),
    ),
    (
        "Bacteria|Firmicutes|Negativicutes|Selenomonadales|Selenomonadaceae|Megamonas",
        ("funiformis", "hypermegale"),
    ),
    (
        "Bacteria|Firmicutes|Negativicutes|Selenomonadales|Selenomonadaceae|Mitsuokella",
        ("multacida",),
    ),
    (
        "Bacteria|Firmicutes|Negativicutes|Acidaminococcales|Acidaminococcaceae|"
        "Phascolarctobacterium",
        ("faecium", "succinatutens"),
    ),
    (
        "Bacteria|Firmicutes|Negativicutes|Acidaminococcales|Acidaminococcaceae|Acidaminococcus",
        ("intestini", "fermentans"),
    ),
    # Firmicutes: Bacilli
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Lactobacillus",
        ("acidophilus", "gasseri", "delbrueckii", "crispatus"),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Lacticaseibacillus",
        ("rhamnosus", "paracasei"),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Lactiplantibacillus",
        ("plantarum",),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Ligilactobacillus",
        ("ruminis", "salivarius"),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Limosilactobacillus",
        ("reuteri", "fermentum", "mucosae"),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Pediococcus",
        ("acidilactici",),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Leuconostoc",
        ("mesenteroides",),
    ),
    ("Bacteria|Firmicutes|Bacilli|Lactobacillales|Lactobacillaceae|Weissella", ("cibaria",)),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Streptococcaceae|Streptococcus",
        (
            "salivarius",
            "thermophilus",
            "parasanguinis",
            "mitis",
            "oralis",
            "gordonii",
            "vestibularis",
            "anginosus",
            "sanguinis",
            "australis",
            "infantis",
            "mutans",
            "gallolyticus",
            "lutetiensis",
        ),
    ),
    ("Bacteria|Firmicutes|Bacilli|Lactobacillales|Streptococcaceae|Lactococcus", ("lactis",)),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Enterococcaceae|Enterococcus",
        ("faecalis", "faecium", "avium", "casseliflavus", "durans", "gallinarum"),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Carnobacteriaceae|Granulicatella",
        ("adiacens",),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Lactobacillales|Aerococcaceae|Abiotrophia",
        ("defectiva",),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Bacillales|Staphylococcaceae|Staphylococcus",
        ("aureus", "epidermidis"),
    ),
    (
        "Bacteria|Firmicutes|Bacilli|Bacillales|Gemellaceae|Gemella",
        ("haemolysans", "morbillorum"),
    ),
    # Firmicutes: Erysipelotrichia
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Holdemanella",
        ("Eubacterium_biforme",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|"
        "Erysipelatoclostridium",
        ("Clostridium_ramosum",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Holdemania",
        ("filiformis",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Turicibacter",
        ("sanguinis",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|"
        "Catenibacterium",
        ("mitsuokai",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Coprobacillus",
        ("cateniformis",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Faecalitalea",
        ("Eubacterium_cylindroides",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Dielma",
        ("fastidiosa",),
    ),
    (
        "Bacteria|Firmicutes|Erysipelotrichia|Erysipelotrichales|Erysipelotrichaceae|Solobacterium",
        ("moorei",),
    ),
    # Actinobacteria
    (
        "Bacteria|Actinobacteria|Actinobacteria|Bifidobacteriales|Bifidobacteriaceae|"
        "Bifidobacterium",
        (
            "adolescentis",
            "longum",
            "bifidum",
            "breve",
            "pseudocatenulatum",
            "catenulatum",
            "angulatum",
            "dentium",
            "animalis",
        ),
    ),
    (
        "Bacteria|Actinobacteria|Coriobacteriia|Coriobacteriales|Coriobacteriaceae|Collinsella",
        ("aerofaciens", "intestinalis", "stercoris"),
    ),
    (
        "Bacteria|Actinobacteria|Coriobacteriia|Eggerthellales|Eggerthellaceae|Eggerthella",
        ("lenta",),
    ),
    (
        "Bacteria|Actinobacteria|Coriobacteriia|Eggerthellales|Eggerthellaceae|Gordonibacter",
        ("pamelaeae",),
    ),
    (
        "Bacteria|Actinobacteria|Coriobacteriia|Eggerthellales|Eggerthellaceae|Adlercreutzia",
        ("equolifaciens",),
    ),
    (
        "Bacteria|Actinobacteria|Coriobacteriia|Eggerthellales|Eggerthellaceae|Slackia",
        ("isoflavoniconvertens",),
    ),
    (
        "Bacteria|Actinobacteria|Coriobacteriia|Eggerthellales|Eggerthellaceae|Senegalimassilia",
        ("anaerobia",),
    ),
    (
        "Bacteria|Actinobacteria|Actinobacteria|Actinomycetales|Actinomycetaceae|Actinomyces",
        ("odontolyticus", "graevenitzii"),
    ),
    (
        "Bacteria|Actinobacteria|Actinobacteria|Micrococcales|Micrococcaceae|Rothia",
        ("mucilaginosa", "dentocariosa"),
    ),
    # Proteobacteria
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Enterobacteriaceae|"
        "Escherichia",
        ("coli",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Enterobacteriaceae|"
        "Klebsiella",
        ("pneumoniae", "oxytoca", "variicola"),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Enterobacteriaceae|"
        "Enterobacter",
        ("cloacae",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Enterobacteriaceae|"
        "Citrobacter",
        ("freundii", "koseri"),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Enterobacteriaceae|"
        "Raoultella",
        ("ornithinolytica",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Morganellaceae|Proteus",
        ("mirabilis",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Morganellaceae|Morganella",
        ("morganii",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Hafniaceae|Hafnia",
        ("alvei",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Enterobacterales|Yersiniaceae|Serratia",
        ("marcescens",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Pasteurellales|Pasteurellaceae|Haemophilus",
        ("parainfluenzae",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Pasteurellales|Pasteurellaceae|"
        "Aggregatibacter",
        ("segnis",),
    ),
    (
        "Bacteria|Proteobacteria|Gammaproteobacteria|Pseudomonadales|Pseudomonadaceae|Pseudomonas",
        ("aeruginosa",),
    ),
    (
        "Bacteria|Proteobacteria|Betaproteobacteria|Burkholderiales|Sutterellaceae|Sutterella",
        ("wadsworthensis",),
    ),
    (
        "Bacteria|Proteobacteria|Betaproteobacteria|Burkholderiales|Sutterellaceae|Parasutterella",
        ("excrementihominis",),
    ),
    (
        "Bacteria|Proteobacteria|Betaproteobacteria|Burkholderiales|Oxalobacteraceae|Oxalobacter",
        ("formigenes",),
    ),
    (
        "Bacteria|Proteobacteria|Deltaproteobacteria|Desulfovibrionales|Desulfovibrionaceae|"
        "Bilophila",
        ("wadsworthia",),
    ),
    (
        "Bacteria|Proteobacteria|Deltaproteobacteria|Desulfovibrionales|Desulfovibrionaceae|"
        "Desulfovibrio",
        ("piger", "desulfuricans"),
    ),
    (
        "Bacteria|Proteobacteria|Epsilonproteobacteria|Campylobacterales|Campylobacteraceae|"
        "Campylobacter",
        ("concisus", "hominis"),
    ),
    # Other phyla
    (
        "Bacteria|Verrucomicrobia|Verrucomicrobiae|Verrucomicrobiales|Akkermansiaceae|Akkermansia",
        ("muciniphila",),
    ),
    (
        "Bacteria|Fusobacteria|Fusobacteriia|Fusobacteriales|Fusobacteriaceae|Fusobacterium",
        ("nucleatum", "mortiferum", "varium", "ulcerans", "necrophorum"),
    ),
    (
        "Bacteria|Lentisphaerae|Lentisphaeria|Victivallales|Victivallaceae|Victivallis",
        ("vadensis",),
    ),
    (
        "Bacteria|Synergistetes|Synergistia|Synergistales|Synergistaceae|Cloacibacillus",
        ("evryensis",),
    ),
    (
        "Bacteria|Spirochaetes|Spirochaetia|Spirochaetales|Spirochaetaceae|Treponema",
        ("succinifaciens",),
    ),
    (
        "Archaea|Euryarchaeota|Methanobacteria|Methanobacteriales|Methanobacteriaceae|"
        "Methanobrevibacter",
        ("smithii",),
    ),
    (
        "Archaea|Euryarchaeota|Methanobacteria|Methanobacteriales|Methanobacteriaceae|"
        "Methanosphaera",
        ("stadtmanae",),
    ),
    (
        "Archaea|Euryarchaeota|Thermoplasmata|Methanomassiliicoccales|"
        "Methanomassiliicoccaceae|Methanomassiliicoccus",
        ("luminyensis",),
    ),
)

# Species profiled as several strains (species-level genome bins), and how many.
_STRAINS_PER_SPECIES: Mapping[str, int] = MappingProxyType(
    {
        "Faecalibacterium_prausnitzii": 3,
        "Prevotella_copri": 3,
        "Bacteroides_vulgatus": 2,
        "Bacteroides_fragilis": 2,
        "Escherichia_coli": 2,
        "Bifidobacterium_longum": 2,
        "Akkermansia_muciniphila": 2,
        "Eubacterium_rectale": 2,
        "Eubacterium_siraeum": 2,
        "Ruminococcus_bromii": 2,
        "Ruminococcus_gnavus": 2,
        "Blautia_obeum": 2,
        "Alistipes_putredinis": 2,
        "Collinsella_aerofaciens": 2,
        "Roseburia_intestinalis": 2,
        "Klebsiella_pneumoniae": 2,
        "Veillonella_parvula": 2,
        "Methanobrevibacter_smithii": 2,
    }
)

# Transient, food-borne or oral taxa reported at species level only.
_SPECIES_LEVEL_ONLY: frozenset[str] = frozenset(
    {
        "Lactobacillus_acidophilus",
        "Lactobacillus_delbrueckii",
        "Lactobacillus_crispatus",
        "Lacticaseibacillus_rhamnosus",
        "Lacticaseibacillus_paracasei",
        "Lactiplantibacillus_plantarum",
        "Pediococcus_acidilactici",
        "Leuconostoc_mesenteroides",
        "Weissella_cibaria",
        "Lactococcus_lactis",
        "Streptococcus_thermophilus",
        "Streptococcus_mutans",
        "Streptococcus_gordonii",
        "Streptococcus_sanguinis",
        "Staphylococcus_aureus",
        "Staphylococcus_epidermidis",
        "Pseudomonas_aeruginosa",
        "Serratia_marcescens",
        "Clostridium_sporogenes",
        "Clostridium_tertium",
        "Enterococcus_casseliflavus",
        "Enterococcus_gallinarum",
        "Finegoldia_magna",
        "Anaerococcus_vaginalis",
        "Peptoniphilus_harei",
        "Prevotella_bivia",
    }
)

# Baseline (control) prevalence and log-abundance offset of taxa whose
# prevalence and abundance are well known: the core of a Western adult gut.
# Other taxa draw theirs at random.
_BASELINES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "Bacteroides_vulgatus": (0.92, 2.5),
        "Bacteroides_uniformis": (0.90, 2.0),
        "Bacteroides_ovatus": (0.75, 1.2),
        "Bacteroides_thetaiotaomicron": (0.70, 1.0),
        "Bacteroides_dorei": (0.60, 1.5),
        "Bacteroides_stercoris": (0.45, 1.5),
        "Prevotella_copri": (0.35, 3.0),
        "Faecalibacterium_prausnitzii": (0.95, 2.5),
        "Eubacterium_rectale": (0.90, 2.2),
        "Roseburia_intestinalis": (0.65, 1.2),
        "Roseburia_hominis": (0.70, 1.0),
        "Roseburia_inulinivorans": (0.60, 0.8),
        "Alistipes_putredinis": (0.80, 1.8),
        "Alistipes_shahii": (0.70, 0.8),
        "Alistipes_onderdonkii": (0.65, 0.8),
        "Ruminococcus_bromii": (0.65, 1.8),
        "Blautia_obeum": (0.85, 1.0),
        "Blautia_wexlerae": (0.85, 1.0),
        "Subdoligranulum_variabile": (0.80, 1.5),
        "Dorea_longicatena": (0.90, 0.6),
        "Dorea_formicigenerans": (0.80, 0.2),
        "Parabacteroides_distasonis": (0.85, 0.8),
        "Parabacteroides_merdae": (0.80, 0.8),
        "Anaerostipes_hadrus": (0.85, 0.8),
        "Coprococcus_comes": (0.75, 0.6),
        "Collinsella_aerofaciens": (0.80, 1.2),
        "Bifidobacterium_adolescentis": (0.65, 1.5),
        "Bifidobacterium_longum": (0.80, 1.0),
        "Fusicatenibacter_saccharivorans": (0.85, 0.6),
        "Eubacterium_hallii": (0.90, 0.6),
        "Eubacterium_eligens": (0.75, 1.2),
        "Odoribacter_splanchnicus": (0.80, 0.5),
        "Barnesiella_intestinihominis": (0.55, 1.0),
        "Akkermansia_muciniphila": (0.45, 1.2),
        "Methanobrevibacter_smithii": (0.35, 0.8),
        "Escherichia_coli": (0.55, 0.0),
    }
)


@dataclass(frozen=True)
class _DriverSpec:
    """A candidate driver: species, effect sign, relative weight, baseline."""

    species: str
    sign: int  # +1 enriched in cases, -1 depleted
    weight: float  # relative size of the effect
    prevalence: float  # prevalence among controls
    abundance: float  # log-abundance offset


# Candidate drivers, in the order they are planted (n_drivers takes the first n).
# Depleted: butyrate producers and other taxa lost in Crohn's disease; enriched:
# Proteobacteria, oral and mucolytic taxa that bloom in it (Gevers 2014,
# Lloyd-Price 2019, Franzosa 2019).
_DRIVER_CANDIDATES: tuple[_DriverSpec, ...] = (
    _DriverSpec("Faecalibacterium_prausnitzii", -1, 1.0, 0.90, 2.0),
    _DriverSpec("Ruminococcus_gnavus", +1, 1.2, 0.40, 0.5),
    _DriverSpec("Roseburia_hominis", -1, 1.1, 0.80, 1.0),
    _DriverSpec("Escherichia_coli", +1, 1.1, 0.45, 0.5),
    _DriverSpec("Eubacterium_rectale", -1, 0.9, 0.85, 1.8),
    _DriverSpec("Klebsiella_pneumoniae", +1, 1.0, 0.30, 0.0),
    _DriverSpec("Roseburia_intestinalis", -1, 1.0, 0.75, 1.0),
    _DriverSpec("Fusobacterium_nucleatum", +1, 1.0, 0.25, 0.0),
    _DriverSpec("Odoribacter_splanchnicus", -1, 0.9, 0.80, 0.5),
    _DriverSpec("Veillonella_parvula", +1, 1.0, 0.35, 0.0),
    _DriverSpec("Haemophilus_parainfluenzae", +1, 1.0, 0.30, -0.5),
    _DriverSpec("Methanobrevibacter_smithii", -1, 1.0, 0.50, 0.8),
    _DriverSpec("Enterococcus_faecium", +1, 1.0, 0.25, -0.5),
    _DriverSpec("Coprococcus_comes", -1, 0.9, 0.75, 0.6),
    _DriverSpec("Hungatella_hathewayi", +1, 0.9, 0.30, -0.5),
    _DriverSpec("Alistipes_putredinis", -1, 0.9, 0.80, 1.5),
)


def _species_name(genus: str, entry: str) -> str:
    return entry if entry[:1].isupper() else f"{genus}_{entry}"


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
# Public cohorts in ../shared/datasets
# ---------------------------------------------------------------------------


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


if __name__ == "__main__":
    raise SystemExit(main())

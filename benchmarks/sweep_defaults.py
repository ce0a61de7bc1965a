"""Choose mlmicro's defaults across every visible cohort at once.

Each candidate (classifier, prevalence filter, class weights, rank) is fitted on
exactly the same folds of every cohort in ``benchmarks/cohorts.py`` (10-fold,
stratified, grouped by subject where subjects repeat, ``--repeats`` shuffles),
one thread per fit. Out-of-fold probabilities are kept, so averages of two
candidates (an ensemble) are scored on the same folds without refitting.

Printed: per cohort the AUROC of each candidate minus the plain random forest's
(500 trees, scikit-learn defaults, unweighted, all taxa, relative abundance),
then per candidate the mean difference across cohorts, the worst cohort, the
number of cohorts within 0.005 of the forest, and the fit time relative to the
forest's. Run from the repository root::

    python benchmarks/sweep_defaults.py                        # all cohorts, 2 repeats
    python benchmarks/sweep_defaults.py --cohorts psoriasis --repeats 1

Out-of-fold predictions are cached under ``$MLMICRO_BENCH_CACHE`` (see
``cohorts.py``); ``--fresh`` ignores the cache.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from xgboost import XGBClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cohorts  # noqa: E402

from mlmicro.io import drop_organelles  # noqa: E402
from mlmicro.model.estimators import DEFAULT_PARAMS, balanced_sample_weight  # noqa: E402
from mlmicro.taxonomy import collapse_to_rank  # noqa: E402

BOOSTED_FOREST = {k: v for k, v in DEFAULT_PARAMS["xgboost"].items() if k != "device"}


def _prevalent(x: np.ndarray, share: float) -> np.ndarray:
    return (x > 0).mean(axis=0) >= share


def _rf(x, y, seed, *, weighted=False, trees=500, min_leaf=1, samples=None):
    model = RandomForestClassifier(
        n_estimators=trees,
        max_samples=samples,
        max_features="sqrt",
        min_samples_leaf=min_leaf,
        class_weight="balanced_subsample" if weighted else None,
        n_jobs=1,
        random_state=seed,
    )
    return model.fit(x, y)


def _xgb_forest(x, y, seed, *, weighted=False, depth=0, **extra):
    """A random forest grown by XGBoost: one round of 500 parallel trees."""
    params = {
        "n_estimators": 1,
        "num_parallel_tree": 500,
        "learning_rate": 1.0,
        "subsample": 0.632,
        "colsample_bynode": max(1.0 / x.shape[1], np.sqrt(x.shape[1]) / x.shape[1]),
        "max_depth": depth,
        "grow_policy": "lossguide" if depth == 0 else "depthwise",
        "min_child_weight": 0.25,
        "reg_lambda": 1.0,
        "tree_method": "hist",
        **extra,
    }
    model = XGBClassifier(**params, random_state=seed, n_jobs=1)
    return model.fit(x, y, sample_weight=balanced_sample_weight(y) if weighted else None)


def _xgb_forest_linear(x, y, seed):
    """A random forest grown by XGBoost whose margin is linear in the leaves' class shares.

    Fitted at margin 0 with no leaf penalty, a leaf's value is 4 x (its share of
    cases - 0.5): the forest's margin ranks samples as a random forest's vote does,
    and it adds to a boosted forest's margin (and SHAP values) in one booster.
    """
    return _xgb_forest(x, y, seed, min_child_weight=1e-6, reg_lambda=0.0, base_score=0.5)


def _et(x, y, seed):
    return ExtraTreesClassifier(
        n_estimators=500, max_features="sqrt", n_jobs=1, random_state=seed
    ).fit(x, y)


class _LogET:
    """Extremely randomised trees on log abundances (a tree on log x is a tree on x)."""

    def __init__(self, x, y, seed, *, floor=1e-6, trees=500, features="sqrt", leaf=1, **extra):
        self.floor = floor
        self.model = ExtraTreesClassifier(
            n_estimators=trees,
            max_features=features,
            min_samples_leaf=leaf,
            n_jobs=1,
            random_state=seed,
            **extra,
        ).fit(self._log(x), y)

    def _log(self, x):
        return np.log10(np.maximum(x, self.floor))

    def predict_proba(self, x):
        return self.model.predict_proba(self._log(x))


def _bf(x, y, seed, *, weighted=False, **params):
    model = XGBClassifier(**{**BOOSTED_FOREST, **params}, random_state=seed, n_jobs=1)
    return model.fit(x, y, sample_weight=balanced_sample_weight(y) if weighted else None)


class _Filtered:
    """A fitted model behind an in-fold prevalence filter."""

    def __init__(self, keep, model):
        self.keep, self.model = keep, model

    def predict_proba(self, x):
        return self.model.predict_proba(x[:, self.keep])


def _filtered(fit: Callable, share: float) -> Callable:
    def run(x, y, seed):
        keep = _prevalent(x, share)
        return _Filtered(keep, fit(x[:, keep], y, seed))

    return run


class _CLRLogistic:
    def __init__(self, x, y, seed):
        self.keep = _prevalent(x, 0.1)
        z = self._clr(x)
        self.mean, self.sd = z.mean(axis=0), z.std(axis=0) + 1e-9
        self.model = LogisticRegression(C=0.1, max_iter=5000, random_state=seed).fit(
            (z - self.mean) / self.sd, y
        )

    def _clr(self, x):
        x = x[:, self.keep]
        x = x + 1e-6
        logs = np.log(x)
        return logs - logs.mean(axis=1, keepdims=True)

    def predict_proba(self, x):
        return self.model.predict_proba((self._clr(x) - self.mean) / self.sd)


CANDIDATES: dict[str, Callable] = {
    "rf": _rf,
    "rf-balanced": lambda x, y, s: _rf(x, y, s, weighted=True),
    "bf-current": _filtered(lambda x, y, s: _bf(x, y, s, weighted=True), 0.05),
    "bf": _bf,
    "bf-balanced": lambda x, y, s: _bf(x, y, s, weighted=True),
    "bf-prev5": _filtered(_bf, 0.05),
    "et": _et,
    "et-log": _LogET,
    "et-log-300": lambda x, y, s: _LogET(x, y, s, trees=300),
    "et-log-f2": lambda x, y, s: _LogET(x, y, s, features=0.02),
    "et-log-f10": lambda x, y, s: _LogET(x, y, s, features=0.1),
    "et-log-leaf2": lambda x, y, s: _LogET(x, y, s, leaf=2),
    "et-log-leaf3": lambda x, y, s: _LogET(x, y, s, leaf=3),
    "et-log-floor7": lambda x, y, s: _LogET(x, y, s, floor=1e-7),
    "et-log-floor5": lambda x, y, s: _LogET(x, y, s, floor=1e-5),
    "et-log-boot": lambda x, y, s: _LogET(x, y, s, bootstrap=True),
    "bfb-depth3": lambda x, y, s: _bf(x, y, s, weighted=True, max_depth=3),
    "bfb-trees20": lambda x, y, s: _bf(x, y, s, weighted=True, num_parallel_tree=20),
    "bfb-slow": lambda x, y, s: _bf(x, y, s, weighted=True, n_estimators=100, learning_rate=0.05),
    "bfb-leaf1": lambda x, y, s: _bf(x, y, s, weighted=True, min_child_weight=1.0),
    "bfb-sqrt": lambda x, y, s: _bf(
        x, y, s, weighted=True, colsample_bynode=np.sqrt(x.shape[1]) / x.shape[1]
    ),
    "bfb-col10": lambda x, y, s: _bf(x, y, s, weighted=True, colsample_bynode=0.1),
    "bfb-bin64": lambda x, y, s: _bf(x, y, s, weighted=True, max_bin=64),
    "bfb-bin32": lambda x, y, s: _bf(x, y, s, weighted=True, max_bin=32),
    "bfb-trees5": lambda x, y, s: _bf(x, y, s, weighted=True, num_parallel_tree=5),
    "rf-100": lambda x, y, s: _rf(x, y, s, trees=100),
    "rf-150": lambda x, y, s: _rf(x, y, s, trees=150),
    "rf-200": lambda x, y, s: _rf(x, y, s, trees=200),
    "rf-half": lambda x, y, s: _rf(x, y, s, samples=0.5),
    "rf-third": lambda x, y, s: _rf(x, y, s, samples=0.33),
    "xrf-linear": _xgb_forest_linear,
    "xrf": _xgb_forest,
    "xrf-balanced": lambda x, y, s: _xgb_forest(x, y, s, weighted=True),
    "clr-l2": _CLRLogistic,
}
#: candidates whose probability is the share of votes (their margin: 4 x (p - 0.5))
VOTES = {"rf", "rf-balanced", "rf-100", "rf-150", "rf-200", "rf-half", "rf-third", "et"} | {
    n for n in CANDIDATES if n.startswith("et-log")
}
#: sums of a boosted forest's margin and weight x another candidate's margin
MARGIN_BLENDS = [
    ("bf-balanced", other, weight)
    for other in (
        *("rf", "rf-200", "rf-100", "rf-half", "rf-third", "xrf-linear", "et", "clr-l2"),
        *(n for n in CANDIDATES if n.startswith("et-log")),
    )
    for weight in (1, 2, 4)
]
#: candidates run at the non-default ranks of 16S cohorts (to choose the rank)
RANK_CANDIDATES = ["rf", "bf"]
#: averages of two or three candidates' out-of-fold probabilities
ENSEMBLES = [
    ("rf", "bf"),
    ("rf", "bf-balanced"),
    ("rf", "et"),
    ("bf", "et"),
    ("rf", "bf", "et"),
    ("bf", "clr-l2"),
]


def features(cohort: cohorts.Cohort, rank: str | None) -> tuple[np.ndarray, np.ndarray, object]:
    """Relative abundances at ``rank``, the 0/1 labels and the groups."""
    table, meta = cohorts.load(cohort)
    table, _ = drop_organelles(table)
    table = table.loc[table.sum(axis=1) > 0]
    meta = meta.loc[table.index]
    if rank is not None:
        table = collapse_to_rank(table, rank)
    values = table.to_numpy(dtype=float)
    values = values / values.sum(axis=1, keepdims=True)
    values = values[:, (values > 0).any(axis=0)]
    y = meta[cohort.label].isin(cohort.positive).to_numpy().astype(int)
    groups = meta[cohort.group].to_numpy() if cohort.group else None
    return values, y, groups


def folds(y, groups, repeats: int, k: int = 10) -> list[list[np.ndarray]]:
    """Test-row positions per repeat and fold (the same for every candidate)."""
    out = []
    for repeat in range(repeats):
        if groups is None:
            cv = StratifiedKFold(k, shuffle=True, random_state=repeat)
            out.append([test for _, test in cv.split(y, y)])
        else:
            cv = StratifiedGroupKFold(k, shuffle=True, random_state=repeat)
            out.append([test for _, test in cv.split(y, y, groups)])
    return out


def _fit_fold(name, x, y, test, seed):
    train = np.setdiff1d(np.arange(len(y)), test)
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CANDIDATES[name](x[train], y[train], seed)
        proba = model.predict_proba(x[test])[:, 1]
    return proba, time.process_time() - start


def run(cohort, rank, names, repeats, jobs, fresh) -> dict[str, dict]:
    """Out-of-fold probabilities and CPU seconds of each candidate on one cohort."""
    path = cohorts.CACHE / f"sweep-{cohort.name}-{rank}-{repeats}.pkl"
    done: dict[str, dict] = {}
    if path.exists() and not fresh:
        with path.open("rb") as handle:
            done = pickle.load(handle)
    todo = [n for n in names if n not in done]
    if todo:
        x, y, groups = features(cohort, rank)
        splits = folds(y, groups, repeats)
        jobs_list = [
            (n, r, f, test)
            for n in todo
            for r, rep in enumerate(splits)
            for f, test in enumerate(rep)
        ]
        results = Parallel(n_jobs=jobs, prefer="threads")(
            delayed(_fit_fold)(n, x, y, test, r * 100 + f) for n, r, f, test in jobs_list
        )
        for n in todo:
            done[n] = {"proba": np.zeros((repeats, len(y))), "cpu": 0.0, "y": y, "taxa": x.shape[1]}
        for (n, r, _, test), (proba, cpu) in zip(jobs_list, results, strict=True):
            done[n]["proba"][r, test] = proba
            done[n]["cpu"] += cpu
        cohorts.CACHE.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            pickle.dump(done, handle)
    return done


def _auroc(entry_probas: list[np.ndarray], y: np.ndarray) -> float:
    proba = np.mean(entry_probas, axis=0)
    return float(np.mean([roc_auc_score(y, p) for p in proba]))


def _margin(name: str, proba: np.ndarray) -> np.ndarray:
    """A candidate's margin: 4 x (vote share - 0.5) for forests, else the log-odds."""
    if name in VOTES:
        return 4.0 * (proba - 0.5)
    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    return np.log(clipped / (1 - clipped))


def _margin_blend(done: dict, first: str, other: str, weight: float, y: np.ndarray) -> float:
    margin = _margin(first, done[first]["proba"]) + weight * _margin(other, done[other]["proba"])
    return float(np.mean([roc_auc_score(y, m) for m in margin]))


def default_rank(cohort: cohorts.Cohort) -> str | None:
    """The rank mlmicro's ``rank = "auto"`` gives the cohort's table."""
    return None if cohort.name == "zeller-siamcat" else "species"


#: (choice, with, without, cohorts it applies to: "all" or a data kind)
CHOICES = [
    ("no prevalence filter (vs 5%)", "bf-balanced", "bf-current", "all"),
    ("balanced class weights (vs none)", "bf-balanced", "bf", "all"),
    ("16S at species (vs genus)", "bf", "bf@genus", "16S"),
    ("16S at the deepest rows (vs species)", "bf@deepest", "bf", "16S"),
    ("boosted forest (vs plain RF-500)", "bf-balanced", "rf", "all"),
    ("RF-500 + boosted forest average (vs boosted forest)", "rf+bf-balanced", "bf-balanced", "all"),
    ("64 bins per taxon (vs 256)", "bfb-bin64", "bf-balanced", "all"),
    ("32 bins per taxon (vs 256)", "bfb-bin32", "bf-balanced", "all"),
    ("5 trees per round (vs 10)", "bfb-trees5", "bf-balanced", "all"),
    ("+ 2 x margin of RF-500 (vs boosted forest)", "bf-balanced+2xrf", "bf-balanced", "all"),
    ("+ 4 x margin of RF-500 (vs boosted forest)", "bf-balanced+4xrf", "bf-balanced", "all"),
    ("+ 4 x margin of RF-200 (vs boosted forest)", "bf-balanced+4xrf-200", "bf-balanced", "all"),
    (
        "+ 1 x margin of XGBoost forest (vs boosted forest)",
        "bf-balanced+1xxrf-linear",
        "bf-balanced",
        "all",
    ),
]


def choice_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and worst AUROC change of each default choice, over the cohorts it applies to."""
    kinds = {c.name: c.kind for c in cohorts.COHORTS}
    rows = []
    for label, with_, without, applies in CHOICES:
        if with_ not in frame or without not in frame:
            continue
        subset = frame if applies == "all" else frame[frame.index.map(kinds) == applies]
        change = (subset[with_] - subset[without]).dropna()
        if change.empty:
            continue
        rows.append(
            {
                "choice": label,
                "cohorts": len(change),
                "mean change": change.mean(),
                "worst": change.min(),
                "worst cohort": change.idxmin(),
                "better or level": int((change >= 0).sum()),
            }
        )
    return pd.DataFrame(rows).set_index("choice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cohorts", nargs="*")
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    rows = []
    for cohort in cohorts.select(args.cohorts):
        base = default_rank(cohort)
        ranks = [base] + (["genus", None] if cohort.kind == "16S" else [])
        scores: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for rank in ranks:
            names = args.candidates if rank == base else RANK_CANDIDATES
            start = time.perf_counter()
            done = run(cohort, rank, names, args.repeats, args.jobs, args.fresh)
            suffix = "" if rank == base else f"@{rank or 'deepest'}"
            y = next(iter(done.values()))["y"]
            for name in names:
                scores[name + suffix] = _auroc([done[name]["proba"]], y)
                cpu[name + suffix] = done[name]["cpu"]
            if rank == base:
                for combo in ENSEMBLES:
                    if all(c in done for c in combo):
                        scores["+".join(combo)] = _auroc([done[c]["proba"] for c in combo], y)
                        cpu["+".join(combo)] = sum(done[c]["cpu"] for c in combo)
                for first, other, weight in MARGIN_BLENDS:
                    if first in done and other in done:
                        blend = f"{first}+{weight}x{other}"
                        scores[blend] = _margin_blend(done, first, other, weight, y)
                        cpu[blend] = done[first]["cpu"] + done[other]["cpu"]
            print(
                f"{cohort.name:<15} {str(rank):<8} {time.perf_counter() - start:6.1f} s  "
                + "  ".join(f"{n}={scores[n + suffix]:.3f}" for n in names),
                flush=True,
            )
        rows.append({"cohort": cohort.name, **{k: v for k, v in scores.items()},
                     **{f"cpu:{k}": v for k, v in cpu.items()}})  # fmt: skip
    frame = pd.DataFrame(rows).set_index("cohort")
    score_cols = [c for c in frame.columns if not c.startswith("cpu:")]
    diff = frame[score_cols].sub(frame["rf"], axis=0)
    print("\nAUROC minus plain RF-500 (same folds, same rank):")
    print(diff.drop(columns="rf").round(3).to_string())
    summary = pd.DataFrame(
        {
            "mean": diff.mean(),
            "worst": diff.min(),
            "worst cohort": diff.idxmin(),
            "within 0.005": (diff >= -0.005).sum().astype(str) + f"/{len(diff)}",
            "cpu vs rf": [
                (frame[f"cpu:{c}"] / frame["cpu:rf"]).median() if f"cpu:{c}" in frame else np.nan
                for c in diff.columns
            ],
        }
    ).drop(index="rf")
    print("\nsummary across cohorts (cpu: median ratio of summed fit CPU seconds):")
    print(summary.sort_values("mean", ascending=False).round(4).to_string())
    print("\neffect of each default choice (AUROC change; mean and worst cohort):")
    print(choice_effects(frame).round(4).to_string())
    print("\nplain RF-500 AUROC per cohort:")
    print(frame["rf"].round(3).to_string())


if __name__ == "__main__":
    main()

"""Recalibration for a new site: refit calibration (and threshold) on its labelled samples.

Probabilities do not carry over between sites: another sequencing centre,
body site or population shifts them, while the ranking often survives.
:func:`recalibrate` keeps the model's pipeline frozen and refits only what
comes after the classifier: a logistic recalibration (intercept and slope on
the classifier's log-odds) and, by default, the Youden threshold, on labelled
samples of the new site. With ``holdout``, a share of those samples (whole
subjects when ``group`` is given) is kept aside and calibration and balanced
accuracy are reported on it before and after, so the gain is measured on
samples the recalibration never saw.

Examples
--------
>>> result = recalibrate(model, table, metadata, group="subject", holdout=0.5)  # doctest: +SKIP
>>> print(result.format())  # doctest: +SKIP
>>> result.model.save("models/ibd_site2.mlmodel")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mlmicro.exceptions import ConfigError, MetadataError
from mlmicro.model.apply_blocks import apply_in_blocks
from mlmicro.model.calibration import fit_calibrator, measure_calibration
from mlmicro.model.metrics import score
from mlmicro.model.model import Model
from mlmicro.model.parallel import check_scheduler, open_runner
from mlmicro.model.threshold import choose_threshold, rates_at
from mlmicro.model.trust import Trust, TrustReport
from mlmicro.predict.validation import cohort_labels

#: How a failed recalibration on a cluster ends, in error messages.
RECALIBRATE_OUTCOME = "recalibration stopped and no model was written"

__all__ = ["RecalibrationResult", "holdout_split", "recalibrate"]

_SHOWN = (
    ("balanced_accuracy", "balanced accuracy", "{:.3f}"),
    ("roc_auc", "AUROC", "{:.3f}"),
    ("brier", "Brier score", "{:.3f}"),
    ("slope", "calibration slope", "{:.2f}"),
    ("intercept", "calibration intercept", "{:+.2f}"),
)


@dataclass(frozen=True)
class RecalibrationResult:
    """A recalibrated model and what recalibration changed.

    Attributes
    ----------
    model : Model
        The same frozen pipeline with the new calibrator and threshold; its
        card records what it was recalibrated on.
    n_fit, n_holdout : int
        Labelled samples the recalibration was fitted on / held out.
    before, after : dict or None
        On the held-out samples (``None`` without ``holdout``): balanced
        accuracy, AUROC, Brier score, calibration slope and intercept, with
        the original model and with the recalibrated one.
    record : dict
        The entry added to the card's ``trust.recalibrations``.
    """

    model: Model
    n_fit: int
    n_holdout: int
    before: dict[str, float] | None
    after: dict[str, float] | None
    record: dict[str, Any]

    def format(self) -> str:
        """Plain-text summary printed by ``mlmicro recalibrate``."""
        r = self.record
        lines = [
            f"recalibrated on {self.n_fit} labelled samples"
            + (f" ({r['n_groups_fit']} subjects)" if r.get("n_groups_fit") else "")
            + f": intercept {r['intercept']:+.3f}, slope {r['slope']:.3f} on the classifier's "
            f"log-odds; threshold {r['threshold']:.3f}"
            + (" (refitted, Youden's J)" if r["threshold_refit"] else " (kept)")
        ]
        if self.before is not None and self.after is not None:
            lines.append(
                f"on {self.n_holdout} held-out samples"
                + (f" ({r['n_groups_holdout']} subjects)" if r.get("n_groups_holdout") else "")
                + f"{'':<4}{'before':>10}{'after':>10}"
            )
            for key, name, fmt in _SHOWN:
                b, a = self.before[key], self.after[key]
                shown_b = fmt.format(b) if np.isfinite(b) else "n/a"
                shown_a = fmt.format(a) if np.isfinite(a) else "n/a"
                lines.append(f"  {name:<24}{shown_b:>10}{shown_a:>10}")
        return "\n".join(lines)


def holdout_split(
    y: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of fit and held-out samples: whole groups, stratified by each group's class.

    A group's class is its most frequent one; ``round(fraction * n)`` groups
    of each class are held out (at least one, and at least one kept).
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"--holdout must lie strictly between 0 and 1, not {fraction}.")
    frame = pd.DataFrame({"g": groups, "y": y})
    group_class = frame.groupby("g", sort=True)["y"].agg(lambda s: s.value_counts().idxmax())
    rng = np.random.default_rng(seed)
    held: list[Any] = []
    for _, members in group_class.groupby(group_class, sort=True):
        names = members.index.to_numpy()
        names = names[rng.permutation(len(names))]
        n = int(round(fraction * len(names)))
        n = min(max(n, 1), len(names) - 1) if len(names) > 1 else 0
        held.extend(names[:n])
    is_held = frame["g"].isin(held).to_numpy()
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def _evaluate(
    trust: Trust, raw: np.ndarray, y: np.ndarray, classes: list[str], positive: str
) -> dict[str, float]:
    proba = trust.calibrate(raw)
    labels = trust.labels(proba)
    names = np.asarray(classes, dtype=object)
    truth = names[np.where(y == 1, classes.index(positive), 1 - classes.index(positive))]
    metrics = score(truth, proba, classes, positive, predicted=labels)
    calibration = measure_calibration(proba[:, classes.index(positive)], y)
    return {
        "balanced_accuracy": metrics["balanced_accuracy"],
        "roc_auc": metrics["roc_auc"],
        "brier": calibration.brier,
        "slope": calibration.slope,
        "intercept": calibration.intercept,
        "n": float(len(y)),
    }


def recalibrate(
    model: Model,
    table: pd.DataFrame,
    metadata: pd.DataFrame,
    *,
    label: str | None = None,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
    group: str | None = None,
    holdout: float | None = None,
    refit_threshold: bool = True,
    seed: int = 0,
    source: str | None = None,
    scheduler: Any = None,
) -> RecalibrationResult:
    """Refit a binary model's calibration (and threshold) on a new site's labelled samples.

    Parameters
    ----------
    model : Model
        A binary model; its pipeline is applied frozen.
    table : pandas.DataFrame
        The new site's samples x taxa.
    metadata : pandas.DataFrame
        Its sample metadata with known labels.
    label, positive, negative
        Label column and the site's spellings of the model's classes (see
        :func:`mlmicro.predict.cohort_labels`).
    group : str, optional
        Subject column of ``metadata``: the held-out share is whole subjects.
    holdout : float, optional
        Share of samples (subjects) kept aside to report before / after.
    refit_threshold : bool
        Choose a new threshold (Youden's J) on the recalibrated probabilities;
        ``False`` keeps the model's.
    seed : int
        Seed of the held-out split.
    source : str, optional
        Where the table came from, for the card (default ``"DataFrame"``).
    scheduler : str, distributed.Client or None
        Apply the model to the site's samples in blocks on a Dask cluster
        (``"local:N"`` or a scheduler address; default ``$MLMICRO_SCHEDULER``,
        else here), through the same application path. The calibrator itself is
        one small fit and runs here. The result is the same either way.

    Returns
    -------
    RecalibrationResult

    Raises
    ------
    ConfigError
        If the model is multiclass or ``holdout`` is out of range.
    MetadataError
        If too few labelled samples of either class remain to fit on.
    """
    if model.positive_class is None or len(model.classes) != 2:
        raise ConfigError(
            "Recalibration needs a binary model; this one is multiclass "
            f"({', '.join(model.classes)}), which mlmicro does not calibrate."
        )
    classes, positive_class = list(model.classes), model.positive_class
    labels = cohort_labels(model, metadata, label, positive=positive, negative=negative)
    ids = table.index.astype(str)
    labels = labels.set_axis(labels.index.astype(str))
    common = ids[ids.isin(labels.index)]
    if len(common) == 0:
        raise MetadataError(
            "No sample of the table has a usable label in the metadata; check that the sample "
            "IDs match (--sample-id-column) and the label values (--positive / --negative)."
        )
    rows = table.set_axis(ids).loc[common]
    scheduler = check_scheduler(scheduler)
    if scheduler is None:
        applied = model.apply(rows)
    else:
        with open_runner(scheduler, outcome=RECALIBRATE_OUTCOME) as runner:
            applied = apply_in_blocks(model.runner(threads=1), rows, runner)
    ok = applied.predicted
    raw_all = applied.raw_probabilities[ok]
    kept = common[ok]
    y = (labels.loc[kept].to_numpy() == positive_class).astype(int)
    if group is not None:
        if group not in metadata.columns:
            raise MetadataError(
                f"--group column {group!r} is not in the sample metadata; pass one of its "
                f"columns ({', '.join(map(str, metadata.columns[:8]))}, ...)."
            )
        groups = metadata.set_axis(metadata.index.astype(str))[group].loc[kept]
        groups = groups.astype(object).where(groups.notna(), pd.Series(kept, index=kept))
        group_values = groups.astype(str).to_numpy()
    else:
        group_values = kept.to_numpy(dtype=object)
    if holdout is not None:
        fit_rows, held_rows = holdout_split(y, group_values, holdout, seed)
    else:
        fit_rows, held_rows = np.arange(len(y)), np.empty(0, dtype=np.int64)
    k = classes.index(positive_class)
    y_fit = y[fit_rows]
    if min(int(y_fit.sum()), int(len(y_fit) - y_fit.sum())) < 2:
        raise MetadataError(
            f"Recalibration needs at least 2 labelled samples of each class to fit on; "
            f"{int(y_fit.sum())} {positive_class} and {int(len(y_fit) - y_fit.sum())} other "
            "remain. Label more samples or lower --holdout."
        )
    old = model.trust or Trust(classes=tuple(classes), positive_class=positive_class)
    info = {
        "source": source or "DataFrame",
        "n_samples": int(len(fit_rows)),
        "class_counts": {positive_class: int(y_fit.sum()), "other": int(len(y_fit) - y_fit.sum())},
    }
    calibrator = fit_calibrator(raw_all[fit_rows, k], y_fit, "sigmoid", fitted_on=info)
    calibrated_fit = calibrator.apply(raw_all[fit_rows, k])
    if refit_threshold or old.operating_point is None:
        point = choose_threshold(calibrated_fit, y_fit)
    else:
        sens, spec = rates_at(calibrated_fit, y_fit, old.operating_point.threshold)
        point = replace(old.operating_point, sensitivity=sens, specificity=spec, n=len(y_fit))
    new = replace(old, calibrator=calibrator, operating_point=point)
    before = after = None
    if len(held_rows):
        before = _evaluate(old, raw_all[held_rows], y[held_rows], classes, positive_class)
        after = _evaluate(new, raw_all[held_rows], y[held_rows], classes, positive_class)
    record: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "table": source or "DataFrame",
        "label": str(labels.name),
        "group": group,
        "method": "sigmoid",
        "intercept": calibrator.intercept,
        "slope": calibrator.slope,
        "threshold": point.threshold,
        "threshold_refit": bool(refit_threshold or old.operating_point is None),
        "n_fit": int(len(fit_rows)),
        "class_counts_fit": info["class_counts"],
        "n_groups_fit": int(len(set(group_values[fit_rows]))) if group else None,
        "n_holdout": int(len(held_rows)),
        "n_groups_holdout": int(len(set(group_values[held_rows]))) if group else None,
        "holdout_fraction": holdout,
        "seed": seed,
        "n_unpredicted": int((~ok).sum()),
        "holdout_before": before,
        "holdout_after": after,
    }
    report = model.card.trust or TrustReport()
    report = replace(report, recalibrations=[*report.recalibrations, record])
    classwise = model.card.classwise
    if classwise is not None and classwise.threshold is not None:
        # the training cohort's decisions stay as they were; say that the threshold moved since
        classwise = replace(
            classwise,
            source=f"{classwise.source}, decided at the training threshold; the model was "
            f"since recalibrated on {info['source']} (threshold now {point.threshold:.3f})",
        )
    card = replace(model.card, trust=report, bundle=None, classwise=classwise)
    recalibrated = Model(model.pipeline, card=card, cv=model.cv, training=model.training, trust=new)
    return RecalibrationResult(
        model=recalibrated,
        n_fit=int(len(fit_rows)),
        n_holdout=int(len(held_rows)),
        before=before,
        after=after,
        record=record,
    )

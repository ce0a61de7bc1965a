"""Codec for :class:`xgboost.XGBClassifier`: the booster in XGBoost's own JSON format.

The same codec stores :class:`~mlmicro.model.forest_blend.BoostedForestClassifier`
(kind ``mlmicro.BoostedForestClassifier``), whose random forest lives in its
booster as extra trees.

The booster (trees, objective, base score, feature names) is saved with
``Booster.save_raw("json")``; the scikit-learn wrapper's parameters and its
number of classes are state attributes. On loading, the document is first
checked in Python (:func:`~mlmicro.model.persist.booster.check_booster_json`)
and only then parsed by XGBoost: XGBoost's own loaders are not safe on
crafted input (a truncated UBJSON booster crashes the process).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import xgboost
from xgboost import XGBClassifier

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.forest_blend import BoostedForestClassifier
from mlmicro.model.persist.booster import check_booster_json
from mlmicro.model.persist.simple import OUTPUT_CONFIG
from mlmicro.model.persist.state import Codec, State, check_declared, encode_value

__all__ = ["BOOSTING_CODECS", "BOOSTER_BLOB"]

KIND = "xgboost.XGBClassifier"
#: The boosted forest with a random forest's vote in its booster (same state).
BLEND_KIND = "mlmicro.BoostedForestClassifier"
_CLASSES: dict[str, type[XGBClassifier]] = {
    KIND: XGBClassifier,
    BLEND_KIND: BoostedForestClassifier,
}
#: Name of the booster in the state's blobs.
BOOSTER_BLOB = "booster.json"
_PRIVATE = ("_Booster", OUTPUT_CONFIG)


def xgb_to_state(model: XGBClassifier) -> State:
    """Return the state of a fitted XGBoost classifier.

    Raises
    ------
    ModelBundleError
        If it is not fitted, or holds parameters (callbacks, custom
        objectives) or attributes that cannot be stored as data.
    """
    if "_Booster" not in vars(model):
        raise ModelBundleError("XGBClassifier is not fitted; fit it before saving it.")
    check_declared(model, ("n_classes_",))
    extra = [n for n in vars(model) if n.startswith("_") and n not in _PRIVATE]
    if extra:
        raise ModelBundleError(
            f"XGBClassifier holds attribute {extra[0]!r}, which the model bundle format does "
            "not declare; install an xgboost release mlmicro supports."
        )
    arrays: dict = {}
    params = {
        k: encode_value(v, arrays, where=f"params.{k}")
        for k, v in model.get_params(deep=False).items()
    }
    attributes = {"n_classes_": encode_value(model.n_classes_, arrays, where="n_classes_")}
    if OUTPUT_CONFIG in vars(model):
        attributes[OUTPUT_CONFIG] = encode_value(
            vars(model)[OUTPUT_CONFIG], arrays, where=OUTPUT_CONFIG
        )
    booster = bytes(model.get_booster().save_raw(raw_format="json"))
    check_booster_json(booster)  # never write a booster that would be refused on loading
    return State(
        kind=BLEND_KIND if isinstance(model, BoostedForestClassifier) else KIND,
        params=params,
        attributes=attributes,
        arrays=arrays,
        blobs={BOOSTER_BLOB: booster},
    )


def xgb_from_state(state: State) -> XGBClassifier:
    """Rebuild an XGBoost classifier from its state.

    Raises
    ------
    ModelBundleError
        If the booster cannot be parsed or does not match the saved number
        of classes.
    """
    unknown = sorted(set(state.attributes) - {"n_classes_", OUTPUT_CONFIG})
    if unknown or set(state.blobs) != {BOOSTER_BLOB}:
        raise ModelBundleError(
            f"The {state.kind} state holds {unknown[0] if unknown else 'blobs'!r} that this "
            "mlmicro does not know; retrain the model with this version."
        )
    cls = _CLASSES.get(state.kind, XGBClassifier)
    try:
        model = cls(**state.decoded_params())
    except (TypeError, ValueError) as exc:
        raise ModelBundleError(
            f"XGBClassifier cannot be rebuilt from the bundle's parameters ({exc})."
        ) from None
    blob = state.blobs[BOOSTER_BLOB]
    summary = check_booster_json(blob)
    saved = state.value("n_classes_")
    if saved != summary.n_classes:
        raise ModelBundleError(
            f"The XGBoost booster in the bundle ({summary.objective}, {summary.n_classes} "
            f"classes) does not match the classifier's {saved!r} classes."
        )
    # the same booster settings XGBClassifier.load_model uses
    settings = {"n_jobs": model.n_jobs} if model.n_jobs is not None else {}
    booster = xgboost.Booster(settings)
    try:
        booster.load_model(bytearray(blob))
    except xgboost.core.XGBoostError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelBundleError(
            f"The XGBoost booster in the bundle cannot be read ({reason[:200]})."
        ) from None
    if booster.num_features() != summary.n_features:  # pragma: no cover - checked above
        raise ModelBundleError("The XGBoost booster in the bundle has another feature count.")
    model._Booster = booster  # what XGBClassifier.fit and load_model set
    model.n_classes_ = int(saved)
    if OUTPUT_CONFIG in state.attributes:
        setattr(model, OUTPUT_CONFIG, state.value(OUTPUT_CONFIG))
    return model


#: Codec of the ``"xgboost"`` classifier.
BOOSTING_CODECS: Mapping[type, Codec] = MappingProxyType(
    {
        XGBClassifier: Codec(KIND, xgb_to_state, xgb_from_state),
        BoostedForestClassifier: Codec(BLEND_KIND, xgb_to_state, xgb_from_state),
    }
)

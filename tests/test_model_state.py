"""Fitted pipelines as declared state (mlmicro.model.persist): round trips and refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mlmicro.config import PreprocessingConfig, TrainConfig
from mlmicro.datasets import load_default_cohort
from mlmicro.exceptions import ModelBundleError
from mlmicro.model.archive import array_to_npy, read_archive, write_archive
from mlmicro.model.estimators import balanced_sample_weight
from mlmicro.model.persist import (
    REGISTRY,
    State,
    decode_state,
    dump_pipeline,
    encode_state,
    from_state,
    load_pipeline,
    supported_kinds,
    to_state,
)
from mlmicro.model.pipeline import build_pipeline
from mlmicro.transforms import (
    ALR,
    CLR,
    ILR,
    Closure,
    LogTransform,
    PrevalenceFilter,
    RankCollapser,
    ZeroReplacement,
)
from mlmicro.transforms._functional import gram_schmidt_basis

MODELS = ("xgboost", "random-forest", "logistic-l1")
TRANSFORMS = ("relative", "log", "clr", "alr", "ilr")
SMALL = {
    "rank": "species",
    "xgboost": {"n_estimators": 4},
    "random_forest": {"n_estimators": 15},
}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


def through_bytes(obj):
    """State -> members (JSON text, .npy bytes, blobs) -> new JSON text -> object."""
    members = encode_state(to_state(obj))
    for name, data in list(members.items()):
        if name.endswith(".json"):  # re-serialise: nothing survives but the text
            members[name] = json.dumps(json.loads(data.decode("utf-8"))).encode("utf-8")
    return from_state(decode_state(members))


def arrays_of(obj, seen=None):
    """Every numpy array reachable from ``obj``'s attributes (steps and trees included)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    found = []
    values = []
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, list | tuple):
        values = list(obj)
    elif isinstance(obj, dict):
        values = list(obj.values())
    elif hasattr(obj, "__dict__"):
        values = list(vars(obj).values())
    if hasattr(obj, "tree_") and hasattr(obj.tree_, "__getstate__"):
        values.append(obj.tree_.__getstate__())
    for value in values:
        found.extend(arrays_of(value, seen))
    return found


def assert_same_state(a, b, where="model"):
    """Deep equality of two fitted components' attributes (arrays by value and dtype)."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_state(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, xgboost.Booster):
        assert a.save_raw("ubj") == b.save_raw("ubj"), where
    elif type(a).__module__.startswith("sklearn.tree._tree"):
        assert_same_state(a.__getstate__(), b.__getstate__(), f"{where}.tree_")
    elif hasattr(a, "get_params") or type(a).__module__.startswith("mlmicro"):
        assert vars(a).keys() == vars(b).keys(), where
        for k in vars(a):
            assert_same_state(vars(a)[k], vars(b)[k], f"{where}.{k}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


# ---------------------------------------------------------------------------
# every model type x every transform on the embedded cohort
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort():
    data = load_default_cohort()
    y = (data.metadata.loc[data.table.index, "diagnosis"] == "CD").to_numpy().astype(np.int64)
    return data.table, y


_FITTED: dict[tuple[str, str], Pipeline] = {}


def fitted(cohort, model: str, transform: str) -> Pipeline:
    if (model, transform) not in _FITTED:
        table, y = cohort
        config = TrainConfig(
            model=model, preprocessing=PreprocessingConfig(transform=transform), **SMALL
        )
        pipeline = build_pipeline(config, threads=1)
        params = (
            {"classifier__sample_weight": balanced_sample_weight(y)}
            if model != "logistic-l1"
            else {}
        )
        _FITTED[model, transform] = pipeline.fit(table, y, **params)
    return _FITTED[model, transform]


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("model", MODELS)
def test_every_pipeline_round_trips_exactly(cohort, model, transform, tmp_path):
    table, _ = cohort
    pipeline = fitted(cohort, model, transform)
    path = write_archive(tmp_path / "model.zip", dump_pipeline(pipeline))
    rebuilt = load_pipeline(read_archive(path))
    # identical arithmetic on identical state: exact equality, no tolerance needed
    assert np.array_equal(rebuilt.predict_proba(table), pipeline.predict_proba(table))
    assert [n for n, _ in rebuilt.steps] == [n for n, _ in pipeline.steps]
    assert list(rebuilt[:-1].get_feature_names_out()) == list(pipeline[:-1].get_feature_names_out())
    assert_same_state(pipeline, rebuilt)


@pytest.mark.parametrize("model", MODELS)
def test_state_rebuilt_from_json_text_keeps_no_object(cohort, model):
    table, _ = cohort
    pipeline = fitted(cohort, model, "clr")
    rebuilt = through_bytes(pipeline)
    assert np.array_equal(rebuilt.predict_proba(table), pipeline.predict_proba(table))
    new_arrays = arrays_of(rebuilt)
    old_arrays = arrays_of(pipeline)
    assert new_arrays and old_arrays
    assert not any(np.shares_memory(a, b) for a in new_arrays for b in old_arrays)


def test_in_memory_round_trip_and_state_shape(cohort):
    table, _ = cohort
    pipeline = fitted(cohort, "xgboost", "alr")
    state = to_state(pipeline)
    assert isinstance(state, State) and state.kind == "sklearn.Pipeline"
    assert list(state.children) == ["rank", "closure", "filter", "zeros", "transform", "classifier"]
    assert set(state.children["classifier"].blobs) == {"booster.json"}
    json.dumps([state.children[n].params for n in state.children])  # parameters are JSON
    json.dumps([state.children[n].attributes for n in state.children])
    assert np.array_equal(from_state(state).predict_proba(table), pipeline.predict_proba(table))


def test_shap_contributions_survive(cohort):
    table, _ = cohort
    pipeline = fitted(cohort, "xgboost", "relative")
    rebuilt = through_bytes(pipeline)
    features = pipeline[:-1].transform(table.iloc[:20])
    dm = xgboost.DMatrix(features)
    old = pipeline[-1].get_booster().predict(dm, pred_contribs=True)
    new = rebuilt[-1].get_booster().predict(dm, pred_contribs=True)
    assert np.array_equal(old, new)


# ---------------------------------------------------------------------------
# each transformer, with non-default settings, on synthetic data
# ---------------------------------------------------------------------------

TAXA = [
    "k__B|p__F|c__C|o__O|f__F|g__A|s__A_x",
    "k__B|p__F|c__C|o__O|f__F|g__A|s__A_y",
    "k__B|p__F|c__C|o__O|f__F|g__C|s__C_z",
    "k__B|p__F|c__C|o__O|f__G|g__D|s__D_w",
    "k__B|p__F|c__C|o__O|f__G|g__E|s__E_v",
]


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(7)
    values = rng.gamma(0.6, size=(30, len(TAXA))) * (rng.random((30, len(TAXA))) > 0.3)
    values[:, 0] += 0.5  # every sample non-empty
    return pd.DataFrame(values, index=[f"s{i}" for i in range(30)], columns=TAXA)


def positive(frame):
    return frame + 0.01


TRANSFORMERS = {
    "rank-genus": (lambda: RankCollapser(rank="genus"), lambda f: f),
    "rank-none": (lambda: RankCollapser(), lambda f: f),
    "closure": (Closure, lambda f: f),
    "filter": (lambda: PrevalenceFilter(min_prevalence=0.5, min_abundance=0.01), lambda f: f),
    "zeros-pseudocount": (lambda: ZeroReplacement(method="pseudocount"), lambda f: f),
    "zeros-multiplicative": (lambda: ZeroReplacement(delta=1e-4), lambda f: f),
    "log": (LogTransform, lambda f: f),
    "log-fixed": (lambda: LogTransform(pseudocount=0.5), lambda f: f),
    "clr": (CLR, positive),
    "alr-auto": (ALR, positive),
    "alr-named": (lambda: ALR(reference=TAXA[2]), positive),
    "alr-index": (lambda: ALR(reference=-1), positive),
    "ilr": (ILR, positive),
    "ilr-basis": (lambda: ILR(basis=gram_schmidt_basis(len(TAXA))[::-1].copy()), positive),
}


@pytest.mark.parametrize("name", list(TRANSFORMERS))
@pytest.mark.parametrize("output", ["default", "pandas"])
def test_every_transformer_round_trips(synthetic, name, output):
    make, prepare = TRANSFORMERS[name]
    data = prepare(synthetic)
    transformer = make()
    if output == "pandas":
        transformer.set_output(transform="pandas")
    transformer.fit(data)
    rebuilt = through_bytes(transformer)
    assert_same_state(transformer, rebuilt)
    before, after = transformer.transform(data), rebuilt.transform(data)
    assert type(before) is type(after)
    assert np.array_equal(np.asarray(before), np.asarray(after))
    assert list(transformer.get_feature_names_out()) == list(rebuilt.get_feature_names_out())
    if hasattr(transformer, "inverse_transform"):
        coords = np.asarray(before)
        assert np.array_equal(
            np.asarray(transformer.inverse_transform(coords)),
            np.asarray(rebuilt.inverse_transform(coords)),
        )


def test_every_mlmicro_transformer_is_registered():
    for cls in (ALR, CLR, ILR, Closure, LogTransform, PrevalenceFilter, RankCollapser):
        assert cls in REGISTRY
    assert ZeroReplacement in REGISTRY
    assert "xgboost.XGBClassifier" in supported_kinds()
    assert "sklearn.RandomForestClassifier" in supported_kinds()


# ---------------------------------------------------------------------------
# classifiers beyond the binary case
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_classes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 6))
    y = np.argmax(X[:, :3] + rng.normal(scale=0.5, size=(90, 3)), axis=1)
    return X, y


@pytest.mark.parametrize(
    "make",
    [
        lambda: xgboost.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1, random_state=0),
        lambda: RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0, n_jobs=1),
        lambda: RandomForestClassifier(
            n_estimators=30, oob_score=True, class_weight="balanced", random_state=0, n_jobs=1
        ),
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    ],
    ids=["xgboost", "forest", "forest-oob", "logistic"],
)
def test_multiclass_classifiers_round_trip(three_classes, make):
    X, y = three_classes
    model = make().fit(X, y)
    rebuilt = through_bytes(model)
    assert_same_state(model, rebuilt)
    assert np.array_equal(rebuilt.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(rebuilt.predict(X), model.predict(X))


def test_xgboost_fitted_on_a_frame_keeps_feature_names(three_classes):
    X, y = three_classes
    frame = pd.DataFrame(X, columns=[f"taxon_{i}" for i in range(X.shape[1])])
    model = xgboost.XGBClassifier(n_estimators=3, n_jobs=1).fit(frame, y)
    rebuilt = through_bytes(model)
    assert list(rebuilt.feature_names_in_) == list(frame.columns)
    assert np.array_equal(rebuilt.predict_proba(frame), model.predict_proba(frame))


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------


def test_unsupported_types_are_refused_by_name(three_classes):
    X, y = three_classes
    model = GradientBoostingClassifier(n_estimators=2).fit(X, y)
    with pytest.raises(ModelBundleError, match="GradientBoostingClassifier") as exc:
        to_state(make_pipeline(StandardScaler(), model).fit(X, y))
    one_line(exc)

    class MyCLR(CLR):
        pass

    with pytest.raises(ModelBundleError, match="MyCLR") as exc:
        to_state(MyCLR().fit(np.ones((2, 3))))
    one_line(exc)
    with pytest.raises(ModelBundleError, match="builtins.str"):
        to_state(Pipeline([("keep", "passthrough"), ("scale", StandardScaler())]))


def test_unfitted_and_undeclared_state_are_refused(synthetic):
    with pytest.raises(ModelBundleError, match="not fitted") as exc:
        to_state(CLR())
    one_line(exc)
    closure = Closure().fit(synthetic)
    closure.extra_ = np.ones(3)
    with pytest.raises(ModelBundleError, match="extra_") as exc:
        to_state(closure)
    one_line(exc)
    closure = Closure().fit(synthetic)
    closure._cache = {}
    with pytest.raises(ModelBundleError, match="_cache"):
        to_state(closure)


def test_values_that_are_code_are_refused(three_classes):
    X, y = three_classes
    model = xgboost.XGBClassifier(n_estimators=2, n_jobs=1, eval_metric=lambda a, b: 0.0)
    model.fit(X, y)
    with pytest.raises(ModelBundleError, match="function") as exc:
        to_state(model)
    one_line(exc)
    with pytest.raises(ModelBundleError, match="memory"):
        to_state(Pipeline([("scale", StandardScaler().fit(X))], memory="/tmp/cache"))


def _members(obj):
    return encode_state(to_state(obj))


def _edit_state(members, edit):
    document = json.loads(members["pipeline/state.json"])
    edit(document["root"])
    return {**members, "pipeline/state.json": json.dumps(document).encode()}


def test_malformed_states_are_refused(synthetic):
    members = _members(PrevalenceFilter(min_prevalence=0.5).fit(synthetic))

    def unknown_kind(root):
        root["kind"] = "builtins.eval"

    def unknown_param(root):
        root["params"]["exec"] = "print(1)"

    def unknown_attribute(root):
        root["attributes"]["hook_"] = 1

    def missing_attribute(root):
        del root["attributes"]["support_"]

    def bad_tag(root):
        root["attributes"]["n_features_in_"] = {"$object": "os.system"}

    def shared_member(root):
        root["arrays"]["support_"] = root["arrays"]["prevalence_"]

    cases = {
        unknown_kind: "builtins.eval",
        unknown_param: "exec",
        unknown_attribute: "hook_",
        missing_attribute: "support_",
        bad_tag: "cannot read",
        shared_member: "twice",
    }
    for edit, message in cases.items():
        with pytest.raises(ModelBundleError, match=message) as exc:
            load_pipeline(_edit_state(members, edit))
        one_line(exc)
    deep = b'{"format": "mlmicro-state", "root": ' + b"[" * 900 + b"]" * 900 + b"}"
    for text in (deep, b'{"format": ', b"\xff"):
        with pytest.raises(ModelBundleError, match="state.json") as exc:
            load_pipeline({**members, "pipeline/state.json": text})
        one_line(exc)


def test_members_must_match_the_state(synthetic):
    members = _members(Pipeline([("filter", PrevalenceFilter().fit(synthetic))]))
    array = "pipeline/arrays/model.filter.support_.npy"
    with pytest.raises(ModelBundleError, match="lacks"):
        load_pipeline({k: v for k, v in members.items() if k != array})
    with pytest.raises(ModelBundleError, match="does not refer"):
        load_pipeline({**members, "pipeline/arrays/model.extra.npy": array_to_npy(np.ones(2))})
    with pytest.raises(ModelBundleError, match="support_"):
        load_pipeline({**members, array: array_to_npy(np.ones(5))})  # support_ not boolean
    with pytest.raises(ModelBundleError, match="no pipeline/state.json"):
        load_pipeline({})
    with pytest.raises(ModelBundleError, match="not a pipeline"):
        load_pipeline(_members(Closure().fit(synthetic)))


def test_forest_with_crafted_nodes_is_refused(three_classes):
    X, y = three_classes
    forest = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0, n_jobs=1)
    state = to_state(forest.fit(X, y))

    def corrupted(field, change):
        arrays = {k: v.copy() for k, v in state.arrays.items()}
        change(arrays[field])
        return State(state.kind, state.params, state.attributes, arrays)

    def out_of_range(a):
        a[0] = 10_000

    def cycle(a):
        a[1] = 0

    def bad_feature(a):
        a[0] = 99

    cases = [
        ("nodes.children_left", out_of_range, "child index"),
        ("nodes.children_right", cycle, "child index"),
        ("nodes.feature", bad_feature, "feature"),
        ("nodes.threshold", lambda a: a.__setitem__(0, np.nan), "NaN"),
    ]
    for field, change, message in cases:
        with pytest.raises(ModelBundleError, match=message) as exc:
            from_state(corrupted(field, change))
        one_line(exc)
    arrays = {**state.arrays, "node_count": state.arrays["node_count"] + 1}
    with pytest.raises(ModelBundleError, match="entries"):
        from_state(State(state.kind, state.params, state.attributes, arrays))


def test_forest_node_fields_map_across_versions(three_classes):
    X, y = three_classes
    forest = RandomForestClassifier(n_estimators=3, random_state=0, n_jobs=1).fit(X, y)
    state = to_state(forest)
    # a bundle from a scikit-learn without missing-value routing still loads
    older = {k: v for k, v in state.arrays.items() if k != "nodes.missing_go_to_left"}
    rebuilt = from_state(State(state.kind, state.params, state.attributes, older))
    assert np.array_equal(rebuilt.predict_proba(X), forest.predict_proba(X))
    newer = {**state.arrays, "nodes.future_field": state.arrays["nodes.feature"]}
    with pytest.raises(ModelBundleError, match="future_field"):
        from_state(State(state.kind, state.params, state.attributes, newer))


def _booster_state(three_classes):
    X, y = three_classes
    return to_state(xgboost.XGBClassifier(n_estimators=2, max_depth=2, n_jobs=1).fit(X, y))


def _with_booster(state, blob):
    return State(state.kind, state.params, state.attributes, {}, {"booster.json": blob})


def test_booster_that_is_not_a_booster_is_refused(three_classes):
    import pickle

    state = _booster_state(three_classes)
    good = state.blobs["booster.json"]
    bad = [
        pickle.dumps({"a": 1}),
        b"",
        good[: len(good) // 2],  # truncated
        good.replace(b'"num_class":"3"', b'"num_class":"3","num_class":"3"'),
        good.replace(b'"gbtree"', b'"gblinear"'),
        good.replace(b"[", b"[NaN,", 1),
    ]
    for blob in bad:
        with pytest.raises(ModelBundleError, match="booster") as exc:
            from_state(_with_booster(state, blob))
        one_line(exc)
    wrong = {**state.attributes, "n_classes_": 2}
    with pytest.raises(ModelBundleError, match="does not match"):
        from_state(State(state.kind, state.params, wrong, {}, state.blobs))


@pytest.mark.parametrize(
    "field, change, message",
    [
        ("left_children", lambda v: [10_000, *v[1:]], "child index"),
        ("right_children", lambda v: [0, *v[1:]], "child index"),
        ("split_indices", lambda v: [99, *v[1:]], "feature"),
        ("split_conditions", lambda v: [1e999, *v[1:]], "infinite"),
        ("parents", lambda v: [0, *v[1:]], "parent"),
        ("base_weights", lambda v: v[:-1], "entries"),
        ("split_type", lambda v: [1, *v[1:]], "non-numerical"),
    ],
)
def test_booster_with_crafted_trees_is_refused(three_classes, field, change, message):
    state = _booster_state(three_classes)
    document = json.loads(state.blobs["booster.json"])
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    tree[field] = change(tree[field])
    blob = json.dumps(document).replace("Infinity", "1e999").encode()
    with pytest.raises(ModelBundleError, match=message) as exc:
        from_state(_with_booster(state, blob))
    one_line(exc)

"""Property tests: the canonical lineage form is idempotent in every style readers accept."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from mlmicro.taxonomy import (
    RANKS,
    canonical_lineage,
    display_name,
    is_lineage,
    rank_mapping,
    truncate_lineage,
)

_LETTERS = "kpcofgst"
_PLACEHOLDER = st.sampled_from(["", "unclassified", "Unclassified", "unassigned", "unidentified"])
_WORD = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8).filter(
    lambda w: w.lower() not in {"unclassified", "unassigned", "unidentified", "unknown"}
)
_NAME = st.one_of(
    _WORD,
    st.builds(lambda a, b: f"{a.capitalize()} {b.lower()}", _WORD, _WORD),  # a binomial
    st.builds(lambda a, b: f"{a}_{b}", _WORD, _WORD),
    st.builds(lambda a: f"[{a}]", _WORD),  # Greengenes brackets
    st.builds(lambda a: f"{a}_unclassified", _WORD),  # MetaPhlAn 2
    _PLACEHOLDER,
)


@st.composite
def lineages(draw) -> str:
    """Lineages as MetaPhlAn, QIIME, SILVA and GTDB write them: padded, truncated, gapped."""
    depth = draw(st.integers(1, 8))
    names = [draw(_NAME) for _ in range(depth)]
    style = draw(st.sampled_from(["metaphlan", "qiime", "qiime-space", "silva", "gtdb"]))
    if style == "silva":
        tokens = [f"D_{i}__{n}" for i, n in enumerate(names)]
    else:
        tokens = [f"{_LETTERS[i]}__{n}" for i, n in enumerate(names)]
        if style == "gtdb":
            tokens[0] = "d" + tokens[0][1:]
    padding = draw(st.integers(0, 8 - depth))  # QIIME pads to 7 ranks with empty prefixes
    tokens += [f"{_LETTERS[depth + i]}__" for i in range(padding)]
    separator = {"metaphlan": "|", "qiime": ";", "qiime-space": "; "}.get(style, ";")
    text = separator.join(tokens)
    if draw(st.booleans()):
        text = f"  {text} "
    return text


@settings(max_examples=400, deadline=None)
@given(lineages())
def test_canonical_form_is_idempotent(text):
    once = canonical_lineage(text)
    assert canonical_lineage(once) == once


@settings(max_examples=300, deadline=None)
@given(lineages(), st.sampled_from(RANKS))
def test_fitted_features_map_onto_themselves(text, rank):
    """A model's features (lineages truncated or padded to its rank) are canonical already."""
    lineage = canonical_lineage(text)
    if not is_lineage(lineage):
        return
    feature = truncate_lineage(lineage, rank)
    assert canonical_lineage(feature) == feature
    assert rank_mapping([feature], rank) == [feature]


@settings(max_examples=300, deadline=None)
@given(lineages())
def test_inner_empty_ranks_never_drop_a_named_deeper_rank(text):
    lineage = canonical_lineage(text)
    if not is_lineage(lineage):
        return
    tokens = lineage.split("|")
    assert all(len(t) > 3 for t in tokens), "no empty rank is left in the canonical form"
    assert not tokens[-1].endswith("__"), lineage
    # display names never read as 'unclassified X' when the deepest rank is named
    deepest = tokens[-1][3:]
    if deepest != "unclassified" and not deepest.endswith("_unclassified"):
        assert not display_name(lineage).startswith("unclassified")


def test_known_cases():
    assert (
        canonical_lineage("k__B|o__Clostridiales|f__|g__|s__Clostridiales_bacterium_1_7_47FAA")
        == "k__B|o__Clostridiales|f__unclassified|g__unclassified|"
        "s__Clostridiales_bacterium_1_7_47FAA"
    )
    assert canonical_lineage("k__B; p__F; g__Bifidobacterium; s__unclassified") == (
        "k__B|p__F|g__Bifidobacterium|s__unclassified"
    )
    assert canonical_lineage("k__B;p__F;c__;o__;f__") == "k__B|p__F"
    assert canonical_lineage("k__B; p__F; g__Unassigned; s__x") == "k__B|p__F|g__unclassified|s__x"
    distinct = {
        canonical_lineage(f"k__B|o__Clostridiales|f__|g__|s__Clostridiales_bacterium_{n}")
        for n in ("1_7_47FAA", "VE202_09")
    }
    assert len(distinct) == 2  # two species stay two features

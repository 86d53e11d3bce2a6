"""Fuzzing the policy loader (issue 9), bounded for CI.

tests/test_policy.py already turns single values into wrong types or negatives; this
adds structural damage: keys added, removed or replaced anywhere in a pack by values of
any TOML type (tables and arrays included), and random `extends` graphs between packs.
Promise: `library_from_dicts` returns a library or raises PolicyError naming a file of
the library, never any other exception.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest.errors import PolicyError
from meanstest.policy import library_from_dicts

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
PACKS = Path(__file__).parents[1] / "meanstest" / "policies"
RAW = {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(PACKS.glob("*.toml"))}
SCALARS = st.one_of(
    st.integers(-(1 << 70), 1 << 70), st.floats(allow_nan=True), st.text(max_size=8),
    st.booleans(), st.dates(), st.datetimes(), st.sampled_from(["150422-2024", "V01", "DIBAO"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc, prefix=()):
    for k, v in doc.items():
        yield (*prefix, k)
        if isinstance(v, dict):
            yield from _paths(v, (*prefix, k))


@st.composite
def damaged(draw):
    raws = copy.deepcopy(RAW)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(raws)))
        path = draw(st.sampled_from(list(_paths(raws[name]))))
        *parents, key = path
        node = raws[name]
        for p in parents:
            node = node[p]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            node[key] = draw(VALUES)
        elif action == "delete":
            del node[key]
        else:
            node[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    return raws


def _check(raws) -> None:
    try:
        library_from_dicts(raws, "lib")
    except PolicyError as e:
        assert e.file in raws or e.file == "lib", e.message
        assert "\n" not in e.message


@SETTINGS
@given(damaged())
def test_structural_damage_is_a_policy_error(raws):
    _check(raws)


@SETTINGS
@given(st.lists(st.integers(-1, 7), min_size=1, max_size=8))
def test_any_extends_graph(parents):
    """Pack i extends pack parents[i] (-1: the packaged county pack): chains, forks,
    cycles, self-references and missing parents (indexes past the end)."""
    raws = copy.deepcopy(RAW)
    for i, p in enumerate(parents):
        parent = "150422-2024" if p < 0 else f"g{p}"
        raws[f"g{i}.toml"] = {
            "policy": {"id": f"g{i}", "jurisdiction": "150422", "name": f"g{i}",
                       "effective_from": dt.date(2030, 1, 1) + dt.timedelta(days=i),
                       "extends": parent},
            "standards": {"dibao_urban": 1000 + i},
        }  # fmt: skip
    _check(raws)

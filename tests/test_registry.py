"""The veto and parameter registries (kernels/registry.py, issue 14 item 5): each fact
written once, everything else derived from it or checked against it here.

Derived (so nothing to check beyond their use): schema.VETO_CODES, fast's evidence
tables, labels.VETO / VETO_RULE / PARAMETER, the reference's VETO_PARAMETERS, the
validator's schema, pack_params, the kernels' parameter slots and N_VETOES. Checked:
what is written by hand — the kernels' veto constants, the readable reference and its
tests, the evidence each rule writes, the default pack, docs/registry.md and the
findings contract of docs/engine.md."""

from __future__ import annotations

import ast
import re
import string
import tomllib
from pathlib import Path

import numpy as np
import pytest
from meanstest.kernels import layout as L
from meanstest.kernels import veto as kernel_veto

from meanstest import labels, registry, schema, synth
from meanstest.assemble import pack_params
from meanstest.errors import PolicyError
from meanstest.policy import default_library
from meanstest.policy.load import library_from_dicts
from meanstest.reference import veto as reference_veto

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PACK = ROOT / "meanstest" / "policies" / "150422-2024.toml"
TESTS = Path(__file__).resolve().parent


def _default() -> dict:
    return tomllib.loads(DEFAULT_PACK.read_text("utf-8"))


# Vetoes ---------------------------------------------------------------------------------


def test_veto_codes_are_numbered_in_bit_order():
    """Bit v of a veto mask (and of veto.enabled's packed cell) is V(v+1): code order is
    registry order, and RULES.md §6 lists them in that order."""
    assert registry.VETO_CODES == tuple(f"V{i:02d}" for i in range(1, len(registry.VETOES) + 1))
    assert schema.VETO_CODES == registry.VETO_CODES
    assert L.N_VETOES == len(registry.VETOES)
    assert all(v.section == "§6" and v.evidence in registry.EVIDENCE_KINDS for v in registry.VETOES)
    assert {v.source for v in registry.VETOES} <= set(schema.TABLES)


def test_kernel_veto_constants_are_the_registry_bits():
    """kernels/veto.py names each rule's bit (V01 … Vnn): one for every registry veto,
    none that the registry lacks."""
    named = {n for n in dir(kernel_veto) if re.fullmatch(r"V\d\d", n)}
    assert named == set(registry.VETO_CODES)
    for code, bit in registry.VETO_BIT.items():
        assert getattr(kernel_veto, code) == bit, code


def test_record_instance_bits_hold_every_veto_and_the_by_value_bit():
    """The kernels keep a record instance's veto bits in an int16 (kernels/driver.py)
    with V01's by-value bit after the vetoes, below the sign bit: 14 vetoes fit. A 15th
    needs int32 instance bits first (docs/registry.md "How to add a veto")."""
    assert L.V01_BY_VALUE == L.N_VETOES <= 14


def test_every_veto_has_a_rule_test_and_a_case():
    """A veto in the registry is exercised by tests/test_rules_s6_veto.py (a test named
    test_vNN_…, run by both engines) and reached by a shipped case file."""
    tree = ast.parse((TESTS / "test_rules_s6_veto.py").read_text("utf-8"))
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    cases = "\n".join(p.read_text("utf-8") for p in (TESTS / "cases").glob("*.toml"))
    for code in registry.VETO_CODES:
        assert any(n.startswith(f"test_{code.lower()}_") for n in names), code
        assert f'"{code}"' in cases, code


def test_veto_parameters_are_pack_parameters_and_name_every_placeholder():
    """A rule's parameters are keys of [veto]; its rule text (explain, report legend)
    names only those, so the trace carries every value the text writes in."""
    veto_keys = {p.key for p in registry.PARAMS if p.section == "veto"}
    for v in registry.VETOES:
        assert set(v.params) <= veto_keys, v.code
        for text in (v.rule_zh, v.rule_en):
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert fields <= set(v.params), (v.code, fields - set(v.params))
        assert labels.VETO[v.code] == (v.zh, v.en)
        assert reference_veto.VETO_PARAMETERS[v.code] == v.params


def test_the_reference_reads_only_parameters_the_registry_lists():
    """Every [veto] key the readable §6 code reads is one a rule lists (or a §8
    tolerance), so no rule reads a threshold its trace and its explain text leave out."""
    source = Path(reference_veto.__file__).read_text("utf-8")
    body = source[source.index("def vetoes(") : source.index("def undeclared_findings(")]
    read = set(re.findall(r'veto\["(\w+)"\]', body)) - {"enabled"}
    listed = {p for v in registry.VETOES for p in v.params}
    assert read == listed


@pytest.fixture(scope="module")
def findings():
    from meanstest.pipeline import assess

    return assess(synth.generate(600, 13)).findings.to_pylist()


def test_every_veto_writes_the_evidence_its_registry_entry_says(findings):
    """RULES.md §6 / docs/engine.md: source is the registry's table; person and record
    as its evidence kind says (record: both; aggregate and household: neither; member:
    a person, no record; record_by_value: both or neither). The synthetic district
    triggers every veto its pack enables (a veto the default pack leaves off is checked
    by its rule test)."""
    seen = set()
    for f in findings:
        v = registry.VETO_BY_CODE.get(f["code"])
        if v is None:
            continue
        seen.add(v.code)
        person, record = f["person_id"] is not None, f["record_id"] is not None
        assert f["source"] == v.source and f["severity"] == "veto", f
        expected = {
            "record": {(True, True)},
            "record_by_value": {(True, True), (False, False)},
            "aggregate": {(False, False)},
            "household": {(False, False)},
            "member": {(True, False)},
        }[v.evidence]
        assert (person, record) in expected, f
    assert seen >= set(_default()["veto"]["enabled"])


def test_engine_md_states_the_evidence_of_every_veto():
    """docs/engine.md's findings table has one row per registry veto, with its source."""
    text = (ROOT / "docs" / "engine.md").read_text("utf-8")
    rows = {
        m[1]: [c.strip() for c in m[2].split("|")]
        for m in re.finditer(r"^\| (V\d\d) \|(.*)\|$", text, re.MULTILINE)
    }
    assert set(rows) == set(registry.VETO_CODES)
    for v in registry.VETOES:
        assert rows[v.code][1] == v.source, v.code


# Parameters -----------------------------------------------------------------------------


def test_parameters_are_the_default_packs_keys_in_its_order():
    """POLICY.md's default pack (packaged byte for byte) and the registry list the same
    keys in the same order; keys are unique over sections (labels are keyed by them)."""
    raw = _default()
    in_pack = [(s, k) for s, t in raw.items() if s not in ("policy", "programs") for k in t]
    assert in_pack == [(p.section, p.key) for p in registry.PARAMS]
    assert len({p.key for p in registry.PARAMS}) == len(registry.PARAMS)
    assert tuple(dict.fromkeys(s for s, _ in in_pack)) == registry.SECTIONS


def test_parameter_records_are_well_formed():
    for p in registry.PARAMS:
        assert p.shape in registry.SHAPES and p.unit in registry.UNITS, p
        assert (p.check in registry.CHECKS) == (p.shape != "names"), p
        assert (p.enum != "") == (p.shape in ("names", "map")), p
        if p.enum:
            assert isinstance(getattr(schema, p.enum), tuple), p
        assert labels.PARAMETER[p.key] == (p.zh, p.en, p.unit)


def test_packed_row_cells_hold_the_pack_values_at_the_kernel_slots():
    """layout's P_* slots are derived from registry order: the packed row of the default
    pack has each parameter's value where the kernels read it."""
    raw = _default()
    row = pack_params(raw)
    assert len(row) == L.N_PARAMS == len(L.PARAM_NAMES)
    at = 0
    for p in registry.PARAMS:
        value = raw[p.section][p.key]
        n = len(L.cells(p))
        cells = row[at : at + n].tolist()
        if p.shape == "int":
            assert cells == [value]
        elif p.shape == "names":
            enum = getattr(schema, p.enum)
            assert cells == [sum(1 << enum.index(x) for x in value)]
        elif p.shape == "map":
            assert cells == [value.get(k, 0) for k in getattr(schema, p.enum)]
        else:
            assert cells == list(np.ravel(value))
        at += n
    assert at == L.N_PARAMS
    firsts = {L.PARAM_NAMES.index(L.cells(p)[0]) for p in registry.PARAMS}
    slots = {n: getattr(L, n) for n in dir(L) if n.startswith("P_")}
    assert set(slots.values()) <= firsts
    assert slots["P_VETO_ENABLED"] == L.PARAM_NAMES.index("veto.enabled")


@pytest.mark.parametrize("p", registry.PARAMS, ids=lambda p: p.path)
def test_every_parameter_is_required_and_checked(p):
    """POLICY.md "Inheritance": a missing key and a wrong type are errors naming it."""
    raw = _default()
    del raw[p.section][p.key]
    with pytest.raises(PolicyError, match=re.escape(f"{p.path}: missing key")):
        library_from_dicts({"x.toml": raw})
    raw[p.section][p.key] = "text"
    with pytest.raises(PolicyError, match=re.escape(f"{p.path}: wrong type")):
        library_from_dicts({"x.toml": raw})


def test_every_packaged_pack_packs():
    for pack in default_library().packs:
        assert pack_params(pack.params).shape == (L.N_PARAMS,)


# Docs -----------------------------------------------------------------------------------


def test_docs_registry_md_is_generated_from_the_registry():
    """docs/registry.md's tables are `python -m meanstest.registry`'s output."""
    text = (ROOT / "docs" / "registry.md").read_text("utf-8")
    start = text.index(registry.BEGIN)
    end = text.index(registry.END) + len(registry.END) + 1
    assert text[start:end] == registry.markdown(), "run: python -m meanstest.registry"

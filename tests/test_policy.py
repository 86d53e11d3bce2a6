"""Policy packs (POLICY.md): strict loader, inheritance, selection, digest.

Each test names the POLICY.md section it checks. Broken libraries: the structural
ones (syntax, parents, cycles, duplicates) are folders under
tests/fixtures/policies/broken/; the value errors are one-line edits of the default
pack written to a temporary library, one case per loader error.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
import tomllib
from pathlib import Path

import builders
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest.errors import MeansTestError, PolicyError
from meanstest.policy import (
    Policy,
    PolicyLibrary,
    default_library,
    digest_of,
    library_from_dicts,
    load_library,
)

FIXTURES = Path(__file__).parent / "fixtures" / "policies"
PACKAGED = Path(__file__).parent.parent / "meanstest" / "policies"
DEFAULT_PACK = PACKAGED / "150422-2024.toml"
SHARED_EXAMPLE = builders.EXAMPLE / "policies" / "150422-2024.toml"
EXAMPLE_DIGEST = "88c842d8e1ef0f1f306faa52a1b728c39e768f7f1b1e9a2962a455dead927deb"
DEFAULT_TEXT = DEFAULT_PACK.read_text(encoding="utf-8")


def write_library(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def edited(old: str, new: str, text: str = DEFAULT_TEXT) -> str:
    """The default pack with one edit; "^" prepends, "$" appends."""
    if old == "^":
        return new + text
    if old == "$":
        return text + new
    assert old in text, f"fixture edit does not apply: {old!r}"
    return text.replace(old, new, 1)


def load_one(tmp_path: Path, text: str) -> PolicyLibrary:
    return load_library(write_library(tmp_path / "lib", {"pack.toml": text}))


# ------------------------------------------------------- "Inheritance": errors ----

# (case, old text, new text, key named, problem fragment) — one per loader error.
VALUE_CASES = [
    # unknown / missing keys and sections (a typo must not pass silently)
    ("unknown_key", "land_ratio = 600", "land_rato = 600", "imputation.land_rato", "unknown key"),
    (
        "unknown_section",
        "$",
        "\n[standard]\nx = 1\n",
        "standard",
        "unknown section (did you mean 'standards'?)",  # not extends' hint: a sweep
    ),
    ("extends_outside_policy", "^", 'extends = "x"\n', "extends", "belongs in the [policy]"),
    ("missing_key", "work_months = 8 ", "", "imputation.work_months", "missing key"),
    ("missing_section", "[phaseout]\nmonths = 6", "", "phaseout", "missing section"),
    # wrong types (a boolean is not an integer)
    (
        "float_for_int",
        "land_ratio = 600",
        "land_ratio = 0.6",
        "imputation.land_ratio",
        "wrong type",
    ),
    ("bool_for_int", "max_vehicles = 1", "max_vehicles = true", "veto.max_vehicles", "wrong type"),
    (
        "string_for_int",
        "dibao_urban = 78000",
        'dibao_urban = "78000"',
        "standards.dibao_urban",
        "wrong type",
    ),
    (
        "table_for_array",
        'vehicle_types = ["car", "truck"]',
        "vehicle_types = { car = 1 }",
        "veto.vehicle_types",
        "wrong type",
    ),
    (
        "int_in_name_list",
        'vehicle_types = ["car", "truck"]',
        'vehicle_types = ["car", 2]',
        "veto.vehicle_types[1]",
        "wrong type",
    ),
    (
        "section_not_table",
        [("[phaseout]\nmonths = 6", ""), ("^", "phaseout = 6\n")],
        None,
        "phaseout",
        "wrong type",
    ),
    (
        "int64_overflow",
        "vehicle_value_limit = 5000000",
        "vehicle_value_limit = 99999999999999999999",
        "veto.vehicle_value_limit",
        "64-bit",
    ),
    # negative numbers
    ("negative", "dibao_rural = 57000", "dibao_rural = -1", "standards.dibao_rural", "negative"),
    (  # 15 digits are grouped: the messages mask a run of 15 as a resident ID
        "negative_of_15_digits",
        "dibao_rural = 57000",
        "dibao_rural = -100000000000000",
        "standards.dibao_rural",
        "negative number -100,000,000,000,000;",
    ),
    (
        "negative_in_array",
        "health_points = [0, 30,",
        "health_points = [0, -30,",
        "index.health_points[1]",
        "negative",
    ),
    (
        "negative_in_map",
        "student_points = { senior = 30,",
        "student_points = { senior = -30,",
        "index.student_points.senior",
        "negative",
    ),
    # shares above 1000
    (
        "share_land_ratio",
        "land_ratio = 600",
        "land_ratio = 1001",
        "imputation.land_ratio",
        "above 1000",
    ),
    ("share_cap_ratio", "cap_ratio = 500", "cap_ratio = 1001", "support.cap_ratio", "above 1000"),
    (
        "share_elevated_bonus",
        "elevated_bonus = 50",
        "elevated_bonus = 1001",
        "support.elevated_bonus",
        "above 1000",
    ),
    (
        "share_sector_ratio",
        "public = 100,",
        "public = 1001,",
        "support.sector_ratio.public",
        "above 1000",
    ),
    (
        "share_labour_coefficient",
        "[1000, 900,",
        "[1001, 900,",
        "imputation.labour_coefficient[0][0]",
        "above 1000",
    ),
    ("share_addon", "elderly_70 = 100", "elderly_70 = 1001", "addons.elderly_70", "above 1000"),
    (
        "share_declaration_tolerance",
        "declaration_tolerance_ratio = 100",
        "declaration_tolerance_ratio = 1001",
        "veto.declaration_tolerance_ratio",
        "above 1000",
    ),
    (
        "share_refused_work",
        "refused_work_min_coefficient = 500",
        "refused_work_min_coefficient = 1001",
        "veto.refused_work_min_coefficient",
        "above 1000",
    ),
    # ratios of the dibao standard
    (
        "low_income_ratio_below_1000",
        "low_income_ratio = 1500",
        "low_income_ratio = 999",
        "standards.low_income_ratio",
        "below 1000",
    ),
    (
        "tekun_ratio_below_1000",
        "tekun_ratio = 1300",
        "tekun_ratio = 999",
        "standards.tekun_ratio",
        "below 1000",
    ),
    (
        "circle4_below_circle3",
        "circle4_ratio = 2000",
        "circle4_ratio = 1499",
        "circles.circle4_ratio",
        "below circle3_ratio",
    ),
    ("phaseout_12_months", "months = 6 ", "months = 12 ", "phaseout.months", "not below 12"),
    # repeated entries
    ("repeated_veto_code", '"V01","V02"', '"V01","V01"', "veto.enabled[1]", "repeated entry"),
    (
        "repeated_vehicle_type",
        '["car", "truck"]',
        '["car", "car"]',
        "veto.vehicle_types[1]",
        "repeated entry",
    ),
    (
        "repeated_student_level",
        '["senior", "vocational", "college"]',
        '["senior", "college", "college"]',
        "imputation.student_levels_without_labour[2]",
        "repeated entry",
    ),
    (
        "repeated_transfer",
        '["pension_benefit", "unemployment_benefit", "injury_benefit"]',
        '["pension_benefit", "pension_benefit"]',
        "imputation.counted_transfers[1]",
        "repeated entry",
    ),
    (
        "repeated_status",
        'statuses = ["TEKUN", "DIBAO", "DIBAO_SINGLE", "LOW_INCOME"]',
        'statuses = ["TEKUN", "TEKUN"]',
        "programs.housing_assistance.statuses[1]",
        "repeated entry",
    ),
    # shapes
    # the names quoted: a missing sector called `none` must not read as "nothing missing"
    (
        "sector_missing",
        ", none = 50 }",
        " }",
        "support.sector_ratio",
        "(missing: 'none'; unknown: -)",
    ),
    (
        "sector_unknown",
        "none = 50 }",
        "none = 50, army = 100 }",
        "support.sector_ratio",
        "exactly the 6 sectors (missing: -; unknown: 'army')",
    ),
    (
        "statuses_not_an_array",
        'statuses = ["TEKUN", "DIBAO", "DIBAO_SINGLE", "LOW_INCOME"]',
        'statuses = "DIBAO"',
        "programs.housing_assistance.statuses",
        "valid: an array of statuses (TEKUN,",
    ),
    (
        "age_bands_three",
        "age_bands = [40, 50, 55, 60]",
        "age_bands = [40, 50, 55]",
        "imputation.age_bands",
        "4 strictly increasing",
    ),
    (
        "age_bands_not_increasing",
        "age_bands = [40, 50, 55, 60]",
        "age_bands = [40, 50, 50, 60]",
        "imputation.age_bands[2]",
        "does not exceed",
    ),
    (
        "labour_five_rows",
        "  [   0,   0,   0,   0, 0],\n]",
        "]",
        "imputation.labour_coefficient",
        "6 rows",
    ),
    (
        "labour_short_row",
        "[ 800, 700, 500, 300, 0]",
        "[ 800, 700, 500, 300]",
        "imputation.labour_coefficient[1]",
        "exactly 5",
    ),
    (
        "health_points_five",
        "health_points = [0, 30, 40, 50, 80, 80]",
        "health_points = [0, 30, 40, 50, 80]",
        "index.health_points",
        "exactly 6",
    ),
    # programs
    (
        "program_unknown_status",
        'statuses = ["DIBAO", "DIBAO_SINGLE", "PHASE_OUT", "LOW_INCOME"]\nrequires = "work_capable"',
        'statuses = ["DIBAO", "VETOED"]\nrequires = "work_capable"',
        "programs.employment_assistance.statuses[1]",
        "unknown status",
    ),
    (
        "program_unknown_requires",
        'requires = "elderly"',
        'requires = "old"',
        "programs.elderly_subsidy.requires",
        "unknown requires",
    ),
    (
        "program_bad_name",
        "[programs.elderly_subsidy]",
        "[programs.Elderly-Subsidy]",
        "programs.Elderly-Subsidy",
        "lower-case",
    ),
    (
        "program_extra_key",
        'requires = "elderly"',
        'requires = "elderly"\nnote = "x"',
        "programs.elderly_subsidy.note",
        "unknown program key",
    ),
    (
        "program_missing_requires",
        'requires = "elderly"',
        "",
        "programs.elderly_subsidy.requires",
        "missing program key",
    ),
    (
        "program_statuses_string",
        'statuses = ["TEKUN", "DIBAO", "DIBAO_SINGLE", "LOW_INCOME"]',
        'statuses = "TEKUN"',
        "programs.housing_assistance.statuses",
        "wrong type",
    ),
    (
        "program_requires_array",
        'requires = "elderly"',
        'requires = ["elderly"]',
        "programs.elderly_subsidy.requires",
        "wrong type",
    ),
    # enums
    ("unknown_veto_code", '"V14"]', '"V15"]', "veto.enabled[13]", "unknown veto code"),
    (
        "unknown_vehicle_type",
        '["car", "truck"]',
        '["car", "bus"]',
        "veto.vehicle_types[1]",
        "unknown vehicle type",
    ),
    (
        "unknown_student_level",
        '["senior", "vocational", "college"]',
        '["senior", "phd"]',
        "imputation.student_levels_without_labour[1]",
        "unknown student level",
    ),
    (
        "unknown_tuition_level",
        "tuition_cap = { senior",
        "tuition_cap = { phd = 1, senior",
        "deductions.tuition_cap.phd",
        "unknown student level",
    ),
    (
        "unknown_student_points_level",
        "student_points = { senior",
        "student_points = { master = 1, senior",
        "index.student_points.master",
        "unknown student level",
    ),
    (
        "unknown_transfer_type",
        '"injury_benefit"]',
        '"pension_contribution"]',
        "imputation.counted_transfers[2]",
        "unknown transfer type",
    ),
    # the [policy] table
    ("no_policy_table", "[policy]\n", "[meta]\n", "policy", "missing table [policy]"),
    (
        "policy_unknown_key",
        'name = "巴林左旗 2024"',
        'name = "巴林左旗 2024"\nversion = 2',
        "policy.version",
        "unknown key",
    ),
    ("policy_missing_name", 'name = "巴林左旗 2024"\n', "", "policy.name", "missing key"),
    ("policy_empty_id", 'id = "150422-2024"', 'id = " "', "policy.id", "non-empty string"),
    (
        "policy_name_not_string",
        'name = "巴林左旗 2024"',
        "name = 2024",
        "policy.name",
        "non-empty string",
    ),
    (
        "policy_extends_empty",
        '# extends = "150400-2024"',
        'extends = ""',
        "policy.extends",
        "non-empty string",
    ),
    (
        "jurisdiction_five_digits",
        'jurisdiction = "150422"',
        'jurisdiction = "15042"',
        "policy.jurisdiction",
        "'15042'; valid: a string of 6 digits",  # not "wrong type": the type is right
    ),
    (
        "policy_id_control_character",  # a newline in policy_id split one-line displays
        'id = "150422-2024"',
        'id = "150422\\n2024"',
        "policy.id",
        "holds a control character",
    ),
    (
        "policy_name_control_character",
        'name = "巴林左旗 2024"',
        'name = "巴林左旗\\u00002024"',
        "policy.name",
        "holds a control character",
    ),
    (
        "jurisdiction_integer",
        'jurisdiction = "150422"',
        "jurisdiction = 150422",
        "policy.jurisdiction",
        "6 digits",
    ),
    (
        "effective_from_string",
        "effective_from = 2024-01-01",
        'effective_from = "2024-01-01"',
        "policy.effective_from",
        "TOML date",
    ),
    (
        "effective_from_datetime",
        "effective_from = 2024-01-01",
        "effective_from = 2024-01-01T08:00:00",
        "policy.effective_from",
        "TOML date",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [pytest.param(*c[1:], id=c[0]) for c in VALUE_CASES],
)
def test_each_value_error_names_file_key_and_problem(tmp_path, old, new, key, fragment):
    """POLICY.md "Inheritance": errors name the file, the key and the problem."""
    text = DEFAULT_TEXT
    for o, n in old if isinstance(old, list) else [(old, new)]:
        text = edited(o, n, text)
    with pytest.raises(PolicyError) as info:
        load_one(tmp_path, text)
    err = info.value
    assert Path(err.file).name == "pack.toml"
    assert err.key == key, err.problem
    assert fragment in err.problem
    assert "valid" in err.problem or "required" in err.problem, err.problem
    assert str(err) == f"{err.file}: {key}: {err.problem}"


# (fixture folder, file named, key, problem fragment)
STRUCTURE_CASES = [
    ("syntax", "bad.toml", "(syntax)", "invalid TOML"),
    ("missing_parent", "a.toml", "policy.extends", "missing parent"),
    ("cycle", "b.toml", "policy.extends", "cycle: a -> b -> a"),
    ("self_cycle", "a.toml", "policy.extends", "cycle: a -> a"),
    ("duplicate_id", "b.toml", "policy.id", "duplicate id 'same'"),
    ("duplicate_date", "b.toml", "policy.effective_from", "already has a pack effective from"),
]


@pytest.mark.parametrize(("case", "file", "key", "fragment"), STRUCTURE_CASES)
def test_each_library_error_names_file_key_and_problem(case, file, key, fragment):
    """POLICY.md "Inheritance": missing parent, cycle, duplicate id, duplicate date."""
    with pytest.raises(PolicyError) as info:
        load_library(FIXTURES / "broken" / case)
    assert Path(info.value.file).name == file
    assert info.value.key == key
    assert fragment in info.value.problem


def test_syntax_error_carries_tomllib_position():
    """POLICY.md: packs are read by tomllib; its message (line, column) is kept."""
    with pytest.raises(PolicyError) as info:
        load_library(FIXTURES / "broken" / "syntax")
    assert "line 9" in info.value.problem


def test_empty_folder_and_missing_folder_are_errors(tmp_path):
    """POLICY.md: a library is a folder of packs; an empty one selects nothing, so reject."""
    with pytest.raises(PolicyError, match="no \\*.toml policy packs"):
        load_library(tmp_path)
    with pytest.raises(PolicyError, match="not a folder"):
        load_library(tmp_path / "absent")


def test_packs_in_a_subfolder_are_not_read_and_that_is_said(tmp_path, capsys):
    """A policy author's blind test put a county pack in `county/`: it was not read, and
    its households were assessed by the prefecture's pack without a word. A library is
    its folder's own packs (POLICY.md, "a folder of packs"); a subfolder holding packs is
    now named on stderr, and one holding none is not."""
    (tmp_path / "pack.toml").write_text(DEFAULT_TEXT, encoding="utf-8")
    (tmp_path / "county" / "old").mkdir(parents=True)
    (tmp_path / "county" / "a.toml").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "county" / "old" / "b.toml").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("", encoding="utf-8")
    (tmp_path / ".git").mkdir()  # a hidden folder is no misplaced pack
    (tmp_path / ".git" / "c.toml").write_text("x = 1\n", encoding="utf-8")
    library = load_library(tmp_path)
    assert [p.id for p in library.packs] == ["150422-2024"]
    err = capsys.readouterr().err
    assert f"policy library {tmp_path}: county/ holds 2 *.toml file(s), not read" in err
    assert "notes/" not in err and ".git/" not in err


def test_not_utf8_is_an_error(tmp_path):
    (tmp_path / "pack.toml").write_bytes(DEFAULT_TEXT.encode("gb18030"))
    with pytest.raises(PolicyError) as info:
        load_library(tmp_path)
    assert info.value.key == "(file)"


def test_typo_suggests_the_valid_key(tmp_path):
    """POLICY.md "Inheritance": an unknown key — a typo must not pass silently."""
    with pytest.raises(PolicyError, match="did you mean 'land_ratio'"):
        load_one(tmp_path, edited("land_ratio = 600", "land_rato = 600"))


def test_a_missing_parents_valid_ids_leave_out_the_pack_itself(tmp_path):
    """POLICY.md "Inheritance": a missing parent names the ids there are; the pack's own
    id is not one (extending itself is a cycle)."""
    child = '[policy]\nid = "a-child"\njurisdiction = "150423"\nname = "c"\n'
    child += 'effective_from = 2024-01-01\nextends = "nope"\n'
    with pytest.raises(PolicyError) as info:
        load_library(write_library(tmp_path, {"a-child.toml": child, "base.toml": DEFAULT_TEXT}))
    assert info.value.problem == (
        "missing parent: no pack with id 'nope'; valid: one of 150422-2024"
    )
    with pytest.raises(PolicyError) as info:  # alone in its library
        load_library(write_library(tmp_path / "alone", {"a-child.toml": child}))
    assert info.value.problem.endswith("valid: one of (no other pack)")


def _chain(levels: int) -> dict[str, str]:
    """The default pack and `levels` packs, each extending the one before."""
    files = {"base.toml": DEFAULT_TEXT}
    for i in range(levels):
        parent = f"c{i - 1}" if i else "150422-2024"
        files[f"c{i:03d}.toml"] = (
            f'[policy]\nid = "c{i}"\njurisdiction = "15{i:04d}"\nname = "c"\n'
            f'effective_from = 2024-01-01\nextends = "{parent}"\n'
        )
    return files


def test_extends_depth_limit_is_said_as_it_is_counted(tmp_path):
    """64 levels of extends (65 packs) load; 65 levels are refused, in those words."""
    lib = load_library(write_library(tmp_path / "ok", _chain(64)))
    assert lib.by_id("c63").params == lib.by_id("150422-2024").params | {
        "policy": lib.by_id("c63").params["policy"]
    }
    with pytest.raises(PolicyError) as info:
        load_library(write_library(tmp_path / "deep", _chain(65)))
    assert info.value.key == "policy.extends"
    assert info.value.problem == (
        "more than 64 levels of extends; valid: at most 64 (a chain of 65 packs)"
    )


def test_too_deep_names_the_pack_too_deep_whichever_pack_is_read_first(tmp_path):
    """Packs resolve in file-name order. Named so that the chain's last child is read
    first, its ancestors were resolved down a growing chain, and the guard that stops
    that recursion named the pack where it stopped: the one 1 level below the base
    (a mutant sweep, 2026-12-07). The pack more than 64 levels deep is named."""
    files = _chain(65)
    renamed = {"z_base.toml": files.pop("base.toml")}
    for name, text in files.items():  # c000 … c064 as c999 … c935: the deepest first
        renamed[f"c{999 - int(name[1:4]):03d}.toml"] = text
    with pytest.raises(PolicyError) as info:
        load_library(write_library(tmp_path, renamed))
    assert Path(info.value.file).name == "c935.toml"  # c64, 65 levels of extends
    assert info.value.problem.startswith("more than 64 levels of extends")


def test_base_pack_is_validated_even_if_never_selected(tmp_path):
    """POLICY.md "Inheritance": every pack is validated, base packs included; the
    error is reported in the file that has it, not in the child that inherits it."""
    base = edited("land_ratio = 600", "land_ratio = 6000").replace("150422-2024", "base")
    child = '[policy]\nid = "a-child"\njurisdiction = "150423"\nname = "c"\n'
    child += 'effective_from = 2024-01-01\nextends = "base"\n'
    with pytest.raises(PolicyError) as info:
        load_library(write_library(tmp_path, {"a-child.toml": child, "z-base.toml": base}))
    assert Path(info.value.file).name == "z-base.toml"
    assert info.value.key == "imputation.land_ratio"


def test_child_error_after_merge_names_the_child(tmp_path):
    """POLICY.md "Inheritance": the resolved child must be valid (circle4 ≥ circle3)."""
    child = '[policy]\nid = "c"\njurisdiction = "150423"\nname = "c"\n'
    child += (
        'effective_from = 2024-01-01\nextends = "150422-2024"\n\n[circles]\ncircle3_ratio = 2500\n'
    )
    with pytest.raises(PolicyError) as info:
        load_library(write_library(tmp_path, {"base.toml": DEFAULT_TEXT, "child.toml": child}))
    assert Path(info.value.file).name == "child.toml"
    assert info.value.key == "circles.circle4_ratio"


def test_policy_table_is_not_inherited(tmp_path):
    """POLICY.md "Inheritance": every file states its own id, jurisdiction, name and
    effective_from."""
    child = '[policy]\nid = "c"\njurisdiction = "150423"\neffective_from = 2024-01-01\n'
    child += 'extends = "150422-2024"\n'
    with pytest.raises(PolicyError) as info:
        load_library(write_library(tmp_path, {"base.toml": DEFAULT_TEXT, "child.toml": child}))
    assert (Path(info.value.file).name, info.value.key) == ("child.toml", "policy.name")


# ---------------------------------------------------- "Inheritance": merging ----


@pytest.fixture(scope="module")
def inherit() -> PolicyLibrary:
    return load_library(FIXTURES / "inherit")


def test_inheritance_merges_tables_and_replaces_arrays(inherit):
    """POLICY.md "Inheritance": tables merge key by key, recursively; scalars and
    arrays in the child replace the parent's."""
    base = inherit.by_id("base-2024").params
    grand = inherit.by_id("grandchild-2024").params
    assert grand["standards"] == {**base["standards"], "dibao_urban": 80000, "dibao_rural": 60000}
    assert grand["support"]["sector_ratio"] == {**base["support"]["sector_ratio"], "public": 90}
    assert grand["deductions"]["tuition_cap"] == {
        **base["deductions"]["tuition_cap"],
        "primary": 50000,
    }
    assert grand["veto"]["enabled"] == ["V01", "V12"]
    assert grand["veto"]["vehicle_types"] == ["car"]
    assert grand["imputation"]["age_bands"] == [45, 50, 55, 65]
    assert grand["imputation"]["labour_coefficient"] == base["imputation"]["labour_coefficient"]
    housing = grand["programs"]["housing_assistance"]
    assert housing == {**base["programs"]["housing_assistance"], "requires": "any"}
    assert grand["programs"]["funeral_assistance"] == {"statuses": ["TEKUN"], "requires": "any"}
    assert set(grand["programs"]) == set(base["programs"]) | {"funeral_assistance"}


def test_resolved_policy_table_is_the_files_own_without_extends(inherit):
    """POLICY.md "Inheritance" / "Digest": [policy] never inherited; no `extends`."""
    grand = inherit.by_id("grandchild-2024")
    assert grand.params["policy"] == {
        "id": "grandchild-2024",
        "jurisdiction": "150422",
        "name": "Grandchild 2024",
        "effective_from": "2024-01-01",
    }
    assert (grand.jurisdiction, grand.name, grand.effective_from) == (
        "150422",
        "Grandchild 2024",
        dt.date(2024, 1, 1),
    )
    assert Path(grand.path).name == "grandchild.toml"


def test_parent_is_not_changed_by_its_children(inherit):
    """POLICY.md "Inheritance": merging must not leak a child's values into its parent."""
    base = inherit.by_id("base-2024").params
    assert base["standards"]["dibao_urban"] == 78000
    assert base["support"]["sector_ratio"]["public"] == 100
    assert "funeral_assistance" not in base["programs"]
    assert base["programs"]["housing_assistance"]["requires"] == "no_home"


def test_resolved_child_digests_like_its_flattened_file(inherit):
    """POLICY.md "Digest": the digest is of the resolved pack, however it was written."""
    grand = inherit.by_id("grandchild-2024")
    flat = copy.deepcopy(grand.params)
    flat["policy"]["effective_from"] = grand.effective_from
    assert library_from_dicts({"flat.toml": flat}).packs[0].digest == grand.digest


def test_packs_sorted_by_id_and_by_id_lookup(inherit):
    """PolicyLibrary API: packs sorted by id; an unknown id is a PolicyError."""
    assert [p.id for p in inherit.packs] == ["base-2024", "child-2024", "grandchild-2024"]
    assert "child-2024" in inherit and "nope" not in inherit and len(inherit) == 3
    with pytest.raises(PolicyError, match="no pack with id 'nope'"):
        inherit.by_id("nope")


# ------------------------------------------------------------------- "Digest" ----


def test_digest_of_default_pack_matches_independent_implementation():
    """POLICY.md "Digest": two implementations must produce the same digest."""
    pack = load_library(PACKAGED).by_id("150422-2024")
    assert pack.digest == EXAMPLE_DIGEST
    assert digest_of(pack.params) == EXAMPLE_DIGEST


def test_digest_formula_by_hand():
    """POLICY.md "Digest": sha256 of the sorted compact JSON, dates as YYYY-MM-DD."""
    raw = tomllib.loads(DEFAULT_TEXT)
    raw["policy"]["effective_from"] = raw["policy"]["effective_from"].isoformat()
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == EXAMPLE_DIGEST


@pytest.mark.skipif(not SHARED_EXAMPLE.exists(), reason="shared example not present")
def test_packaged_default_pack_is_the_example_byte_for_byte():
    """POLICY.md "Default pack": the packaged 150422-2024 is the published example."""
    assert DEFAULT_PACK.read_bytes() == SHARED_EXAMPLE.read_bytes()
    assert load_library(SHARED_EXAMPLE.parent).packs[0].digest == EXAMPLE_DIGEST


def test_digest_independent_of_key_order(tmp_path):
    """POLICY.md "Digest": sort_keys — reordering sections and keys changes nothing."""
    sections = ["[" + s for s in DEFAULT_TEXT.split("\n[") if s.strip()]
    sections[0] = sections[0][1:]
    reordered = "\n".join(reversed(sections))
    reordered = reordered.replace(
        "dibao_urban = 78000\ndibao_rural = 57000", "dibao_rural = 57000\ndibao_urban = 78000"
    )
    assert reordered != DEFAULT_TEXT
    assert load_one(tmp_path, reordered).packs[0].digest == EXAMPLE_DIGEST


def test_absent_programs_stay_absent_and_empty_stays_empty(tmp_path):
    """POLICY.md "Digest" / RULES.md §11: a pack may define no programs; sections the
    file does not have are not added to the resolved pack."""
    cut = DEFAULT_TEXT.index("# Programs the household")
    end = DEFAULT_TEXT.index("[index]")
    absent = load_one(tmp_path / "a", DEFAULT_TEXT[:cut] + DEFAULT_TEXT[end:]).packs[0]
    assert "programs" not in absent.params and absent.programs == {}
    empty = load_one(tmp_path / "e", DEFAULT_TEXT[:cut] + "[programs]\n" + DEFAULT_TEXT[end:])
    assert empty.packs[0].params["programs"] == {}
    assert empty.packs[0].digest != absent.digest


def test_utf8_bom_is_tolerated(tmp_path):
    """Decision (module docstring): a BOM from a Windows editor does not change the pack."""
    (tmp_path / "pack.toml").write_bytes(b"\xef\xbb\xbf" + DEFAULT_TEXT.encode("utf-8"))
    assert load_library(tmp_path).packs[0].digest == EXAMPLE_DIGEST


def test_only_top_level_toml_files_are_packs(tmp_path):
    """Decision (module docstring): *.toml in the folder, dot-files and others ignored."""
    write_library(
        tmp_path,
        {
            "pack.toml": DEFAULT_TEXT,
            ".#pack.toml": "garbage",
            "README.md": "not a pack",
            "pack.toml.bak": "garbage",
        },
    )
    write_library(tmp_path / "old", {"old.toml": "garbage"})
    assert [p.id for p in load_library(tmp_path).packs] == ["150422-2024"]


# ---------------------------------------------------------------- "Selecting" ----


@pytest.fixture(scope="module")
def select_lib() -> PolicyLibrary:
    return load_library(FIXTURES / "select")


@pytest.mark.parametrize(
    ("jurisdiction", "day", "expected"),
    [
        ("150000", dt.date(2022, 12, 31), None),  # none before the first pack
        ("150000", dt.date(2023, 1, 1), "150000-2023"),  # effective_from ≤ D, inclusive
        ("150000", dt.date(2023, 12, 31), "150000-2023"),
        ("150000", dt.date(2024, 1, 1), "150000-2024"),  # the latest one in force
        ("150000", dt.date(2030, 1, 1), "150000-2024"),
        ("150400", dt.date(2024, 6, 30), "150000-2024"),  # prefecture pack not yet in force
        ("150400", dt.date(2024, 7, 1), "150400-2024"),
        ("150422", dt.date(2024, 12, 31), "150400-2024"),  # county -> prefecture
        ("150422", dt.date(2025, 1, 1), "150422-2025"),
        ("150499", dt.date(2030, 1, 1), "150400-2024"),  # other county, same prefecture
        ("150102", dt.date(2024, 3, 1), "150000-2024"),  # other prefecture -> province
        ("150102", dt.date(2022, 3, 1), None),
        ("210000", dt.date(2024, 1, 1), None),  # other province: nothing, never a default
        ("220422", dt.date(2025, 6, 1), None),
        ("15042", dt.date(2025, 6, 1), None),  # not a code: matches nothing
    ],
)
def test_select(select_lib, jurisdiction, day, expected):
    """POLICY.md "Selecting": exact J with the latest effective_from ≤ D, then the
    prefecture J[:4]+"00", then the province J[:2]+"0000"; else none."""
    got = select_lib.select(jurisdiction, day)
    assert (got.id if got else None) == expected


@pytest.mark.parametrize(
    ("jurisdiction", "tried"),
    [
        ("150422", ["150422", "150400", "150000"]),
        ("150400", ["150400", "150000"]),
        ("150000", ["150000"]),
        ("15042", ["15042"]),
    ],
)
def test_candidates(jurisdiction, tried):
    """POLICY.md "Selecting": the codes tried, in order, for the reject reason."""
    assert PolicyLibrary.candidates(jurisdiction) == tried


def test_select_many_equals_select_and_memoises(select_lib):
    """POLICY.md "Selecting": per household, on distinct (J, D) pairs."""
    js = ["150422", "150000", "150422", "210000", "150400"] * 50
    ds = [
        dt.date(2025, 2, 1),
        dt.date(2023, 6, 1),
        dt.date(2025, 2, 1),
        dt.date(2024, 1, 1),
        dt.date(2024, 7, 1),
    ] * 50
    many = select_lib.select_many(js, ds)
    assert many == [select_lib.select(j, d) for j, d in zip(js, ds)]
    assert [p.id if p else None for p in many[:5]] == [
        "150422-2025",
        "150000-2023",
        "150422-2025",
        None,
        "150400-2024",
    ]
    assert select_lib.select("150422", dt.date(2025, 2, 1)) is many[0]
    assert select_lib.select("150422", dt.datetime(2025, 2, 1, 12)) is many[0]
    with pytest.raises(MeansTestError):
        select_lib.select_many(["150422"], [])


def test_library_constructor_rejects_ambiguous_selection(select_lib):
    """POLICY.md "Inheritance": two packs with the same jurisdiction and effective_from."""
    p = select_lib.packs[0]
    twin = Policy("other", p.jurisdiction, p.name, p.effective_from, p.params, p.digest, "x.toml")
    with pytest.raises(PolicyError, match="already has a pack"):
        PolicyLibrary([p, twin])


# ---------------------------------------------------------- packaged library ----


def test_every_packaged_pack_loads():
    """POLICY.md "Default pack": the packaged library: province, prefecture, district."""
    lib = default_library()
    assert lib is default_library()
    assert [(p.id, p.jurisdiction, p.effective_from) for p in lib.packs] == [
        ("150000-2024", "150000", dt.date(2024, 1, 1)),
        ("150400-2024", "150400", dt.date(2024, 1, 1)),
        ("150422-2024", "150422", dt.date(2024, 1, 1)),
        ("150422-2025", "150422", dt.date(2025, 1, 1)),
    ]
    assert lib.by_id("150422-2024").digest == EXAMPLE_DIGEST
    assert all(len(p.digest) == 64 and "extends" not in p.params["policy"] for p in lib.packs)


def test_packaged_inheritance():
    """POLICY.md "Inheritance", on the packaged 150400 and 150422-2025 packs."""
    lib = default_library()
    province, city = lib.by_id("150000-2024").params, lib.by_id("150400-2024").params
    assert city["standards"]["low_income_ratio"] == province["standards"]["low_income_ratio"]
    assert city["standards"]["dibao_urban"] != province["standards"]["dibao_urban"]
    assert (
        city["deductions"]["tuition_cap"]["senior"]
        == province["deductions"]["tuition_cap"]["senior"]
    )
    assert city["deductions"]["tuition_cap"]["college"] == 900000
    assert "PHASE_OUT" in city["programs"]["housing_assistance"]["statuses"]
    assert city["programs"]["housing_assistance"]["requires"] == "no_home"
    y24, y25 = lib.by_id("150422-2024").params, lib.by_id("150422-2025").params
    assert y25["standards"]["dibao_rural"] > y24["standards"]["dibao_rural"]
    same = set(y24) - {"policy", "standards", "imputation"}
    assert all(y25[k] == y24[k] for k in same)
    assert lib.select("150422", dt.date(2024, 12, 31)).id == "150422-2024"
    assert lib.select("150422", dt.date(2025, 1, 1)).id == "150422-2025"
    assert lib.select("150421", dt.date(2024, 7, 1)).id == "150400-2024"
    assert lib.select("150102", dt.date(2024, 7, 1)).id == "150000-2024"
    assert lib.select("150422", dt.date(2023, 12, 31)) is None


# ------------------------------------------------------------ property test ----

BASE = tomllib.loads(DEFAULT_TEXT)
CHILD = {
    "policy": {
        "id": "child",
        "jurisdiction": "150423",
        "name": "child",
        "effective_from": dt.date(2025, 1, 1),
        "extends": "150422-2024",
    },
    "standards": {"dibao_urban": 80000},
    "support": {"sector_ratio": {"public": 90}, "cap_ratio": 400},
    "veto": {"enabled": ["V01", "V02"]},
    "programs": {"elderly_subsidy": {"requires": "any"}},
}


def _paths(node, prefix=()):
    """Every value of a parsed pack (containers included), as a path of keys/indexes."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        yield (*prefix, k)
        if isinstance(v, (dict, list)) and v:
            yield from _paths(v, (*prefix, k))


def _get(node, path):
    for k in path:
        node = node[k]
    return node


WRONG = {
    "int": st.one_of(
        st.text(max_size=5),
        st.floats(),
        st.booleans(),
        st.dates(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
    "str": st.one_of(
        st.integers(),
        st.floats(),
        st.booleans(),
        st.dates(),
        st.times(),
        st.lists(st.text(max_size=3), max_size=3),
    ),
    "list": st.one_of(
        st.integers(),
        st.text(max_size=5),
        st.booleans(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
    "dict": st.one_of(
        st.integers(), st.text(max_size=5), st.floats(), st.lists(st.integers(), max_size=3)
    ),
    "date": st.one_of(st.datetimes(), st.text(max_size=10), st.integers(), st.times()),
}


def _kind(value) -> str:
    if isinstance(value, bool):
        raise TypeError("no boolean in a valid pack")
    if isinstance(value, dt.date):
        return "date"
    return {int: "int", str: "str", list: "list", dict: "dict"}[type(value)]


@st.composite
def mutated_library(draw):
    in_child = draw(st.booleans())
    base, child = copy.deepcopy(BASE), copy.deepcopy(CHILD)
    target = child if in_child else base
    path = draw(st.sampled_from(sorted(_paths(target), key=repr)))
    old = _get(target, path)
    kind = _kind(old)
    strategy = WRONG[kind]
    if kind == "int":
        strategy = st.one_of(strategy, st.integers(max_value=-1))
    new = draw(strategy)
    _get(target, path[:-1])[path[-1]] = new
    return {"base.toml": base, "child.toml": child}, path, new


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_library())
def test_mutation_to_wrong_type_or_negative_is_always_a_policy_error(case):
    """POLICY.md "Inheritance": a wrong type or a negative number anywhere in a pack,
    base or child, is rejected with a PolicyError — never another exception."""
    raws, _path, _new = case
    with pytest.raises(PolicyError) as info:
        library_from_dicts(raws)
    assert Path(info.value.file).name in raws
    assert info.value.key and info.value.problem


def test_unmutated_property_libraries_are_valid():
    """The property test's starting point is valid, so every rejection is the mutation's."""
    lib = library_from_dicts({"base.toml": copy.deepcopy(BASE), "child.toml": copy.deepcopy(CHILD)})
    assert lib.by_id("child").params["support"]["sector_ratio"]["farming"] == 50


def test_a_key_holding_a_newline_is_named_on_one_line():
    """POLICY.md "Inheritance": an unknown key is named in the error; a key with control
    characters (a quoted TOML key may hold "\\n") is written escaped, so the error stays one
    line in logs and gRPC details."""
    child = copy.deepcopy(CHILD)
    child["standards"] = {**child.get("standards", {}), "dibao\nurban": 1}
    with pytest.raises(PolicyError) as info:
        library_from_dicts({"base.toml": copy.deepcopy(BASE), "child.toml": child})
    assert "\n" not in info.value.message
    assert "standards.dibao\\nurban" in info.value.message
    assert info.value.key == "standards.dibao\nurban"  # the attribute keeps the real key


# Upper bounds that keep RULES.md's products in int64 (docs/decisions.md) ----------------

_BOUNDED = {  # key -> its largest valid value (the smallest refused is one more)
    "standards.dibao_urban": 10**12,
    "standards.dibao_rural": 10**12,
    "imputation.min_wage_monthly": 10**12,
    "imputation.rural_income_annual": 10**12,
    "standards.low_income_ratio": 10_000,
    "standards.tekun_ratio": 10_000,
    "circles.circle3_ratio": 10_000,
    "circles.circle4_ratio": 10_000,
    "imputation.work_months": 1200,
    "veto.recent_purchase_months": 1200,
    "veto.recent_transfer_months": 1200,
    "veto.recent_vehicle_months": 1200,
    "veto.financial_asset_months": 1200,
    "index.asset_penalty_months": 1200,
    "index.member_cap": 10**6,
    "index.income_max": 10**6,
    "index.asset_max": 10**6,
    "index.age_70": 10**6,
    "index.age_60": 10**6,
    "index.age_child": 10**6,
}


def _pack_with(changes: dict) -> dict:
    raw = tomllib.loads(DEFAULT_TEXT)
    for path, value in changes.items():
        section, key = path.split(".")
        raw[section][key] = value
    return raw


@pytest.mark.parametrize("path", sorted(_BOUNDED))
def test_values_that_would_leave_int64_in_the_rules_products_are_refused(path):
    """An adversarial run set dibao_rural to 2^63 − 1: the pack was valid, the kernels
    paid negative benefits and the reference failed. Each value entering a product is
    bounded, far above any real pack; the bound itself is valid."""
    top = _BOUNDED[path]
    changes = {path: top}
    if path == "circles.circle3_ratio":
        changes["circles.circle4_ratio"] = top  # circle4 may not be below circle3
    library_from_dicts({"x.toml": _pack_with(changes)})
    changes[path] = top + 1
    says = f"{path}: {top + 1} is above the largest value allowed, {top:,}"
    with pytest.raises(PolicyError, match=re.escape(says)):
        library_from_dicts({"x.toml": _pack_with(changes)})


def test_a_pack_at_every_bound_at_once_gives_the_same_results_on_both_engines():
    """The bounds are enough: with every bounded value at its largest, the kernels
    (int64) and the reference (Python integers) agree on every output."""
    from meanstest import synth
    from meanstest.pipeline import assess

    library = library_from_dicts({"x.toml": _pack_with(_BOUNDED)})
    tables = synth.generate(400, seed=17, bad_fraction=0.05)
    fast = assess(tables, library, engine="fast").tables()
    reference = assess(tables, library, engine="reference").tables()
    for name in fast:
        assert fast[name].equals(reference[name]), name
    assert fast["results"].num_rows > 300

"""Case files (issue 6 item 4): every shipped hand-worked case passes on both engines; a
wrong case fails with a readable difference; a malformed case file is refused with an
error naming the file and the key; the shipped cases reach every rule they claim to.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from meanstest import cli, schema
from meanstest.case_file import CaseError, load_case
from meanstest.cases import Difference, case_files, run_case

CASES = Path(__file__).parent / "cases"
SHIPPED = sorted(CASES.glob("*.toml"))
WORKED = CASES / "s10_worked_example.toml"


def _expected(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)["expected"]


# -- every shipped case passes ------------------------------------------------------------


def test_at_least_25_cases_are_shipped():
    assert len(SHIPPED) >= 25


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_case_passes_on_both_engines(path):
    diffs = run_case(load_case(path))
    assert not diffs, "\n".join(map(str, diffs))


def test_every_case_documents_its_arithmetic():
    """Hand-worked: each file opens with the RULES.md section and its arithmetic."""
    for path in SHIPPED:
        comments = [ln for ln in path.read_text("utf-8").splitlines() if ln.startswith("#")]
        assert len(comments) >= 5, path.name
        assert any("§" in ln for ln in comments), path.name
        assert any("=" in ln for ln in comments), path.name


def test_shipped_cases_reach_every_outcome():
    """Between them the cases expect every status, transition, circle, veto, finding
    code and employment basis (so no rule of RULES.md goes unchecked by a case)."""
    seen: dict[str, set] = {k: set() for k in ("status", "transition", "circle", "vetoes")}
    findings, bases, programs = set(), set(), set()
    overridden = False
    for path in SHIPPED:
        exp = _expected(path)
        for key in seen:
            if key in exp:
                value = exp[key]
                seen[key] |= set(value) if isinstance(value, list) else {value}
        findings |= set(exp.get("findings", []))
        programs |= set(exp.get("eligible_programs", []))
        bases |= {
            m["employment_basis"]
            for m in exp.get("members", {}).values()
            if "employment_basis" in m
        }
        overridden |= exp.get("policy_id", "").endswith("+case")
    assert seen["status"] == set(schema.STATUSES)
    assert seen["transition"] == set(schema.TRANSITIONS)
    assert seen["circle"] == {0, 1, 2, 3, 4}
    assert seen["vetoes"] == set(schema.VETO_CODES)
    assert findings == {
        *schema.VETO_CODES,
        *schema.UNDECLARED_CODES,
        "SOURCE_NOT_CHECKED",
        "DUPLICATE_PERSON",
        "PROGRAM_MISSED",
        "PROGRAM_UNDUE",
    }
    assert bases == set(schema.EMPLOYMENT_BASES)
    assert {
        "medical_assistance",
        "education_assistance",
        "housing_assistance",
        "employment_assistance",
        "disability_subsidy",
        "elderly_subsidy",
    } <= programs
    assert overridden


def test_check_command_passes_on_shipped_cases(capsys):
    files = [str(p) for p in SHIPPED[:2]]
    assert cli.main(["check", *files]) == 0
    out = capsys.readouterr().out
    assert f"{files[0]}: ok (reference, fast)" in out
    assert "2 cases: 2 passed, 0 differ, 0 malformed" in out


def test_the_example_of_docs_cases_md_passes(tmp_path, capsys):
    """The Format section's example is a case a reader copies to start from: it must
    pass, and the summary line must read as the docs show it."""
    docs = (Path(__file__).parents[1] / "docs" / "cases.md").read_text("utf-8")
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example, "utf-8")
    assert cli.main(["check", str(path)]) == 0
    assert "1 case: 1 passed, 0 differ, 0 malformed" in capsys.readouterr().out
    assert "2 cases: 1 passed, 1 differ, 0 malformed" in docs


# -- a wrong case fails readably ----------------------------------------------------------


def _wrong_copy(tmp_path: Path, old: str, new: str, name: str = "wrong.toml") -> Path:
    text = WORKED.read_text("utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


def test_a_wrong_case_fails_with_field_expected_and_got(tmp_path, capsys):
    path = _wrong_copy(tmp_path, "benefit = 171000", "benefit = 171100")
    diffs = run_case(load_case(path))
    assert diffs == [
        Difference(str(path), "reference", "benefit", 171100, 171000),
        Difference(str(path), "fast", "benefit", 171100, 171000),
    ]
    assert cli.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: [reference] benefit: expected 171100, got 171000" in out
    assert f"{path}: [fast] benefit: expected 171100, got 171000" in out
    assert "1 case: 0 passed, 1 differ, 0 malformed" in out


def test_wrong_member_values_findings_and_evidence_are_named(tmp_path):
    path = _wrong_copy(tmp_path, "employment = 890400", "employment = 890401")
    text = path.read_text("utf-8").replace(
        'findings = ["PROGRAM_MISSED", "PROGRAM_MISSED", "PROGRAM_MISSED"]',
        'findings = ["PROGRAM_MISSED", "V04"]\n\n[[expected.evidence]]\n'
        'code = "PROGRAM_MISSED"\ndetail = "elderly_subsidy"',
    )
    path.write_text(text, "utf-8")
    diffs = {(d.field, d.engine): d for d in run_case(load_case(path))}
    assert set(diffs) == {
        (f, e)
        for f in ("members.head.employment", "findings", "evidence[0]")
        for e in ("reference", "fast")
    }
    d = diffs["members.head.employment", "fast"]
    assert (d.expected, d.got) == (890401, 890400)
    d = diffs["findings", "reference"]
    assert d.expected == ["PROGRAM_MISSED", "V04"]
    assert d.got == ["PROGRAM_MISSED"] * 3
    d = diffs["evidence[0]", "reference"]
    assert d.expected == {"code": "PROGRAM_MISSED", "detail": "elderly_subsidy"}
    assert {"code": "PROGRAM_MISSED", "detail": "medical_assistance"} in d.got


def test_a_rejected_household_is_a_difference_naming_the_reason(tmp_path):
    path = _wrong_copy(tmp_path, "tuition = 450000", "tuition = -1")
    (d, *_) = run_case(load_case(path), engines=("reference",))
    assert (d.field, d.expected) == ("household", "assessed")
    assert "persons.tuition" in d.got and "negative" in d.got


def test_a_case_may_name_its_pack(tmp_path):
    """[policy] pack = "150422-2025" on D = 2025-03-01 (ages: head 45, spouse 43, son 17
    and still a senior student: same coefficients 700, 300, 0). S rural 59,000; head
    rhu(700 × 2,250,000 × 600, 10^6) = 945,000, spouse rhu(300 × 214,000 × 8, 1000)
    = 513,600, interest 12,000 → G 1,470,600 < deductions 1,500,000 → N 0, pci 0 →
    benefit 59,000 × 3 = 177,000."""
    path = _wrong_copy(tmp_path, "[household]", '[policy]\npack = "150422-2025"\n\n[household]')
    path.write_text(path.read_text("utf-8").replace("2024-07-01\n", "2025-03-01\n"), "utf-8")
    diffs = {d.field: d for d in run_case(load_case(path), engines=("reference",))}
    assert diffs["policy_id"].got == "150422-2025"
    assert diffs["standard"].got == 59000
    assert diffs["gross_income"].got == 1470600
    assert diffs["benefit"].got == 177000
    assert "pci" not in diffs and "net_income" not in diffs


def test_a_named_pack_not_yet_in_force_is_refused(tmp_path):
    path = _wrong_copy(tmp_path, "[household]", '[policy]\npack = "150422-2025"\n\n[household]')
    with pytest.raises(
        CaseError, match="policy.pack: pack 150422-2025 is effective from 2025-01-01"
    ):
        run_case(load_case(path), engines=("reference",))


# -- malformed case files -----------------------------------------------------------------

MINIMAL = """
[household]
area = "rural"
assessment_date = 2024-07-01

[[persons]]
key = "m"
birth_date = 1950-01-01

[expected]
status = "TEKUN"
"""

MALFORMED = [
    ("syntax", MINIMAL.replace("area = ", "area "), "(syntax)", "invalid TOML"),
    ("section", MINIMAL + "\n[housholds]\n", "housholds", "unknown section"),
    ("no_expected", MINIMAL.split("[expected]")[0], "expected", "missing table"),
    (
        "unknown_key",
        MINIMAL.replace('key = "m"', 'key = "m"\nhelth = 2'),
        "persons[0].helth",
        "unknown key",
    ),
    (
        "missing",
        MINIMAL.replace("birth_date = 1950-01-01", ""),
        "persons[0].birth_date",
        "missing key",
    ),
    (
        "type",
        MINIMAL.replace('key = "m"', 'key = "m"\nhealth = "2"'),
        "persons[0].health",
        "wrong type",
    ),
    (
        "date",
        MINIMAL.replace("2024-07-01", '"2024-07-01"'),
        "household.assessment_date",
        "TOML date",
    ),
    ("enum", MINIMAL.replace('"rural"', '"village"'), "household.area", "urban, rural"),
    (
        "no_persons",
        MINIMAL.replace('[[persons]]\nkey = "m"\nbirth_date = 1950-01-01', ""),
        "persons",
        "n ≥ 1",
    ),
    (
        "who",
        MINIMAL + '\n[[bank]]\nwho = "nobody"\nbalance = 1\n',
        "bank[0].who",
        "no person or supporter",
    ),
    ("expected_key", MINIMAL + "benfit = 1\n", "expected.benfit", "unknown key"),
    ("expected_float", MINIMAL + "benefit = 74100.0\n", "expected.benefit", "an integer"),
    (
        "member_type",
        MINIMAL + '\n[expected.members.m]\nage = "74"\n',
        "expected.members.m.age",
        "an integer",
    ),
    (
        "member_key",
        MINIMAL + "\n[expected.members.x]\nage = 74\n",
        "expected.members.x",
        "no member",
    ),
    (
        "member_field",
        MINIMAL + "\n[expected.members.m]\nincome = 1\n",
        "expected.members.m.income",
        "unknown key",
    ),
    (
        "evidence_null",
        MINIMAL + '\n[[expected.evidence]]\ncode = "V12"\nnull = ["detail"]\n',
        "expected.evidence[0].null",
        "person_id, record_id",
    ),
    ("pack", '[policy]\npack = "999999-2024"\n' + MINIMAL, "policy.pack", "no pack"),
    # tomllib recurses per level: a RecursionError traceback before it was caught
    ("nested", MINIMAL + "x = " + "[" * 5000 + "]" * 5000 + "\n", "(syntax)", "nested too deeply"),
    (
        "override_key",
        "[policy.overrides.veto]\nmax_vehicle = 2\n" + MINIMAL,
        "policy.overrides.veto.max_vehicle",
        "unknown",
    ),
    (
        "override_value",
        "[policy.overrides.support]\ncap_ratio = 1001\n" + MINIMAL,
        "policy.overrides.support.cap_ratio",
        "1000",
    ),
    # an integer its bundle column cannot hold: a pyarrow traceback and exit 1, the later
    # case files never run (a blind auditor's check); one it holds is a rejected household
    (
        "beyond_int8",
        MINIMAL.replace('key = "m"', 'key = "m"\nrefused_job_offers = 300'),
        "persons[0].refused_job_offers",
        "300 does not fit int8",
    ),
    (
        "beyond_int32",
        MINIMAL.replace("[household]", "[household]\ndeclared_vehicles = 3000000000"),
        "household.declared_vehicles",
        "does not fit int32",
    ),
    # a misspelt expected value no engine gives was a difference (exit 1), as if the
    # engines were wrong (a blind auditor's check)
    ("expected_status", MINIMAL.replace('"TEKUN"', '"LOW_INCOM"'), "expected.status", "TEKUN"),
    ("expected_transition", MINIMAL + 'transition = "NOEN"\n', "expected.transition", "NEW"),
    ("expected_veto", MINIMAL + 'vetoes = ["V15"]\n', "expected.vetoes", "'V15'"),
    ("expected_finding", MINIMAL + 'findings = ["PROGRAM_MISED"]\n', "expected.findings", "V01"),
    (
        "expected_basis",
        MINIMAL + '\n[expected.members.m]\nemployment_basis = "imputed"\n',
        "expected.members.m.employment_basis",
        "imputed_work",
    ),
    (
        "expected_evidence_code",
        MINIMAL + '\n[[expected.evidence]]\ncode = "V1"\n',
        "expected.evidence[0].code",
        "unknown value 'V1'",
    ),
    (
        "beyond_int64",
        MINIMAL + '\n[[bank]]\nwho = "m"\nbalance = 9223372036854775808\n',
        "bank[0].balance",
        "does not fit int64",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "problem"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_case_names_file_and_key(tmp_path, text, key, problem):
    path = tmp_path / "bad.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(CaseError) as e:
        run_case(load_case(path), engines=("reference",))
    assert e.value.attrs["file"] == str(path)
    assert e.value.attrs["key"] == key
    assert problem in e.value.attrs["problem"]
    assert e.value.message.startswith(f"{path}: {key}: ")


def test_check_command_exits_2_on_a_malformed_file_and_still_runs_the_others(tmp_path, capsys):
    (tmp_path / "a_bad.toml").write_text(MINIMAL.replace('"rural"', '"village"'), "utf-8")
    (tmp_path / "b_good.toml").write_text(WORKED.read_text("utf-8"), "utf-8")
    assert cli.main(["check", str(tmp_path), "--engine", "reference"]) == 2
    captured = capsys.readouterr()
    assert f"{tmp_path / 'a_bad.toml'}: household.area: unknown value 'village'" in captured.err
    assert f"{tmp_path / 'b_good.toml'}: ok (reference)" in captured.out
    assert "2 cases: 1 passed, 0 differ, 1 malformed" in captured.out


def test_check_command_refuses_an_empty_folder_or_missing_path(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path)]) == 2
    assert "no *.toml case files" in capsys.readouterr().err
    assert cli.main(["check", str(tmp_path / "nope.toml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_path_naming_no_case_file_does_not_stop_the_others(tmp_path, capsys):
    """A missing path or an empty folder among the arguments ended the run before any
    case (a blind auditor's check): it is a malformed one now, and the others run."""
    (tmp_path / "empty").mkdir()
    good = tmp_path / "good.toml"
    good.write_text(WORKED.read_text("utf-8"), "utf-8")
    args = [str(tmp_path / "nope.toml"), str(tmp_path / "empty"), str(good)]
    assert cli.main(["check", *args, "--engine", "reference"]) == 2
    out, err = capsys.readouterr()
    assert "no such file or folder" in err and "no *.toml case files" in err
    assert f"{good}: ok (reference)" in out
    assert "3 cases: 1 passed, 0 differ, 2 malformed" in out


def test_case_files_expands_folders_sorted(tmp_path):
    for name in ("b.toml", "a.toml", "sub/c.toml", "note.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("", "utf-8")
    assert case_files([tmp_path]) == [
        tmp_path / "a.toml",
        tmp_path / "b.toml",
        tmp_path / "sub" / "c.toml",
    ]


def test_defaults_fill_a_short_case(tmp_path):
    """IDs from birth dates (valid GB 11643), checked_* and consent true, relation head."""
    path = tmp_path / "short.toml"
    path.write_text(MINIMAL, "utf-8")
    case = load_case(path)
    hh = case.tables["households"].to_pylist()[0]
    assert hh["household_id"] == "H1" and hh["consent_signed"] is True
    assert all(hh[f"checked_{d}"] for d in schema.DEPARTMENTS)
    assert hh["declared_income_monthly"] is None and hh["prev_status"] == "none"
    (p,) = case.tables["persons"].to_pylist()
    assert p["person_id"][6:14] == "19500101" and p["relation"] == "head"
    from meanstest.ids import id_problems

    assert id_problems(p["person_id"]) == []
    assert run_case(case) == []  # 74, no income, no supporters: TEKUN


def test_check_command_uses_the_policies_folder(tmp_path, capsys):
    """--policies DIR: the case's pack comes from that library. Here 150422-2024 with
    dibao_rural 60,000: the worked example's benefit becomes 60,000 × 3 = 180,000."""
    from meanstest.policy import default_library

    library = tmp_path / "policies"
    library.mkdir()
    text = Path(default_library().by_id("150422-2024").path).read_text("utf-8")
    assert "dibao_rural = 57000" in text
    (library / "pack.toml").write_text(text.replace("dibao_rural = 57000", "dibao_rural = 60000"))
    assert cli.main(["check", str(WORKED), "--policies", str(library), "--engine", "fast"]) == 1
    out = capsys.readouterr().out
    assert f"{WORKED}: [fast] benefit: expected 171000, got 180000" in out
    assert "[reference]" not in out

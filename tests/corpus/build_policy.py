"""Writes the policy-pack corpus (tests/corpus/policy/<case>/ + policy/cases.toml).

Each case is the packaged library with one pack broken by one edit (or extra packs
added); only the changed files are stored. `meanstest review --policies DIR` must stop
with one line naming the file and the key. Deep `extends` chains and cycles are here
too; a nesting too deep for the TOML parser is generated at test time.
Re-run: `python tests/corpus/build_policy.py`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent / "policy"
PACKS = Path(__file__).parents[2] / "meanstest" / "policies"
BASE = "150422-2024.toml"

# (case, line to replace (or "+" to add at the end of a section), new text, expected key)
EDITS = [
    ("negative-standard", "dibao_urban = 78000", "dibao_urban = -1", "standards.dibao_urban"),
    ("float-standard", "dibao_urban = 78000", "dibao_urban = 780.00", "standards.dibao_urban"),
    ("string-standard", "dibao_urban = 78000", 'dibao_urban = "78000"', "standards.dibao_urban"),
    ("bool-standard", "dibao_urban = 78000", "dibao_urban = true", "standards.dibao_urban"),
    ("huge-standard", "dibao_urban = 78000", "dibao_urban = 9223372036854775808",
     "standards.dibao_urban"),
    ("missing-standard", "dibao_rural = 57000", "", "dibao_rural"),
    ("unknown-key", "tekun_ratio = 1300", "tekun_ratio = 1300\ndibao_suburban = 1", "dibao_suburban"),
    ("unknown-section", "[phaseout]", "[phasein]\nmonths = 1\n[phaseout]", "phasein"),
    ("missing-section", "[circles]", "[circles_old]", "circles"),
    ("phaseout-12", "months = 6 ", "months = 12 ", "phaseout.months"),
    ("phaseout-negative", "months = 6 ", "months = -6 ", "phaseout.months"),
    ("ratio-negative", "land_ratio = 600", "land_ratio = -1", "imputation.land_ratio"),
    ("age-bands-unsorted", "age_bands = [40, 50, 55, 60]", "age_bands = [50, 40, 55, 60]",
     "imputation.age_bands"),
    ("age-bands-short", "age_bands = [40, 50, 55, 60]", "age_bands = [40, 50]",
     "imputation"),
    ("age-bands-strings", "age_bands = [40, 50, 55, 60]", 'age_bands = ["40", "50", "55", "60"]',
     "imputation.age_bands"),
    ("coefficient-row-short", "  [1000, 900, 700, 500, 0],", "  [1000, 900, 700],",
     "imputation.labour_coefficient"),
    ("coefficient-over-1000", "  [1000, 900, 700, 500, 0],", "  [1001, 900, 700, 500, 0],",
     "imputation.labour_coefficient"),
    ("unknown-student-level", 'student_levels_without_labour = ["senior", "vocational", "college"]',
     'student_levels_without_labour = ["senior", "phd"]', "student_levels_without_labour"),
    ("unknown-transfer", 'counted_transfers = ["pension_benefit", "unemployment_benefit", "injury_benefit"]',
     'counted_transfers = ["lottery"]', "counted_transfers"),
    ("sector-missing", "farming = 50, none = 50 }", "farming = 50 }", "support.sector_ratio"),
    ("sector-unknown", "farming = 50, none = 50 }", "farming = 50, none = 50, pirate = 1 }",
     "support.sector_ratio"),
    ("tuition-unknown-level", "college = 800000 }", "college = 800000, phd = 1 }",
     "deductions.tuition_cap"),
    ("veto-unknown-code", 'enabled = ["V01",', 'enabled = ["V99","V01",', "veto.enabled"),
    ("veto-duplicate-code", 'enabled = ["V01",', 'enabled = ["V01","V01",', "veto.enabled"),
    ("veto-not-list", 'enabled = ["V01","V02","V03","V04","V05","V06","V07","V08","V09","V10","V11","V12","V13","V14"]',
     'enabled = "all"', "veto.enabled"),
    ("vehicle-type-unknown", 'vehicle_types = ["car", "truck"]', 'vehicle_types = ["tank"]',
     "veto.vehicle_types"),
    ("program-bad-status", 'statuses = ["TEKUN", "DIBAO", "DIBAO_SINGLE", "PHASE_OUT", "LOW_INCOME"]\nrequires = "medical"',
     'statuses = ["RICH"]\nrequires = "medical"', "programs.medical_assistance"),
    ("program-bad-requires", 'requires = "medical"', 'requires = "wealth"',
     "programs.medical_assistance"),
    ("program-bad-name", "[programs.medical_assistance]", "[programs.Medical-Assistance]",
     "programs"),
    ("program-unknown-key", 'requires = "student"', 'requires = "student"\ncolour = "red"',
     "programs.education_assistance"),
    ("health-points-short", "health_points = [0, 30, 40, 50, 80, 80]", "health_points = [0, 30]",
     "index.health_points"),
    ("index-negative", "member_cap = 400", "member_cap = -400", "index.member_cap"),
    ("policy-no-id", 'id = "150422-2024"\n', "", "policy.id"),
    ("policy-empty-name", 'name = "巴林左旗 2024"', 'name = ""', "policy.name"),
    ("policy-bad-jurisdiction", 'jurisdiction = "150422"', 'jurisdiction = "15042"',
     "policy.jurisdiction"),
    ("policy-date-string", "effective_from = 2024-01-01", 'effective_from = "2024-01-01"',
     "policy.effective_from"),
    ("policy-datetime", "effective_from = 2024-01-01", "effective_from = 2024-01-01T00:00:00",
     "policy.effective_from"),
    ("policy-unknown-key", 'name = "巴林左旗 2024"', 'name = "巴林左旗 2024"\nauthor = "x"',
     "policy.author"),
    ("extends-missing-parent", "# extends = \"150400-2024\"", 'extends = "999999-2024"',
     "policy.extends"),
    ("extends-self", "# extends = \"150400-2024\"", 'extends = "150422-2024"', "policy.extends"),
    ("extends-not-string", "# extends = \"150400-2024\"", "extends = 150400", "policy.extends"),
    ("syntax-unclosed-table", "[standards]", "[standards", "(syntax)"),
    ("syntax-duplicate-key", "dibao_rural = 57000", "dibao_rural = 57000\ndibao_rural = 1",
     "(syntax)"),
    ("syntax-bad-value", "dibao_rural = 57000", "dibao_rural = 57 000", "(syntax)"),
    ("not-utf8", None, None, "(file)"),
]  # fmt: skip


def build() -> list[dict]:
    shutil.rmtree(HERE, ignore_errors=True)
    HERE.mkdir(parents=True)
    base = (PACKS / BASE).read_text(encoding="utf-8")
    rows = []
    for name, old, new, key in EDITS:
        folder = HERE / name
        folder.mkdir()
        if old is None:  # GB18030 bytes where UTF-8 is required
            (folder / BASE).write_bytes(base.encode("gb18030"))
        else:
            assert old in base, old
            (folder / BASE).write_text(base.replace(old, new, 1), encoding="utf-8")
        rows.append({"name": name, "expect": key})

    # structure: cycles, duplicates, deep chains (packs added to the library)
    def pack(pid, extends=None, day="2024-03-01", jurisdiction="150422"):
        ext = f'extends = "{extends}"\n' if extends else ""
        return (f'[policy]\nid = "{pid}"\njurisdiction = "{jurisdiction}"\nname = "{pid}"\n'
                f"effective_from = {day}\n{ext}")  # fmt: skip

    structural = {
        "cycle-two": ({"a.toml": pack("a", "b"), "b.toml": pack("b", "a", "2024-04-01")}, "cycle"),
        "cycle-three": (
            {
                "a.toml": pack("a", "c"),
                "b.toml": pack("b", "a", "2024-04-01"),
                "c.toml": pack("c", "b", "2024-05-01"),
            },
            "cycle",
        ),
        "duplicate-id": (
            {"copy.toml": pack("150422-2024", "150422-2024", "2024-06-01")},
            "duplicate id",
        ),
        "duplicate-date": (
            {"same-day.toml": pack("150422-x", "150422-2024", "2024-01-01")},
            "150422",
        ),
        "deep-chain-65": (
            {
                f"d{i:03d}.toml": pack(
                    f"d{i}",
                    f"d{i - 1}" if i else "150422-2024",
                    f"2030-{1 + i // 28:02d}-{1 + i % 28:02d}",
                )
                for i in range(66)
            },
            "more than 64 levels of extends; valid: at most 64 (a chain of 65 packs)",
        ),
        "child-wrong-type": (
            {
                "child.toml": pack("child", "150422-2024", "2024-06-01")
                + '[standards]\ndibao_urban = "x"\n'
            },
            "standards.dibao_urban",
        ),
        "not-a-folder": (None, "not a folder"),
        "empty-folder": ({}, "no *.toml policy packs"),
    }
    for name, (files, expect) in structural.items():
        folder = HERE / name
        if files is None:
            HERE.joinpath(name).write_text("a file, not a folder\n")
            rows.append({"name": name, "expect": expect, "alone": 1})
            continue
        folder.mkdir()
        for f, text in files.items():
            (folder / f).write_text(text, encoding="utf-8")
        rows.append({"name": name, "expect": expect, "alone": int(not files)})
    return rows


if __name__ == "__main__":
    rows = build()
    lines = ["# Generated by build_policy.py: one broken policy library per [[case]]."]
    for r in rows:
        lines.append("\n[[case]]")
        for k, v in r.items():
            lines.append(f"{k} = {v}" if isinstance(v, int) else f"{k} = {v!r}".replace("'", '"'))
    (HERE / "cases.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(rows)} policy cases in {HERE}")

"""An export's encoding and an officer's profile mistakes, as a blind onboarding of a new
district met them (DATA.md "Adapter profiles": nothing dropped or changed silently; a
profile error names the file and the key)."""

from __future__ import annotations

import functools
import random

import pytest
from meanstest.adapters import readers
from meanstest.adapters.profile import ProfileError
from meanstest.adapters.raw import ExportError
from test_adapters_profile import VEHICLE as GB_VEHICLE
from test_adapters_unseen import HEAD, PERSONS, TAX_CSV
from test_adapters_unseen_edges import _one

from meanstest.bundle import read_bundle
from meanstest.ingest import ingest

# the loader tests' vehicle profile, with the ASCII header of the blind test's export
# (no missing column, so nothing to hint at the encoding)
ASCII_HEADER = {"身份证号": "id", "号牌号码": "plate", "车辆类型": "type",
                "评估价值(元)": "value", "初次登记日期": "registered"}  # fmt: skip
VEHICLE = functools.reduce(lambda text, kv: text.replace(*kv), ASCII_HEADER.items(), GB_VEHICLE)


def _vehicles(plates: list[str]) -> str:
    rows = [f"{HEAD},{p},car,100,2020-01-01" for p in plates]
    return "id,plate,type,value,registered\n" + "\n".join(rows) + "\n"


def test_a_utf8_export_under_a_gb18030_profile_is_refused_not_garbled(tmp_path):
    """GB18030 decodes UTF-8 bytes without an error into other characters: the file was
    ingested, exit 0, 蒙D1234A as 钂橠1234A, nothing quarantined (its ASCII header gave
    no missing column to hint at). Refused, naming the profile's key and showing how
    the text would have read."""
    plates = [f"{'蒙京'[n % 2]}D{n:04d}A" for n in range(12)]  # two Chinese characters
    data = _vehicles(plates).encode("utf-8")
    assert data.decode("gb18030") != data.decode("utf-8")  # no error: another text
    manifest = _one(tmp_path, VEHICLE, "v.csv", data)
    with pytest.raises(ProfileError) as e:
        ingest(manifest, tmp_path / "out")
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'p.toml'}: profile.encoding: {tmp_path / 'v.csv'}")
    assert "is UTF-8 text, not gb18030" in message and 'set encoding = "utf-8"' in message
    assert "UTF-8 Chinese without a fault" in message
    assert "蒙D0000A" in message and "蒙D0000A".encode().decode("gb18030") in message
    row = f"{HEAD},蒙D0000A,car,100,2020-01-01"  # shown from 12 characters before 蒙
    assert repr(row[row.index("蒙") - 12 :][:32]) in message
    assert not (tmp_path / "out").exists()
    # the same bytes under the right encoding are read as they are
    utf8 = tmp_path / "utf8"
    utf8.mkdir()
    fixed = VEHICLE.replace('encoding = "gb18030"', 'encoding = "utf-8"')
    ingest(_one(utf8, fixed, "v.csv", data), utf8 / "out")
    assert read_bundle(utf8 / "out")["vehicle"]["plate"].to_pylist() == plates


def test_a_gb18030_export_is_read_whatever_its_chance_utf8(tmp_path):
    """The other side of the rule: real GB18030 text. A Chinese text can be valid UTF-8
    by chance, but it then decodes to other scripts, not to Chinese: read as GB18030. A
    blind recheck's housing export, ASCII but for 住宅 on every row (valid UTF-8: "סլ"),
    was refused when the rule counted non-ASCII bytes."""
    homes = tmp_path / "homes"
    homes.mkdir()
    uses = ["住宅"] * 20
    assert _valid_utf8("".join(uses).encode("gb18030"))
    ingest(_one(homes, VEHICLE, "v.csv", _vehicles(uses).encode("gb18030")), homes / "out")
    assert read_bundle(homes / "out")["vehicle"]["plate"].to_pylist() == uses
    chance = next(
        c for c in (chr(u) for u in range(0x4E00, 0x9FA6)) if _valid_utf8(c.encode("gb18030"))
    )
    short = tmp_path / "short"
    short.mkdir()
    plate = f"{chance}A12345"
    ingest(_one(short, VEHICLE, "v.csv", _vehicles([plate]).encode("gb18030")), short / "out")
    assert read_bundle(short / "out")["vehicle"]["plate"].to_pylist() == [plate]
    long = tmp_path / "long"
    long.mkdir()
    plates = [
        f"{c}A{n:05d}" for n, c in enumerate("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽")
    ]
    ingest(_one(long, VEHICLE, "v.csv", _vehicles(plates).encode("gb18030")), long / "out")
    assert read_bundle(long / "out")["vehicle"]["plate"].to_pylist() == plates


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_chance_utf8_in_gb18030_text_is_not_utf8_chinese():
    """readers.utf8_chinese's arithmetic: GB18030 Chinese is valid UTF-8 by chance about
    once in five characters, but never as Chinese: no random text of GB2312's 6,763
    characters, 1 to 8 characters long, passes the rule (UTF8_EVIDENCE ideographs)."""
    chars = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    assert len(chars) == 6763
    rng = random.Random(7)
    valid = passed = 0
    for n in range(1, 9):
        for _ in range(5_000):
            data = "".join(rng.choices(chars, k=n)).encode("gb18030")
            valid += _valid_utf8(data)
            passed += readers.utf8_chinese(data) is not None
    assert valid > 500 and passed == 0
    assert readers.utf8_chinese("蒙D1234A,京A88888".encode()) is not None  # two suffice


def test_a_file_not_in_its_encoding_names_the_profile_key(tmp_path):
    """The error ("not utf-8 text at line 1 …; is the profile's encoding right?") named
    the export but not the profile to edit."""
    data = "纳税人识别号;所得项目;收入额（元）\n".encode("gb18030")
    utf8 = TAX_CSV.replace('encoding = "gb18030"', 'encoding = "utf-8"')
    with pytest.raises(ExportError, match=rf"is {tmp_path / 'p.toml'}'s profile.encoding right"):
        ingest(_one(tmp_path, utf8, "t.csv", data), tmp_path / "out")


def test_a_missing_profile_is_named_by_the_manifest_key(tmp_path):
    """It said "profile/bank.toml: cannot read: No such file or directory", where a
    missing raw file names the manifest and its key."""
    (tmp_path / "t.csv").write_bytes(b"x\n")
    (tmp_path / "m.toml").write_text(
        '[[source]]\nprofile = "p.toml"\nfiles = ["t.csv"]\n'
        '[[source]]\nprofile = "profiles/bank.toml"\nfiles = ["t.csv"]\n',
        "utf-8",
    )
    (tmp_path / "p.toml").write_text(TAX_CSV, "utf-8")
    with pytest.raises(ProfileError) as e:
        ingest(tmp_path / "m.toml", tmp_path / "out")
    assert str(e.value).startswith(
        f"{tmp_path / 'm.toml'}: source[1].profile: profiles/bank.toml: profile not found"
    )
    (tmp_path / "profiles" / "bank.toml").mkdir(parents=True)  # a folder of that name
    with pytest.raises(ProfileError) as e:
        ingest(tmp_path / "m.toml", tmp_path / "out")
    assert str(e.value).startswith(
        f"{tmp_path / 'm.toml'}: source[1].profile: profiles/bank.toml: a folder, not a profile"
    )


@pytest.mark.parametrize(
    "edit, key, said",
    [
        (('"重病" = 5', '"重病" = 7'), "values.health.重病", "7: health outside 1..6"),
        (("refused_job_offers = 0", "refused_job_offers = 0\nhealth = 0"), "defaults.health",
         "0: health outside 1..6"),
        (("refused_job_offers = 0", "refused_job_offers = -1"), "defaults.refused_job_offers",
         "-1: negative count"),
        (('tuition = "yuan"', 'tuition = "yuan"\n[values.tuition]\n"免" = -100'),
         "values.tuition.免", "-100: negative money"),
    ],
)  # fmt: skip
def test_a_constant_outside_its_columns_rule_is_a_profile_error(tmp_path, edit, key, said):
    """`"重度残疾" = 7` in [values.health] loaded and put health 7 in persons: the review
    then rejected every household given it; so did a negative amount or count (a blind
    recheck). A value map's or default's constant is the profile's, so its mistake is
    the profile's error (the rules are validation's own, row_checks.RULES)."""
    from meanstest.adapters.profile import load_profile

    path = tmp_path / "p.toml"
    text = PERSONS.replace(*edit)
    if key == "defaults.health":  # a default for a column the profile does not map
        text = text.replace('health = "健康状况"\n', "").replace(
            '[values.health]\n"健康" = 1\n"重病" = 5\n', ""
        )
    path.write_text(text, "utf-8")
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(e.value).startswith(f"{path}: {key}: {said}")


def test_a_jurisdiction_constant_not_of_6_digits_is_a_profile_error(tmp_path):
    """`[defaults] jurisdiction = "12345"` loaded, and the review rejected every
    household (a blind recheck)."""
    from meanstest.adapters.profile import load_profile
    from test_adapters_unseen_edges import CASE_PARQUET

    assert 'jurisdiction = "j"' in CASE_PARQUET
    path = tmp_path / "p.toml"
    text = CASE_PARQUET.replace('jurisdiction = "j"\n', "") + '[defaults]\njurisdiction = "12345"\n'
    path.write_text(text, "utf-8")
    with pytest.raises(ProfileError, match=r"defaults.jurisdiction: '12345': jurisdiction not 6"):
        load_profile(path)
    path.write_text(text.replace('"12345"', '"150422"'), "utf-8")
    assert load_profile(path).defaults["jurisdiction"] == "150422"


def test_a_utf8_sample_cut_inside_a_character_is_still_utf8(tmp_path, monkeypatch):
    """The rule looks at a file's first UTF8_SAMPLE bytes, whose end may cut a character
    in two: that is no evidence against UTF-8, and the file is refused as the whole of
    it would be (a sweep: no test cut one)."""
    plates = [f"{'蒙京'[n % 2]}D{n:04d}A" for n in range(12)]
    data = _vehicles(plates).encode("utf-8")
    third = data.index("蒙D0002A".encode())  # after two distinct Chinese characters
    monkeypatch.setattr(readers, "UTF8_SAMPLE", third + 1)  # one byte of its three
    with pytest.raises(ProfileError, match=f"its first {third + 1:,} bytes are UTF-8 Chinese"):
        ingest(_one(tmp_path, VEHICLE, "v.csv", data), tmp_path / "out")


def test_only_a_character_cut_by_the_samples_end_is_no_evidence_against_utf8():
    """A sequence cut where the sample ends is let pass; a byte that is never UTF-8 is
    evidence against it, at the end as anywhere (a sweep: the end was untested)."""
    text = "蒙D0000A,京D0001A"
    assert readers._utf8_start(text.encode() + "京".encode()[:2]) == text
    assert readers._utf8_start(text.encode() + b"\xff") is None
    assert readers._utf8_start(text.encode() + b"\xe4\xb8A") is None


@pytest.mark.parametrize(
    "char, chinese",
    [(chr(o), True) for o in (0x4E00, 0x9FFF, 0x3400, 0x4DBF, 0x3000, 0x303F, 0xFF00, 0xFFEF)]
    + [(chr(o), False) for o in (0x4DC0, 0xA000, 0x33FF, 0x2FFF, 0x3040, 0xFEFF, 0xFFF0)],
)
def test_the_characters_counted_as_chinese_end_where_their_blocks_end(char, chinese):
    """Ideographs (U+4E00–9FFF, extension A U+3400–4DBF), CJK punctuation (U+3000–303F)
    and full-width forms (U+FF00–FFEF), each block's first and last included."""
    assert readers._chinese(char) is chinese


def test_utf8_chinese_at_its_thresholds():
    """Two distinct ideographs are evidence (each end of U+3400–9FFF counts), and nine in
    ten non-ASCII characters Chinese is enough; U+0080 is non-ASCII too."""
    assert readers.utf8_chinese("\u3400\u9fff".encode()) is not None
    nine = "京津沪渝冀豫云辽黑"
    assert readers.utf8_chinese((nine + "é").encode()) is not None  # exactly 9 in 10
    assert readers.utf8_chinese((nine[:8] + "é").encode()) is None  # 8 in 9
    assert readers.utf8_chinese((nine[:8] + "\x80").encode()) is None

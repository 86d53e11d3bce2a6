"""DATA.md "Adapter profiles": the strict profile loader — one broken profile per
loader error, each naming the file and the key — and the shipped sample profiles."""

import datetime as dt

import pytest
from meanstest.adapters import ADAPTERS, PROFILES, adapter_for
from meanstest.adapters.profile import ProfileError, load_profile, parse_profile

from meanstest.schema import TABLES

VEHICLE = """
[profile]
table = "vehicle"
format = "csv"
encoding = "gb18030"

[columns]
person_id = "身份证号"
plate = "号牌号码"
vehicle_type = "车辆类型"
value = "评估价值(元)"
registered_on = "初次登记日期"

[values.vehicle_type]
"小型轿车" = "car"

[units]
value = "yuan"

[dates]
registered_on = ["%Y-%m-%d", "%Y%m%d"]
"""


def _write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_profile_loads_and_each_table_has_one():
    profiles = [load_profile(p) for p in sorted(PROFILES.glob("*.toml"))]
    assert {p.table for p in profiles} == set(TABLES)
    formats = {(p.format, p.encoding) for p in profiles}
    assert ("csv", "gb18030") in formats and ("jsonl", "utf-8") in formats
    assert any(p.format == "parquet" for p in profiles)
    for p in profiles:
        assert len(p.digest) == 64


def test_the_dataset_example_profile_loads(tmp_path):
    p = load_profile(_write(tmp_path, VEHICLE))
    assert p.table == "vehicle" and p.columns["plate"] == "号牌号码"
    assert p.values == {"vehicle_type": {"小型轿车": "car"}}
    assert p.unit("value") == "yuan" and p.date_formats("registered_on") == ("%Y-%m-%d", "%Y%m%d")
    assert p.delimiter == "," and p.skip_rows == 0


def test_each_table_has_one_department_adapter():
    assert sorted(t for a in ADAPTERS for t in a.tables) == sorted(TABLES)
    assert adapter_for("property").department == "housing"
    assert adapter_for("tax_income").flag == "checked_tax"


BROKEN = [
    # (edit of the VEHICLE profile, key named, words in the problem)
    (("[columns]", "[colours]\nred = 1\n[columns]"), "colours", "unknown key"),
    (('format = "csv"', 'format = "csv"\nheader = 1'), "profile.header", "unknown key"),
    (('table = "vehicle"', 'table = "cars"'), "profile.table", "not a bundle table"),
    (('format = "csv"', 'format = "xlsx"'), "profile.format", "not one of"),
    (('encoding = "gb18030"', 'encoding = "klingon"'), "profile.encoding", "unknown encoding"),
    (('format = "csv"\nencoding = "gb18030"', 'format = "parquet"\nencoding = "gb18030"'),
     "profile.encoding", "Parquet"),
    (('encoding = "gb18030"', 'encoding = "gb18030"\ndelimiter = ",,"'), "profile.delimiter",
     "one character"),
    # pyarrow's reader splits on a byte: a traceback after the header had split (blind test)
    (('encoding = "gb18030"', 'encoding = "gb18030"\ndelimiter = "，"'), "profile.delimiter",
     "need an ASCII character"),
    (('plate = "号牌号码"', 'plate = "号牌号码"\ncolour = "颜色"'), "columns.colour",
     "no column 'colour'"),
    (('plate = "号牌号码"', 'plate = ""'), "columns.plate", "raw column name"),
    (('"小型轿车" = "car"', '"小型轿车" = "limousine"'), "values.vehicle_type.小型轿车",
     "not a value of vehicle_type"),
    (('"小型轿车" = "car"', '"小型轿车" = 3'), "values.vehicle_type.小型轿车", "takes a string"),
    (('[units]', '[values.plate_colour]\n"x" = "y"\n[units]'), "values.plate_colour", "no column"),
    (('value = "yuan"', 'value = "wan_yuan"'), "units.value", "not one of yuan, fen"),
    (('value = "yuan"', 'value = "yuan"\nplate = "yuan"'), "units.plate",
     "neither an amount nor an area"),
    (('registered_on = ["%Y-%m-%d", "%Y%m%d"]', 'registered_on = ["%d.%b.%Y"]'),
     "dates.registered_on", "%b is not supported"),
    (('registered_on = ["%Y-%m-%d", "%Y%m%d"]', 'plate = ["%Y"]'), "dates.plate",
     "not a date column"),
    (('registered_on = ["%Y-%m-%d", "%Y%m%d"]', 'registered_on = []'), "dates.registered_on",
     "list of strptime formats"),
    (('plate = "号牌号码"\n', ''), "columns.plate", "required column"),
    (('[units]', '[defaults]\nvalue = "0"\n[units]'), "defaults.value", "takes an integer"),
    (('[units]', '[defaults]\nregistered_on = "2024-01-01"\n[units]'), "defaults.registered_on",
     "TOML date"),
    (('[units]', '[defaults]\nrecord_id = "X"\n[units]'), "defaults.record_id",
     "record_id takes no constant"),
    (('[units]', '[defaults]\nvalue = 0\n[units]'), "defaults.value",
     "[defaults] gives constants for columns the export lacks"),
    (('format = "csv"', 'format = "csv"\nskip_rows = -1'), "profile.skip_rows", ">= 0"),
    (('format = "csv"\nencoding = "gb18030"', 'format = "jsonl"\nencoding = "utf-16"'),
     "profile.encoding", "ASCII-compatible"),
    (('format = "csv"', 'format = "jsonl"\ndelimiter = ";"'), "profile.delimiter",
     "only CSV profiles have a delimiter"),
    (('format = "csv"\nencoding = "gb18030"', 'format = "parquet"\ndelimiter = "|"'),
     "profile.delimiter", "only CSV profiles have a delimiter"),
    (('format = "csv"', 'format = "jsonl"\nskip_rows = 2'), "profile.skip_rows", "only CSV"),
]  # fmt: skip


@pytest.mark.parametrize("edit, key, words", BROKEN, ids=[b[1] + ":" + b[2] for b in BROKEN])
def test_broken_profile_names_file_and_key(tmp_path, edit, key, words):
    old, new = edit
    assert old in VEHICLE
    path = _write(tmp_path, VEHICLE.replace(old, new, 1))
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert e.value.file == str(path) and e.value.key == key, e.value.message
    assert words in e.value.problem
    assert e.value.message.startswith(f"{path}: {key}: ")


@pytest.mark.parametrize(
    "head",
    [
        'format = "jsonl"\nencoding = "gb18030"\ndelimiter = ","',
        'format = "parquet"\ndelimiter = ","',
        'format = "parquet"\nencoding = "utf-8"',
        'format = "parquet"\nencoding = "UTF8"\nskip_rows = 0',
    ],
)
def test_keys_of_the_templates_defaults_load_in_any_format(tmp_path, head):
    """DATA.md's template profile has `delimiter = ","`; copied into a JSON Lines or
    Parquet profile it means nothing, as Parquet's text is UTF-8, and such a profile
    loads (it stopped the whole ingest). Other values of them there stay errors (above)."""
    text = VEHICLE.replace('format = "csv"\nencoding = "gb18030"', head, 1)
    assert load_profile(_write(tmp_path, text)).format == head.split('"')[1]


def test_profile_values_for_an_unmapped_column_are_an_error(tmp_path):
    text = VEHICLE.replace("[units]", '[values.record_id]\n"a" = "b"\n[units]')
    with pytest.raises(ProfileError, match="values.record_id: column 'record_id' is not mapped"):
        load_profile(_write(tmp_path, text))


def test_toml_syntax_and_duplicate_keys(tmp_path):
    """Wrong TOML says TOML, and wrong bytes say UTF-8 (both said "not valid UTF-8 TOML",
    which sent a blind tester to the encoding of a file whose TOML was wrong)."""
    with pytest.raises(ProfileError, match="not valid TOML: Cannot declare") as e:
        load_profile(_write(tmp_path, VEHICLE + "\n[columns]\nplate = 'x'\n"))
    assert "UTF-8" not in e.value.message
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(_write(tmp_path, "[profile\n"))
    path = tmp_path / "gbk.toml"
    path.write_bytes(VEHICLE.encode("gb18030"))
    with pytest.raises(ProfileError, match=r"not UTF-8 text \(byte 0x[0-9a-f]{2} at offset \d+\)"):
        load_profile(path)
    with pytest.raises(ProfileError, match="cannot read") as e:
        load_profile(tmp_path / "absent.toml")
    assert e.value.message.startswith(f"{tmp_path / 'absent.toml'}: cannot read"), e.value.message


def test_value_maps_take_any_value_of_the_columns_type():
    doc = {
        "profile": {"table": "persons", "format": "csv"},
        "columns": {c: c for c in ("household_id", "person_id", "relation", "birth_date",
                                   "health", "student_level", "occupation",
                                   "refused_job_offers", "tuition")},
        "values": {"health": {"重病": 5}, "relation": {"户主": "head"}},
    }  # fmt: skip
    p = parse_profile(doc, "persons.toml")
    assert p.values["health"] == {"重病": 5}
    doc["values"]["health"] = {"重病": "5"}
    with pytest.raises(ProfileError, match="health takes an integer"):
        parse_profile(doc, "persons.toml")
    doc["values"]["health"] = {"重病": 500}
    with pytest.raises(ProfileError, match="does not fit int8"):
        parse_profile(doc, "persons.toml")
    # int8's own ends: 127 fits (no rule caps a count), 128 does not; -128 fits and is
    # a negative count (a sweep: the ends were untested)
    doc["values"] = {"refused_job_offers": {"多": 127}}
    assert parse_profile(doc, "persons.toml").values["refused_job_offers"] == {"多": 127}
    doc["values"] = {"refused_job_offers": {"多": 128}}
    with pytest.raises(ProfileError, match="128 does not fit int8"):
        parse_profile(doc, "persons.toml")
    doc["values"] = {"refused_job_offers": {"多": -128}}
    with pytest.raises(ProfileError, match="-128: negative count"):
        parse_profile(doc, "persons.toml")


def test_booleans_dates_and_empty_cells_in_value_maps():
    base = {"profile": {"table": "property", "format": "csv"},
            "columns": {c: c for c in ("person_id", "property_id", "use", "area", "share",
                                       "acquired_on", "acquisition", "disposed_on",
                                       "rental_income")}}  # fmt: skip
    p = parse_profile(
        {**base, "values": {"disposed_on": {"无": "", "长期": dt.date(2099, 1, 1)}}}, "x"
    )
    assert p.values["disposed_on"] == {"无": None, "长期": dt.date(2099, 1, 1)}
    with pytest.raises(ProfileError, match="acquired_on takes a TOML date"):
        parse_profile({**base, "values": {"acquired_on": {"无": ""}}}, "x")
    hh = {"profile": {"table": "households", "format": "csv"},
          "columns": {c.name: c.name for c in TABLES["households"]},
          "values": {"consent_signed": {"是": True, "否": "no"}}}  # fmt: skip
    with pytest.raises(ProfileError, match="consent_signed takes true or false"):
        parse_profile(hh, "x")


def test_current_programs_constants_are_lists_of_names_and_map_to_names():
    """[defaults] current_programs is a list of strings, not a string (read as a list of
    its letters) nor a list of numbers; a value map gives each raw name a name (a sweep:
    the string was untested)."""
    columns = {c.name: c.name for c in TABLES["households"]
               if c.name != "current_programs" and not c.name.startswith("checked_")}  # fmt: skip
    hh = {"profile": {"table": "households", "format": "csv"}, "columns": columns}
    ok = parse_profile({**hh, "defaults": {"current_programs": ["medical_assistance"]}}, "x")
    assert ok.defaults["current_programs"] == ["medical_assistance"]
    for bad in ("medical_assistance", [1]):
        with pytest.raises(ProfileError, match="need a list of strings"):
            parse_profile({**hh, "defaults": {"current_programs": bad}}, "x")
    mapped = {**hh, "columns": {**columns, "current_programs": "cp"}}
    with pytest.raises(ProfileError, match="a program name is a string"):
        parse_profile({**mapped, "values": {"current_programs": {"医疗救助": 1}}}, "x")


def test_unmapped_optional_columns_are_allowed():
    """record_id, nullable columns, current_programs and checked_* may be left out."""
    hh = {
        "profile": {"table": "households", "format": "csv"},
        "columns": {c.name: c.name for c in TABLES["households"]
                    if not (c.name.startswith(("checked_", "declared_")) or c.optional)},
    }  # fmt: skip
    assert parse_profile(hh, "x").table == "households"


def test_department_clean_ups():
    """Vehicle plates lose inner spaces and are upper-cased; property ids and household
    ids lose inner spaces; nothing else is touched."""
    import pyarrow as pa

    def clean(table, column, values):
        return adapter_for(table).cleaners[f"{table}.{column}"](pa.array(values)).to_pylist()

    assert clean("vehicle", "plate", ["蒙d 12a45", "蒙DAB123"]) == ["蒙D12A45", "蒙DAB123"]
    assert clean("property", "property_id", ["P150422- 0012\u30003"]) == ["P150422-00123"]
    assert clean("persons", "household_id", ["HH 0001"]) == ["HH0001"]
    assert "jurisdiction" not in " ".join(adapter_for("households").cleaners)


def test_value_map_raw_values_are_trimmed_as_cells_are_and_empty_is_no_raw_value():
    """A cell is trimmed before the map, so a raw value " 是 " would never match: it is
    trimmed too. An empty raw value would never match either (an empty cell is null,
    DATA.md): the profile error says so."""
    base = {"profile": {"table": "tax_income", "format": "csv"},
            "columns": {"person_id": "a", "income_type": "b", "amount": "c"}}  # fmt: skip
    p = parse_profile({**base, "values": {"income_type": {" 工资薪金 ": "wage"}}}, "x")
    assert p.values["income_type"] == {"工资薪金": "wage"}
    with pytest.raises(ProfileError, match=r"values\.income_type\.'': an empty cell is null"):
        parse_profile({**base, "values": {"income_type": {"": "wage"}}}, "x")
    with pytest.raises(ProfileError, match="mapped twice"):
        parse_profile({**base, "values": {"income_type": {"a": "wage", "a ": "labour"}}}, "x")

"""The bundle and output tables of DATA.md: column names, Arrow types, nullability, enums.

This module is the single place that spells the data contract; readers, writers,
validators, generators and engines all take their column lists from here.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

import pyarrow as pa

from meanstest.kernels import registry


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    optional: bool = False  # the column itself may be absent from the file


def _c(name, type_, nullable=False, enum=None, optional=False) -> Column:
    return Column(name, type_, nullable, tuple(enum) if enum else None, optional)


AREAS = ("urban", "rural")
PREV_STATUSES = ("none", "dibao", "tekun", "low_income", "phase_out")
RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "sibling", "other")
STUDENT_LEVELS = ("none", "preschool", "primary", "junior", "senior", "vocational", "college")
OCCUPATIONS = ("employed", "flexible", "farming", "unemployed", "retired", "none")
SECTORS = ("public", "enterprise", "self_employed", "flexible", "farming", "none")
EXEMPT_REASONS = ("none", "dibao", "serious_illness", "severe_disability", "imprisoned", "student")
INCOME_TYPES = ("wage", "labour", "business", "interest", "rental", "other")
ROLES = ("self_employed", "legal_rep", "shareholder")
PRODUCTS = ("deposit", "wealth", "securities", "fund", "insurance")
VEHICLE_TYPES = ("car", "truck", "motorcycle", "agricultural", "mobility")
PROPERTY_USES = ("residential", "commercial", "office", "industrial", "other")
ACQUISITIONS = ("purchase", "self_built", "inheritance", "resettlement", "gift")
RECORD_TYPES = (
    "pension_benefit",
    "unemployment_benefit",
    "injury_benefit",
    "pension_contribution",
    "medical_settlement",
    "employment",
)
SCHEMES = ("employee", "resident", "none")
EMPLOYER_TYPES = ("government", "public_institution", "enterprise", "none")
TRANSFER_TYPES = ("pension_benefit", "unemployment_benefit", "injury_benefit")

STATUSES = ("VETOED", "TEKUN", "DIBAO", "PHASE_OUT", "DIBAO_SINGLE", "LOW_INCOME", "NOT_ELIGIBLE")
TRANSITIONS = ("NEW", "CONTINUE", "ADJUST", "PHASE_OUT", "EXIT", "NONE")
EMPLOYMENT_BASES = ("verified", "imputed_work", "imputed_land", "none")
VETO_CODES = registry.VETO_CODES  # the veto registry (kernels/registry.py), in bit order
UNDECLARED_CODES = (
    "UNDECLARED_INCOME",
    "UNDECLARED_VEHICLE",
    "UNDECLARED_PROPERTY",
    "UNDECLARED_ASSETS",
)
# Every findings.code (RULES.md §6, §8), in the fast engine's code order.
FINDING_CODES = (
    *VETO_CODES,
    *UNDECLARED_CODES,
    "SOURCE_NOT_CHECKED",
    "DUPLICATE_PERSON",
    "PROGRAM_MISSED",
    "PROGRAM_UNDUE",
)
SEVERITIES = ("veto", "warning")
# Department names used by SOURCE_NOT_CHECKED, in the order of the checked_* flags.
DEPARTMENTS = ("tax", "bank", "vehicle", "housing", "social_insurance")
PROGRAM_REQUIRES = ("any", "student", "medical", "no_home", "work_capable", "disability", "elderly")

S = pa.string()
D32 = pa.date32()
I8, I32, I64 = pa.int8(), pa.int32(), pa.int64()
B = pa.bool_()

TABLES: dict[str, tuple[Column, ...]] = {
    "households": (
        _c("household_id", S),
        _c("jurisdiction", S),
        _c("area", S, enum=AREAS),
        _c("assessment_date", D32),
        _c("consent_signed", B),
        _c("checked_tax", B),
        _c("checked_bank", B),
        _c("checked_vehicle", B),
        _c("checked_housing", B),
        _c("checked_social_insurance", B),
        _c("declared_income_monthly", I64, nullable=True),
        _c("declared_vehicles", I32, nullable=True),
        _c("declared_properties", I32, nullable=True),
        _c("declared_financial_assets", I64, nullable=True),
        _c("prev_status", S, enum=PREV_STATUSES),
        _c("prev_benefit", I64),
        _c("current_programs", pa.list_(S), nullable=True, optional=True),
    ),
    "persons": (
        _c("household_id", S),
        _c("person_id", S),
        _c("relation", S, enum=RELATIONS),
        _c("birth_date", D32),
        _c("health", I8),
        _c("student_level", S, enum=STUDENT_LEVELS),
        _c("occupation", S, enum=OCCUPATIONS),
        _c("refused_job_offers", I8),
        _c("tuition", I64),
    ),
    "supporters": (
        _c("household_id", S),
        _c("supporter_id", S),
        _c("birth_date", D32),
        _c("health", I8),
        _c("employment_sector", S, enum=SECTORS),
        _c("exempt_reason", S, enum=EXEMPT_REASONS),
        _c("supported_count", I8),
    ),
    "tax_income": (
        _c("person_id", S),
        _c("income_type", S, enum=INCOME_TYPES),
        _c("amount", I64),
        _c("record_id", S),
    ),
    "business_registration": (
        _c("person_id", S),
        _c("role", S, enum=ROLES),
        _c("annual_turnover", I64),
        _c("employees", I32),
        _c("record_id", S),
    ),
    "bank": (
        _c("person_id", S),
        _c("institution", S),
        _c("product", S, enum=PRODUCTS),
        _c("balance", I64),
        _c("interest", I64),
        _c("record_id", S),
    ),
    "vehicle": (
        _c("person_id", S),
        _c("plate", S),
        _c("vehicle_type", S, enum=VEHICLE_TYPES),
        _c("value", I64),
        _c("registered_on", D32),
        _c("record_id", S),
    ),
    "property": (
        _c("person_id", S),
        _c("property_id", S),
        _c("use", S, enum=PROPERTY_USES),
        _c("area", I64),
        _c("share", I32),
        _c("acquired_on", D32),
        _c("acquisition", S, enum=ACQUISITIONS),
        _c("disposed_on", D32, nullable=True),
        _c("rental_income", I64),
        _c("record_id", S),
    ),
    "social_insurance": (
        _c("person_id", S),
        _c("record_type", S, enum=RECORD_TYPES),
        _c("amount", I64),
        _c("reimbursed", I64),
        _c("scheme", S, enum=SCHEMES),
        _c("employer_type", S, enum=EMPLOYER_TYPES),
        _c("record_id", S),
    ),
}

CASE_TABLES = ("households", "persons", "supporters")


def missing_case_table(present: Container[str], where: str) -> str | None:
    """The error for a bundle folder without one of CASE_TABLES, None when all are there.
    DATA.md lets only a source table be absent (it has no rows): a folder without
    supporters.parquet would be assessed as if no household had a supporter, with no
    word (an operator's check found every benefit figure changed)."""
    for name in CASE_TABLES:
        if name not in present:
            return (
                f"{where}: no {name} table ({name}.parquet or .arrow): only a source table "
                "may be absent from a bundle (DATA.md); write an empty one if none has rows"
            )
    return None


SOURCE_TABLES = (
    "tax_income",
    "business_registration",
    "bank",
    "vehicle",
    "property",
    "social_insurance",
)


def absent_source_tables(present: Container[str]) -> list[str]:
    """The source tables not in `present`, in SOURCE_TABLES' order. DATA.md reads an
    absent source table as one with no rows, and a department's export that never
    arrived looks the same: without bank.parquet no member's savings reach V04, and a
    blind recheck noted how easily that gives wrong benefits in silence. So
    summary.json, the review's console, the report and explain name them."""
    return [name for name in SOURCE_TABLES if name not in present]


def absent_note(where: object, table: str) -> str:
    """The line a review says of an absent source table (absent_source_tables)."""
    return (
        f"no {table} table in {where}: every household is assessed as having no {table} "
        "records (DATA.md: an absent source table has no rows); if its export was lost, "
        "add it and review again"
    )


def arrow_schema(table: str) -> pa.Schema:
    """The canonical Arrow schema of a bundle table (all columns, optional ones included)."""
    return pa.schema([pa.field(c.name, c.type, nullable=True) for c in TABLES[table]])


def empty_table(table: str) -> pa.Table:
    return arrow_schema(table).empty_table()


L = pa.list_(S)
OUTPUTS: dict[str, pa.Schema] = {
    "results": pa.schema(
        [
            ("household_id", S),
            ("status", S),
            ("benefit", I64),
            ("phaseout_months", I32),
            ("pci", I64),
            ("standard", I64),
            ("gross_income", I64),
            ("medical", I64),
            ("education", I64),
            ("pension", I64),
            ("net_income", I64),
            ("financial_assets", I64),
            ("circle", I8),
            ("transition", S),
            ("vetoes", L),
            ("difficulty_index", I32),
            ("rank", I64),
            ("provisional", B),
            ("eligible_programs", L),
            ("policy_id", S),
            ("policy_digest", S),
            ("input_digest", S),
            ("engine_version", S),
        ]
    ),
    "members": pa.schema(
        [
            ("household_id", S),
            ("person_id", S),
            ("age", I32),
            ("labour_coefficient", I32),
            ("employment", I64),
            ("employment_basis", S),
            ("member_income", I64),
            ("verified_income", I64),
        ]
    ),
    "findings": pa.schema(
        [
            ("household_id", S),
            ("code", S),
            ("severity", S),
            ("person_id", S),
            ("source", S),
            ("record_id", S),
            ("detail", S),
        ]
    ),
    "rejects": pa.schema([("household_id", S), ("reasons", L)]),
}

# Columns of `results` that the engines compute; the pipeline adds the rest
# (rank over the whole run, policy id and digest, input digest, engine version).
ENGINE_RESULT_COLUMNS = tuple(
    n
    for n in OUTPUTS["results"].names
    if n not in ("rank", "policy_id", "policy_digest", "input_digest", "engine_version")
)

# How the output tables are written as Parquet (every writer of results, members,
# findings, rejects and the change lists: the review, `write_outputs`, Spark).
# Dictionary pages for the columns of few distinct values: enumerations, veto and
# program lists, the pack, and the small integers (months, circle, index, age,
# coefficient); none for IDs, digests, free text, money and rank, whose dictionary
# would be built, found too large and dropped. Min/max statistics for every column but
# IDs, digests and free text, where they prune nothing (a million rows make one row
# group). Measured on the outputs of a 1M-household review: 0.47 CPU-s less to write
# than pyarrow's defaults, files 5% larger (benches/ANALYSIS.md, "The outputs' Parquet
# options").
OUTPUT_FREE_TEXT = frozenset(
    {"household_id", "person_id", "record_id", "detail", "input_digest", "reasons"}
)
# Stored without compression: hex SHA-256 digests, one per household, are random hex
# digits that Snappy cannot shorten (1M of them: 0.12 s to write for 2% of the file).
OUTPUT_UNCOMPRESSED = frozenset({"input_digest"})


def output_parquet_options(table_schema: pa.Schema) -> dict:
    """Keyword arguments of pq.ParquetWriter / pq.write_table for an output table of
    this schema (any columns: a Spark piece drops its partition columns)."""
    kept = [f for f in table_schema if f.name not in OUTPUT_FREE_TEXT]
    return {
        "use_dictionary": [_leaf_path(f) for f in kept if f.type != pa.int64()],
        "write_statistics": [_leaf_path(f) for f in kept],
        "compression": {
            _leaf_path(f): "none" if f.name in OUTPUT_UNCOMPRESSED else "snappy"
            for f in table_schema
        },
    }


def _leaf_path(field: pa.Field) -> str:
    """Parquet's path of a column's values: `vetoes.list.element` for a list column
    (list or large_list of strings; the output tables have no other nesting)."""
    nested = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
    if (pa.types.is_nested(field.type) and not nested) or (
        nested and pa.types.is_nested(field.type.value_type)
    ):
        raise ValueError(f"{field.name}: {field.type} is not a type of the output tables")
    return f"{field.name}.list.element" if nested else field.name

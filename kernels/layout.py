"""The array layout the kernels read and write: column numbers, parameter slots, groups.

Assembly (`meanstest.assemble`) fills these arrays from Arrow tables and a policy pack;
the kernels index them with the constants below, which numba folds at compile time.
Codes of enumerations are the index of the value in the schema's enum tuple (the same
order is spelled out here so that kernels import only numpy and numba). Dates are days
since 1970-01-01 (int32); money is int64 fen; ratios int64 per-mille.

Groups (namedtuples of numpy arrays, so a kernel takes five arguments, not fifty):

- `Households`: codes int32 [H, HC_*], money int64 [H, HM_*],
  member_off / supporter_off int64 [H + 1] (slots of household h are
  off[h]..off[h+1]-1, persons-table order).
- `People`: member_codes int32 [M, MC_*], member_money int64 [M, MM_*],
  supporter_codes int32 [S, SC_*], person_ranges [P, 2 * N_TABLES] (rows
  [start, end) of a distinct person in each table's sorted rows, column 2*t, 2*t+1),
  instance_off [M, N_TABLES] (first "record instance" of a member slot: the k-th
  row of the slot's person in table t is instance instance_off[slot, t] + k; a person
  who is a member of two households has two slots and two sets of instances). These
  two index rows: both int32, or both int64 for a batch whose rows or instances of a
  table do not fit int32 (half the memory at 1M households: 215 MB less).
- `Records`: per table, codes int32 [rows, *] and money int64 [rows, *], rows sorted by
  (person, record_id).
- `Pack`: params int64 [packs, N_PARAMS], program_statuses int64 [packs, max programs]
  (bit per STATUSES index), program_requires int64 [packs, max programs]
  (PROGRAM_REQUIRES index), program_count int64 [packs].
- `Outputs`: household_money int64 [OM_*, H], household_codes int32 [OC_*, H],
  member_money int64 [MOM_*, M], member_codes int32 [MOC_*, M] (one row per column),
  <table>_vetoes int16 [instances] per table with vetoes (bits of the vetoes that fired
  and list that record instance; see V01_BY_VALUE), scratch int32 [threads, width]
  (per-thread workspace for distinct counting; not an output). The first triggering
  record of a veto (its evidence) is the first instance of the household with the bit.
"""

from __future__ import annotations

from collections import namedtuple

from .registry import PARAMS, VETOES, Param

# -- enumerations (index = code), same order as meanstest.schema -----------------------
AREAS = ("urban", "rural")
PREV_STATUSES = ("none", "dibao", "tekun", "low_income", "phase_out")
STUDENT_LEVELS = ("none", "preschool", "primary", "junior", "senior", "vocational", "college")
OCCUPATIONS = ("employed", "flexible", "farming", "unemployed", "retired", "none")
SECTORS = ("public", "enterprise", "self_employed", "flexible", "farming", "none")
EXEMPT_REASONS = ("none", "dibao", "serious_illness", "severe_disability", "imprisoned", "student")
INCOME_TYPES = ("wage", "labour", "business", "interest", "rental", "other")
ROLES = ("self_employed", "legal_rep", "shareholder")
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
STATUSES = ("VETOED", "TEKUN", "DIBAO", "PHASE_OUT", "DIBAO_SINGLE", "LOW_INCOME", "NOT_ELIGIBLE")
TRANSITIONS = ("NEW", "CONTINUE", "ADJUST", "PHASE_OUT", "EXIT", "NONE")
EMPLOYMENT_BASES = ("verified", "imputed_work", "imputed_land", "none")
PROGRAM_REQUIRES = ("any", "student", "medical", "no_home", "work_capable", "disability", "elderly")
N_VETOES = len(VETOES)  # veto bit v: VETOES[v] (registry order)
N_UNDECLARED = 4
N_DEPARTMENTS = 5

AREA_RURAL = 1
PREV_NONE, PREV_DIBAO, PREV_TEKUN, PREV_LOW_INCOME, PREV_PHASE_OUT = 0, 1, 2, 3, 4
LEVEL_NONE, LEVEL_PRESCHOOL = 0, 1
NO_LEVEL = -1  # a supporter: no student level at all (RULES.md §4)
OCC_FLEXIBLE, OCC_FARMING, OCC_UNEMPLOYED, OCC_NONE = 1, 2, 3, 5
EXEMPT_NONE = 0
INCOME_WAGE, INCOME_LABOUR, INCOME_BUSINESS, INCOME_OTHER = 0, 1, 2, 5
ROLE_SELF_EMPLOYED = 0
USE_RESIDENTIAL, USE_OTHER = 0, 4
ACQ_PURCHASE = 0
RT_PENSION_CONTRIBUTION, RT_MEDICAL, RT_EMPLOYMENT = 3, 4, 5
SCHEME_RESIDENT = 1
EMPLOYER_GOVERNMENT, EMPLOYER_PUBLIC_INSTITUTION = 0, 1
(ST_VETOED, ST_TEKUN, ST_DIBAO, ST_PHASE_OUT, ST_DIBAO_SINGLE, ST_LOW_INCOME, ST_NOT_ELIGIBLE) = (
    range(7)
)
TR_NEW, TR_CONTINUE, TR_ADJUST, TR_PHASE_OUT, TR_EXIT, TR_NONE = range(6)
BASIS_VERIFIED, BASIS_IMPUTED_WORK, BASIS_IMPUTED_LAND, BASIS_NONE = range(4)
(REQ_ANY, REQ_STUDENT, REQ_MEDICAL, REQ_NO_HOME, REQ_WORK_CAPABLE, REQ_DISABILITY, REQ_ELDERLY) = (
    range(7)
)
NOT_DISPOSED = 2**31 - 1  # disposed_on null: never "disposed within", always "> D"
NULL = -1  # a declared_* value that is not declared

# -- source tables (order of meanstest.schema.SOURCE_TABLES) ---------------------------
TAX, BUSINESS, BANK, VEHICLE, PROPERTY, SOCIAL = range(6)
N_TABLES = 6

# -- households -------------------------------------------------------------------------
HC_DATE, HC_AREA, HC_CONSENT, HC_CHECKED, HC_PREV_STATUS, HC_PACK = 0, 1, 2, 3, 8, 9
N_HC = 10  # HC_CHECKED .. HC_CHECKED+4: tax, bank, vehicle, housing, social_insurance
(
    HM_DECLARED_INCOME,
    HM_DECLARED_VEHICLES,
    HM_DECLARED_PROPERTIES,
    HM_DECLARED_ASSETS,
    HM_PREV_BENEFIT,
    HM_CURRENT_PROGRAMS,
) = range(6)
N_HM = 6

# -- members and supporters -------------------------------------------------------------
MC_PERSON, MC_BIRTH, MC_HEALTH, MC_STUDENT, MC_OCCUPATION, MC_REFUSED = range(6)
N_MC = 6
MM_TUITION = 0
N_MM = 1
SC_PERSON, SC_BIRTH, SC_HEALTH, SC_SECTOR, SC_EXEMPT, SC_COUNT = range(6)
N_SC = 6

# -- source record columns ---------------------------------------------------------------
TC_INCOME_TYPE = 0  # tax_income codes
TM_AMOUNT = 0
KM_BALANCE, KM_INTEREST = 0, 1  # bank money
BC_ROLE, BC_EMPLOYEES = 0, 1  # business_registration codes
BM_TURNOVER = 0
VC_PLATE, VC_TYPE, VC_REGISTERED = 0, 1, 2  # vehicle codes (plate: code of distinct plate)
VM_VALUE = 0
PC_PROPERTY, PC_USE, PC_SHARE, PC_ACQUIRED, PC_ACQUISITION, PC_DISPOSED = range(6)
PM_AREA, PM_RENTAL = 0, 1
SIC_RECORD_TYPE, SIC_SCHEME, SIC_EMPLOYER = 0, 1, 2
SIM_AMOUNT, SIM_REIMBURSED = 0, 1

# -- policy parameters (POLICY.md), one int64 row per pack --------------------------------
# The row is registry.PARAMS in order, each parameter taking the cells `cells(p)` names:
# an integer one; names one (bit per index in its enumeration: veto.enabled bit v-1 for
# Vv, counted_transfers bit per RECORD_TYPES 0..2); a map one per name of its enumeration
# (0 = absent); ints and ages `length`; the labour grid rows × width, row-major.
# P_<NAME> is the first cell of a parameter, found by its path.
_ENUMS = {"SECTORS": SECTORS, "STUDENT_LEVELS": STUDENT_LEVELS}


def cells(p: Param) -> list[str]:
    """The names of the int64 cells parameter `p` takes in the packed row."""
    if p.shape == "map":
        return [f"{p.path}.{k}" for k in _ENUMS[p.enum]]
    if p.shape == "grid":
        return [f"{p.path}[{r}][{c}]" for r in range(p.length) for c in range(p.width)]
    if p.shape in ("ints", "ages"):
        return [f"{p.path}[{i}]" for i in range(p.length)]
    return [p.path]


PARAM_NAMES = tuple(name for p in PARAMS for name in cells(p))
N_PARAMS = len(PARAM_NAMES)
_at = {name: i for i, name in enumerate(PARAM_NAMES)}
_at.update({p.path: _at[cells(p)[0]] for p in PARAMS})
P_DIBAO_URBAN = _at["standards.dibao_urban"]
P_LOW_INCOME_RATIO = _at["standards.low_income_ratio"]
P_TEKUN_RATIO = _at["standards.tekun_ratio"]
P_MIN_WAGE = _at["imputation.min_wage_monthly"]
P_WORK_MONTHS = _at["imputation.work_months"]
P_RURAL_INCOME = _at["imputation.rural_income_annual"]
P_LAND_RATIO = _at["imputation.land_ratio"]
P_AGE_BANDS = _at["imputation.age_bands"]
P_LABOUR = _at["imputation.labour_coefficient"]
P_NO_LABOUR_LEVELS = _at["imputation.student_levels_without_labour"]
P_COUNTED_TRANSFERS = _at["imputation.counted_transfers"]
P_SECTOR_RATIO = _at["support.sector_ratio"]
P_ELEVATED_BONUS = _at["support.elevated_bonus"]
P_CAP_RATIO = _at["support.cap_ratio"]
P_SUPPORTER_ASSET_LIMIT = _at["support.supporter_asset_limit"]
P_MEDICAL_CAP = _at["deductions.medical_cap"]
P_TUITION_CAP = _at["deductions.tuition_cap"]
P_PENSION_CAP = _at["deductions.pension_contribution_cap"]
P_VETO_ENABLED = _at["veto.enabled"]
P_VEHICLE_TYPES = _at["veto.vehicle_types"]
P_VEHICLE_VALUE_LIMIT = _at["veto.vehicle_value_limit"]
P_MAX_VEHICLES = _at["veto.max_vehicles"]
P_MAX_RESIDENTIAL = _at["veto.max_residential_properties"]
P_AREA_LIMIT = _at["veto.residential_area_per_capita_limit"]
P_ASSET_MONTHS = _at["veto.financial_asset_months"]
P_TURNOVER_LIMIT = _at["veto.business_turnover_limit"]
P_INSURANCE_GRADE_LIMIT = _at["veto.insurance_grade_limit"]
P_RECENT_PURCHASE = _at["veto.recent_purchase_months"]
P_RECENT_TRANSFER = _at["veto.recent_transfer_months"]
P_RECENT_VEHICLE = _at["veto.recent_vehicle_months"]
P_REFUSED_COEFFICIENT = _at["veto.refused_work_min_coefficient"]
P_REFUSED_COUNT = _at["veto.refused_work_min_count"]
P_DECLARATION_RATIO = _at["veto.declaration_tolerance_ratio"]
P_DECLARATION_ABS = _at["veto.declaration_tolerance_abs"]
P_ASSET_DECLARATION_ABS = _at["veto.asset_declaration_tolerance_abs"]
P_ADDON_ELDERLY = _at["addons.elderly_70"]
P_ADDON_SEVERE = _at["addons.severe_disability"]
P_ADDON_SERIOUS = _at["addons.serious_illness"]
P_ADDON_CHILD = _at["addons.child_under_16"]
P_PHASEOUT_MONTHS = _at["phaseout.months"]
P_CIRCLE3 = _at["circles.circle3_ratio"]
P_CIRCLE4 = _at["circles.circle4_ratio"]
P_MEMBER_CAP = _at["index.member_cap"]
P_INCOME_MAX = _at["index.income_max"]
P_ASSET_MAX = _at["index.asset_max"]
P_AGE_70 = _at["index.age_70"]
P_AGE_60 = _at["index.age_60"]
P_AGE_CHILD = _at["index.age_child"]
P_HEALTH_POINTS = _at["index.health_points"]
P_STUDENT_POINTS = _at["index.student_points"]
P_EXTRA_PROPERTY_PENALTY = _at["index.extra_property_penalty"]
P_VEHICLE_PENALTY = _at["index.vehicle_penalty"]
P_ASSET_PENALTY = _at["index.asset_penalty"]
P_ASSET_PENALTY_MONTHS = _at["index.asset_penalty_months"]
del _at

# -- outputs -----------------------------------------------------------------------------
# One row per output column ([columns, H] or [columns, M]): every column is a contiguous
# array that becomes an Arrow column without a copy. Money is int64; codes, counts and
# bitmasks that fit are int32. The kernels write every cell (the arrays come from
# np.empty).
(
    OM_BENEFIT,
    OM_PCI,
    OM_STANDARD,
    OM_GROSS,
    OM_MEDICAL,
    OM_EDUCATION,
    OM_PENSION,
    OM_NET,
    OM_ASSETS,
    OM_VERIFIED_MONTHLY,
    OM_INCOME_TOLERANCE,
    OM_ELIGIBLE,
) = range(12)
N_OM = 12  # household_money; OM_ELIGIBLE: bit i = program i of the pack
MAX_PROGRAMS = 62  # programs of a pack the kernels hold (OM_ELIGIBLE, current_programs)
(
    OC_STATUS,
    OC_PHASEOUT,
    OC_CIRCLE,
    OC_TRANSITION,
    OC_VETOES,
    OC_INDEX,
    OC_NOT_CHECKED,
    OC_UNDECLARED,
    OC_OWNED_VEHICLES,
    OC_OWNED_PROPERTIES,
) = range(10)
N_OC = 10  # household_codes; OC_VETOES, OC_NOT_CHECKED, OC_UNDECLARED are bitmasks
MOM_EMPLOYMENT, MOM_INCOME, MOM_VERIFIED = range(3)
N_MOM = 3  # member_money
MOC_AGE, MOC_COEFFICIENT, MOC_BASIS, MOC_REFUSED_WORK = range(4)
N_MOC = 4  # member_codes; MOC_REFUSED_WORK: 1 when the member is V11's evidence
# Record-instance bits (int16 per table, one cell per instance): bit v is set when the
# instance is listed in the detail of veto V(v+1) *and that veto fired* for the
# household; bit V01_BY_VALUE marks the vehicles that trigger V01 by their value (the
# first of them is V01's evidence).
V01_BY_VALUE = N_VETOES

Households = namedtuple("Households", "codes money member_off supporter_off")
People = namedtuple(
    "People", "member_codes member_money supporter_codes person_ranges instance_off"
)
Records = namedtuple(
    "Records",
    "tax_codes tax_money business_codes business_money bank_money vehicle_codes "
    "vehicle_money property_codes property_money social_codes social_money",
)
Pack = namedtuple("Pack", "params program_statuses program_requires program_count")
Outputs = namedtuple(
    "Outputs",
    "household_money household_codes member_money member_codes business_vetoes bank_vetoes "
    "vehicle_vetoes property_vetoes social_vetoes scratch",
)

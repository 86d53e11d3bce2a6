from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Person(_message.Message):
    __slots__ = ("person_id", "relation", "birth_date", "health", "student_level", "occupation", "refused_job_offers", "tuition")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    STUDENT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    OCCUPATION_FIELD_NUMBER: _ClassVar[int]
    REFUSED_JOB_OFFERS_FIELD_NUMBER: _ClassVar[int]
    TUITION_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    relation: str
    birth_date: str
    health: int
    student_level: str
    occupation: str
    refused_job_offers: int
    tuition: int
    def __init__(self, person_id: _Optional[str] = ..., relation: _Optional[str] = ..., birth_date: _Optional[str] = ..., health: _Optional[int] = ..., student_level: _Optional[str] = ..., occupation: _Optional[str] = ..., refused_job_offers: _Optional[int] = ..., tuition: _Optional[int] = ...) -> None: ...

class Supporter(_message.Message):
    __slots__ = ("supporter_id", "birth_date", "health", "employment_sector", "exempt_reason", "supported_count")
    SUPPORTER_ID_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    EMPLOYMENT_SECTOR_FIELD_NUMBER: _ClassVar[int]
    EXEMPT_REASON_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    supporter_id: str
    birth_date: str
    health: int
    employment_sector: str
    exempt_reason: str
    supported_count: int
    def __init__(self, supporter_id: _Optional[str] = ..., birth_date: _Optional[str] = ..., health: _Optional[int] = ..., employment_sector: _Optional[str] = ..., exempt_reason: _Optional[str] = ..., supported_count: _Optional[int] = ...) -> None: ...

class TaxIncome(_message.Message):
    __slots__ = ("person_id", "income_type", "amount", "record_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    INCOME_TYPE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    income_type: str
    amount: int
    record_id: str
    def __init__(self, person_id: _Optional[str] = ..., income_type: _Optional[str] = ..., amount: _Optional[int] = ..., record_id: _Optional[str] = ...) -> None: ...

class BusinessRegistration(_message.Message):
    __slots__ = ("person_id", "role", "annual_turnover", "employees", "record_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_TURNOVER_FIELD_NUMBER: _ClassVar[int]
    EMPLOYEES_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    role: str
    annual_turnover: int
    employees: int
    record_id: str
    def __init__(self, person_id: _Optional[str] = ..., role: _Optional[str] = ..., annual_turnover: _Optional[int] = ..., employees: _Optional[int] = ..., record_id: _Optional[str] = ...) -> None: ...

class Bank(_message.Message):
    __slots__ = ("person_id", "institution", "product", "balance", "interest", "record_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    INTEREST_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    institution: str
    product: str
    balance: int
    interest: int
    record_id: str
    def __init__(self, person_id: _Optional[str] = ..., institution: _Optional[str] = ..., product: _Optional[str] = ..., balance: _Optional[int] = ..., interest: _Optional[int] = ..., record_id: _Optional[str] = ...) -> None: ...

class Vehicle(_message.Message):
    __slots__ = ("person_id", "plate", "vehicle_type", "value", "registered_on", "record_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_ON_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    plate: str
    vehicle_type: str
    value: int
    registered_on: str
    record_id: str
    def __init__(self, person_id: _Optional[str] = ..., plate: _Optional[str] = ..., vehicle_type: _Optional[str] = ..., value: _Optional[int] = ..., registered_on: _Optional[str] = ..., record_id: _Optional[str] = ...) -> None: ...

class Property(_message.Message):
    __slots__ = ("person_id", "property_id", "use", "area", "share", "acquired_on", "acquisition", "disposed_on", "rental_income", "record_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_ID_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    AREA_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_ON_FIELD_NUMBER: _ClassVar[int]
    ACQUISITION_FIELD_NUMBER: _ClassVar[int]
    DISPOSED_ON_FIELD_NUMBER: _ClassVar[int]
    RENTAL_INCOME_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    property_id: str
    use: str
    area: int
    share: int
    acquired_on: str
    acquisition: str
    disposed_on: str
    rental_income: int
    record_id: str
    def __init__(self, person_id: _Optional[str] = ..., property_id: _Optional[str] = ..., use: _Optional[str] = ..., area: _Optional[int] = ..., share: _Optional[int] = ..., acquired_on: _Optional[str] = ..., acquisition: _Optional[str] = ..., disposed_on: _Optional[str] = ..., rental_income: _Optional[int] = ..., record_id: _Optional[str] = ...) -> None: ...

class SocialInsurance(_message.Message):
    __slots__ = ("person_id", "record_type", "amount", "reimbursed", "scheme", "employer_type", "record_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_TYPE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REIMBURSED_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    record_type: str
    amount: int
    reimbursed: int
    scheme: str
    employer_type: str
    record_id: str
    def __init__(self, person_id: _Optional[str] = ..., record_type: _Optional[str] = ..., amount: _Optional[int] = ..., reimbursed: _Optional[int] = ..., scheme: _Optional[str] = ..., employer_type: _Optional[str] = ..., record_id: _Optional[str] = ...) -> None: ...

class Programs(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class Household(_message.Message):
    __slots__ = ("household_id", "jurisdiction", "area", "assessment_date", "consent_signed", "checked_tax", "checked_bank", "checked_vehicle", "checked_housing", "checked_social_insurance", "declared_income_monthly", "declared_vehicles", "declared_properties", "declared_financial_assets", "prev_status", "prev_benefit", "current_programs", "persons", "supporters", "tax_income", "business_registration", "bank", "vehicle", "property", "social_insurance")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    AREA_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_SIGNED_FIELD_NUMBER: _ClassVar[int]
    CHECKED_TAX_FIELD_NUMBER: _ClassVar[int]
    CHECKED_BANK_FIELD_NUMBER: _ClassVar[int]
    CHECKED_VEHICLE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_HOUSING_FIELD_NUMBER: _ClassVar[int]
    CHECKED_SOCIAL_INSURANCE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_INCOME_MONTHLY_FIELD_NUMBER: _ClassVar[int]
    DECLARED_VEHICLES_FIELD_NUMBER: _ClassVar[int]
    DECLARED_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    DECLARED_FINANCIAL_ASSETS_FIELD_NUMBER: _ClassVar[int]
    PREV_STATUS_FIELD_NUMBER: _ClassVar[int]
    PREV_BENEFIT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTERS_FIELD_NUMBER: _ClassVar[int]
    TAX_INCOME_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    BANK_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    SOCIAL_INSURANCE_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    jurisdiction: str
    area: str
    assessment_date: str
    consent_signed: bool
    checked_tax: bool
    checked_bank: bool
    checked_vehicle: bool
    checked_housing: bool
    checked_social_insurance: bool
    declared_income_monthly: int
    declared_vehicles: int
    declared_properties: int
    declared_financial_assets: int
    prev_status: str
    prev_benefit: int
    current_programs: Programs
    persons: _containers.RepeatedCompositeFieldContainer[Person]
    supporters: _containers.RepeatedCompositeFieldContainer[Supporter]
    tax_income: _containers.RepeatedCompositeFieldContainer[TaxIncome]
    business_registration: _containers.RepeatedCompositeFieldContainer[BusinessRegistration]
    bank: _containers.RepeatedCompositeFieldContainer[Bank]
    vehicle: _containers.RepeatedCompositeFieldContainer[Vehicle]
    property: _containers.RepeatedCompositeFieldContainer[Property]
    social_insurance: _containers.RepeatedCompositeFieldContainer[SocialInsurance]
    def __init__(self, household_id: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., area: _Optional[str] = ..., assessment_date: _Optional[str] = ..., consent_signed: _Optional[bool] = ..., checked_tax: _Optional[bool] = ..., checked_bank: _Optional[bool] = ..., checked_vehicle: _Optional[bool] = ..., checked_housing: _Optional[bool] = ..., checked_social_insurance: _Optional[bool] = ..., declared_income_monthly: _Optional[int] = ..., declared_vehicles: _Optional[int] = ..., declared_properties: _Optional[int] = ..., declared_financial_assets: _Optional[int] = ..., prev_status: _Optional[str] = ..., prev_benefit: _Optional[int] = ..., current_programs: _Optional[_Union[Programs, _Mapping]] = ..., persons: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., supporters: _Optional[_Iterable[_Union[Supporter, _Mapping]]] = ..., tax_income: _Optional[_Iterable[_Union[TaxIncome, _Mapping]]] = ..., business_registration: _Optional[_Iterable[_Union[BusinessRegistration, _Mapping]]] = ..., bank: _Optional[_Iterable[_Union[Bank, _Mapping]]] = ..., vehicle: _Optional[_Iterable[_Union[Vehicle, _Mapping]]] = ..., property: _Optional[_Iterable[_Union[Property, _Mapping]]] = ..., social_insurance: _Optional[_Iterable[_Union[SocialInsurance, _Mapping]]] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("household_id", "status", "benefit", "phaseout_months", "pci", "standard", "gross_income", "medical", "education", "pension", "net_income", "financial_assets", "circle", "transition", "vetoes", "difficulty_index", "rank", "provisional", "eligible_programs", "policy_id", "policy_digest", "input_digest", "engine_version")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BENEFIT_FIELD_NUMBER: _ClassVar[int]
    PHASEOUT_MONTHS_FIELD_NUMBER: _ClassVar[int]
    PCI_FIELD_NUMBER: _ClassVar[int]
    STANDARD_FIELD_NUMBER: _ClassVar[int]
    GROSS_INCOME_FIELD_NUMBER: _ClassVar[int]
    MEDICAL_FIELD_NUMBER: _ClassVar[int]
    EDUCATION_FIELD_NUMBER: _ClassVar[int]
    PENSION_FIELD_NUMBER: _ClassVar[int]
    NET_INCOME_FIELD_NUMBER: _ClassVar[int]
    FINANCIAL_ASSETS_FIELD_NUMBER: _ClassVar[int]
    CIRCLE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    VETOES_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_INDEX_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    INPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ENGINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    status: str
    benefit: int
    phaseout_months: int
    pci: int
    standard: int
    gross_income: int
    medical: int
    education: int
    pension: int
    net_income: int
    financial_assets: int
    circle: int
    transition: str
    vetoes: _containers.RepeatedScalarFieldContainer[str]
    difficulty_index: int
    rank: int
    provisional: bool
    eligible_programs: _containers.RepeatedScalarFieldContainer[str]
    policy_id: str
    policy_digest: str
    input_digest: str
    engine_version: str
    def __init__(self, household_id: _Optional[str] = ..., status: _Optional[str] = ..., benefit: _Optional[int] = ..., phaseout_months: _Optional[int] = ..., pci: _Optional[int] = ..., standard: _Optional[int] = ..., gross_income: _Optional[int] = ..., medical: _Optional[int] = ..., education: _Optional[int] = ..., pension: _Optional[int] = ..., net_income: _Optional[int] = ..., financial_assets: _Optional[int] = ..., circle: _Optional[int] = ..., transition: _Optional[str] = ..., vetoes: _Optional[_Iterable[str]] = ..., difficulty_index: _Optional[int] = ..., rank: _Optional[int] = ..., provisional: _Optional[bool] = ..., eligible_programs: _Optional[_Iterable[str]] = ..., policy_id: _Optional[str] = ..., policy_digest: _Optional[str] = ..., input_digest: _Optional[str] = ..., engine_version: _Optional[str] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("household_id", "person_id", "age", "labour_coefficient", "employment", "employment_basis", "member_income", "verified_income")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    LABOUR_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    EMPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    EMPLOYMENT_BASIS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_INCOME_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_INCOME_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    person_id: str
    age: int
    labour_coefficient: int
    employment: int
    employment_basis: str
    member_income: int
    verified_income: int
    def __init__(self, household_id: _Optional[str] = ..., person_id: _Optional[str] = ..., age: _Optional[int] = ..., labour_coefficient: _Optional[int] = ..., employment: _Optional[int] = ..., employment_basis: _Optional[str] = ..., member_income: _Optional[int] = ..., verified_income: _Optional[int] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("household_id", "code", "severity", "person_id", "source", "record_id", "detail")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    code: str
    severity: str
    person_id: str
    source: str
    record_id: str
    detail: str
    def __init__(self, household_id: _Optional[str] = ..., code: _Optional[str] = ..., severity: _Optional[str] = ..., person_id: _Optional[str] = ..., source: _Optional[str] = ..., record_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Reject(_message.Message):
    __slots__ = ("household_id", "reasons")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, household_id: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class AssessRequest(_message.Message):
    __slots__ = ("households",)
    HOUSEHOLDS_FIELD_NUMBER: _ClassVar[int]
    households: _containers.RepeatedCompositeFieldContainer[Household]
    def __init__(self, households: _Optional[_Iterable[_Union[Household, _Mapping]]] = ...) -> None: ...

class AssessResponse(_message.Message):
    __slots__ = ("results", "members", "findings", "rejects", "unmatched_source_rows")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    REJECTS_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_SOURCE_ROWS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Result]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    rejects: _containers.RepeatedCompositeFieldContainer[Reject]
    unmatched_source_rows: int
    def __init__(self, results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., rejects: _Optional[_Iterable[_Union[Reject, _Mapping]]] = ..., unmatched_source_rows: _Optional[int] = ...) -> None: ...

class ArrowChunk(_message.Message):
    __slots__ = ("table", "data", "last")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    table: str
    data: bytes
    last: bool
    def __init__(self, table: _Optional[str] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("household", "lang")
    HOUSEHOLD_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    household: Household
    lang: str
    def __init__(self, household: _Optional[_Union[Household, _Mapping]] = ..., lang: _Optional[str] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("section", "label", "value_json", "inputs")
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SECTION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    section: str
    label: str
    value_json: str
    inputs: _containers.ScalarMap[str, str]
    def __init__(self, section: _Optional[str] = ..., label: _Optional[str] = ..., value_json: _Optional[str] = ..., inputs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("household_id", "policy_id", "policy_digest", "steps", "result", "members", "findings", "text", "policy_name")
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    household_id: str
    policy_id: str
    policy_digest: str
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    result: Result
    members: _containers.RepeatedCompositeFieldContainer[Member]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    text: str
    policy_name: str
    def __init__(self, household_id: _Optional[str] = ..., policy_id: _Optional[str] = ..., policy_digest: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., text: _Optional[str] = ..., policy_name: _Optional[str] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ("jurisdiction",)
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    def __init__(self, jurisdiction: _Optional[str] = ...) -> None: ...

class PolicySummary(_message.Message):
    __slots__ = ("id", "jurisdiction", "name", "effective_from", "digest")
    ID_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    id: str
    jurisdiction: str
    name: str
    effective_from: str
    digest: str
    def __init__(self, id: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., name: _Optional[str] = ..., effective_from: _Optional[str] = ..., digest: _Optional[str] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[PolicySummary]
    def __init__(self, policies: _Optional[_Iterable[_Union[PolicySummary, _Mapping]]] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("id", "jurisdiction", "date")
    ID_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    jurisdiction: str
    date: str
    def __init__(self, id: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class PolicyPack(_message.Message):
    __slots__ = ("summary", "params_json")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    summary: PolicySummary
    params_json: str
    def __init__(self, summary: _Optional[_Union[PolicySummary, _Mapping]] = ..., params_json: _Optional[str] = ...) -> None: ...

"""The contract shared by the two engines: the reference calculator and the kernels.

Both take an `EngineInput` (validated tables of the households to assess) and return an
`EngineOutput` whose three tables must be equal value for value. The pipeline owns
everything that is not a rule of one household: validation, rank, digests, versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from meanstest.id_pass import IdPass


DUPLICATES_SHOWN = 20  # households named in a DUPLICATE_PERSON detail


def duplicate_detail(households: list[str]) -> str:
    """The detail of a DUPLICATE_PERSON finding (docs/engine.md): the sorted households
    the person is a member of, the first DUPLICATES_SHOWN of them and how many more.
    Named in full, N households sharing one member made N findings of N names each: a
    call of 6,000 such households answered 327 MB (a blind test of the service)."""
    shown = ", ".join(households[:DUPLICATES_SHOWN])
    more = len(households) - DUPLICATES_SHOWN
    return f"{_DUPLICATE}{shown}" + (f" and {more:,} more" if more > 0 else "")


_DUPLICATE = "member of households "
_MORE = re.compile(r" and ([0-9,]+) more$")


def duplicate_households(detail: str) -> tuple[list[str], int] | None:
    """`duplicate_detail` read back: (the households named, how many in all); None for
    another detail."""
    if not detail.startswith(_DUPLICATE):
        return None
    listed = detail[len(_DUPLICATE) :]
    more = _MORE.search(listed)
    named = (listed[: more.start()] if more else listed).split(", ")
    return named, len(named) + (int(more.group(1).replace(",", "")) if more else 0)


@dataclass(frozen=True)
class EngineInput:
    """What an engine needs to assess households.

    households: only the households to assess (all valid), canonical columns
        (current_programs always present, null = none), in output order.
    persons, supporters: the rows of those households only, in bundle order.
    sources: every source table by canonical name (all six present, possibly empty);
        rows whose person_id matches nobody are simply never joined.
    policies: the distinct resolved packs used; policy_index[i] is the pack of
        households row i (int32 array, len = households.num_rows).
    duplicates: person_id -> sorted distinct household_ids of every households row of
        the bundle (rejected ones included) in which that person is a member, only for
        persons that are members of more than one (RULES.md §8 DUPLICATE_PERSON).
    ids: optional, the ID pass of these very tables (meanstest.id_pass.IdPass: household
        and person codes, each source row's person, enumeration codes), made once by
        validation and reused by assembly and digests instead of hashing the IDs again.
        Used only while it `describes` the tables (a replaced table makes it ignored);
        None: whoever needs it computes it (`meanstest.id_pass.IdPass.of`).
    """

    households: pa.Table
    persons: pa.Table
    supporters: pa.Table
    sources: dict[str, pa.Table]
    policies: list  # list[meanstest.policy.Policy]
    policy_index: np.ndarray
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    ids: object | None = field(default=None, repr=False, compare=False)  # id_pass.IdPass

    def id_pass(self) -> IdPass:
        """The IdPass of these tables: the one validation made, or a new one."""
        from meanstest.id_pass import IdPass

        if self.ids is not None and self.ids.describes(
            self.households, self.persons, self.supporters, self.sources
        ):
            return self.ids
        return IdPass.of(
            {
                "households": self.households,
                "persons": self.persons,
                "supporters": self.supporters,
                **self.sources,
            }
        )


@dataclass(frozen=True)
class EngineOutput:
    """results: schema.ENGINE_RESULT_COLUMNS, one row per input household, same order.
    members: schema.OUTPUTS["members"], households order then persons order.
    findings: schema.OUTPUTS["findings"], in the canonical order of docs/engine.md."""

    results: pa.Table
    members: pa.Table
    findings: pa.Table

"""The one ID pass over a bundle: every ID column hashed once (`IdPass.of`).

Validation builds it, carries it in the EngineInput (`EngineInput.ids`), and assembly,
planning and digests read it instead of hashing the same IDs again. The hashing itself
is meanstest.ids' (`StringIndex`, `IdIndex`: the project's one exact hash index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from meanstest.ids import IdCheck, IdIndex, StringIndex, check_ids
from meanstest.schema import SOURCE_TABLES


@dataclass
class IdPass:
    """Every ID column of a bundle hashed once (`IdPass.of`); rows are those of the
    tables it was built from.

    Households are numbered by household_id (codes dense in order of first row; -1 for
    a null id), people by resident ID over persons.person_id then supporters.supporter_id
    (IdIndex: well-formed IDs by their int64 key, others by their string; -1 for null).
    A source row's `source_code` is the people code of its person_id, -1 when no persons
    or supporters row has that ID. `people.keys[c]` is the int64 key of person c,
    `people.flags[c]` its GB 11643 flags, `people.values(c)` its ID string.

    Validation builds it, adds the enumeration codes it computed (`enums`: (table,
    column) -> int8 code per row, index in the schema's enum, -1 unknown, -2 null), and
    hands the EngineInput a copy restricted to the assessed households (`restrict`),
    where household codes are the rows of EngineInput.households."""

    tables: tuple  # the tables it describes, by identity (`describes`)
    household_code: np.ndarray  # int32 per households row
    household_first: np.ndarray  # int64 per household code: its first households row
    person_home: np.ndarray  # int32 per persons row: household code, -1 none
    supporter_home: np.ndarray  # int32 per supporters row
    person_check: IdCheck  # GB 11643 check of persons.person_id
    supporter_check: IdCheck
    people: IdIndex  # distinct IDs of persons and supporters rows
    person_code: np.ndarray  # int32 per persons row: people code
    supporter_code: np.ndarray  # int32 per supporters row
    source_code: dict[str, np.ndarray]  # int32 per source row: people code, -1 nobody
    enums: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _homes: tuple | None = field(default=None, repr=False)

    @classmethod
    def of(cls, tables: dict[str, pa.Table]) -> IdPass:
        """The pass over tables["households"].household_id, persons (household_id,
        person_id), supporters (household_id, supporter_id) and every source table's
        person_id present in `tables` (other columns are not read; absent source tables
        are left out of `source_code`)."""
        households, persons, supporters = (
            tables["households"],
            tables["persons"],
            tables["supporters"],
        )
        homes = StringIndex(households["household_id"])
        household_code, household_first = homes.codes, homes.first
        person_home = homes.lookup(persons["household_id"])
        supporter_home = homes.lookup(supporters["household_id"])
        del homes  # its hash table goes before the people's is made (peak memory at 10M)
        p_check = check_ids(persons["person_id"])
        s_check = check_ids(supporters["supporter_id"])
        # a filtered table may have no chunks at all: type given
        everyone = pa.chunked_array(
            persons["person_id"].chunks + supporters["supporter_id"].chunks, type=pa.string()
        )
        people = IdIndex(everyone, IdCheck.concat(p_check, s_check))
        n_p = persons.num_rows
        sources = {n: tables[n] for n in SOURCE_TABLES if n in tables}
        return cls(
            tables=(households, persons, supporters, *(sources.get(n) for n in SOURCE_TABLES)),
            household_code=household_code,
            household_first=household_first,
            person_home=person_home,
            supporter_home=supporter_home,
            person_check=p_check,
            supporter_check=s_check,
            people=people,
            person_code=people.codes[:n_p],
            supporter_code=people.codes[n_p:],
            source_code={n: people.lookup(t["person_id"]) for n, t in sources.items()},
        )

    @property
    def n_households(self) -> int:
        """Distinct household_ids (household codes 0..n_households-1)."""
        return len(self.household_first)

    def release(self) -> None:
        """Drop the pass's arrays once assembly has read them (fast.run, when the batch's
        caller releases its input: at 1M households 350 MB that a review otherwise holds
        while its output tables are built, where its memory peaks). The pass describes
        no tables then, so whoever needs one again computes it (EngineInput.id_pass)."""
        empty = np.zeros(0, np.int32)
        self.tables, self.enums, self.source_code, self._homes = (), {}, {}, None
        self.household_code = self.person_home = self.supporter_home = empty
        self.person_code = self.supporter_code = empty
        self.household_first = np.zeros(0, np.int64)
        self.person_check = self.supporter_check = self.people = None

    def describes(
        self, households: pa.Table, persons: pa.Table, supporters: pa.Table, sources: dict
    ) -> bool:
        """Whether these are the very tables (by identity) the pass was made of."""
        given = (households, persons, supporters, *(sources.get(n) for n in SOURCE_TABLES))
        return len(given) == len(self.tables) and all(
            a is b for a, b in zip(given, self.tables, strict=True)
        )

    def households_of_people(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets [len(people) + 1], household codes): person c is a member or supporter
        of households homes[offsets[c]:offsets[c + 1]] (ascending, distinct)."""
        if self._homes is None:
            from meanstest.kernels import join

            code = np.concatenate([self.person_code, self.supporter_code])
            home = np.concatenate([self.person_home, self.supporter_home])
            self._homes = join.distinct_groups(code, home, len(self.people))
        return self._homes

    def in_household(self) -> np.ndarray:
        """bool per people code: a member or supporter of some households row."""
        off, _ = self.households_of_people()
        return off[1:] > off[:-1]

    def source_households(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, household codes): every (source row, household) pair where the row's
        person is a member or supporter of the household; by row, then household code.
        A row of nobody's person has no pair; a person of two households gives two."""
        off, homes = self.households_of_people()
        code = self.source_code[name]
        known = code >= 0
        at = np.where(known, code, 0)
        count = np.where(known, off[at + 1] - off[at], 0)
        rows = np.repeat(np.arange(len(code), dtype=np.int64), count)
        start = np.repeat(off[at] - (np.cumsum(count) - count), count)
        return rows, homes[start + np.arange(len(rows), dtype=np.int64)]

    def restrict(
        self, keep_households: np.ndarray, tables: tuple[pa.Table, pa.Table, pa.Table]
    ) -> IdPass:
        """The pass over the households rows where `keep_households`, their persons and
        supporters rows (`tables`: those three filtered tables) and the same sources.
        The kept rows must have distinct household_ids (validated input): a household
        code is then its row in the kept households table. People codes are unchanged."""
        kept = np.flatnonzero(keep_households)
        renumber = np.full(self.n_households + 1, -1, dtype=np.int32)  # [-1] reads -1
        renumber[self.household_code[kept]] = np.arange(len(kept), dtype=np.int32)
        p_keep = renumber[self.person_home] >= 0
        s_keep = renumber[self.supporter_home] >= 0
        rows = {
            "households": kept,
            "persons": np.flatnonzero(p_keep),
            "supporters": np.flatnonzero(s_keep),
        }
        enums = {(t, c): (v[rows[t]] if t in rows else v) for (t, c), v in self.enums.items()}
        return IdPass(
            tables=(*tables, *self.tables[3:]),
            household_code=np.arange(len(kept), dtype=np.int32),
            household_first=np.arange(len(kept), dtype=np.int64),
            person_home=renumber[self.person_home[p_keep]],
            supporter_home=renumber[self.supporter_home[s_keep]],
            person_check=self.person_check.take(p_keep),
            supporter_check=self.supporter_check.take(s_keep),
            people=self.people,
            person_code=self.person_code[p_keep],
            supporter_code=self.supporter_code[s_keep],
            source_code=self.source_code,
            enums=enums,
        )

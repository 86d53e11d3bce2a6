"""Synthetic districts (合成样本区): realistic, seeded bundles of any size.

`generate(n, seed)` returns the nine bundle tables of DATA.md for households
``start .. start+n-1``; `write_synth` streams millions of households to disk in
bounded memory. Everything is vectorised numpy; the random stream of household i
depends only on (seed, i // BLOCK), so any chunking of a range gives the same rows
(``generate(1000, s) == concat(generate(300, s), generate(700, s, start=300))``).

What a district looks like: about 2.6 persons per household, ~40% of households with
supporters; per member ~1.2 tax, ~0.9 bank, ~0.24 vehicle, ~0.6 property, ~1.15
social-insurance and ~0.04 business rows (supporters' own records included).
Jurisdictions: mostly 150422 (巴林左旗), some 150402/150404 (fall back to the prefecture
pack 150400) and 150502 (province pack 150000); 2% of the background households are assessed six months after D (for the
default D that is 2025-01-01, the day pack 150422-2025 takes effect).

ARCHETYPES (share of households; the status each is designed to reach)
  elderly      10%  1-2 members aged 61+, small resident pension, no / exempt /
                    ordinary supporters               -> TEKUN, some DIBAO / VETOED
  dependant     3%  orphans under 16, or adults with health 5/6 -> TEKUN
  poor         20%  family, earners' wages set so pci is in [1, S)   -> DIBAO
  band          8%  as poor, pci in [S, L], no health 5/6   -> LOW_INCOME
  phase_out     4%  prev dibao with a benefit, pci in [S, L] -> PHASE_OUT
  single_ill    3%  a member with health 5/6, pci in [S, L]  -> DIBAO_SINGLE
  working      17%  wage earners, pci in (L, 4L]             -> NOT_ELIGIBLE
  background   12%  random composition, random wages and imputation, natural vetoes
  veto         17%  a poor-or-band family plus the trigger of one veto, V01..V14
                    cycled so each code has ~1.2% of households   -> VETOED
  edge          6%  one rule boundary of RULES.md (EDGE_KINDS, cycled, each with
                    the value at the limit and just past it), jurisdiction 150422

"Calibrated" archetypes compute every income, support and deduction term of RULES.md
§3-5 with the household's own pack and set the earners' wage records so the per-capita
income is exactly the target; prev_status/prev_benefit follow the archetype so every
transition occurs (a share of continuing households carries exactly the benefit they
will get: CONTINUE, the rest ADJUST). The boundaries use the packs shipped with
meanstest: for the edge households the pack in force for 150422 on D (the default pack
of POLICY.md for the default D).

IDs are valid GB 11643 numbers whose region is the person's place of origin, unique in
the bundle (the region/sequence pair is allotted per block and per birth date, see
`households._Block.assign_ids`; beyond ~4M households the regions become synthetic codes) except a
deliberate ~0.4% DUPLICATE_PERSON: a member of one household also listed in another.
Record ids are department keys ("TAX000100000017") or "<export file>.csv:<line>", unique
per table. Plates are unique up to ~11M households, property ids up to ~125M. A few
source rows belong to nobody in the bundle.

`bad_fraction` F: that fraction of households gets one invalid row (sometimes two) of
a kind from BAD_KINDS, cycled so that every kind of DATA.md "Bad input" appears once
there are a few dozen bad households. The valid content does not depend on F.

Modules: `common` (constants, date and array helpers), `ids` (GB 11643 IDs, keys),
`packs` (shipped packs as arrays), `households` (one block: archetypes, members,
supporters, IDs), `sources` (background department records), `overlays` (veto
triggers and rule boundaries), `calibration` (earners' wages, household columns,
duplicates and ghosts), `assembly` (arrays to tables), `bad` (bad input), `stream`
(`generate` by blocks, `write_synth`).
"""

from meanstest.synth.common import _SRC_PREFIX as _SRC_PREFIX  # used by tests
from meanstest.synth.common import (
    ARCHETYPE_SHARES,
    ARCHETYPES,
    BAD_KINDS,
    BANKS,
    BLOCK,
    BOUNDARY_AGES,
    EDGE_KINDS,
    JURISDICTIONS,
    PROGRAMS,
)
from meanstest.synth.ids import ID_SLOTS, ORIGINS, resident_ids
from meanstest.synth.packs import labour_coefficient
from meanstest.synth.stream import generate, write_synth

__all__ = [
    "ARCHETYPES",
    "ARCHETYPE_SHARES",
    "BAD_KINDS",
    "BANKS",
    "BLOCK",
    "BOUNDARY_AGES",
    "EDGE_KINDS",
    "ID_SLOTS",
    "JURISDICTIONS",
    "ORIGINS",
    "PROGRAMS",
    "generate",
    "labour_coefficient",
    "resident_ids",
    "write_synth",
]

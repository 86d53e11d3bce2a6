"""Policy packs (POLICY.md): strict TOML loader, inheritance, selection, digest.

A pack is one TOML file; a folder of packs is a policy library. `load_library` reads
every pack, resolves `extends`, validates every resolved pack (base packs too) and
returns a `PolicyLibrary`, whose `select` picks the pack of a household. Every
problem is a `PolicyError(file, key, problem)` naming the file, the dotted key
(`veto.enabled[3]`, `support.sector_ratio.public`) and what is valid.

Choices made where POLICY.md is silent:

- Library: the top-level `*.toml` files of the folder (not recursive), sorted by name;
  names starting with "." (editor lock and backup files) are skipped. The file name
  need not match the pack id. A folder with no pack is an error. A subfolder holding
  *.toml files is named on stderr as not read (a misplaced county pack otherwise left
  its households to the prefecture's pack in silence).
- Files are UTF-8; a leading byte-order mark (Windows editors) is tolerated. Invalid
  TOML is reported with key "(syntax)" and tomllib's message (line and column);
  an unreadable file with key "(file)"; folder-level problems with key "(library)".
- Order of checks, first error raised: each file's `[policy]` table; duplicate ids;
  two packs with the same jurisdiction and effective_from; missing parents and
  cycles (a pack extending itself is a cycle); then every resolved pack, parents
  before children, so an error a child inherits is reported in the parent's file.
  Any other error names the file of the pack being validated.
- Merge: a child table over a parent table merges key by key (inline tables are
  tables: `sector_ratio`, `tuition_cap`, program tables); anything else in the child
  replaces the parent's value, and validation then judges the result. Hence a child
  cannot remove an inherited entry: set a tuition cap or student points to 0 (same as
  absent), or a program's `statuses = []` (never qualifies).
- `[programs]` is optional: absent stays absent in `params` (and the digest), an empty
  table stays `{}`. A program table has exactly `statuses` (array) and `requires`
  (string); names are `[a-z_]+`.
- Integers: every parameter is a non-negative integer (booleans are not integers)
  that fits in int64 (TOML's own range, which tomllib does not enforce; the kernels
  hold parameters in int64). Only the shares listed in POLICY.md are capped at 1000;
  circle3_ratio may be below 1000; phaseout.months may be 0..11.
- Arrays of names must not repeat an entry and may be empty (`veto.enabled = []`
  disables every veto). Numeric arrays may repeat values; age_bands must be 4
  strictly increasing non-negative integers.
- tuition_cap and student_points take any subset of the student levels ("none" too).
- `[policy]`: id and name non-blank strings; jurisdiction exactly six ASCII digits;
  effective_from a TOML local date (a datetime or time is a wrong type); `extends`,
  if present, a non-blank string. `extends` written outside `[policy]` is an unknown
  key, with a hint.
- Selection tries J, J[:4]+"00", J[:2]+"0000" (deduplicated) and falls back whenever
  no pack of a code is in force on D, even if that code has later packs. A J that is
  not six ASCII digits matches nothing (only J itself is "tried"): rejecting it is
  the bundle validator's job.
- `Policy.params` is shared by the library and must be treated as read-only: the
  digest was computed over it.

Modules: `validation` (the schema of a pack: every key, its check, its error), `load`
(reading TOML, `extends`, `load_library`, `library_from_dicts`, `default_library`),
`library` (`Policy`, `PolicyLibrary` and its selection), `digest` (`digest_of`).
"""

from meanstest.policy.digest import digest_of
from meanstest.policy.library import Policy, PolicyLibrary
from meanstest.policy.load import default_library, library_from_dicts, load_library
from meanstest.policy.validation import (
    AGE,
    COUNT,
    FEN,
    INT64_MAX,
    MONTHS,
    MULTIPLIER,
    POINTS,
    PROGRAM_STATUSES,
    SHARE,
)

__all__ = [
    "AGE",
    "COUNT",
    "FEN",
    "INT64_MAX",
    "MONTHS",
    "MULTIPLIER",
    "POINTS",
    "PROGRAM_STATUSES",
    "SHARE",
    "Policy",
    "PolicyLibrary",
    "default_library",
    "digest_of",
    "library_from_dicts",
    "load_library",
]

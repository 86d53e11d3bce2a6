"""Reading and resolving packs: the TOML loader, `extends` inheritance and the packaged
library."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path

from meanstest.errors import PolicyError
from meanstest.policy.digest import _plain, digest_of
from meanstest.policy.library import Policy, PolicyLibrary, _check_unique_dates
from meanstest.policy.validation import _check_policy_table, _Pack, _validate


def _merge(parent: dict, child: dict) -> dict:
    """Tables merge key by key, recursively; anything else in the child replaces."""
    out = dict(parent)
    for k, v in child.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


MAX_EXTENDS_DEPTH = 64  # province → prefecture → county → yearly editions: far fewer


def _too_deep(file: str) -> PolicyError:
    return PolicyError(
        file,
        "policy.extends",
        f"more than {MAX_EXTENDS_DEPTH} levels of extends; valid: at most "
        f"{MAX_EXTENDS_DEPTH} (a chain of {MAX_EXTENDS_DEPTH + 1} packs)",
    )


def library_from_dicts(raws: Mapping[str, dict], path: str = "<memory>") -> PolicyLibrary:
    """Build a library from already parsed packs: file name -> TOML document.

    This is `load_library` without the reading; the file names are used in errors.
    """
    files = sorted(raws)
    if not files:
        raise PolicyError(path, "(library)", "no *.toml policy packs in this folder")
    heads = {f: _check_policy_table(_Pack(f), raws[f]) for f in files}
    by_id: dict[str, str] = {}
    for f in files:
        pid = heads[f]["id"]
        if pid in by_id:
            raise PolicyError(
                f,
                "policy.id",
                f"duplicate id {pid!r}, also in {by_id[pid]}; valid: one pack per id",
            )
        by_id[pid] = f
    _check_unique_dates((f, heads[f]["jurisdiction"], heads[f]["effective_from"]) for f in files)

    resolved: dict[str, dict] = {}
    depth: dict[str, int] = {}

    def resolve(f: str, chain: tuple[str, ...]) -> dict:
        if f in resolved:
            return resolved[f]
        body = {k: v for k, v in raws[f].items() if k != "policy"}
        own = {k: v for k, v in heads[f].items() if k != "extends"}
        parent_id = heads[f].get("extends")
        if parent_id is None:
            merged, depth[f] = body, 0
        else:
            if parent_id not in by_id:
                others = sorted(i for i in by_id if by_id[i] != f)  # itself: a cycle
                raise PolicyError(
                    f,
                    "policy.extends",
                    f"missing parent: no pack with id {parent_id!r}; "
                    f"valid: one of {', '.join(others) or '(no other pack)'}",
                )
            pf = by_id[parent_id]
            if len(chain) >= MAX_EXTENDS_DEPTH:  # before the recursion gets deep,
                raise _too_deep(chain[0])  # where it began: over 64 levels of extends above pf
            if pf == f or pf in chain:
                loop = [*chain[chain.index(pf) :], f] if pf in chain else [f]
                cycle = " -> ".join([*(heads[x]["id"] for x in loop), parent_id])
                raise PolicyError(
                    f, "policy.extends", f"cycle: {cycle}; valid: a chain ending in a base pack"
                )
            parent = resolve(pf, (*chain, f))
            merged = _merge({k: v for k, v in parent.items() if k != "policy"}, body)
            depth[f] = depth[pf] + 1
            if depth[f] > MAX_EXTENDS_DEPTH:  # whatever order the packs resolve in
                raise _too_deep(f)
        resolved[f] = {"policy": own, **merged}
        return resolved[f]

    for f in files:
        resolve(f, ())
    for f in sorted(files, key=lambda x: (depth[x], x)):
        _validate(_Pack(f), resolved[f])
    packs = []
    for f in files:
        h, params = heads[f], _plain(resolved[f])
        packs.append(
            Policy(
                h["id"],
                h["jurisdiction"],
                h["name"],
                h["effective_from"],
                params,
                digest_of(params),
                f,
            )
        )
    return PolicyLibrary(packs, path)


def load_library(path: str | Path) -> PolicyLibrary:
    """Read, resolve and validate every `*.toml` pack of a folder (POLICY.md)."""
    folder = Path(path)
    if not folder.is_dir():
        raise PolicyError(str(folder), "(library)", "not a folder; valid: a folder of *.toml packs")
    raws: dict[str, dict] = {}
    _say_subfolders(folder)
    for file in sorted(folder.glob("*.toml")):
        if file.name.startswith(".") or not file.is_file():
            continue
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise PolicyError(str(file), "(file)", f"cannot be read as UTF-8 text: {e}") from e
        try:
            raws[str(file)] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PolicyError(str(file), "(syntax)", f"invalid TOML: {e}") from e
        except RecursionError:  # tomllib recurses per nesting level
            raise PolicyError(str(file), "(syntax)", "invalid TOML: nested too deeply") from None
    return library_from_dicts(raws, str(folder))


def _say_subfolders(folder: Path) -> None:
    """A library is its folder's own *.toml files (POLICY.md: "a folder of packs"); packs
    in a subfolder are not read, and saying so is all that tells a misplaced county pack
    from one that does not exist: a policy author's blind test put one in `county/`, and
    its households were assessed by the prefecture's pack without a word."""
    from meanstest.progress import note

    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        packs = sum(1 for f in sub.rglob("*.toml") if not f.name.startswith("."))
        if packs:
            note(
                f"policy library {folder}: {sub.name}/ holds {packs} *.toml file(s), not "
                "read (a library is the folder's own packs; move them up to use them)"
            )


@functools.cache
def default_library() -> PolicyLibrary:
    """The packaged library (meanstest/policies), loaded once."""
    return load_library(Path(__file__).parent.with_name("policies"))

"""Calibration (earners' wages so pci hits the target) and the household columns."""

from __future__ import annotations

import numpy as np

from meanstest.synth.common import _IX, _NO_DATE, ARCHETYPES, PROGRAMS, _pick, _rhu, _split
from meanstest.synth.households import _Block
from meanstest.synth.ids import resident_ids
from meanstest.synth.packs import labour_coefficient
from meanstest.synth.sources import _bank_rows


def _terms(st: _Block) -> dict[str, np.ndarray]:
    """RULES.md §3-§5 terms per person (members then supporters) from the rows so far."""
    pk, N = st.pk, st.n_people
    people_hh = np.r_[st.hh, st.shh]

    def total(rows, values, mask=None):
        o = rows["owner"] if mask is None else rows["owner"][mask]
        w = values if mask is None else values[mask]
        return np.bincount(o, w.astype(float), N).astype(np.int64)

    inc = _IX["inc"]
    tax = st.cat("tax_income")
    t = {
        "wage": total(tax, tax["amount"], np.isin(tax["inc"], (inc["wage"], inc["labour"]))),
        "business": total(tax, tax["amount"], tax["inc"] == inc["business"]),
        "other": total(tax, tax["amount"], tax["inc"] == inc["other"]),
    }
    bank = st.cat("bank")
    t["balance"] = total(bank, bank["balance"])
    prop = st.cat("property")
    Dh = st.Dh[people_hh[prop["owner"]]]
    owned = (prop["acquired"] <= Dh) & ((prop["disposed"] == _NO_DATE) | (prop["disposed"] > Dh))
    rent = _rhu(prop["rental"] * prop["share"], 1000)
    t["property"] = total(bank, bank["interest"]) + total(prop, rent, owned)
    res = owned & (prop["use"] == _IX["use"]["residential"])
    pairs = np.unique(prop["owner"][res] * (1 << 30) + prop["prop"][res])
    t["residences"] = np.bincount(pairs >> 30, minlength=N)
    si = st.cat("social_insurance")
    rec = _IX["rec"]
    t["transfer"] = total(si, si["amount"], pk["transfer"][si["rec"]])
    t["medical"] = total(si, np.maximum(si["amount"] - si["reimbursed"], 0),
                         si["rec"] == rec["medical_settlement"])  # fmt: skip
    t["contrib"] = total(si, si["amount"], si["rec"] == rec["pension_contribution"])
    veh = st.cat("vehicle")
    vslot = st.slot[people_hh[veh["owner"]]]
    lux = (veh["registered"] <= st.Dh[people_hh[veh["owner"]]]) & pk["veh_types"][veh["veh"]]
    lux &= veh["value"] > pk["veh_limit"][vslot]
    t["luxury"] = np.bincount(veh["owner"][lux], minlength=N) > 0
    return t


def _household_income(st: _Block, t: dict, earner: np.ndarray):
    """(income of everything but the earners' wages, deductions) per household."""
    pk, hh, H = st.pk, st.hh, st.H
    P = len(hh)
    slot = st.slot[hh]
    wage = t["wage"][:P]
    land = _rhu(st.c * pk["rural_income"][slot] * pk["land"][slot], 1_000_000)
    work = _rhu(st.c * pk["min_wage"][slot] * pk["months"][slot], 1000)
    farming = (st.occ == _IX["occ"]["farming"]) & (st.area[hh] == 1)
    employment = np.where(wage > 0, wage, np.where(st.c == 0, 0, np.where(farming, land, work)))
    rest = t["business"][:P] + t["other"][:P] + t["property"][:P] + t["transfer"][:P]
    member = np.where(earner, rest, employment + rest)
    # §4 support
    Q = len(st.shh)
    s = slice(P, P + Q)
    sslot = st.slot[st.shh]
    own = t["wage"][s] + t["business"][s] + t["other"][s] + t["transfer"][s]
    cs = labour_coefficient(st.sage, st.shealth, np.zeros(Q, np.int64), pk)
    own = np.where(own == 0, _rhu(cs * pk["min_wage"][sslot] * pk["months"][sslot], 1000), own)
    elevated = t["luxury"][s] | (t["residences"][s] > pk["veto"]["max_residential_properties"])
    elevated |= t["balance"][s] > pk["sup_asset"][sslot]
    ratio = pk["sector"][st.sector] + pk["bonus"][sslot] * elevated
    support = np.minimum(_rhu(own * ratio * st.scount, 1000), _rhu(own * pk["cap_ratio"][sslot],
                                                                     1000))  # fmt: skip
    support = np.where(st.exempt == 0, support, 0)
    income = np.bincount(hh, member.astype(float), H) + np.bincount(
        st.shh, support.astype(float), H
    )
    medical = np.minimum(np.bincount(hh, t["medical"][:P].astype(float), H).astype(np.int64),
                         pk["medical_cap"][st.slot])  # fmt: skip
    education = np.minimum(st.tuition, pk["tuition_cap"][slot, st.stu])
    pension = np.minimum(t["contrib"][:P], pk["pension_cap"][slot])
    ded = medical + np.bincount(hh, (education + pension).astype(float), H).astype(np.int64)
    verified = np.bincount(hh, (wage + rest).astype(float), H).astype(np.int64)
    return income.astype(np.int64), ded, verified


def _calibrate(st: _Block) -> None:
    """Earners' wage records so that pci = target exactly (RULES.md §5)."""
    rng = st.rng
    t = _terms(st)
    income, ded, _ = _household_income(st, t, st.earner)
    ne = np.bincount(st.hh[st.earner], minlength=st.H)
    want = st.target * 12 * st.n + ded - income
    go = np.flatnonzero(st.calibrated & (ne > 0))
    total = np.maximum(want[go], 50_000 * ne[go])
    _, share = _split(rng, total, ne[go])
    earners = np.flatnonzero(st.earner & (ne[st.hh] > 0) & st.calibrated[st.hh])
    owner, amount = _split(rng, share, rng.integers(1, 4, len(earners)))
    who = earners[owner]
    kind = np.where(st.occ[who] == _IX["occ"]["employed"], _IX["inc"]["wage"], _IX["inc"]["labour"])
    st.add("tax_income", who, inc=kind, amount=amount)
    st.exact = np.zeros(st.H, bool)
    st.exact[go] = want[go] >= total


# ------------------------------------------------------- household columns --

_PREV_P = {  # prev_status shares (none, dibao, tekun, low_income, phase_out) by archetype
    "elderly": (0.3, 0.2, 0.45, 0.05, 0), "dependant": (0.3, 0.1, 0.6, 0, 0),
    "poor": (0.35, 0.5, 0, 0.1, 0.05), "band": (0.5, 0.03, 0.05, 0.3, 0.12),
    "phase_out": (0, 1, 0, 0, 0), "single_ill": (0.5, 0, 0.05, 0.3, 0.15),
    "working": (0.8, 0.1, 0, 0.05, 0.05), "background": (0.6, 0.2, 0.05, 0.1, 0.05),
    "veto": (0.5, 0.3, 0.05, 0.1, 0.05), "edge": (0.5, 0.3, 0.05, 0.1, 0.05),
}  # fmt: skip


def _household_fields(st: _Block) -> None:
    rng, pk, H, hh = st.rng, st.pk, st.H, st.hh
    veto = pk["veto"]
    S, n = st.S, st.n
    # prev_status / prev_benefit (RULES.md §7 transitions)
    prev = _pick(rng, np.array([_PREV_P[a] for a in ARCHETYPES])[st.arch], H)
    p = _IX["prev"]
    tekun = _rhu(_rhu(S * pk["tekun_ratio"][st.slot], 1000) * n, 100) * 100
    a70, sev, ser, kid = (pk["addons"][st.slot[hh], i] for i in range(4))
    addon = np.maximum.reduce([np.where(st.age >= 70, a70, 0), np.where(st.health == 6, sev, 0),
                               np.where(st.health == 5, ser, 0), np.where(st.age < 16, kid, 0)])  # fmt: skip
    addons = np.bincount(hh, _rhu(S[hh] * addon, 1000).astype(float), H).astype(np.int64)
    dibao = _rhu((S - st.target) * n + addons, 100) * 100
    random_benefit = (S * n * st.u(0.2, 1.0)).astype(np.int64) // 100 * 100
    benefit = np.select([prev == p["dibao"], prev == p["tekun"]], [random_benefit, tekun], 0)
    same = rng.random(H) < 0.4
    keep = same & st.exact & st.on("poor") & (prev == p["dibao"])
    benefit = np.where(keep, dibao, benefit)
    nudge = (prev == p["tekun"]) & (rng.random(H) < 0.3)
    benefit = np.where(nudge, benefit + 100 * rng.integers(1, 50, H), benefit)
    phase = (prev == p["phase_out"]) & (rng.random(H) < 0.4)
    benefit = np.where(phase, random_benefit, benefit)
    enrolled = (prev == p["dibao"]) | (prev == p["tekun"])  # always paid something
    st.prev, st.prev_benefit = prev, np.where(enrolled, np.maximum(benefit, 100), benefit)
    # consent and checked sources (V12, SOURCE_NOT_CHECKED)
    quiet = st.on("edge") | st.on("veto")
    st.consent = ~((rng.random(H) < 0.003) & ~quiet) & ~st.vcode(12)
    st.checked = (rng.random((5, H)) >= 0.005) | st.on("edge")
    # declarations (UNDECLARED_*, V13) from the final records
    t = _terms(st)
    _, _, verified = _household_income(st, t, np.zeros(len(hh), bool))
    P = len(hh)
    fa = np.bincount(hh, t["balance"][:P].astype(float), H).astype(np.int64)
    nveh, nprop = _owned_counts(st)
    plain = ~quiet
    decl = {k: np.zeros(H, np.int64) for k in ("income", "vehicles", "properties", "assets")}
    mask = {k: plain & (rng.random(H) < 0.15) for k in decl}
    under = rng.random(H) < 0.02
    vm = _rhu(verified, 12)
    decl["income"] = (vm * np.where(under, st.u(0.6, 0.9), st.u(0.95, 1.4))).astype(np.int64)
    decl["vehicles"] = np.maximum(nveh + np.where(under, -1, rng.random(H) < 0.2), 0)
    decl["properties"] = np.maximum(nprop - under, 0)
    decl["assets"] = np.where(under, fa // 2, fa + st.money(0, 2000, H))
    tol, tol_abs = veto["declaration_tolerance_ratio"], veto["declaration_tolerance_abs"]
    asset_tol = veto["asset_declaration_tolerance_abs"]
    for var, key, value in (
        (0, "income", np.maximum((vm - tol_abs - 1) * 1000 // (1000 + tol), 0)),
        (1, "vehicles", nveh - 1), (3, "properties", nprop - 1),
        (2, "assets", np.maximum(fa - asset_tol - 1 - st.money(0, 500, H), 0)),
    ):  # fmt: skip
        m = st.vcode(13) & (st.vvar == var)
        decl[key] = np.where(m, value, decl[key])
        mask[key] |= m
    m = st.edge("declared_counts")
    for var, key, count in ((0, "vehicles", nveh), (1, "vehicles", nveh),
                            (2, "properties", nprop), (3, "properties", nprop)):  # fmt: skip
        mv = m & (st.evar == var)
        decl[key] = np.where(mv, count - var % 2, decl[key])
        mask[key] |= mv
    m = st.edge("declared_assets")
    decl["assets"] = np.where(m, fa - asset_tol - st.evar, decl["assets"])
    mask["assets"] |= m
    m = st.edge("declared_income")
    d, delta = _declaration_boundary(
        verified[m], st.evar[m], tol, tol_abs, st.money(0, 50, m.sum())
    )
    decl["income"][m] = d
    mask["income"] |= m
    st.add("tax_income", st.start[m], inc=_IX["inc"]["other"], amount=delta)
    st.declared, st.declared_set = decl, mask
    # current_programs: null, empty or a random subset
    kind = _pick(rng, (0.4, 0.1, 0.5), H)
    size = np.where(kind == 2, rng.integers(1, 4, H), 0)
    order = np.argsort(rng.random((H, len(PROGRAMS))), axis=1)
    take = np.arange(len(PROGRAMS))[None, :] < size[:, None]
    values = order[take]
    twice = (kind == 2) & (rng.random(H) < 0.01)
    offsets = np.r_[0, np.cumsum(size + twice)]
    flat = np.empty(offsets[-1], np.int64)
    pos = offsets[:-1][:, None] + np.arange(len(PROGRAMS))[None, :]
    flat[pos[take]] = values
    flat[offsets[1:][twice] - 1] = order[twice, 0]
    st.programs = (offsets, flat, kind == 0)


def _declaration_boundary(verified, variant, ratio, abs_tol, slack):
    """A declared income d whose tolerance threshold T (RULES.md §8 UNDECLARED_INCOME) is
    just above the verified monthly income, and the extra annual income that makes the
    verified monthly income exactly T (variant 0: no finding) or T + 1 (variant 1)."""
    want = verified // 12 + 1 + slack

    def threshold(d):
        return d + np.maximum(_rhu(d * ratio, 1000), abs_tol)

    d = np.maximum(want * 1000 // (1000 + ratio) - 3, 0)
    d = np.where(want <= abs_tol, 0, np.where(want <= abs_tol * (1000 + ratio) // ratio,
                                             np.maximum(want - abs_tol, 0), d))  # fmt: skip
    for _ in range(8):
        d = np.where(threshold(d) < want, d + 1, d)
    return d, 12 * threshold(d) + 6 * variant - verified


def _owned_counts(st: _Block):
    """Distinct owned vehicles (plates) and properties of each household's members."""
    P, H = len(st.hh), st.H
    counts = []
    for table, key, date in (("vehicle", "plate", "registered"), ("property", "prop", "acquired")):
        rows = st.cat(table)
        mine = rows["owner"] < P
        o = rows["owner"][mine]
        h = st.hh[o]
        owned = rows[date][mine] <= st.Dh[h]
        if table == "property":
            disp = rows["disposed"][mine]
            owned &= (disp == _NO_DATE) | (disp > st.Dh[h])
        pairs = np.unique(h[owned] * (1 << 32) + rows[key][mine][owned])
        counts.append(np.bincount(pairs >> 32, minlength=H))
    return counts


def _extras(st: _Block) -> None:
    """Deliberate DUPLICATE_PERSON members and source rows that match nobody."""
    rng, H = st.rng, st.H
    bg = st.on("background")
    targets = np.flatnonzero(bg & (rng.random(H) < 0.04))
    pool = np.flatnonzero(bg[st.hh])
    src = pool[rng.integers(0, len(pool), len(targets))] if len(pool) else np.zeros(0, int)
    ok = st.hh[src] != targets
    st.dup_target, st.dup_src = targets[ok], src[ok]
    # ghosts: valid IDs of people outside the bundle
    G = max(2, H // 500)
    birth = st.D - rng.integers(18 * 365, 80 * 365, G)
    st.ghost_ids = resident_ids(np.full(G, 659001), birth, rng.integers(0, 1000, G))
    owner = st.n_people + np.arange(G)
    which = rng.integers(0, 4, G)
    inc, rec = _IX["inc"], _IX["rec"]
    st.add("tax_income", owner[which == 0], inc=inc["wage"], amount=st.money(5000, 50_000,
                                                                              (which == 0).sum()))  # fmt: skip
    _bank_rows(st, owner[which == 1], st.money(100, 50_000, (which == 1).sum()))
    m = which == 2
    st.add("vehicle", owner[m], veh=_IX["veh"]["car"], value=st.money(20_000, 90_000, m.sum()),
           registered=st.D - rng.integers(100, 4000, m.sum()))  # fmt: skip
    m = which == 3
    st.add("social_insurance", owner[m], rec=rec["pension_benefit"], sch=_IX["sch"]["resident"],
           amount=st.money(2000, 4000, m.sum()))  # fmt: skip
    st.ghost_hh = st.g[rng.integers(0, H, G)]

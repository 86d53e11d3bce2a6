"""One block of households: archetypes, members, supporters and their IDs."""

from __future__ import annotations

import datetime as dt

import numpy as np

from meanstest.registry import VETOES
from meanstest.synth.common import (
    _A,
    _E,
    _IX,
    _NO_DATE,
    _SRC_COLS,
    ARCHETYPE_SHARES,
    ARCHETYPES,
    BLOCK,
    BOUNDARY_AGES,
    EDGE_KINDS,
    _age,
    _days,
    _from_ymd,
    _pick,
    _rhu,
    _years_before,
)
from meanstest.synth.ids import ID_SLOTS, ORIGINS, _region, resident_ids
from meanstest.synth.packs import _packs, labour_coefficient

_SUP_BANK, _SUP_PROP, _SUP_PC, _SUP_MED = 1, 2, 4, 8  # background rows a household lacks
_HEALTH_P = np.array([[0.90, 0.04, 0.02, 0.01, 0.02, 0.01],   # under 16
                      [0.62, 0.20, 0.06, 0.07, 0.03, 0.02],   # 16-59
                      [0.30, 0.38, 0.08, 0.14, 0.05, 0.05]])  # 60 and over  # fmt: skip
_CALIBRATED = np.isin(ARCHETYPES, ("poor", "band", "phase_out", "single_ill", "working",
                                   "veto", "edge"))  # fmt: skip
# How many ways overlays.py triggers each veto (its variants): one entry per veto of the
# registry, so a veto added there fails here until synth can trigger it.
_VARIANTS_BY_CODE = {"V01": 2, "V02": 2, "V03": 1, "V04": 1, "V05": 3, "V06": 1, "V07": 1,
                     "V08": 1, "V09": 1, "V10": 1, "V11": 1, "V12": 1, "V13": 4, "V14": 1}  # fmt: skip
if set(_VARIANTS_BY_CODE) != {v.code for v in VETOES}:
    raise ImportError("meanstest.synth: every veto of the registry needs its variants here")
_VETO_VARIANTS = np.array([_VARIANTS_BY_CODE[v.code] for v in VETOES])  # by veto index


def _rotate(rng, chosen: np.ndarray, variants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kind, variant) per household (-1, 0 where not `chosen`): the chosen households take
    the kinds in turn from a random one, and each kind's variants in turn after that, so
    a district shows every kind and every variant (variants[k]: how many kind k has)."""
    kind = np.full(len(chosen), -1)
    variant = np.zeros(len(chosen), np.int64)
    at = np.flatnonzero(chosen)
    kinds = len(variants)
    r = rng.integers(kinds) + np.arange(len(at))
    kind[at] = r % kinds
    variant[at] = (r // kinds) % variants[r % kinds]
    return kind, variant


class _Block:
    """The households g0 .. g0+BLOCK-1 of one random stream, built table by table."""

    def __init__(self, seed: int, b: int, d: dt.date) -> None:
        self.seed, self.b, self.d = seed, b, d
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, b, 0])))
        self.pk = _packs(d)
        self.H = BLOCK
        self.g = b * BLOCK + np.arange(BLOCK, dtype=np.int64)
        self.parts: dict[str, list[dict]] = {t: [] for t in _SRC_COLS}
        self.serial = {"plate": 0, "prop": 0}
        self.D = _days(d)

    # ---------------------------------------------------------------- helpers --

    def u(self, lo, hi, n=None):
        n = self.H if n is None else n
        return lo + (hi - lo) * self.rng.random(n)

    def money(self, lo_yuan, hi_yuan, n, step=100) -> np.ndarray:
        """Random amounts in fen, a multiple of `step` fen."""
        return (self.u(lo_yuan * 100 / step, hi_yuan * 100 / step, n)).astype(np.int64) * step

    def add(self, table: str, owner, **cols) -> None:
        owner = np.atleast_1d(np.asarray(owner, np.int64))
        n = len(owner)
        if n == 0:
            return
        row = {"owner": owner}
        for c in _SRC_COLS[table]:
            v = cols.get(c, 0)
            if table == "vehicle" and c == "plate" and c not in cols:
                v = self.next("plate", n)
            if table == "property" and c == "prop" and c not in cols:
                v = self.next("prop", n)
            if table == "property" and c == "disposed" and c not in cols:
                v = _NO_DATE
            if table == "property" and c == "share" and c not in cols:
                v = 1000
            row[c] = np.broadcast_to(np.asarray(v, np.int64), (n,)).copy()
        self.parts[table].append(row)

    def next(self, what: str, n: int) -> np.ndarray:
        s = self.serial[what]
        self.serial[what] = s + n
        return np.arange(s, s + n, dtype=np.int64)

    def cat(self, table: str) -> dict[str, np.ndarray]:
        parts = self.parts[table]
        if not parts:
            return {c: np.zeros(0, np.int64) for c in ("owner", *_SRC_COLS[table])}
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}

    def heads(self, mask_h: np.ndarray) -> np.ndarray:
        return self.start[np.flatnonzero(mask_h)]

    def on(self, arch: str) -> np.ndarray:
        return self.arch == _A[arch]

    def edge(self, kind: str) -> np.ndarray:
        return self.ekind == _E[kind]

    def vcode(self, code: int) -> np.ndarray:
        return self.veto == code - 1

    # ------------------------------------------------------------- households --

    def households(self) -> None:
        rng, H, pk = self.rng, self.H, self.pk
        self.arch = _pick(rng, ARCHETYPE_SHARES, H)
        self.veto, self.vvar = _rotate(rng, self.on("veto"), _VETO_VARIANTS)
        self.ekind, self.evar = _rotate(rng, self.on("edge"), np.array(list(EDGE_KINDS.values())))
        ie = np.flatnonzero(self.on("edge"))

        self.jur = _pick(rng, (0.88, 0.045, 0.045, 0.03), H)
        self.jur[ie] = 0
        self.dslot = ((self.arch == _A["background"]) & (rng.random(H) < 0.02)).astype(int)
        self.area = (rng.random(H) < np.array([0.64, 0.15, 0.15, 0.3])[self.jur]).astype(int)
        self.slot = self.jur * 2 + self.dslot
        self.Dh = np.where(self.dslot == 1, _days(pk["dates"][1]), self.D)
        self.S = pk["S"][self.slot, self.area]
        self.L = _rhu(self.S * pk["low_ratio"][self.slot], 1000)
        self.calibrated = _CALIBRATED[self.arch] & ~self.edge("tekun_age60")
        self.suppress = np.zeros(H, np.int64)
        self.sets = {}  # household-level values fixed by an overlay

        # target per-capita income of the calibrated archetypes (RULES.md §5 pci)
        t = np.zeros(H, np.int64)
        S, L = self.S, self.L
        for name, lo, hi in (("poor", 1, S), ("band", S, L + 1), ("phase_out", S, L + 1),
                             ("single_ill", S, L + 1), ("working", L + 1, 4 * L),
                             ("veto", 1, L + 1), ("edge", 1, L + 1)):  # fmt: skip
            m = self.on(name)
            lo_, hi_ = np.broadcast_to(lo, (H,)), np.broadcast_to(hi, (H,))
            t[m] = (lo_[m] + rng.random(m.sum()) * (hi_[m] - lo_[m])).astype(np.int64)
        v = self.evar
        m = self.edge("pci_standard")
        t[m] = S[m] - v[m]
        m = self.edge("pci_low_income")
        t[m] = L[m] + v[m]
        self.target = t
        self.exact_pci = self.edge("pci_standard") | self.edge("pci_low_income")

    # ---------------------------------------------------------------- members --

    def members(self) -> None:
        rng, H = self.rng, self.H
        fam = ~(self.on("elderly") | self.on("dependant"))
        sp = np.where(fam, rng.random(H) < 0.68, self.on("elderly") & (rng.random(H) < 0.4))
        ch = np.where(fam, _pick(rng, (0.38, 0.40, 0.17, 0.04, 0.01), H), 0)
        ch = np.where(self.on("elderly"), rng.random(H) < 0.1, ch)
        ch = np.where(self.on("dependant"), rng.random(H) < 0.5, ch)
        pa_ = np.where(fam, _pick(rng, (0.85, 0.12, 0.03), H), 0)
        sp = sp.astype(np.int64)
        ch = ch.astype(np.int64)
        lone_ill = self.on("single_ill") & (sp + ch == 0)
        sp[lone_ill] = 1
        need_child = (
            (self.edge("age_boundary") & (self.evar // 3 == 0))
            | self.edge("tuition_cap")
            | (self.edge("feb29") & (self.evar == 1))
        )
        ch = np.where(need_child, np.maximum(ch, 1), ch)
        single = self.edge("tekun_age60")
        sp[single] = ch[single] = pa_[single] = 0
        n = 1 + sp + ch + pa_
        self.n = n
        self.start = np.r_[0, np.cumsum(n)[:-1]]
        P = int(n.sum())
        hh = np.repeat(np.arange(H), n)
        k = np.arange(P) - self.start[hh]
        role = np.select([k == 0, k <= sp[hh], k <= (sp + ch)[hh]], [0, 1, 2], 3)
        self.hh, self.k, self.role = hh, k, role
        self.first_child = self.start + 1 + sp  # valid where ch >= 1

        # ages in years (fractional: the day of birth is random)
        ha = self.u(24, 59)
        ha = np.where(self.on("working"), self.u(22, 59), ha)
        ha = np.where(self.on("background"), self.u(20, 86), ha)
        ha = np.where(self.on("elderly"), 61 + 34 * self.rng.random(H) ** 1.6, ha)
        orphan = self.on("dependant") & (rng.random(H) < 0.5)
        ha = np.where(self.on("dependant"), np.where(orphan, self.u(3, 16), self.u(16, 60)), ha)
        ha = np.where(single, self.u(61, 80), ha)
        head_age = ha[hh]
        a = head_age.copy()
        a = np.where(role == 1, head_age + rng.normal(-2, 4, P), a)
        a = np.where((role == 1) & self.on("elderly")[hh], np.maximum(a, 61), a)
        a = np.where(role == 2, head_age - self.u(20, 36, P), a)
        a = np.where((role == 2) & (a < 0), self.u(0, 5, P), a)
        a = np.where((role == 2) & (self.on("elderly") | self.on("dependant"))[hh],
                     self.u(3, 16, P), a)  # fmt: skip
        a = np.where(role == 3, head_age + self.u(22, 35, P), a)
        a = np.clip(a, 0, 99.9)
        Dp = self.Dh[hh]
        birth = Dp - np.floor(a * 365.2425).astype(np.int64) - 1

        group = np.where(a < 16, 0, np.where(a < 60, 1, 2))
        health = 1 + _pick(rng, _HEALTH_P[group], P)
        earner_like = (role == 0) & self.calibrated[hh]
        health = np.where(earner_like, 1 + _pick(rng, (0.35, 0.3, 0.12, 0.23), P), health)
        fit = self.on("working")[hh] & (role <= 1)
        health = np.where(fit, 1 + _pick(rng, (0.8, 0.15, 0.03, 0.02), P), health)
        health = np.where(self.on("band")[hh] & (health >= 5), 4, health)
        ill = self.on("single_ill")
        ill_k = 1 + (rng.random(H) * (n - 1)).astype(np.int64)
        ill_p = self.start[ill] + ill_k[ill]
        health[ill_p] = 5 + (rng.random(len(ill_p)) < 0.4)
        ill_adult = self.on("dependant") & ~orphan
        health[self.start[ill_adult]] = 5 + (rng.random(ill_adult.sum()) < 0.5)
        self.birth, self.health, self.Dp = birth, health, Dp
        self.orphan = orphan
        self.no_wage = np.zeros(P, bool)
        self.refused = np.where(rng.random(P) < 0.03, 1, 0)
        bg = self.on("background")[hh]
        self.refused = np.where(bg & (rng.random(P) < 0.004), 2, self.refused)
        self.edge_members()
        self.describe_members()

    def edge_members(self) -> None:
        """Birth dates and health set by the veto/edge overlays (before ages are known)."""
        d, v, rng = self.d, self.evar, self.rng
        # age boundaries: birthday on D, the day before, the day after
        m = self.edge("age_boundary")
        for i, years in enumerate(BOUNDARY_AGES):
            for j, shift in enumerate((-1, 0, 1)):
                sel = np.flatnonzero(m & (v == 3 * i + j))
                who = self.first_child[sel] if years == 16 else self.start[sel]
                self.birth[who] = _years_before(d, years, shift)
                self.no_wage[who] = True
                self.health[who] = np.minimum(self.health[who], 4)
        m = self.edge("feb29")
        leap = np.array([1952, 1964, 1972, 1980, 1984, 1988, 1996, 2000])
        sel = np.flatnonzero(m & (v != 1))
        y = leap[rng.integers(2, 7, len(sel))] if len(sel) else leap[:0]
        self.birth[self.start[sel]] = _from_ymd(y, 2, 29)
        sel = np.flatnonzero(m & (v == 1))
        kid = self.first_child[sel]
        self.birth[kid] = _from_ymd(rng.choice([2008, 2012, 2016, 2020], len(sel)), 2, 29)
        m = self.edge("tekun_age60")
        for j, (years, shift) in enumerate(((60, 1), (60, 0), (61, 1), (61, 0))):
            heads = self.heads(m & (v == j))
            self.birth[heads] = _years_before(d, years, shift)
            self.health[heads] = 1
        m = self.edge("refused")
        heads = self.heads(m & (v <= 1))  # c = 500: age 56-60, healthy
        self.birth[heads] = _years_before(d, 57) - rng.integers(1, 300, len(heads))
        self.health[heads] = 1
        heads = self.heads(m & (v == 2))  # c = 400: age <= 40, major chronic illness
        self.birth[heads] = _years_before(d, 35) - rng.integers(1, 300, len(heads))
        self.health[heads] = 4
        self.refused[self.heads(m)] = np.where(v[m] == 1, 1, 2)
        heads = self.heads(self.vcode(11))
        self.health[heads] = 1
        self.birth[heads] = self.D - (365.2425 * self.u(25, 50, len(heads))).astype(np.int64)
        self.refused[heads] = self.rng.integers(2, 5, len(heads))
        m = self.edge("tuition_cap")
        for j, years in enumerate((16, 16, 17, 17, 19, 19)):
            kid = self.first_child[m & (v == j)]
            self.birth[kid] = _years_before(d, years) - rng.integers(1, 300, len(kid))

    def describe_members(self) -> None:
        """Student level, tuition, occupation, relation, c and the earners, from exact ages."""
        rng, pk, hh, role = self.rng, self.pk, self.hh, self.role
        P = len(hh)
        age = _age(self.birth, self.Dp)
        rural = self.area[hh] == 1
        ix = _IX["stu"]
        young = (role == 2) | (self.orphan[hh] & (role == 0)) | (age < 23) & (role == 0)
        stu = np.select(
            [age < 3, age < 6, age < 12, age < 15, age < 18, age < 23],
            [ix["none"], np.where(rng.random(P) < 0.7, ix["preschool"], ix["none"]),
             ix["primary"], ix["junior"],
             _pick(rng, (0.15, 0, 0, 0, 0.7, 0.15, 0), P),
             _pick(rng, (0.52, 0, 0, 0, 0, 0.08, 0.4), P)],
            ix["none"],
        )  # fmt: skip
        stu = np.where(young | (age < 16), stu, ix["none"])
        fee = {"preschool": (0.4, 1000, 4000), "primary": (0.05, 200, 800),
               "junior": (0.05, 200, 800), "senior": (0.7, 1000, 6000),
               "vocational": (0.6, 500, 4000), "college": (1.0, 4000, 12000)}  # fmt: skip
        tuition = np.zeros(P, np.int64)
        for level, (p, lo, hi) in fee.items():
            m = (stu == ix[level]) & (rng.random(P) < p)
            tuition[m] = self.money(lo, hi, m.sum(), step=10000)
        o = _IX["occ"]
        work = np.where(
            rural,
            _pick(rng, (0.10, 0.2, 0.55, 0.1, 0, 0.05), P),
            _pick(rng, (0.40, 0.3, 0.0, 0.2, 0, 0.1), P),
        )
        old = np.where(rural, _pick(rng, (0, 0, 0.5, 0, 0.2, 0.3), P),
                       _pick(rng, (0, 0, 0, 0, 0.8, 0.2), P))  # fmt: skip
        occ = np.where(age >= 60, old, work)
        occ = np.where((age < 16) | (stu != ix["none"]), o["none"], occ)
        w = self.on("working")[hh] & (role <= 1) & (age < 60)
        occ = np.where(w, np.where(rng.random(P) < 0.8, o["employed"], o["flexible"]), occ)
        self.age, self.stu, self.tuition, self.occ = age, stu, tuition, occ
        self.edge_students()
        self.c = labour_coefficient(self.age, self.health, self.stu, pk)
        self.earner = (
            self.calibrated[hh]
            & (self.age >= 18) & (self.age <= 59) & (self.c > 0)
            & ((role == 0) | (rng.random(P) < 0.65) | self.exact_pci[hh])
            & ~self.no_wage
        )  # fmt: skip
        idle = self.earner & np.isin(self.occ, (o["none"], o["retired"]))
        self.occ = np.where(idle, o["flexible"], self.occ)
        r = _IX["rel"]
        rel = np.choose(role, [r["head"], r["spouse"], r["child"], r["parent"]])
        rel = np.where((role == 2) & (rng.random(P) < 0.04), r["grandchild"], rel)
        rel = np.where((role == 2) & (rng.random(P) < 0.01), r["other"], rel)
        rel = np.where((role == 3) & (rng.random(P) < 0.04), r["sibling"], rel)
        rel = np.where((role == 2) & self.on("elderly")[hh], r["grandchild"], rel)
        rel = np.where((role == 2) & self.on("dependant")[hh] & self.orphan[hh], r["sibling"], rel)
        self.rel = rel

    def edge_students(self) -> None:
        m = self.edge("tuition_cap")
        ix = _IX["stu"]
        for j, level in enumerate(("senior", "senior", "vocational", "vocational",
                                   "college", "college")):  # fmt: skip
            kid = self.first_child[m & (self.evar == j)]
            self.stu[kid] = ix[level]
            self.occ[kid] = _IX["occ"]["none"]
            cap = self.pk["tuition_cap"][0, ix[level]]
            self.tuition[kid] = cap + j % 2

    # ------------------------------------------------------------- supporters --

    def supporters(self) -> None:
        rng, H = self.rng, self.H
        p = np.where(self.on("elderly"), 0.65, np.where(self.on("dependant"), 0.4, 0.36))
        q = (rng.random(H) < p) * (1 + (rng.random(H) < 0.35) + (rng.random(H) < 0.1))
        q = np.where(self.edge("tekun_age60"), 0, q)
        q = np.where(self.edge("supporter_assets"), np.maximum(q, 1), q)
        Q = int(q.sum())
        shh = np.repeat(np.arange(H), q)
        first = np.r_[True, shh[1:] != shh[:-1]] if Q else np.zeros(0, bool)
        p_ex = np.where(self.on("elderly"), 0.35, 0.15)[shh]
        e = _IX["exm"]
        exempt = np.where(rng.random(Q) < p_ex, 1 + _pick(rng, (0.3, 0.2, 0.15, 0.1, 0.25), Q), 0)
        exempt = np.where(self.edge("supporter_assets")[shh] & first, e["none"], exempt)
        head_age = self.age[self.start[shh]]
        top = np.maximum(head_age - 18, 26)
        age = np.where(head_age >= 55, 25 + rng.random(Q) * (top - 25), self.u(25, 66, Q))
        age = np.where(exempt == e["student"], self.u(18, 24, Q), age)
        birth = self.Dh[shh] - np.floor(age * 365.2425).astype(np.int64) - 1
        health = 1 + _pick(rng, (0.7, 0.2, 0.04, 0.06), Q)
        health = np.where(exempt == e["serious_illness"], 5, health)
        health = np.where(exempt == e["severe_disability"], 6, health)
        sector = _pick(rng, (0.05, 0.25, 0.1, 0.25, 0.3, 0.05), Q)
        sector = np.where(np.isin(exempt, (e["student"], e["imprisoned"])), _IX["sec"]["none"],
                          sector)  # fmt: skip
        count = 1 + (rng.random(Q) < 0.4) + (rng.random(Q) < 0.1)
        self.shh, self.sbirth, self.shealth = shh, birth, health
        self.sfirst_edge = first & self.edge("supporter_assets")[shh]
        self.sector, self.exempt, self.scount = sector, exempt, count
        self.sage = _age(birth, self.Dh[shh])
        self.q = q

    # -------------------------------------------------------------------- IDs --

    def assign_ids(self) -> None:
        """Resident IDs for members and supporters, unique across blocks: within a block
        the persons sharing an origin and a birth date are ranked r = 0, 1, ...; block b
        uses sequence numbers (b mod 250)·4 + r mod 4 of the origin's code while r < 4;
        each further 4 persons (and every block from the 250th, ~4M households) moves to
        a synthetic code of another province that no origin uses (`_region`). Unique
        for up to 16,000 blocks (262M households)."""
        rng = self.rng
        P, Q = len(self.hh), len(self.shh)
        main = np.r_[self.jur[self.hh], self.jur[self.shh]]
        own = rng.random(P + Q) < np.r_[np.full(P, 0.88), np.full(Q, 0.6)]
        origin = np.where(own, main, rng.integers(4, len(ORIGINS), P + Q))
        birth = np.r_[self.birth, self.sbirth]
        key = origin * (1 << 22) + (birth + (1 << 21))
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.r_[0, np.flatnonzero(ks[1:] != ks[:-1]) + 1]
        rank = np.empty(P + Q, np.int64)
        rank[order] = np.arange(P + Q) - np.repeat(starts, np.diff(np.r_[starts, P + Q]))
        per_cycle = 1000 // ID_SLOTS
        seq = (self.b % per_cycle) * ID_SLOTS + rank % ID_SLOTS
        level = (rank // ID_SLOTS) * 64 + self.b // per_cycle
        region = _region(origin, level)
        self.ids = resident_ids(region, birth, seq)
        self.n_people = P + Q

"""Tokens file and jurisdiction grants (docs/service.md "Tokens file")."""

import pytest

from meanstest.errors import MeansTestError
from meanstest.service.auth import Caller, Tokens, token_hash
from meanstest.service.errors import PermissionDenied, Unauthenticated

GOOD = token_hash("secret")


def load(tmp_path, text):
    path = tmp_path / "tokens.toml"
    path.write_text(text)
    return Tokens.load(path)


def entry(name="a", digest=GOOD, grants='["150422"]', extra=""):
    return (
        f'[[caller]]\nname = "{name}"\ntoken_sha256 = "{digest}"\njurisdictions = {grants}\n{extra}'
    )


def test_bearer_token_finds_its_caller(tmp_path):
    tokens = load(tmp_path, entry())
    caller = tokens.authenticate((("authorization", "Bearer secret"),))
    assert caller == Caller("a", ("150422",))
    for metadata in ((), (("authorization", "Bearer other"),), (("authorization", "secret"),)):
        with pytest.raises(Unauthenticated):
            tokens.authenticate(metadata)


@pytest.mark.parametrize(
    "text, message",
    [
        (entry(digest="ABC"), "not 64 lower-case hex digits"),
        (entry(extra='role = "admin"\n'), "needs exactly the keys"),
        (entry() + entry(name="b"), "the same token as another caller"),
        (entry(grants='["15042"]'), "jurisdictions: a non-empty list"),
        (entry(grants="[]"), "jurisdictions: a non-empty list"),
        ("owner = 1\n", "unknown key(s) owner"),
        ("", "no [[caller]] entries"),
        ("[[caller]\n", "cannot read the tokens file"),
    ],
)
def test_bad_tokens_file_names_the_problem(tmp_path, text, message):
    with pytest.raises(MeansTestError) as e:
        load(tmp_path, text)
    assert message in e.value.message and "tokens.toml" in e.value.message


@pytest.mark.parametrize(
    "grants, allowed, denied",
    [
        (("150422",), ["150422"], ["150421", "150400"]),
        (("1504*",), ["150422", "150400"], ["150522", "110105"]),
        (("*",), ["150422", "110105"], []),
    ],
)
def test_grants(grants, allowed, denied):
    caller = Caller("c", grants)
    for j in allowed:
        caller.check(j, "Assess")
    for j in denied:
        with pytest.raises(PermissionDenied, match=j):
            caller.check(j, "Assess")


def test_malformed_jurisdiction_is_left_to_validation():
    caller = Caller("c", ("150422",))
    for j in (None, "", "1504220", "abcdef"):
        caller.check(j, "Assess")  # validation rejects the household; no result leaks

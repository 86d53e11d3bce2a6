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


ODD = "a control character or whitespace other than a plain space"


@pytest.mark.parametrize(
    "name, message",  # TOML text: \n is a newline
    [
        ('"-"', 'caller[0].name: "-" is how the log names a refused caller'),
        ('""', "caller[0].name: empty"),
        ("3", "caller[0].name: not a string"),
        ('"ok\\n2026-12-06 09:00:00,000 INFO meanstest.service Assess caller=p"', ODD),
        ('"tab\\there"', ODD),
        ('"no\\u00a0break"', ODD),
        ('"wide\\u3000space"', ODD),
        ('"zero\\u200bwidth"', ODD),
        ('" edge"', "begins or ends with a space"),
        ('"edge "', "begins or ends with a space"),
    ],
)
def test_caller_names_the_log_cannot_misread_are_refused(tmp_path, name, message):
    """A caller is known in the log and the journal by its name alone: "-" is how the log
    writes a refused caller, a newline forges a log line (security review)."""
    with pytest.raises(MeansTestError) as e:
        load(tmp_path, entry().replace('name = "a"', f"name = {name}"))
    text = e.value.message
    assert message in text and "tokens.toml" in text and "valid:" in text, text
    assert "\n" not in text


def test_two_callers_of_one_name_are_refused(tmp_path):
    """The log and journal could not tell them apart, whatever their grants."""
    other = entry(name="a", digest=token_hash("other"), grants='["310115"]')
    with pytest.raises(MeansTestError) as e:
        load(tmp_path, entry() + other)
    assert "tokens.toml: caller[1].name: the same name as caller[0]" in e.value.message


def test_a_caller_name_may_hold_inner_spaces_and_chinese(tmp_path):
    tokens = load(tmp_path, entry(name="巴林左旗 民政局 03"))
    assert tokens.authenticate((("authorization", "Bearer secret"),)).name == "巴林左旗 民政局 03"


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

"""The AWS policy language (``ninefold.iam.policy``): which statements apply to a request, how
their effects combine, what makes a policy public, and which documents are refused.

Evaluation follows AWS: an explicit Deny wins over any Allow; an Allow with no matching Deny
allows; a policy none of whose statements match is silent (``evaluate`` returns None and the
caller's default applies)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ninefold.core.errors import DomainError, MalformedPolicy
from ninefold.iam.policy import ANONYMOUS, Policy, RequestFacts, parse_policy

BUCKET = "photos"
ROOT = "arn:aws:iam::123456789012:root"
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
OBJECT = f"arn:aws:s3:::{BUCKET}/2024/cat.jpg"


def statement(effect: str = "Allow", **fields: Any) -> dict[str, Any]:
    """A statement that applies to everything unless ``fields`` narrow it."""
    out: dict[str, Any] = {"Effect": effect, "Principal": "*", "Action": "*", "Resource": "*"}
    for name, value in fields.items():
        # NotX replaces X: a statement has exactly one of the pair
        if name.startswith("Not"):
            out.pop(name[3:], None)
        out[name] = value
    return out


def policy(*statements: dict[str, Any], **kw: Any) -> Policy:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), **kw)


def facts(
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    principal: str = ANONYMOUS,
    **context: str | list[str],
) -> RequestFacts:
    return RequestFacts(principal=principal, action=action, resource=resource, context=context)


def applies(stmt: dict[str, Any], request: RequestFacts) -> bool:
    """Whether one statement matches: an Allow statement alone evaluates to Allow or None."""
    decision = policy(stmt).evaluate(request)
    assert decision in ("Allow", None)
    return decision == "Allow"


# -- combining effects --------------------------------------------------------------------------


def test_a_matching_allow_allows() -> None:
    assert policy(statement("Allow")).evaluate(facts()) == "Allow"


def test_a_matching_deny_denies() -> None:
    assert policy(statement("Deny")).evaluate(facts()) == "Deny"


def test_no_matching_statement_leaves_the_policy_silent() -> None:
    silent = policy(statement("Allow", Action="s3:PutObject"), statement("Deny", Action="s3:Put*"))
    assert silent.evaluate(facts(action="s3:GetObject")) is None


@pytest.mark.parametrize("deny_first", [True, False], ids=["deny-first", "allow-first"])
def test_an_explicit_deny_beats_an_allow_in_any_order(deny_first: bool) -> None:
    allow = statement("Allow")
    deny = statement("Deny", Action="s3:GetObject")
    doc = policy(deny, allow) if deny_first else policy(allow, deny)
    assert doc.evaluate(facts(action="s3:GetObject")) == "Deny"
    assert doc.evaluate(facts(action="s3:PutObject")) == "Allow"


def test_a_deny_that_does_not_match_does_not_block_an_allow() -> None:
    doc = policy(statement("Allow"), statement("Deny", Resource=f"arn:aws:s3:::{BUCKET}/secret/*"))
    assert doc.evaluate(facts(resource=OBJECT)) == "Allow"
    assert doc.evaluate(facts(resource=f"arn:aws:s3:::{BUCKET}/secret/k")) == "Deny"


# -- Action / NotAction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:GetObject", "s3:GetObjectAcl", False),  # anchored: no implicit trailing *
        ("s3:GetObjectAcl", "s3:GetObject", False),
        ("s3:getobject", "s3:GetObject", True),  # actions are case-insensitive
        ("S3:GETOBJECT", "s3:GetObject", True),
        ("s3:Get*", "s3:GetObjectTagging", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:*Object", "s3:DeleteObject", True),
        ("s3:*Object", "s3:DeleteObjects", False),
        ("s3:?etObject", "s3:GetObject", True),
        ("s3:?etObject", "s3:GGetObject", False),  # ? is exactly one character
        ("s3:*", "s3:ListBucket", True),
        ("*", "s3:ListBucket", True),
        (["s3:PutObject", "s3:GetObject"], "s3:GetObject", True),  # a list is any-of
        (["s3:PutObject", "s3:DeleteObject"], "s3:GetObject", False),
    ],
)
def test_action(pattern: str | list[str], action: str, matches: bool) -> None:
    assert applies(statement(Action=pattern), facts(action=action)) is matches


@pytest.mark.parametrize(
    ("action", "matches"),
    [("s3:GetObject", True), ("s3:DeleteObject", False), ("s3:deleteobjectversion", False)],
)
def test_not_action_matches_every_action_but_those_named(action: str, matches: bool) -> None:
    assert applies(statement(NotAction="s3:Delete*"), facts(action=action)) is matches


# -- Resource / NotResource ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        (f"arn:aws:s3:::{BUCKET}/2024/cat.jpg", OBJECT, True),
        (f"arn:aws:s3:::{BUCKET}/*", OBJECT, True),
        (f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}", False),  # the bucket itself
        (f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}", True),
        (f"arn:aws:s3:::{BUCKET}", OBJECT, False),
        (f"arn:aws:s3:::{BUCKET}/2024/*", OBJECT, True),
        (f"arn:aws:s3:::{BUCKET}/2025/*", OBJECT, False),
        # resources are case-sensitive (keys are)
        (f"arn:aws:s3:::{BUCKET}/2024/CAT.jpg", OBJECT, False),
        (f"arn:aws:s3:::{BUCKET}/2024/c?t.jpg", OBJECT, True),
        (f"arn:aws:s3:::{BUCKET}/2024/c?t.jpg", f"arn:aws:s3:::{BUCKET}/2024/coat.jpg", False),
        # everything but * and ? is literal: no regex, no shell character classes
        (f"arn:aws:s3:::{BUCKET}/2024/cat.jpg", f"arn:aws:s3:::{BUCKET}/2024/catxjpg", False),
        (f"arn:aws:s3:::{BUCKET}/[ab]", f"arn:aws:s3:::{BUCKET}/a", False),
        (f"arn:aws:s3:::{BUCKET}/[ab]", f"arn:aws:s3:::{BUCKET}/[ab]", True),
        (f"arn:aws:s3:::{BUCKET}/a+", f"arn:aws:s3:::{BUCKET}/aa", False),
        # * spans slashes and newlines in keys
        (f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}/a/b\nc", True),
        ("arn:aws:s3:::*", OBJECT, True),
        ("*", OBJECT, True),
        ([f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"], f"arn:aws:s3:::{BUCKET}", True),
    ],
)
def test_resource(pattern: str | list[str], resource: str, matches: bool) -> None:
    assert applies(statement(Resource=pattern), facts(resource=resource)) is matches


@pytest.mark.parametrize(
    ("resource", "matches"),
    [(OBJECT, True), (f"arn:aws:s3:::{BUCKET}/private/k", False)],
)
def test_not_resource_matches_every_resource_but_those_named(resource: str, matches: bool) -> None:
    stmt = statement(NotResource=f"arn:aws:s3:::{BUCKET}/private/*")
    assert applies(stmt, facts(resource=resource)) is matches


# -- Principal / NotPrincipal -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "caller", "matches"),
    [
        ("*", ANONYMOUS, True),
        ("*", ROOT, True),
        ("*", ALICE, True),
        ({"AWS": "*"}, ANONYMOUS, True),
        ({"AWS": "*"}, ALICE, True),
        ({"AWS": ["*"]}, ALICE, True),
        ({"AWS": ROOT}, ROOT, True),
        ({"AWS": ROOT}, ANONYMOUS, False),
        ({"AWS": ROOT}, ALICE, False),  # the account's root is not each of its users
        ({"AWS": ALICE}, ALICE, True),
        ({"AWS": ALICE}, BOB, False),
        ({"AWS": ALICE.upper()}, ALICE, False),  # ARNs are compared exactly
        ({"AWS": [ROOT, BOB]}, BOB, True),
        ({"AWS": [ROOT, BOB]}, ALICE, False),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
         ALICE, False),
    ],
)  # fmt: skip
def test_principal(principal: Any, caller: str, matches: bool) -> None:
    assert applies(statement(Principal=principal), facts(principal=caller)) is matches


def test_not_principal_denies_everyone_but_those_named() -> None:
    doc = policy(
        statement("Allow"),
        statement("Deny", NotPrincipal={"AWS": [ROOT, ALICE]}),
    )
    assert doc.evaluate(facts(principal=ROOT)) == "Allow"
    assert doc.evaluate(facts(principal=ALICE)) == "Allow"
    assert doc.evaluate(facts(principal=BOB)) == "Deny"
    assert doc.evaluate(facts(principal=ANONYMOUS)) == "Deny"


def test_an_identity_policy_names_no_principal_and_applies_to_whoever_holds_it() -> None:
    doc = {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
    held = parse_policy(json.dumps(doc), identity=True)
    assert held.evaluate(facts(principal=ALICE)) == "Allow"
    assert held.evaluate(facts(principal=BOB)) == "Allow"
    assert held.evaluate(facts(principal=ALICE, action="s3:PutObject")) is None
    # the same document is not a resource policy: that must name a Principal
    with pytest.raises(MalformedPolicy):
        parse_policy(json.dumps(doc))


@pytest.mark.parametrize("field", ["Principal", "NotPrincipal"])
def test_an_identity_policy_cannot_name_a_principal(field: str) -> None:
    doc = {"Statement": [{"Effect": "Allow", field: "*", "Action": "*", "Resource": "*"}]}
    with pytest.raises(MalformedPolicy):
        parse_policy(json.dumps(doc), identity=True)


def test_not_principal_with_allow_is_refused_and_with_deny_accepted() -> None:
    with pytest.raises(MalformedPolicy, match="NotPrincipal"):
        policy(statement("Allow", NotPrincipal={"AWS": ROOT}), bucket=BUCKET)
    assert policy(statement("Deny", NotPrincipal={"AWS": ROOT}), bucket=BUCKET).statements


# -- Condition ----------------------------------------------------------------------------------

NOW = "2024-06-01T12:00:00Z"


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        # String: exact, case-sensitive values; case-insensitive keys
        ({"StringEquals": {"aws:username": "alice"}}, {"aws:username": "alice"}, True),
        ({"StringEquals": {"aws:username": "alice"}}, {"aws:username": "Alice"}, False),
        ({"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"}, True),
        ({"stringequals": {"aws:username": "alice"}}, {"aws:username": "alice"}, True),
        # several values for one key: any of them (OR)
        ({"StringEquals": {"aws:username": ["bob", "alice"]}}, {"aws:username": "alice"}, True),
        ({"StringEquals": {"aws:username": ["bob", "carol"]}}, {"aws:username": "alice"}, False),
        ({"StringNotEquals": {"aws:username": "alice"}}, {"aws:username": "bob"}, True),
        ({"StringNotEquals": {"aws:username": "alice"}}, {"aws:username": "alice"}, False),
        # negated with several values: none of them
        ({"StringNotEquals": {"aws:username": ["bob", "alice"]}}, {"aws:username": "alice"}, False),
        ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, True),
        ({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"},
         False),
        ({"StringLike": {"s3:prefix": "docs/*"}}, {"s3:prefix": "docs/2024/"}, True),
        ({"StringLike": {"s3:prefix": "docs/*"}}, {"s3:prefix": "img/"}, False),
        ({"StringLike": {"s3:prefix": "docs/*"}}, {"s3:prefix": "Docs/"}, False),
        ({"StringLike": {"s3:prefix": "v?/"}}, {"s3:prefix": "v2/"}, True),
        ({"StringLike": {"s3:prefix": "v?/"}}, {"s3:prefix": "v10/"}, False),
        ({"StringLike": {"s3:prefix": "a.c"}}, {"s3:prefix": "abc"}, False),
        ({"StringNotLike": {"s3:prefix": "docs/*"}}, {"s3:prefix": "img/"}, True),
        ({"StringNotLike": {"s3:prefix": "docs/*"}}, {"s3:prefix": "docs/a"}, False),
        # IP addresses: CIDRs, bare addresses, IPv6, several ranges (OR)
        ({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:sourceip": "192.0.2.7"}, True),
        ({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:sourceip": "192.0.3.7"}, False),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}, {"aws:sourceip": "203.0.113.5"}, True),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}, {"aws:sourceip": "203.0.113.6"}, False),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.5/24"}}, {"aws:sourceip": "203.0.113.99"},
         True),  # host bits set: taken as the network
        ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}},
         {"aws:sourceip": "10.1.2.3"}, True),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:sourceip": "2001:db8::1"}, True),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:sourceip": "2001:db9::1"}, False),
        ({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:sourceip": "not-an-ip"}, False),
        ({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:sourceip": "198.51.100.1"},
         True),
        ({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:sourceip": "192.0.2.1"},
         False),
        ({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.1"]}},
         {"aws:sourceip": "192.0.2.1"}, False),
        # Bool, written as a string or a JSON boolean
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:securetransport": "true"}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:securetransport": "false"}, False),
        ({"Bool": {"aws:SecureTransport": True}}, {"aws:securetransport": "true"}, True),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:securetransport": "false"}, True),
        ({"Bool": {"aws:SecureTransport": "TRUE"}}, {"aws:securetransport": "true"}, True),
        # Numeric, written as strings or JSON numbers; a non-number never matches
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
        ({"NumericLessThan": {"s3:max-keys": 10}}, {"s3:max-keys": "100"}, False),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
        ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
        ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "7"}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
        # Date: ISO 8601 or epoch seconds
        ({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
         {"aws:currenttime": NOW}, True),
        ({"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}},
         {"aws:currenttime": NOW}, False),
        ({"DateGreaterThan": {"aws:CurrentTime": "1704067200"}}, {"aws:currenttime": NOW}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2025-01-01"}}, {"aws:currenttime": NOW}, True),
        ({"DateLessThan": {"aws:CurrentTime": NOW}}, {"aws:currenttime": NOW}, False),
        ({"DateLessThanEquals": {"aws:CurrentTime": NOW}}, {"aws:currenttime": NOW}, True),
        ({"DateEquals": {"aws:CurrentTime": "2024-06-01T14:00:00+02:00"}},
         {"aws:currenttime": NOW}, True),
        ({"DateGreaterThan": {"aws:EpochTime": "2024-01-01T00:00:00Z"}},
         {"aws:epochtime": "1717243200"}, True),
        ({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
         {"aws:currenttime": "yesterday"}, False),
        # Null: "true" means the key must be absent, "false" that it must be present
        ({"Null": {"s3:prefix": "true"}}, {}, True),
        ({"Null": {"s3:prefix": "true"}}, {"s3:prefix": "docs/"}, False),
        ({"Null": {"s3:prefix": "false"}}, {"s3:prefix": "docs/"}, True),
        ({"Null": {"s3:prefix": False}}, {}, False),
        # a missing key: a positive test fails, ...IfExists passes
        ({"StringEquals": {"s3:prefix": "docs/"}}, {}, False),
        ({"StringLike": {"s3:prefix": "*"}}, {}, False),
        ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {}, False),
        ({"StringEqualsIfExists": {"s3:prefix": "docs/"}}, {}, True),
        ({"StringEqualsIfExists": {"s3:prefix": "docs/"}}, {"s3:prefix": "img/"}, False),
        ({"StringEqualsIfExists": {"s3:prefix": "docs/"}}, {"s3:prefix": "docs/"}, True),
        ({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {}, True),
        # several keys under one operator, and several operators: all of them (AND)
        ({"StringEquals": {"aws:username": "alice", "s3:prefix": "docs/"}},
         {"aws:username": "alice", "s3:prefix": "docs/"}, True),
        ({"StringEquals": {"aws:username": "alice", "s3:prefix": "docs/"}},
         {"aws:username": "alice", "s3:prefix": "img/"}, False),
        ({"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
         {"aws:username": "alice", "aws:securetransport": "true"}, True),
        ({"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
         {"aws:username": "alice", "aws:securetransport": "false"}, False),
        # a multi-valued key without a set operator: any of its values
        ({"StringEquals": {"s3:tags": "red"}}, {"s3:tags": ["blue", "red"]}, True),
        # ForAnyValue: some request value matches; a missing key never does
        ({"ForAnyValue:StringEquals": {"s3:tags": ["red", "green"]}}, {"s3:tags": ["blue", "red"]},
         True),
        ({"ForAnyValue:StringEquals": {"s3:tags": ["red", "green"]}}, {"s3:tags": ["blue"]},
         False),
        ({"ForAnyValue:StringEquals": {"s3:tags": "red"}}, {}, False),
        ({"ForAnyValue:StringLike": {"s3:tags": "r*"}}, {"s3:tags": ["blue", "rose"]}, True),
        # ForAllValues: every request value matches; vacuously true for none
        ({"ForAllValues:StringEquals": {"s3:tags": ["red", "green", "blue"]}},
         {"s3:tags": ["blue", "red"]}, True),
        ({"ForAllValues:StringEquals": {"s3:tags": ["red", "green"]}},
         {"s3:tags": ["blue", "red"]}, False),
        ({"ForAllValues:StringEquals": {"s3:tags": "red"}}, {}, True),
        ({"ForAllValues:StringEquals": {"s3:tags": "red"}}, {"s3:tags": []}, True),
        ({"ForAllValues:StringNotEquals": {"s3:tags": ["secret"]}},
         {"s3:tags": ["blue", "red"]}, True),
        ({"ForAllValues:StringNotEquals": {"s3:tags": ["secret"]}},
         {"s3:tags": ["blue", "secret"]}, False),
    ],
)  # fmt: skip
def test_condition(condition: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    assert applies(statement(Condition=condition), facts(**context)) is holds


@pytest.mark.parametrize(
    "condition",
    [
        {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
        {"StringNotLike": {"s3:x-amz-server-side-encryption": "aws:*"}},
        {"StringNotEqualsIgnoreCase": {"s3:x-amz-server-side-encryption": "aes256"}},
        {"NumericNotEquals": {"s3:max-keys": "10"}},
        {"DateNotEquals": {"aws:CurrentTime": NOW}},
        {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_negated_operator_holds_when_its_key_is_missing(condition: dict[str, Any]) -> None:
    """AWS (IAM condition operators): "If the policy condition requires that the key is *not*
    matched, such as StringNotLike, and the right key is not present, the condition is
    *true*." So a Deny written with a negated operator catches the request that omits the key:
    the classic "deny uploads not encrypted with AES256" must deny an upload with no
    encryption header at all."""
    deny = policy(statement("Allow"), statement("Deny", Condition=condition))
    assert deny.evaluate(facts(action="s3:PutObject")) == "Deny"


def test_bool_secure_transport_denies_plain_http() -> None:
    doc = policy(
        statement("Allow"),
        statement("Deny", Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    assert doc.evaluate(facts(**{"aws:securetransport": "true"})) == "Allow"
    assert doc.evaluate(facts(**{"aws:securetransport": "false"})) == "Deny"


# -- is_public ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statements", "public"),
    [
        ([statement("Allow", Principal="*")], True),
        ([statement("Allow", Principal={"AWS": "*"})], True),
        ([statement("Allow", Principal={"AWS": [ROOT, "*"]})], True),
        ([statement("Allow", Principal="*", Action="s3:GetObject")], True),
        ([statement("Allow", Principal={"AWS": ROOT}), statement("Allow", Principal="*")], True),
        # a condition restricts who can use it (e.g. a source IP range): not public
        (
            [statement("Allow", Principal="*", Condition={"IpAddress": {"aws:SourceIp": "10/8"}})],
            False,
        ),
        ([statement("Deny", Principal="*")], False),
        ([statement("Allow", Principal={"AWS": ROOT})], False),
        ([statement("Allow", Principal={"AWS": [ROOT, ALICE]})], False),
    ],
)
def test_is_public(statements: list[dict[str, Any]], public: bool) -> None:
    assert policy(*statements).is_public is public


# -- documents that are accepted, and those refused ---------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        # Version may be omitted, or the 2008 one
        {"Statement": [statement()]},
        {"Version": "2008-10-17", "Statement": [statement()]},
        # a single statement need not be in a list
        {"Version": "2012-10-17", "Statement": statement()},
        {"Statement": [statement(Sid="Public read", Action="S3:GetObject")]},
        # every resource in the bucket, the bucket itself, or matched by a bucket wildcard
        {"Statement": [statement(Resource=f"arn:aws:s3:::{BUCKET}")]},
        {"Statement": [statement(Resource=[f"arn:aws:s3:::{BUCKET}/*", "*"])]},
        {"Statement": [statement(Resource="arn:aws:s3:::*")]},
        {"Statement": [statement(Resource="arn:aws:s3:::pho*/*")]},
        {"Statement": [statement(NotResource=f"arn:aws:s3:::{BUCKET}/private/*")]},
        {"Statement": [statement(Condition={"StringLikeIfExists": {"aws:Referer": "*"}})]},
    ],
)
def test_accepted_bucket_policies(doc: dict[str, Any]) -> None:
    assert isinstance(parse_policy(json.dumps(doc), BUCKET), Policy)


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _without(name: str) -> dict[str, Any]:
    out = statement()
    del out[name]
    return out


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json", id="invalid-json"),
        pytest.param(b'{"Statement": "\xff"}', id="not-utf8"),
        pytest.param("", id="empty"),
        pytest.param("[]", id="array"),
        pytest.param('"policy"', id="string"),
        pytest.param(json.dumps({"Version": "2024-01-01", "Statement": [statement()]}),
                     id="unknown-version"),
        pytest.param(json.dumps({"Version": "2012-10-17"}), id="no-statement"),
        pytest.param(_doc(), id="empty-statement"),
        pytest.param(json.dumps({"Statement": None}), id="null-statement"),
        pytest.param(json.dumps({"Statement": ["Allow"]}), id="statement-not-object"),
        pytest.param(_doc(statement(Principals="*")), id="unknown-field"),
        pytest.param(_doc(_without("Effect")), id="no-effect"),
        pytest.param(_doc(statement("allow")), id="lowercase-effect"),
        pytest.param(_doc(statement("Permit")), id="bad-effect"),
        pytest.param(_doc(_without("Principal")), id="no-principal"),
        pytest.param(_doc({**statement(), "NotPrincipal": {"AWS": ROOT}}),
                     id="principal-and-notprincipal"),
        # AWS supports NotPrincipal only with Deny (with Allow it grants anyone but those named)
        pytest.param(_doc(statement("Allow", NotPrincipal={"AWS": ROOT})),
                     id="notprincipal-allow"),
        pytest.param(_doc(statement("Allow", NotPrincipal="*")), id="notprincipal-allow-star"),
        pytest.param(_doc(statement(Principal=ROOT)), id="principal-bare-arn"),
        pytest.param(_doc(statement(Principal={})), id="principal-empty"),
        pytest.param(_doc(statement(Principal={"User": "*"})), id="principal-bad-type"),
        pytest.param(_doc(statement(Principal={"AWS": ""})), id="principal-empty-name"),
        pytest.param(_doc(statement(Principal={"AWS": [ROOT, 7]})), id="principal-not-string"),
        pytest.param(_doc(_without("Action")), id="no-action"),
        pytest.param(_doc({**statement(), "NotAction": "s3:GetObject"}),
                     id="action-and-notaction"),
        pytest.param(_doc(statement(Action="iam:CreateUser")), id="action-other-service"),
        pytest.param(_doc(statement(Action="GetObject")), id="action-no-service"),
        pytest.param(_doc(statement(Action="s3:Get-Object")), id="action-bad-char"),
        pytest.param(_doc(statement(Action="")), id="action-empty"),
        pytest.param(_doc(statement(Action=[])), id="action-empty-list"),
        pytest.param(_doc(statement(Action=["s3:GetObject", 3])), id="action-not-string"),
        pytest.param(_doc(statement(NotAction="sqs:*")), id="notaction-other-service"),
        pytest.param(_doc(_without("Resource")), id="no-resource"),
        pytest.param(_doc({**statement(), "NotResource": "*"}), id="resource-and-notresource"),
        pytest.param(_doc(statement(Resource=f"{BUCKET}/*")), id="resource-not-arn"),
        pytest.param(_doc(statement(Resource="arn:aws:iam::123456789012:root")),
                     id="resource-other-service"),
        pytest.param(_doc(statement(Resource=[])), id="resource-empty-list"),
        pytest.param(_doc(statement(Resource=[None])), id="resource-null"),
        pytest.param(_doc(statement(Condition="aws:SecureTransport")), id="condition-not-object"),
        pytest.param(_doc(statement(Condition={"StringMatches": {"s3:prefix": "a"}})),
                     id="unknown-operator"),
        pytest.param(_doc(statement(Condition={"ForSomeValues:StringEquals": {"k": "a"}})),
                     id="unknown-set-operator"),
        pytest.param(_doc(statement(Condition={"StringEquals": "a"})), id="condition-block-value"),
        pytest.param(_doc(statement(Condition={"StringEquals": {}})), id="condition-block-empty"),
        pytest.param(_doc(statement(Condition={"StringEquals": {"s3:prefix": []}})),
                     id="condition-no-value"),
    ],
)  # fmt: skip
def test_malformed_policies_are_refused(text: str | bytes) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(text, BUCKET)
    assert isinstance(caught.value, DomainError)
    assert caught.value.message


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::other-bucket/*",
        "arn:aws:s3:::other-bucket",
        f"arn:aws:s3:::{BUCKET}-backup/*",  # a prefix of the name is not the bucket
        f"arn:aws:s3:::{BUCKET.upper()}/*",  # bucket names are compared exactly
        "arn:aws:s3:::ph?to/*",
    ],
)
def test_a_bucket_policy_refuses_resources_outside_its_bucket(resource: str) -> None:
    for field in ("Resource", "NotResource"):
        with pytest.raises(MalformedPolicy, match="does not apply to any resource"):
            parse_policy(_doc(statement(**{field: [f"arn:aws:s3:::{BUCKET}/*", resource]})), BUCKET)
    # without a bucket (an identity policy, say) any S3 resource may be named
    assert isinstance(parse_policy(_doc(statement(Resource=resource))), Policy)


# -- policy variables ---------------------------------------------------------------------------

HOME = f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*"


@pytest.mark.parametrize(
    ("resource", "context", "key", "matches"),
    [
        (HOME, {"aws:username": "alice"}, "home/alice/notes.txt", True),
        (HOME, {"aws:username": "alice"}, "home/bob/notes.txt", False),
        (HOME, {"aws:username": "bob"}, "home/bob/notes.txt", True),
        # a variable's value is literal, never a wildcard
        (HOME, {"aws:username": "*"}, "home/bob/notes.txt", False),
        (HOME, {"aws:username": "*"}, "home/*/notes.txt", True),
        # no value: the resource matches nothing
        (HOME, {}, "home/alice/notes.txt", False),
        (HOME, {}, "home/${aws:username}/notes.txt", False),
        # several values: not usable as a variable
        (HOME, {"aws:username": ["alice", "bob"]}, "home/alice/notes.txt", False),
        # a default for a missing key
        (f"arn:aws:s3:::{BUCKET}/home/${{aws:username, 'guest'}}/*", {},
         "home/guest/notes.txt", True),
        (f"arn:aws:s3:::{BUCKET}/home/${{aws:username, 'guest'}}/*", {"aws:username": "alice"},
         "home/guest/notes.txt", False),
        # key names are case-insensitive; other keys work as variables too
        (f"arn:aws:s3:::{BUCKET}/${{AWS:UserName}}/*", {"aws:username": "alice"},
         "alice/x", True),
        (f"arn:aws:s3:::{BUCKET}/${{aws:PrincipalAccount}}/*", {"aws:principalaccount": "42"},
         "42/x", True),
        # ${*} ${?} ${$}: those characters literally
        (f"arn:aws:s3:::{BUCKET}/a${{*}}b", {}, "a*b", True),
        (f"arn:aws:s3:::{BUCKET}/a${{*}}b", {}, "axxb", False),
        (f"arn:aws:s3:::{BUCKET}/a${{?}}${{$}}", {}, "a?$", True),
    ],
)  # fmt: skip
def test_variables_in_resources(
    resource: str, context: dict[str, Any], key: str, matches: bool
) -> None:
    doc = policy(statement(Resource=resource), bucket=BUCKET)
    request = facts(resource=f"arn:aws:s3:::{BUCKET}/{key}", **context)
    assert (doc.evaluate(request) == "Allow") is matches


def test_a_variable_without_a_value_leaves_a_not_resource_statement_unmatched() -> None:
    stmt = statement("Deny", NotResource=HOME)
    doc = policy(statement("Allow"), stmt, bucket=BUCKET)
    mine = f"arn:aws:s3:::{BUCKET}/home/alice/x"
    assert doc.evaluate(facts(resource=mine, **{"aws:username": "alice"})) == "Allow"
    other = f"arn:aws:s3:::{BUCKET}/home/bob/x"
    assert doc.evaluate(facts(resource=other, **{"aws:username": "alice"})) == "Deny"
    assert doc.evaluate(facts(resource=mine)) == "Allow"  # the Deny cannot be resolved


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringLike": {"s3:prefix": "${aws:username}/*"}},
         {"aws:username": "alice", "s3:prefix": "alice/docs"}, True),
        ({"StringLike": {"s3:prefix": "${aws:username}/*"}},
         {"aws:username": "alice", "s3:prefix": "bob/docs"}, False),
        ({"StringLike": {"s3:prefix": "${aws:username}/*"}},
         {"aws:username": "a*", "s3:prefix": "abc/docs"}, False),
        ({"StringEquals": {"s3:prefix": "${aws:username}/"}},
         {"aws:username": "alice", "s3:prefix": "alice/"}, True),
        ({"StringEquals": {"s3:prefix": "home/${aws:userid, 'anonymous'}"}},
         {"s3:prefix": "home/anonymous"}, True),
        ({"StringEqualsIgnoreCase": {"s3:prefix": "${aws:username}"}},
         {"aws:username": "Alice", "s3:prefix": "ALICE"}, True),
        ({"StringNotEquals": {"s3:prefix": "${aws:username}/"}},
         {"aws:username": "alice", "s3:prefix": "bob/"}, True),
        # an unresolved variable: the statement does not apply, negated operator or not
        ({"StringNotEquals": {"s3:prefix": "${aws:username}/"}}, {"s3:prefix": "bob/"}, False),
        ({"StringEquals": {"s3:prefix": "${aws:username}/"}}, {"s3:prefix": "${aws:username}/"},
         False),
        # only the String operators take variables: elsewhere ${...} is just text
        ({"NumericEquals": {"s3:max-keys": "${s3:max-keys}"}}, {"s3:max-keys": "5"}, False),
    ],
)  # fmt: skip
def test_variables_in_condition_values(
    condition: dict[str, Any], context: dict[str, Any], holds: bool
) -> None:
    assert applies(statement(Condition=condition), facts(**context)) is holds


def test_variables_are_literal_text_before_the_2012_language() -> None:
    for version in ("2008-10-17", None):
        doc: dict[str, Any] = {"Statement": [statement(Resource=HOME)]}
        if version:
            doc["Version"] = version
        old = parse_policy(json.dumps(doc), BUCKET)
        literal = f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/x"
        assert old.evaluate(facts(resource=literal, **{"aws:username": "bob"})) == "Allow"
        named = f"arn:aws:s3:::{BUCKET}/home/bob/x"
        assert old.evaluate(facts(resource=named, **{"aws:username": "bob"})) is None


def test_mentions_names_the_condition_keys_and_variables_used() -> None:
    doc = policy(
        statement(Condition={"StringEquals": {"s3:ExistingObjectTag/Class": "public"}}),
        statement(Resource=HOME),
        statement(Condition={"StringLike": {"s3:prefix": "${s3:RequestObjectTag/team}/*"}}),
    )
    assert doc.mentions("s3:existingobjecttag/")
    assert doc.mentions("aws:username")
    assert doc.mentions("s3:requestobjecttag/")
    assert not policy(statement()).mentions("s3:existingobjecttag/")
    assert not policy(statement(Resource=f"arn:aws:s3:::{BUCKET}/a${{*}}")).mentions("*")

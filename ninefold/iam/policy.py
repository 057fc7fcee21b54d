"""The AWS policy language for bucket policies: parse, validate, evaluate. Pure, no I/O.

A policy is ``{"Version": "2012-10-17", "Statement": [...]}``; a statement has ``Effect``
(Allow | Deny), ``Principal`` or ``NotPrincipal`` (``"*"``, ``{"AWS": "*" | arn | [..]}``),
``Action`` or ``NotAction`` (``s3:GetObject``, wildcards ``*`` and ``?``), ``Resource`` or
``NotResource`` (``arn:aws:s3:::bucket/key*``) and an optional ``Condition``
(``{operator: {key: value | [values]}}``). Evaluation follows AWS: an explicit Deny in any
matching statement wins; otherwise an Allow in a matching statement allows; otherwise the
policy is silent (the caller's default applies: deny for anonymous).

Condition operators: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike},
Numeric{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals},
Date{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals}, Bool,
IpAddress, NotIpAddress, Null, each with an ``...IfExists`` form and ``ForAnyValue:`` /
``ForAllValues:`` prefixes. Keys are case-insensitive, as in AWS.

Policy variables (Version 2012-10-17 only; in 2008-10-17 they are literal text): ``${key}``
in a Resource or NotResource and in the values of the String operators is replaced by the
request's value of that condition key (``${aws:username}``, ``${aws:userid}``,
``${aws:PrincipalAccount}``, ``${s3:prefix}`` ...), ``${key, 'default'}`` with a default when
the key is absent, and ``${*}``, ``${?}``, ``${$}`` stand for those characters literally. A
variable without a value (and no default), or one with several, leaves its statement
unmatched, as AWS does. ``NotPrincipal`` is only accepted with ``Effect: Deny`` (AWS refuses
it with Allow, which would grant anyone but the principals named).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ninefold.core import errors

__all__ = ["Policy", "RequestFacts", "parse_policy"]

ANONYMOUS = "*"
_EFFECTS = ("Allow", "Deny")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """``*`` any run, ``?`` one character; everything else literal (policy wildcards)."""
    regex = _glob(pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


Context = Mapping[str, "str | list[str]"]

#: ``${name}`` or ``${name, 'default'}``
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_LITERALS = frozenset({"*", "?", "$"})


def _variable(inner: str, context: Context) -> tuple[str, bool] | None:
    """The value of one ``${...}`` (and whether it is a literal wildcard character); None when
    the key has no single value and no default."""
    text = inner.strip()
    if text in _LITERALS:
        return text, True
    default = None
    match = _DEFAULT.match(text)
    if match is not None:
        text, default = match.group(1), match.group(2)
    value = context.get(text.lower())
    if isinstance(value, list):  # a multi-valued key cannot be a variable
        return None
    if value is None:
        return None if default is None else (default, False)
    return value, False


def _substituted(template: str, context: Context, *, pattern: bool) -> str | None:
    """``template`` with its variables replaced: as a regex body (``pattern``: wildcards stay
    wildcards, values are literal) or as plain text. None: a variable has no value."""
    out: list[str] = []
    pos = 0
    for match in _VARIABLE.finditer(template):
        before = template[pos : match.start()]
        out.append(_glob(before) if pattern else before)
        resolved = _variable(match.group(1), context)
        if resolved is None:
            return None
        out.append(re.escape(resolved[0]) if pattern else resolved[0])
        pos = match.end()
    rest = template[pos:]
    out.append(_glob(rest) if pattern else rest)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A wildcard pattern (resource, or a StringLike value); with variables it is compiled
    per request."""

    text: str
    ignore_case: bool
    #: None: the text has variables
    compiled: re.Pattern[str] | None

    def match(self, value: str, context: Context) -> bool | None:
        """None: a variable in the pattern has no value."""
        compiled = self.compiled
        if compiled is None:
            body = _substituted(self.text, context, pattern=True)
            if body is None:
                return None
            flags = re.IGNORECASE | re.DOTALL if self.ignore_case else re.DOTALL
            compiled = re.compile(f"^{body}$", flags)
        return bool(compiled.match(value))


def _pattern(text: str, *, ignore_case: bool = False, variables: bool = False) -> _Pattern:
    if variables and "${" in text:
        return _Pattern(text, ignore_case, None)
    return _Pattern(text, ignore_case, _wildcard(text, ignore_case=ignore_case))


def _any_match(patterns: Sequence[_Pattern], value: str, context: Context) -> bool | None:
    """True: one matches; None: none matches and a variable had no value; else False."""
    unresolved = False
    for p in patterns:
        hit = p.match(value, context)
        if hit:
            return True
        unresolved = unresolved or hit is None
    return None if unresolved else False


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a statement is matched against."""

    #: "*" for an anonymous request, else the principal's ARN-ish name (``arn:aws:iam::..:root``)
    principal: str
    action: str
    resource: str
    #: condition keys, lower-case names (aws:sourceip, aws:securetransport, s3:prefix, ...);
    #: values are strings or lists of strings
    context: Mapping[str, str | list[str]] = field(default_factory=dict)


def _match_any(patterns: Sequence[re.Pattern[str]], value: str) -> bool:
    return any(p.match(value) for p in patterns)


# -- conditions ---------------------------------------------------------------------------------


def _num(value: str) -> float:
    return float(value)


def _date(value: str) -> float:
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _ip_in(value: str, network: str) -> bool:
    return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)


_Test = Callable[[str, str], bool]

_OPERATORS: dict[str, tuple[_Test, bool]] = {
    # name -> (test(request value, policy value), negated)
    "stringequals": (lambda a, b: a == b, False),
    "stringnotequals": (lambda a, b: a == b, True),
    "stringequalsignorecase": (lambda a, b: a.lower() == b.lower(), False),
    "stringnotequalsignorecase": (lambda a, b: a.lower() == b.lower(), True),
    "stringlike": (lambda a, b: bool(_wildcard(b).match(a)), False),
    "stringnotlike": (lambda a, b: bool(_wildcard(b).match(a)), True),
    "numericequals": (lambda a, b: _num(a) == _num(b), False),
    "numericnotequals": (lambda a, b: _num(a) == _num(b), True),
    "numericlessthan": (lambda a, b: _num(a) < _num(b), False),
    "numericlessthanequals": (lambda a, b: _num(a) <= _num(b), False),
    "numericgreaterthan": (lambda a, b: _num(a) > _num(b), False),
    "numericgreaterthanequals": (lambda a, b: _num(a) >= _num(b), False),
    "dateequals": (lambda a, b: _date(a) == _date(b), False),
    "datenotequals": (lambda a, b: _date(a) == _date(b), True),
    "datelessthan": (lambda a, b: _date(a) < _date(b), False),
    "datelessthanequals": (lambda a, b: _date(a) <= _date(b), False),
    "dategreaterthan": (lambda a, b: _date(a) > _date(b), False),
    "dategreaterthanequals": (lambda a, b: _date(a) >= _date(b), False),
    "bool": (lambda a, b: a.lower() == b.lower(), False),
    "ipaddress": (_ip_in, False),
    "notipaddress": (_ip_in, True),
}


_STRING_OPERATORS = frozenset(
    {
        "stringequals",
        "stringnotequals",
        "stringequalsignorecase",
        "stringnotequalsignorecase",
        "stringlike",
        "stringnotlike",
    }
)
_LIKE_OPERATORS = frozenset({"stringlike", "stringnotlike"})


@dataclass(frozen=True, slots=True)
class _Condition:
    operator: str
    key: str
    values: tuple[str, ...]
    if_exists: bool
    set_mode: str  # "", "forany", "forall"
    #: some value holds a policy variable (String operators, Version 2012-10-17)
    variables: bool = False

    def _matchers(self, context: Context) -> list[Callable[[str], bool]] | None:
        """The values with their variables substituted, as tests of a request value; None
        when a variable has no value (the statement then does not apply)."""
        test, _ = _OPERATORS[self.operator]
        out: list[Callable[[str], bool]] = []
        like = self.operator in _LIKE_OPERATORS
        for value in self.values:
            text = _substituted(value, context, pattern=like)
            if text is None:
                return None
            if like:
                out.append(re.compile(f"^{text}$", re.DOTALL).match)  # type: ignore[arg-type]
            else:
                out.append(lambda a, b=text: test(a, b))  # type: ignore[misc]
        return out

    def holds(self, context: Mapping[str, str | list[str]]) -> bool:
        present = self.key in context
        if self.operator == "null":
            want_null = self.values[0].lower() == "true"
            return (not present) == want_null
        test, negated = _OPERATORS[self.operator]
        matchers = None
        if self.variables:
            matchers = self._matchers(context)
            if matchers is None:  # AWS: an unresolved variable invalidates the statement
                return False
        if not present:
            # AWS: a missing key fails a positive test and passes a negated one (StringNotEquals,
            # NotIpAddress: "the key is not matched"); ...IfExists passes; ForAllValues holds
            # vacuously, ForAnyValue never
            if self.if_exists or self.set_mode == "forall":
                return True
            return negated and self.set_mode == ""
        raw = context[self.key]
        given = raw if isinstance(raw, list) else [raw]

        def one(value: str) -> bool:
            try:
                if matchers is None:
                    hit = any(test(value, v) for v in self.values)
                else:
                    hit = any(bool(m(value)) for m in matchers)
            except ValueError:  # a value of the wrong type never matches
                hit = False
            return not hit if negated else hit

        if self.set_mode == "forall":
            return all(one(v) for v in given)
        return any(one(v) for v in given)


def _parse_conditions(raw: Any, variables: bool = False) -> tuple[_Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise errors.MalformedPolicy("Condition must be an object")
    out = []
    for operator_name, block in raw.items():
        name = str(operator_name)
        set_mode = ""
        if ":" in name:
            prefix, name = name.split(":", 1)
            set_mode = {"foranyvalue": "forany", "forallvalues": "forall"}.get(prefix.lower(), "?")
            if set_mode == "?":
                raise errors.MalformedPolicy(f"Unknown condition set operator {prefix}")
        lowered = name.lower()
        if_exists = lowered.endswith("ifexists") and lowered != "null"
        if if_exists:
            lowered = lowered[: -len("ifexists")]
        if lowered not in _OPERATORS and lowered != "null":
            raise errors.MalformedPolicy(f"Unknown condition operator {operator_name}")
        if not isinstance(block, dict) or not block:
            raise errors.MalformedPolicy(f"Condition {operator_name} must map keys to values")
        for key, values in block.items():
            items = tuple(
                str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(values)
            )
            if not items:
                raise errors.MalformedPolicy(f"Condition {operator_name} has no value")
            templated = variables and lowered in _STRING_OPERATORS and any("${" in v for v in items)
            out.append(_Condition(lowered, str(key).lower(), items, if_exists, set_mode, templated))
    return tuple(out)


# -- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Statement:
    effect: str
    principals: tuple[re.Pattern[str], ...] | None
    not_principals: tuple[re.Pattern[str], ...] | None
    actions: tuple[re.Pattern[str], ...] | None
    not_actions: tuple[re.Pattern[str], ...] | None
    resources: tuple[_Pattern, ...] | None
    not_resources: tuple[_Pattern, ...] | None
    conditions: tuple[_Condition, ...]
    #: the Principal names "*" (anyone, anonymous included)
    public: bool

    def applies(self, facts: RequestFacts) -> bool:
        if self.principals is not None and not _match_any(self.principals, facts.principal):
            return False
        if self.not_principals is not None and _match_any(self.not_principals, facts.principal):
            return False
        if self.actions is not None and not _match_any(self.actions, facts.action):
            return False
        if self.not_actions is not None and _match_any(self.not_actions, facts.action):
            return False
        if self.resources is not None and not _any_match(
            self.resources, facts.resource, facts.context
        ):
            return False
        if self.not_resources is not None and _any_match(
            self.not_resources, facts.resource, facts.context
        ) in (True, None):  # an unresolved variable: the statement does not apply
            return False
        return all(c.holds(facts.context) for c in self.conditions)


def _principals(raw: Any) -> tuple[re.Pattern[str], ...]:
    if raw == "*":
        return (_wildcard("*"),)
    if not isinstance(raw, dict) or not raw:
        raise errors.MalformedPolicy("Invalid principal in policy")
    out = []
    for kind, names in raw.items():
        if kind not in ("AWS", "CanonicalUser", "Service", "Federated"):
            raise errors.MalformedPolicy(f"Invalid principal type {kind}")
        for name in _as_list(names):
            if not isinstance(name, str) or not name:
                raise errors.MalformedPolicy("Invalid principal in policy")
            out.append(_wildcard(name))
    return tuple(out)


def _items(raw: Any, what: str) -> list[str]:
    items = _as_list(raw)
    if not items or not all(isinstance(i, str) and i for i in items):
        raise errors.MalformedPolicy(f"Invalid {what} in policy")
    return items


def _patterns(raw: Any, what: str, *, ignore_case: bool = False) -> tuple[re.Pattern[str], ...]:
    return tuple(_wildcard(i, ignore_case=ignore_case) for i in _items(raw, what))


def _resources(raw: Any, variables: bool) -> tuple[_Pattern, ...]:
    return tuple(_pattern(i, variables=variables) for i in _items(raw, "resource"))


def _action_ok(action: str) -> bool:
    return action == "*" or bool(re.fullmatch(r"s3:[A-Za-z*?]+", action, re.IGNORECASE))


def _statement(
    raw: Any, bucket: str | None, identity: bool = False, variables: bool = False
) -> _Statement:
    if not isinstance(raw, dict):
        raise errors.MalformedPolicy("Statement must be an object")
    known = {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
    extra = set(raw) - known
    if extra:
        raise errors.MalformedPolicy(f"Unknown field {sorted(extra)[0]}")
    effect = raw.get("Effect")
    if effect not in _EFFECTS:
        raise errors.MalformedPolicy("Invalid effect: must be Allow or Deny")
    if identity:
        if "Principal" in raw or "NotPrincipal" in raw:
            raise errors.MalformedPolicy("An identity policy cannot name a Principal")
    elif ("Principal" in raw) == ("NotPrincipal" in raw):
        raise errors.MalformedPolicy("Statement needs exactly one of Principal and NotPrincipal")
    elif "NotPrincipal" in raw and effect == "Allow":
        raise errors.MalformedPolicy("NotPrincipal is only supported with Effect Deny")
    if ("Action" in raw) == ("NotAction" in raw):
        raise errors.MalformedPolicy("Statement needs exactly one of Action and NotAction")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise errors.MalformedPolicy("Statement needs exactly one of Resource and NotResource")
    for name in ("Action", "NotAction"):
        if name in raw and not all(
            isinstance(a, str) and _action_ok(a) for a in _as_list(raw[name])
        ):
            raise errors.MalformedPolicy("Policy has invalid action")
    for name in ("Resource", "NotResource"):
        for res in _as_list(raw.get(name, [])):
            if not isinstance(res, str) or not (res == "*" or res.startswith("arn:aws:s3:::")):
                raise errors.MalformedPolicy("Policy has invalid resource")
            if bucket is not None and res != "*":
                target = res[len("arn:aws:s3:::") :].split("/", 1)[0]
                if not fnmatch.fnmatchcase(bucket, target):
                    raise errors.MalformedPolicy(
                        "Action does not apply to any resource(s) in statement"
                    )
    principal = raw.get("Principal")
    return _Statement(
        effect=effect,
        principals=_principals(principal) if "Principal" in raw else None,
        not_principals=_principals(raw["NotPrincipal"]) if "NotPrincipal" in raw else None,
        actions=_patterns(raw["Action"], "action", ignore_case=True) if "Action" in raw else None,
        not_actions=(
            _patterns(raw["NotAction"], "action", ignore_case=True) if "NotAction" in raw else None
        ),
        resources=_resources(raw["Resource"], variables) if "Resource" in raw else None,
        not_resources=(_resources(raw["NotResource"], variables) if "NotResource" in raw else None),
        conditions=_parse_conditions(raw.get("Condition"), variables),
        public=principal == "*"
        or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", []))),
    )


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[_Statement, ...]
    #: the condition keys its conditions test and its variables name (lower case)
    keys: frozenset[str] = frozenset()

    def mentions(self, prefix: str) -> bool:
        """Does the policy use a condition key starting with ``prefix`` (lower case)? Keys that
        cost a read (an object's tags, a request body) are computed only when one does."""
        return any(key.startswith(prefix) for key in self.keys)

    def evaluate(self, facts: RequestFacts) -> str | None:
        """ "Deny" (an explicit deny matched), "Allow", or None (the policy is silent)."""
        allowed = False
        for statement in self.statements:
            if statement.applies(facts):
                if statement.effect == "Deny":
                    return "Deny"
                allowed = True
        return "Allow" if allowed else None

    @property
    def is_public(self) -> bool:
        """Some Allow statement grants anyone (Principal "*") without a restricting condition
        (GetBucketPolicyStatus; PublicAccessBlock's BlockPublicPolicy)."""
        return any(s.effect == "Allow" and s.public and not s.conditions for s in self.statements)


def parse_policy(text: str | bytes, bucket: str | None = None, *, identity: bool = False) -> Policy:
    """Parse and validate a policy document; MalformedPolicy (400) when it is not one. With
    ``bucket``, every resource must be in that bucket (a bucket policy); ``identity``: a policy
    attached to a user or group, which names no Principal (it applies to its holder)."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.MalformedPolicy("Policies must be valid JSON") from exc
    if not isinstance(doc, dict):
        raise errors.MalformedPolicy("Policies must be JSON objects")
    if doc.get("Version", "2012-10-17") not in ("2012-10-17", "2008-10-17"):
        raise errors.MalformedPolicy("Invalid policy version")
    raw = doc.get("Statement")
    if raw is None or raw == []:
        raise errors.MalformedPolicy("Missing required field Statement")
    # policy variables came with the 2012-10-17 language; before it (or with no Version) they
    # are literal text
    variables = doc.get("Version") == "2012-10-17"
    statements = tuple(_statement(s, bucket, identity, variables) for s in _as_list(raw))
    return Policy(statements, _keys_of(statements))


def _keys_of(statements: Sequence[_Statement]) -> frozenset[str]:
    keys: set[str] = set()
    for statement in statements:
        texts: list[str] = []
        for condition in statement.conditions:
            keys.add(condition.key)
            texts.extend(condition.values if condition.variables else ())
        for patterns in (statement.resources, statement.not_resources):
            texts.extend(p.text for p in patterns or () if p.compiled is None)
        for text in texts:
            for match in _VARIABLE.finditer(text):
                name = match.group(1).split(",", 1)[0].strip().lower()
                if name not in _LITERALS:
                    keys.add(name)
    return frozenset(keys)

"""``ninefold admin user|key|group|policy``: identities and their policies.

Users sign with access keys of their own (several per user; each can be disabled, enabled and
deleted); what they may do comes from IAM-style JSON policies attached to them or to their
groups, and from bucket policies naming them (``arn:aws:iam::000000000000:user/NAME``). The
root user of ``ninefold server``/``gateway`` is not one of them and needs no policy.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ninefold.cli.wiring import open_meta
from ninefold.core import errors
from ninefold.iam.policy import parse_policy
from ninefold.meta.store import MetaStore

__all__ = ["group_app", "key_app", "policy_app", "user_app"]

T = TypeVar("T")
MetaOption = Annotated[str, typer.Option(help="Metadata: postgresql://... or a SQLite path.")]
UserArg = Annotated[str, typer.Argument()]

user_app = typer.Typer(no_args_is_help=True, help="Users.")
key_app = typer.Typer(no_args_is_help=True, help="Users' access keys.")
group_app = typer.Typer(no_args_is_help=True, help="Groups of users.")
policy_app = typer.Typer(no_args_is_help=True, help="IAM policies and their attachments.")


def _run(dsn: str, action: Callable[[MetaStore], Awaitable[T]]) -> T:
    async def go() -> T:
        meta = await open_meta(dsn)
        try:
            return await action(meta)
        finally:
            await meta.close()

    return asyncio.run(go())


def _fail(message: str) -> None:
    typer.echo(f"ninefold: {message}", err=True)
    raise typer.Exit(1)


def _name_ok(name: str) -> None:
    allowed = set(string.ascii_letters + string.digits + "+=,.@_-")
    if not 1 <= len(name) <= 64 or not set(name) <= allowed:
        raise typer.BadParameter(f"{name!r}: 1-64 of letters, digits and +=,.@_-")


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


# -- users ----------------------------------------------------------------------------------------


@user_app.command("create")
def user_create(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    _name_ok(name)

    async def action(store: MetaStore) -> bool:
        if await store.iam_get("user", name) is not None:
            return False
        await store.iam_put("user", name, {"created": time.time(), "groups": [], "policies": []})
        return True

    if not _run(meta, action):
        _fail(f"user {name!r} already exists")
    typer.echo(f"user {name} created")


@user_app.command("delete")
def user_delete(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    """Delete a user and its access keys, and take it out of its groups."""

    async def action(store: MetaStore) -> bool:
        doc = await store.iam_get("user", name)
        if doc is None:
            return False
        for key, key_doc in (await store.iam_list("key")).items():
            if key_doc.get("user") == name:
                await store.iam_put("key", key, None)
        for group in doc.get("groups", []):
            group_doc = await store.iam_get("group", group)
            if group_doc is not None:
                group_doc["members"] = [m for m in group_doc.get("members", []) if m != name]
                await store.iam_put("group", group, group_doc)
        await store.iam_put("user", name, None)
        return True

    if not _run(meta, action):
        _fail(f"no user {name!r}")
    typer.echo(f"user {name} deleted")


@user_app.command("list")
def user_list(meta: MetaOption) -> None:
    users = _run(meta, lambda s: s.iam_list("user"))
    _table(
        "users",
        ["user", "groups", "policies"],
        [
            [n, ",".join(d.get("groups", [])), ",".join(d.get("policies", []))]
            for n, d in users.items()
        ],
    )


# -- access keys ---------------------------------------------------------------------------------


@key_app.command("create")
def key_create(meta: MetaOption, user: Annotated[str, typer.Argument()]) -> None:
    """A new access key for ``user``; the secret is shown this once."""
    access = "NF" + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18)
    )
    secret = secrets.token_urlsafe(30)[:40]

    async def action(store: MetaStore) -> bool:
        if await store.iam_get("user", user) is None:
            return False
        doc = {"secret": secret, "user": user, "status": "Active", "created": time.time()}
        await store.iam_put("key", access, doc)
        return True

    if not _run(meta, action):
        _fail(f"no user {user!r}")
    typer.echo(f"AccessKeyId: {access}")
    typer.echo(f"SecretAccessKey: {secret}")


def _set_key(meta: str, access: str, status: str | None) -> None:
    async def action(store: MetaStore) -> bool:
        doc = await store.iam_get("key", access)
        if doc is None:
            return False
        await store.iam_put("key", access, None if status is None else {**doc, "status": status})
        return True

    if not _run(meta, action):
        _fail(f"no access key {access!r}")
    typer.echo(f"access key {access} {'deleted' if status is None else status.lower()}")


@key_app.command("disable")
def key_disable(meta: MetaOption, access_key: Annotated[str, typer.Argument()]) -> None:
    _set_key(meta, access_key, "Inactive")


@key_app.command("enable")
def key_enable(meta: MetaOption, access_key: Annotated[str, typer.Argument()]) -> None:
    _set_key(meta, access_key, "Active")


@key_app.command("delete")
def key_delete(meta: MetaOption, access_key: Annotated[str, typer.Argument()]) -> None:
    _set_key(meta, access_key, None)


@key_app.command("list")
def key_list(meta: MetaOption) -> None:
    keys = _run(meta, lambda s: s.iam_list("key"))
    _table(
        "access keys",
        ["access key", "user", "status"],
        [[k, d["user"], d["status"]] for k, d in keys.items()],
    )


# -- groups --------------------------------------------------------------------------------------


@group_app.command("create")
def group_create(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    _name_ok(name)

    async def action(store: MetaStore) -> bool:
        if await store.iam_get("group", name) is not None:
            return False
        await store.iam_put("group", name, {"members": [], "policies": []})
        return True

    if not _run(meta, action):
        _fail(f"group {name!r} already exists")
    typer.echo(f"group {name} created")


def _membership(meta: str, group: str, user: str, add: bool) -> None:
    async def action(store: MetaStore) -> str | None:
        group_doc = await store.iam_get("group", group)
        user_doc = await store.iam_get("user", user)
        if group_doc is None:
            return f"no group {group!r}"
        if user_doc is None:
            return f"no user {user!r}"
        members = [m for m in group_doc.get("members", []) if m != user]
        groups = [g for g in user_doc.get("groups", []) if g != group]
        if add:
            members.append(user)
            groups.append(group)
        await store.iam_put("group", group, {**group_doc, "members": members})
        await store.iam_put("user", user, {**user_doc, "groups": groups})
        return None

    problem = _run(meta, action)
    if problem:
        _fail(problem)
    typer.echo(f"user {user} {'added to' if add else 'removed from'} group {group}")


@group_app.command("add-user")
def group_add_user(
    meta: MetaOption,
    group: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
) -> None:
    _membership(meta, group, user, True)


@group_app.command("remove-user")
def group_remove_user(
    meta: MetaOption,
    group: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
) -> None:
    _membership(meta, group, user, False)


@group_app.command("delete")
def group_delete(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    async def action(store: MetaStore) -> bool:
        doc = await store.iam_get("group", name)
        if doc is None:
            return False
        for user in doc.get("members", []):
            user_doc = await store.iam_get("user", user)
            if user_doc is not None:
                groups = [g for g in user_doc.get("groups", []) if g != name]
                await store.iam_put("user", user, {**user_doc, "groups": groups})
        await store.iam_put("group", name, None)
        return True

    if not _run(meta, action):
        _fail(f"no group {name!r}")
    typer.echo(f"group {name} deleted")


@group_app.command("list")
def group_list(meta: MetaOption) -> None:
    groups = _run(meta, lambda s: s.iam_list("group"))
    _table(
        "groups",
        ["group", "members", "policies"],
        [
            [n, ",".join(d.get("members", [])), ",".join(d.get("policies", []))]
            for n, d in groups.items()
        ],
    )


# -- policies ------------------------------------------------------------------------------------


@policy_app.command("create")
def policy_create(
    meta: MetaOption,
    name: Annotated[str, typer.Argument()],
    file: Annotated[Path, typer.Option("--file", help="The policy document (JSON).")],
) -> None:
    """Create (or replace) a policy from a JSON document; it is validated first."""
    _name_ok(name)
    try:
        text = file.read_text()
        parse_policy(text, identity=True)
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc}") from exc
    except errors.MalformedPolicy as exc:
        raise typer.BadParameter(f"not a valid policy: {exc.message}") from exc
    _run(meta, lambda s: s.iam_put("policy", name, {"document": text}))
    typer.echo(f"policy {name} stored")


def _attachment(meta: str, name: str, user: str | None, group: str | None, attach: bool) -> None:
    if (user is None) == (group is None):
        raise typer.BadParameter("give exactly one of --user and --group")
    kind, target = ("user", user) if user is not None else ("group", group)
    assert target is not None

    async def action(store: MetaStore) -> str | None:
        if await store.iam_get("policy", name) is None:
            return f"no policy {name!r}"
        doc = await store.iam_get(kind, target)
        if doc is None:
            return f"no {kind} {target!r}"
        policies = [p for p in doc.get("policies", []) if p != name]
        if attach:
            policies.append(name)
        await store.iam_put(kind, target, {**doc, "policies": policies})
        return None

    problem = _run(meta, action)
    if problem:
        _fail(problem)
    typer.echo(f"policy {name} {'attached to' if attach else 'detached from'} {kind} {target}")


@policy_app.command("attach")
def policy_attach(
    meta: MetaOption,
    name: Annotated[str, typer.Argument()],
    user: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option()] = None,
) -> None:
    _attachment(meta, name, user, group, True)


@policy_app.command("detach")
def policy_detach(
    meta: MetaOption,
    name: Annotated[str, typer.Argument()],
    user: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option()] = None,
) -> None:
    _attachment(meta, name, user, group, False)


@policy_app.command("delete")
def policy_delete(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    async def action(store: MetaStore) -> bool:
        if await store.iam_get("policy", name) is None:
            return False
        for kind in ("user", "group"):
            for target, doc in (await store.iam_list(kind)).items():
                if name in doc.get("policies", []):
                    policies = [p for p in doc["policies"] if p != name]
                    await store.iam_put(kind, target, {**doc, "policies": policies})
        await store.iam_put("policy", name, None)
        return True

    if not _run(meta, action):
        _fail(f"no policy {name!r}")
    typer.echo(f"policy {name} deleted")


@policy_app.command("list")
def policy_list(meta: MetaOption) -> None:
    policies: dict[str, dict[str, Any]] = _run(meta, lambda s: s.iam_list("policy"))
    for name, doc in policies.items():
        typer.echo(f"{name}: {json.dumps(json.loads(doc['document']))}")

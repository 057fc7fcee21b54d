"""``ninefold admin user|key|group|policy``: identities and their policies.

Users sign with access keys of their own (several per user; each can be disabled, enabled and
deleted); what they may do comes from IAM-style JSON policies attached to them or to their
groups, and from bucket policies naming them (``arn:aws:iam::000000000000:user/NAME``). The
root user of ``ninefold server``/``gateway`` is not one of them and needs no policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ninefold.cli.compose import open_meta
from ninefold.core import errors
from ninefold.domain.iam import DEFAULT_ACCOUNT, IamService, check_name
from ninefold.iam.policy import parse_policy

__all__ = ["account_app", "group_app", "key_app", "policy_app", "user_app"]

T = TypeVar("T")
MetaOption = Annotated[str, typer.Option(help="Metadata: postgresql://... or a SQLite path.")]
UserArg = Annotated[str, typer.Argument()]

account_app = typer.Typer(no_args_is_help=True, help="Accounts (each owns its buckets).")
user_app = typer.Typer(no_args_is_help=True, help="Users.")
key_app = typer.Typer(no_args_is_help=True, help="Users' access keys.")
group_app = typer.Typer(no_args_is_help=True, help="Groups of users.")
policy_app = typer.Typer(no_args_is_help=True, help="IAM policies and their attachments.")


def _run(dsn: str, action: Callable[[IamService], Awaitable[T]]) -> T:
    """Run ``action`` on the identities of the metadata at ``dsn``; a refusal is one line on
    stderr and exit status 1."""

    async def go() -> T:
        meta = await open_meta(dsn)
        try:
            return await action(IamService(meta))
        finally:
            await meta.close()

    try:
        return asyncio.run(go())
    except (errors.NoSuchEntity, errors.EntityAlreadyExists) as exc:
        typer.echo(f"ninefold: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _name_ok(name: str) -> None:
    try:
        check_name(name)
    except errors.InvalidArgument as exc:
        raise typer.BadParameter(exc.message or name) from None


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


# -- accounts -------------------------------------------------------------------------------------


@account_app.command("create")
def account_create(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    """A new account and an access key of its root user; the secret is shown this once."""
    _name_ok(name)
    account, key = _run(meta, lambda iam: iam.create_account(name))
    typer.echo(f"AccountId: {account}")
    typer.echo(f"AccessKeyId: {key.access_key}")
    typer.echo(f"SecretAccessKey: {key.secret_key}")


@account_app.command("list")
def account_list(meta: MetaOption) -> None:
    accounts = _run(meta, lambda iam: iam.accounts())
    _table("accounts", ["account", "name"], [[a, n] for a, n in accounts.items()])


# -- users ----------------------------------------------------------------------------------------


@user_app.command("create")
def user_create(
    meta: MetaOption,
    name: Annotated[str, typer.Argument()],
    account: Annotated[
        str, typer.Option(help="The user's account id (default: the root's account).")
    ] = DEFAULT_ACCOUNT,
) -> None:
    _name_ok(name)
    _run(meta, lambda iam: iam.create_user(name, account))
    typer.echo(f"user {name} created")


@user_app.command("delete")
def user_delete(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    """Delete a user and its access keys, and take it out of its groups."""
    _run(meta, lambda iam: iam.delete_user(name))
    typer.echo(f"user {name} deleted")


@user_app.command("list")
def user_list(meta: MetaOption) -> None:
    users = _run(meta, lambda iam: iam.users())
    _table(
        "users",
        ["user", "groups", "policies"],
        [[n, ",".join(d["groups"]), ",".join(d["policies"])] for n, d in users.items()],
    )


# -- access keys ---------------------------------------------------------------------------------


@key_app.command("create")
def key_create(meta: MetaOption, user: Annotated[str, typer.Argument()]) -> None:
    """A new access key for ``user``; the secret is shown this once."""
    key = _run(meta, lambda iam: iam.create_key(user))
    typer.echo(f"AccessKeyId: {key.access_key}")
    typer.echo(f"SecretAccessKey: {key.secret_key}")


@key_app.command("disable")
def key_disable(meta: MetaOption, access_key: Annotated[str, typer.Argument()]) -> None:
    _run(meta, lambda iam: iam.set_key_status(access_key, active=False))
    typer.echo(f"access key {access_key} inactive")


@key_app.command("enable")
def key_enable(meta: MetaOption, access_key: Annotated[str, typer.Argument()]) -> None:
    _run(meta, lambda iam: iam.set_key_status(access_key, active=True))
    typer.echo(f"access key {access_key} active")


@key_app.command("delete")
def key_delete(meta: MetaOption, access_key: Annotated[str, typer.Argument()]) -> None:
    _run(meta, lambda iam: iam.delete_key(access_key))
    typer.echo(f"access key {access_key} deleted")


@key_app.command("list")
def key_list(meta: MetaOption) -> None:
    keys = _run(meta, lambda iam: iam.keys())
    _table(
        "access keys",
        ["access key", "user", "status"],
        [[k, user, status] for k, (user, status) in keys.items()],
    )


# -- groups --------------------------------------------------------------------------------------


@group_app.command("create")
def group_create(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    _name_ok(name)
    _run(meta, lambda iam: iam.create_group(name))
    typer.echo(f"group {name} created")


@group_app.command("add-user")
def group_add_user(
    meta: MetaOption,
    group: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
) -> None:
    _run(meta, lambda iam: iam.set_membership(group, user, member=True))
    typer.echo(f"user {user} added to group {group}")


@group_app.command("remove-user")
def group_remove_user(
    meta: MetaOption,
    group: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
) -> None:
    _run(meta, lambda iam: iam.set_membership(group, user, member=False))
    typer.echo(f"user {user} removed from group {group}")


@group_app.command("delete")
def group_delete(meta: MetaOption, name: Annotated[str, typer.Argument()]) -> None:
    _run(meta, lambda iam: iam.delete_group(name))
    typer.echo(f"group {name} deleted")


@group_app.command("list")
def group_list(meta: MetaOption) -> None:
    groups = _run(meta, lambda iam: iam.groups())
    _table(
        "groups",
        ["group", "members", "policies"],
        [[n, ",".join(d["members"]), ",".join(d["policies"])] for n, d in groups.items()],
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
    _run(meta, lambda iam: iam.put_policy(name, text))
    typer.echo(f"policy {name} stored")


def _attachment(meta: str, name: str, user: str | None, group: str | None, attach: bool) -> None:
    if (user is None) == (group is None):
        raise typer.BadParameter("give exactly one of --user and --group")
    kind, target = ("user", user) if user is not None else ("group", group)
    assert target is not None
    _run(meta, lambda iam: iam.attach(name, kind=kind, target=target, attached=attach))
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
    _run(meta, lambda iam: iam.delete_policy(name))
    typer.echo(f"policy {name} deleted")


@policy_app.command("list")
def policy_list(meta: MetaOption) -> None:
    for name, document in _run(meta, lambda iam: iam.policies()).items():
        typer.echo(f"{name}: {document}")

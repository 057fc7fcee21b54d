"""Users, access keys, groups and policies: created with the real `ninefold admin` CLI against
a running server's metadata, then exercised with boto3 signing as those users."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.support.server import ServerProc

from .helpers import raises_s3
from .test_post_object import post_form

NINEFOLD = str(Path(sys.executable).parent / "ninefold")


def admin(server: ServerProc, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [NINEFOLD, "admin", *args, "--meta", str(server.data_dir / "meta.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def new_key(server: ServerProc, user: str) -> tuple[str, str]:
    out = admin(server, "key", "create", user).stdout
    fields = dict(line.split(": ", 1) for line in out.strip().splitlines())
    return fields["AccessKeyId"], fields["SecretAccessKey"]


def client_for(server: ServerProc, key: tuple[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def write_policy(tmp_path: Path, name: str, statements: list[dict[str, Any]]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return str(path)


def test_users_keys_groups_and_policies(fresh_server: ServerProc, tmp_path: Path) -> None:
    server = fresh_server
    root = server.boto3_client()
    root.create_bucket(Bucket="team-data")
    root.put_object(Bucket="team-data", Key="reports/q1.txt", Body=b"q1")
    root.put_object(Bucket="team-data", Key="private/salaries.txt", Body=b"$$$")

    admin(server, "user", "create", "alice")
    admin(server, "user", "create", "bob")
    alice_key = new_key(server, "alice")
    second_key = new_key(server, "alice")  # several keys per user
    alice = client_for(server, alice_key)
    # a user without policies may do nothing
    with raises_s3("AccessDenied", 403):
        alice.get_object(Bucket="team-data", Key="reports/q1.txt")
    with raises_s3("AccessDenied", 403):
        alice.list_buckets()

    reader = write_policy(
        tmp_path,
        "reader",
        [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::team-data", "arn:aws:s3:::team-data/*"],
            },
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::team-data/private/*",
            },
        ],
    )
    admin(server, "policy", "create", "reader", "--file", reader)
    admin(server, "policy", "attach", "reader", "--user", "alice")
    assert alice.get_object(Bucket="team-data", Key="reports/q1.txt")["Body"].read() == b"q1"
    keys = [o["Key"] for o in alice.list_objects_v2(Bucket="team-data")["Contents"]]
    assert keys == ["private/salaries.txt", "reports/q1.txt"]
    with raises_s3("AccessDenied", 403):  # explicit deny wins
        alice.get_object(Bucket="team-data", Key="private/salaries.txt")
    with raises_s3("AccessDenied", 403):  # not granted
        alice.put_object(Bucket="team-data", Key="reports/q2.txt", Body=b"q2")
    second = client_for(server, second_key)
    assert second.get_object(Bucket="team-data", Key="reports/q1.txt")["Body"].read() == b"q1"

    # groups: bob gets write access through one
    writer = write_policy(
        tmp_path,
        "writer",
        [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::team-data/*"}],
    )
    admin(server, "policy", "create", "writer", "--file", writer)
    admin(server, "group", "create", "writers")
    admin(server, "policy", "attach", "writer", "--group", "writers")
    bob = client_for(server, new_key(server, "bob"))
    with raises_s3("AccessDenied", 403):
        bob.put_object(Bucket="team-data", Key="reports/b.txt", Body=b"b")
    admin(server, "group", "add-user", "writers", "bob")
    bob.put_object(Bucket="team-data", Key="reports/b.txt", Body=b"b")
    admin(server, "group", "remove-user", "writers", "bob")
    with raises_s3("AccessDenied", 403):
        bob.put_object(Bucket="team-data", Key="reports/b2.txt", Body=b"b")

    # a bucket policy can grant a user too
    root.put_bucket_policy(
        Bucket="team-data",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::000000000000:user/bob"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::team-data/reports/*",
                    }
                ],
            }
        ),
    )
    assert bob.get_object(Bucket="team-data", Key="reports/b.txt")["Body"].read() == b"b"
    # a condition on the user's name (aws:username)
    named = write_policy(
        tmp_path,
        "named",
        [
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::team-data/home/*",
                "Condition": {"StringEquals": {"aws:username": "bob"}},
            }
        ],
    )
    admin(server, "policy", "create", "named", "--file", named)
    admin(server, "policy", "attach", "named", "--user", "bob")
    admin(server, "policy", "attach", "named", "--user", "alice")
    bob.put_object(Bucket="team-data", Key="home/bob.txt", Body=b"mine")
    with raises_s3("AccessDenied", 403):
        alice.put_object(Bucket="team-data", Key="home/alice.txt", Body=b"not allowed")

    # keys: disabled, enabled, deleted
    admin(server, "key", "disable", alice_key[0])
    with raises_s3("InvalidAccessKeyId", 403):
        alice.get_object(Bucket="team-data", Key="reports/q1.txt")
    admin(server, "key", "enable", alice_key[0])
    assert alice.get_object(Bucket="team-data", Key="reports/q1.txt")["Body"].read() == b"q1"
    admin(server, "key", "delete", alice_key[0])
    with raises_s3("InvalidAccessKeyId", 403):
        alice.get_object(Bucket="team-data", Key="reports/q1.txt")
    # deleting a user removes its keys
    admin(server, "user", "delete", "alice")
    with raises_s3("InvalidAccessKeyId", 403):
        second.get_object(Bucket="team-data", Key="reports/q1.txt")
    listed = admin(server, "user", "list").stdout
    assert "bob" in listed and "alice" not in listed


def test_admin_cli_errors(fresh_server: ServerProc, tmp_path: Path) -> None:
    server = fresh_server
    admin(server, "user", "create", "carol")
    dup = admin(server, "user", "create", "carol", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert "no user" in admin(server, "key", "create", "nobody", check=False).stderr
    assert admin(server, "user", "create", "bad name!", check=False).returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}'
    )
    result = admin(server, "policy", "create", "p", "--file", str(bad), check=False)
    assert result.returncode == 2 and "not a valid policy" in result.stderr
    missing = admin(server, "policy", "attach", "nope", "--user", "carol", check=False)
    assert missing.returncode == 1 and "no policy" in missing.stderr
    both = admin(server, "policy", "attach", "nope", check=False)
    assert both.returncode == 2


def test_policy_variables_and_form_uploads_of_users(
    fresh_server: ServerProc, tmp_path: Path
) -> None:
    """One group policy gives each user a home: ``${aws:username}`` in its Resource and in a
    condition value. Browser forms signed with a user's key upload as that user, under the
    same policies."""
    server = fresh_server
    root = server.boto3_client()
    root.create_bucket(Bucket="homes")
    home = write_policy(
        tmp_path,
        "home",
        [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::homes/home/${aws:username}/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::homes",
                "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
            },
        ],
    )
    admin(server, "policy", "create", "home", "--file", home)
    admin(server, "group", "create", "staff")
    admin(server, "policy", "attach", "home", "--group", "staff")
    keys = {}
    for name in ("carol", "dave"):
        admin(server, "user", "create", name)
        admin(server, "group", "add-user", "staff", name)
        keys[name] = new_key(server, name)
    carol, dave = client_for(server, keys["carol"]), client_for(server, keys["dave"])
    carol.put_object(Bucket="homes", Key="home/carol/a.txt", Body=b"c")
    dave.put_object(Bucket="homes", Key="home/dave/a.txt", Body=b"d")
    with raises_s3("AccessDenied", 403):
        carol.put_object(Bucket="homes", Key="home/dave/b.txt", Body=b"x")
    with raises_s3("AccessDenied", 403):
        dave.get_object(Bucket="homes", Key="home/carol/a.txt")
    listed = carol.list_objects_v2(Bucket="homes", Prefix="home/carol/")["Contents"]
    assert [o["Key"] for o in listed] == ["home/carol/a.txt"]
    with raises_s3("AccessDenied", 403):
        carol.list_objects_v2(Bucket="homes", Prefix="home/dave/")

    # POST forms signed by a user's key (SigV2 and SigV4): authorized as that user
    for version in ("s3", "s3v4"):
        form_client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=keys["carol"][0],
            aws_secret_access_key=keys["carol"][1],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, signature_version=version),
        )
        own = form_client.generate_presigned_post("homes", f"home/carol/{version}.txt")
        resp = post_form(server, "homes", own["fields"], b"by form")
        assert resp.status == 204, str(resp)
        body = carol.get_object(Bucket="homes", Key=f"home/carol/{version}.txt")["Body"].read()
        assert body == b"by form"
        other = form_client.generate_presigned_post("homes", f"home/dave/{version}.txt")
        resp = post_form(server, "homes", other["fields"], b"not hers")
        assert resp.status == 403, str(resp)
        resp.error("AccessDenied")
    # a disabled user key cannot sign a form
    admin(server, "key", "disable", keys["carol"][0])
    resp = post_form(server, "homes", own["fields"], b"disabled")
    assert resp.status == 403, str(resp)
    resp.error("InvalidAccessKeyId")
    keys_left = [o["Key"] for o in root.list_objects_v2(Bucket="homes")["Contents"]]
    assert keys_left == [
        "home/carol/a.txt",
        "home/carol/s3.txt",
        "home/carol/s3v4.txt",
        "home/dave/a.txt",
    ]

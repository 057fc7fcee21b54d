"""How ``errors.translate`` logs what it turns into an S3 error: a client that went away is one
INFO line without a traceback; a real internal error stays ERROR with its traceback."""

from __future__ import annotations

import logging

import pytest
from aiohttp import ClientConnectionResetError

from ninefold.api.s3 import errors


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError("Connection lost"),
        ClientConnectionResetError("Cannot write to closing transport"),
        BrokenPipeError(32, "Broken pipe"),
    ],
    ids=["reset", "aiohttp-reset", "broken-pipe"],
)
def test_client_gone_is_one_info_line(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ninefold.api"):
        out = errors.translate(exc, "REQ1")
    assert isinstance(out, errors.InternalError)
    assert [(r.levelno, r.exc_info) for r in caplog.records] == [(logging.INFO, None)]
    assert "REQ1" in caplog.records[0].getMessage()
    assert "client went away" in caplog.records[0].getMessage()


def test_internal_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bug = RuntimeError("a bug")
    try:
        raise bug
    except RuntimeError:
        with caplog.at_level(logging.DEBUG, logger="ninefold.api"):
            out = errors.translate(bug, "REQ2")
    assert isinstance(out, errors.InternalError)
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is bug

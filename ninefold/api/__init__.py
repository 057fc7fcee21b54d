"""The HTTP edge: front doors that translate requests to the domain services and back.

Owns the S3 API (``s3``: router, operations, XML, handlers, the S3 error catalogue and the one
translation of domain errors to S3 errors), authentication (``auth``: SigV4, SigV2, POST
forms, producing a ``Principal``) and the HTTP server (``app``, ``server``). Coming here: the
native JSON API and the console, beside ``s3``.

It may import ``domain`` and ``coordinator`` and the pure floors; never ``meta``,
``fragments`` or ``nodeclient`` (import-linter forbids it): every bucket, object, lock and IAM
rule is a domain service's.
"""

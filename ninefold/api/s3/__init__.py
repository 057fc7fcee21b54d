"""The S3 API: parse a request into a typed operation, call the domain, render XML.

``router`` (pure: request line to :class:`~ninefold.api.s3.operations.Operation`),
``operations`` (each operation with its IAM action), ``authz`` (what authorization needs to
know of an HTTP request), ``context`` (the request's resolved bucket and the services),
``handlers`` (one module per area), ``errors`` (S3 codes and statuses: only here).
"""

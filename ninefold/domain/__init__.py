"""The domain floor: the rules every front door shares, and the only door to metadata.

Owns buckets and their typed settings (``buckets``, ``settings``, ``cors``, ``acl``),
identities (``iam``), authorization (``access``), Object Lock rules (``locks``), and the object
and multipart operations (``objects``, ``multipart``), with the value types front ends see
(``models``). S3, the native JSON API, the console, the SDK's server side and the workers call
these services and translate to and from them; none re-implements a rule found here.

It may import ``coordinator``, ``meta``, ``nodeclient``, ``placement``, ``erasure``,
``fragments``, ``iam`` and ``core``; never ``api``, ``workers``, ``node`` or ``cli``. It
raises ``DomainError``s (``ninefold.core.errors``), never S3 codes or HTTP statuses.
"""

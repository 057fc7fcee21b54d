"""The command line: every role's entry point and the operator's commands.

Owns the configuration (``config``: one typed settings object from flags, ``NINEFOLD_*``
environment and an optional TOML file; the only place that reads the environment) and the
composition root (``compose``: the one module that builds metadata stores, fragment stores and
node clients and wires them into the domain services, the S3 app and the background jobs for
``server``, ``gateway``, ``worker`` and ``node``). The other commands call the domain services
or ``compose``; import-linter keeps them off ``meta``, ``fragments`` and ``nodeclient``.
"""

"""The base floor: the error roots (``errors``: StorageError, DomainError, and the domain's
vocabulary of refusals) and checksums. Imports nothing of Ninefold, and no HTTP, database or
cache library."""

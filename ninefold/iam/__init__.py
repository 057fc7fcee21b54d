"""The IAM policy language (``policy``): parsing and evaluating AWS-style policy documents,
pure. Raises ``MalformedPolicy`` (a DomainError). Imports only ``core``; who holds which
policy is ``ninefold.domain.iam``'s."""

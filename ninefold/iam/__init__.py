"""Identity and access: the IAM policy language (``policy``), evaluated for every request."""

"""Observability (metrics, traces, structured logs, audit): a later issue fills it. Every
floor may use it; it imports nothing of Ninefold but ``core``."""

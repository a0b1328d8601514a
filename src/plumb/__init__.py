"""Plumb: a self-hosted CRM whose data can be trusted."""

__version__ = "0.1.0"

"""agent-sync: a shared, live coordination layer for AI coding agents in one repository."""

__version__ = "0.4.0"

"""Adapters that connect the core to databases and web frameworks."""

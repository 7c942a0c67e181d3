"""The template's own test suite; run it with ./scripts/test."""

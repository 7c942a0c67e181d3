"""Tests that travel with the package and keep passing after edits."""

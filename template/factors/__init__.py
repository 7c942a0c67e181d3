"""Authentication factors: each proves something about an identity."""

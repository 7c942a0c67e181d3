"""Authentication: sessions, sign-in factors and their stores."""

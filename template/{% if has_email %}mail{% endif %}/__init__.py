"""Outgoing email: messages rendered from editable templates, and senders."""

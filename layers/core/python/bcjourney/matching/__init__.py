"""Matching: link clicks to registrations without a shared key (time proximity + country evidence)."""

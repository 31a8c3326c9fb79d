"""Unigate pop plugin."""

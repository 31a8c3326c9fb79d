"""Unigate smtp plugin."""

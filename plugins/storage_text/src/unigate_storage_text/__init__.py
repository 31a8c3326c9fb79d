"""Unigate storage_text plugin."""

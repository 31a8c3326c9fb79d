"""Unigate storage_sliced plugin."""

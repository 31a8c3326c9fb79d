"""Unigate imap plugin."""

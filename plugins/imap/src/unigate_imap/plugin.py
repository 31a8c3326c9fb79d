"""Hook implementations of the imap plugin."""

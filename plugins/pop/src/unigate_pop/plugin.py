"""Hook implementations of the pop plugin."""

"""Hook implementations of the smtp plugin."""

"""Local Delivery: the LOCAL and GROUP delivery modules of the Queue."""

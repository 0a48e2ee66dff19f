"""Scene dressing: desks, clutter, hands."""

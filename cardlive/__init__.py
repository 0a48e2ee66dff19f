"""cardlive: capture-time liveness of physical ID cards (CLI and shared errors)."""

__version__ = "0.1.0"

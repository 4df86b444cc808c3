"""cmflow: content-as-code for community managers."""

__version__ = "0.1.0"

"""sentiloc: temporal sentiment localization in long, untrimmed videos, learned from cheap labels."""

__version__ = "0.1.0"

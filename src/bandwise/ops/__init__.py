"""Operators' libraries: health, import, backup, monitoring, cutover."""

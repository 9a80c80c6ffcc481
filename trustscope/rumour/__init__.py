"""Rumour signals about platforms."""

"""Frozen values describing a show: what the loader produces and everything downstream reads."""

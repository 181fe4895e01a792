"""Companion: the branch tool that finds, enrolls and syncs badges."""

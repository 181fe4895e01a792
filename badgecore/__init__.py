"""badgecore: the shared bottom of badgekit — imports nothing above it (see docs/architecture.md)."""

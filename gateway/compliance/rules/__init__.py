"""Bundled rule packs (TOML). A package only so that the packs ship with badgekit."""

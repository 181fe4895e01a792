"""Badge hardware layer: one thin module per peripheral."""

"""Hardware reference design: BOM, pin maps, power budget, deploy."""

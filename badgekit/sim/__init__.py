"""The badge on a computer: run the firmware's recording path and serve a simulated badge."""

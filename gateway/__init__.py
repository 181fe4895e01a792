"""Gateway: decode synced clips, trim, transcribe, check, and deliver over MQTT."""

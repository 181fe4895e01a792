# badgekit firmware: plain MicroPython for the ESP32-S3 badge.
# Pure logic (adpcm, vad_gate, clip store, sync framing) lives at this level and runs on
# the badge, under the MicroPython unix port and under CPython; hardware lives in hw/.

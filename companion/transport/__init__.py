"""Transports to a badge: USB serial (pyserial) and BLE (bleak, or bumble). Imported lazily.

`companion.link.make_transport(target)` builds the one a `Target` names; only the chosen
backend's libraries load.
"""

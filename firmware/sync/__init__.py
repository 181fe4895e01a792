"""Sync protocol, badge side: frames, messages, authentication, the server.

``frame`` (codec), ``proto`` (message types and payloads), ``auth`` (HMAC-SHA256
challenge-response and frame MACs), ``state`` (enrollment, config, event log),
``server`` (the dispatcher), ``link`` (the serving loop over a byte link). The host
side (``companion/``) imports ``frame``, ``proto`` and ``auth`` too, so both ends
speak through the same code.
"""

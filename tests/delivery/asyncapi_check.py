"""Check real MQTT traffic against docs/asyncapi.yaml: every message matches a channel,
its headers (MQTT 5 user properties) and its payload validate against the schemas."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def load_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


class Capture:
    """A plain paho MQTT 5 subscriber that records every badgekit message."""

    def __init__(self, host: str, port: int) -> None:
        self.messages: list[dict] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id="asyncapi-capture", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe("badgekit/#", qos=1), self._ready.set())
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        props = msg.properties
        self.messages.append({
            "topic": msg.topic, "payload": bytes(msg.payload), "retain": bool(msg.retain),
            "headers": {k: v for k, v in (getattr(props, "UserProperty", None) or [])},
            "content_type": getattr(props, "ContentType", None),
        })

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _channel_regex(address: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(address)) + "$")


def _validate(spec: dict, pointer: str, instance: object) -> list[str]:
    schema = dict(spec)
    schema["$ref"] = pointer
    v = jsonschema.Draft202012Validator(schema)
    return [f"{pointer}: {e.message} at {list(e.absolute_path)}" for e in v.iter_errors(instance)]


def validate(spec: dict, messages: list[dict]) -> tuple[list[str], set[str]]:
    """Return (errors, names of the channels seen)."""
    retain_of = {}
    for op in spec["operations"].values():
        binding = op["bindings"]["$ref"].split("/")[-1]
        retain_of[op["channel"]["$ref"].split("/")[-1]] = spec["components"]["operationBindings"][binding]["mqtt"]["retain"]
    routes = []
    for name, ch in spec["channels"].items():
        ((msg_name, ref),) = ch["messages"].items()
        routes.append((name, _channel_regex(ch["address"]), ref["$ref"].split("/")[-1]))
    errors: list[str] = []
    seen: set[str] = set()
    blobs: dict[tuple[str, str], dict[int, bytes]] = {}
    for m in messages:
        match = [(n, msg) for n, rx, msg in routes if rx.match(m["topic"])]
        if len(match) != 1:
            errors.append(f"{m['topic']}: matches {len(match)} channels")
            continue
        channel, msg_name = match[0]
        seen.add(channel)
        spec_msg = spec["components"]["messages"][msg_name]
        base = f"#/components/messages/{msg_name}"
        if "headers" in spec_msg:
            errors += [f"{m['topic']} headers: {e}" for e in _validate(spec, base + "/headers", m["headers"])]
        if m["retain"] and not retain_of[channel]:
            errors.append(f"{m['topic']}: retained, the spec says not")
        ctype = spec_msg.get("contentType", spec.get("defaultContentType"))
        if m["content_type"] not in (None, ctype):
            errors.append(f"{m['topic']}: content type {m['content_type']}, spec {ctype}")
        if ctype != "application/json":
            if len(m["payload"]) > spec["components"]["schemas"]["binaryPart"]["maxLength"]:
                errors.append(f"{m['topic']}: part of {len(m['payload'])} bytes is over 128 KiB")
            continue
        h = m["headers"]
        payload = m["payload"]
        if h.get("parts", "1") != "1":
            parts = blobs.setdefault((m["topic"], h["blob_sha256"]), {})
            parts[int(h["part"])] = payload
            if len(parts) < int(h["parts"]):
                continue
            payload = b"".join(parts[i] for i in sorted(parts))
        try:
            doc = json.loads(payload)
        except ValueError as exc:
            errors.append(f"{m['topic']}: not JSON ({exc})")
            continue
        errors += [f"{m['topic']} payload: {e}" for e in _validate(spec, base + "/payload", doc)]
    return errors, seen

"""Named errors of the delivery package; every one has a one-line message for the CLI."""

from __future__ import annotations

__all__ = [
    "BrokerAuthError",
    "BrokerUnavailableError",
    "DeliveryError",
    "MessageRejectedError",
    "MessageTooLargeError",
    "TopicError",
]


class DeliveryError(RuntimeError):
    """Base of every delivery error."""


class TopicError(DeliveryError, ValueError):
    """A tenant, branch, badge, session or clip id cannot be used as a topic level."""


class BrokerUnavailableError(DeliveryError):
    """The broker could not be reached (refused, timed out, TLS failure)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the MQTT broker at {url}: {reason}")
        self.url = url
        self.reason = reason


class BrokerAuthError(DeliveryError):
    """The broker refused the credentials or the client certificate."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"the MQTT broker at {url} rejected the connection: {reason} "
            "(check --username/--password, the password file and the ACL)"
        )
        self.url = url
        self.reason = reason


class MessageRejectedError(DeliveryError):
    """The broker answered a publish with an error reason code (kept in the outbox)."""

    def __init__(self, topic: str, size_bytes: int, reason: str) -> None:
        super().__init__(f"broker rejected {topic} ({size_bytes} bytes): {reason}")
        self.topic = topic
        self.size_bytes = size_bytes
        self.reason = reason


class MessageTooLargeError(MessageRejectedError):
    """A message is larger than the broker accepts (message_size_limit / maximum packet size)."""

    def __init__(self, topic: str, size_bytes: int, reason: str) -> None:
        DeliveryError.__init__(
            self,
            f"message on {topic} is {size_bytes} bytes, over the broker's size limit ({reason}); "
            "kept in the outbox as rejected: lower --chunk-kib or raise the broker's "
            "message_size_limit",
        )
        self.topic = topic
        self.size_bytes = size_bytes
        self.reason = reason

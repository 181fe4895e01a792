"""Delivery over MQTT 5: versioned topics, a durable outbox, the publisher, the receiver.

Public API:

```python
from gateway.delivery import (BrokerSettings, TlsSettings, Outbox, Publisher,
                              PublisherSettings, Receiver, ReceiverSettings, Topics)

pub = Publisher(BrokerSettings.from_url("mqtt://127.0.0.1:1883"), PublisherSettings(
    tenant="acme", branch="sh01", gateway_id="gw1"), Outbox(Path("gw.db")))
pub.start()
pub.enqueue("B0001/S0001/findings", {"kind": "findings", ...})   # generic, durable
pub.flush(30)

rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(url), out_dir=Path("out")))
summary = rx.run(idle_exit_s=5)   # clips_received, clips_verified, duplicates_dropped, gaps
```

The gateway service (`gateway.service.Gateway`) uses these to deliver spool clips.
Heavy dependencies (paho-mqtt) load when a connection is made.
"""

from badgecore.clipcheck import Gap
from gateway.delivery.errors import (
    BrokerAuthError,
    BrokerUnavailableError,
    DeliveryError,
    MessageRejectedError,
    MessageTooLargeError,
    TopicError,
)
from gateway.delivery.outbox import Message, Outbox
from gateway.delivery.publisher import Publisher, PublisherSettings, PublisherStats
from gateway.delivery.receiver import Receiver, ReceiverSettings, ReceiverSummary
from gateway.delivery.security import BrokerSettings, TlsSettings
from gateway.delivery.topics import Topics, parse

__all__ = [
    "BrokerAuthError",
    "BrokerSettings",
    "BrokerUnavailableError",
    "DeliveryError",
    "Gap",
    "Message",
    "MessageRejectedError",
    "MessageTooLargeError",
    "Outbox",
    "Publisher",
    "PublisherSettings",
    "PublisherStats",
    "Receiver",
    "ReceiverSettings",
    "ReceiverSummary",
    "TlsSettings",
    "TopicError",
    "Topics",
    "parse",
]

"""An MQTT subscriber in a process of its own that notes when each message arrived.

``python -m bench.peers.mqtt_subscriber --port P --topic 'sunstream/#' --topic
'statestream/#' --out messages.jsonl``: subscribes at QoS 1 on 127.0.0.1 with
paho-mqtt (the client Home Assistant's own MQTT integration uses), prints
``READY`` once the broker acknowledged the subscriptions, and records every
message as it arrives: wall-clock receipt time (``time.time_ns``, the clock
Home Assistant stamps states with), topic, retain flag and payload. Nothing
is parsed while messages flow; when stdin closes it disconnects and writes
one JSON line per message to ``--out`` (payloads as text), then exits.

Its own CPU time is printed on the last line (``DONE <messages> <cpu s>``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", action="append", required=True)
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Subscribe, record until stdin closes, write the records."""
    args = _args(argv)
    records: list[tuple[int, str, bool, bytes]] = []
    subscribed = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-subscriber-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )

    def on_connect(
        client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            print(f"FAILED {reason}", flush=True)
            return
        client.subscribe([(topic, 1) for topic in args.topic])

    def on_subscribe(*_args: Any) -> None:
        subscribed.set()

    def on_message(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        records.append((time.time_ns(), message.topic, bool(message.retain), message.payload))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", args.port, keepalive=30)
    client.loop_start()
    if not subscribed.wait(30):
        print("FAILED no SUBACK within 30 s", flush=True)
        client.loop_stop()
        sys.exit(1)
    print("READY", flush=True)
    sys.stdin.read()  # until the harness closes stdin
    client.disconnect()
    client.loop_stop()
    with args.out.open("w", encoding="utf-8") as out:
        for t_ns, topic, retain, payload in records:
            text = payload.decode("utf-8", errors="replace")
            out.write(json.dumps([t_ns, topic, retain, text], separators=(",", ":")) + "\n")
    print(f"DONE {len(records)} {time.process_time():.3f}", flush=True)


if __name__ == "__main__":
    main()

"""Why a Modbus device did not answer, in words the integration can translate.

Every failure is a :class:`~..errors.SourceUnavailable` whose ``reason``
says which of these happened, because each needs a different hint for the
user:

``refused`` (:class:`UnitBusy`)
    The unit would not serve us: the TCP connect was refused, or it was
    accepted and then closed/reset before any answer, or accepted and the
    first request got no answer at all. AlphaESS units and Sungrow WiNet-S
    dongles serve **one** Modbus TCP client at a time
    (docs/protocols/alphaess.md#one-client-at-a-time,
    docs/protocols/sungrow-modbus.md#one-client-at-a-time); a second client
    is knocked off or ignored. The usual cause is another
    integration, a proxy or a scan tool holding the slot. ``signature``
    tells which of the three was seen. A refused connect looks exactly like
    a unit with Modbus TCP switched off, or a wrong port: nothing on the
    wire tells them apart.
``timeout``
    An established session that had answered before stopped answering
    within the timeout. The socket is torn down; the next poll reconnects.
    A new session that stays silent right after such a timeout is the unit
    still hanging, so it keeps this reason rather than ``refused``.
``disconnected``
    An established, answering session was closed or reset by the peer.
``unreachable``
    The TCP connect timed out or the network said the host is unreachable.
``protocol``
    The unit answered with a Modbus exception or a malformed reply to a
    read Sunstream needs (e.g. exception 2 on a register the model lacks).

While reconnects are spaced out (exponential backoff with jitter) a poll
makes no attempt and raises the last failure again, same class and reason,
with "next attempt in N s" in ``detail``: the connectivity state does not
flap between reasons.
"""

from __future__ import annotations

from ..errors import Reason, SourceUnavailable

#: How a refusal looked on the wire (:attr:`UnitBusy.signature`).
CONNECT_REFUSED = "connect_refused"
CLOSED_AFTER_CONNECT = "closed_after_connect"
SILENT_AFTER_CONNECT = "silent_after_connect"


class UnitBusy(SourceUnavailable):
    """The unit refused us; most likely another Modbus client holds it."""

    issue = "busy"

    def __init__(self, signature: str, detail: str = "") -> None:
        super().__init__(Reason.REFUSED, detail or signature)
        self.signature = signature


class ModbusError(SourceUnavailable):
    """The unit answered a read or write with a Modbus exception.

    ``exception_code`` is the Modbus code (2 = illegal data address).
    """

    def __init__(self, function_code: int, address: int, exception_code: int) -> None:
        super().__init__(
            Reason.PROTOCOL,
            f"FC{function_code:02d} at 0x{address:04X}: exception {exception_code}",
        )
        self.function_code = function_code
        self.address = address
        self.exception_code = exception_code

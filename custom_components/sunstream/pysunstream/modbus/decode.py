"""Turn register words into values, and values back into words.

Pure functions over integers. Words are big-endian 16-bit registers; which
word of a 32-bit value comes first is the device's: AlphaESS puts the
**high word at the lower address** (a real 0x0010 reads ``[0,1,226,123]`` =
123515, docs/protocols/alphaess.md#words-and-types), Sungrow the **low
word first** (docs/protocols/sungrow-modbus.md#words-and-types). Signed
types are two's complement. ASCII is two characters per register, high
byte first, NUL-padded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import math
from typing import Protocol

from ..model import Value
from .planner import ReadBlock
from .registers import Register, RegType


class Decoding(Protocol):
    """What a device profile tells the decoder: scales and word order."""

    @property
    def low_word_first(self) -> bool:
        """Whether a 32-bit value's low word sits at the lower address."""
        ...

    def scale(self, key: str, documented: float) -> float:
        """The scale to use for register ``key``."""
        ...


def decode_raw(type_: RegType, words: Sequence[int], *, low_word_first: bool = False) -> int | str:
    """Decode the words of one register into an integer or a string."""
    if type_ is RegType.ASCII:
        data = b"".join(w.to_bytes(2, "big") for w in words)
        return data.split(b"\0", 1)[0].decode("ascii", "replace").strip()
    if type_ in (RegType.U16, RegType.S16):
        (raw,) = words
    else:
        high, low = reversed(words) if low_word_first else words
        raw = (high << 16) | low
    if type_ is RegType.S16 and raw >= 0x8000:
        return raw - 0x1_0000
    if type_ is RegType.S32 and raw >= 0x8000_0000:
        return raw - 0x1_0000_0000
    return raw


def encode_raw(type_: RegType, value: int, *, low_word_first: bool = False) -> list[int]:
    """Inverse of :func:`decode_raw` for numeric types (used by the fake)."""
    width = 2 if type_ in (RegType.U32, RegType.S32) else 1
    bits = 16 * width
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise ValueError(f"{value} does not fit {type_}")
    value &= (1 << bits) - 1
    if width == 1:
        return [value]
    if low_word_first:
        return [value & 0xFFFF, value >> 16]
    return [value >> 16, value & 0xFFFF]


def encode_ascii(text: str, length: int) -> list[int]:
    """Encode ``text`` NUL-padded into ``length`` registers."""
    data = text.encode("ascii")[: 2 * length].ljust(2 * length, b"\0")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _digits(scale: float) -> int:
    # 0.1 → 1, 0.01 → 2, 1 → 0: keeps 0.1 × 3 from showing as 0.30000000000000004.
    return max(0, -math.floor(math.log10(abs(scale)))) if scale else 0


def decode_register(reg: Register, words: Sequence[int], profile: Decoding) -> Value:
    """One register's value in its unit, after the profile's scale and the sign."""
    raw = decode_raw(reg.type, words, low_word_first=profile.low_word_first)
    if isinstance(raw, str):
        return raw
    if reg.options:
        return reg.options.get(raw, f"unknown_{raw}")
    scale = profile.scale(reg.key, reg.scale)
    return float(round(raw * scale * reg.sign, _digits(scale)))


def decode_block(block: ReadBlock, words: Sequence[int], profile: Decoding) -> dict[str, Value]:
    """Decode every register a block read returned."""
    if len(words) != block.count:
        raise ValueError(f"block at {block.start} expected {block.count} words, got {len(words)}")
    values: dict[str, Value] = {}
    for reg in block.registers:
        offset = reg.address - block.start
        values[reg.key] = decode_register(reg, words[offset : offset + reg.length], profile)
    return values


def decode_dump(
    registers: Iterable[Register], dump: Mapping[int, int], profile: Decoding
) -> dict[str, Value]:
    """Decode registers from an address → word dump (fixtures, diagnostics)."""
    return {
        reg.key: decode_register(reg, [dump[a] for a in range(reg.address, reg.end + 1)], profile)
        for reg in registers
        if all(a in dump for a in range(reg.address, reg.end + 1))
    }

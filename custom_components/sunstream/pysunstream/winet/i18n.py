"""The gateway's translation file: ``/i18n/<lang>.properties``.

WiNet names every data point and every enumerated value by an ``I18N_*``
key; the dongle's web UI translates them with a properties file it serves
itself. Keys are stable across firmware, labels are not
(docs/protocols/winet.md#translation-file), so the library keys
everything on the ``I18N_*`` key and uses this file only for display names.

The format is ``KEY=value`` per line. Other clients trip over it in known
ways (one drops text after a second ``=``, keeps carriage returns, parses a 404 page
as properties), so the parser splits on the first ``=`` only, accepts any
line ending, skips comments, strips the quotes one capture shows, and
:func:`looks_like_properties` lets the transport detection reject a body
that is not a translation file.
"""

from __future__ import annotations

from collections.abc import Mapping
import re

_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_DIRECT_INDEX = re.compile(r"^(?P<key>[^%]+)%@(?P<index>.*)$")


def parse_properties(text: str) -> dict[str, str]:
    """Parse a properties file into a key → text mapping.

    Later duplicates win, as in Java. Lines without ``=`` are ignored.
    """
    result: dict[str, str] = {}
    for line in text.lstrip("\ufeff").splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            continue
        key = key.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        value = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        if key:
            result[key] = value
    return result


def looks_like_properties(mapping: Mapping[str, str]) -> bool:
    """Whether a parsed body is plausibly a WiNet translation file."""
    return any(key.startswith("I18N_") for key in mapping)


class I18n:
    """Display names for ``I18N_*`` keys, from one properties file.

    Every method falls back to the key itself, so a missing or partial file
    never loses information, it only makes it less readable.
    """

    def __init__(self, texts: Mapping[str, str] | None = None) -> None:
        self.texts: Mapping[str, str] = dict(texts or {})

    @classmethod
    def from_text(cls, text: str) -> I18n:
        """Build from the body of a properties file."""
        return cls(parse_properties(text))

    def __len__(self) -> int:
        return len(self.texts)

    def label(self, key: str) -> str:
        """The display text for ``key``, whitespace collapsed.

        Labels carry double spaces on some firmware ("Total Export Active
        Power"); they are collapsed here.
        """
        text = self.texts.get(key)
        return " ".join(text.split()) if text else key

    def value_text(self, value: object) -> object:
        """Translate an enumerated value (``I18N_COMMON_STANDBY`` → "Standby").

        Numbers and non-key text are returned unchanged.
        """
        if isinstance(value, str) and value.startswith("I18N_") and value in self.texts:
            return self.label(value)
        return value

    def direct_name(self, name: str) -> str:
        """Name a DC input from a ``direct`` reply.

        ``MPPT1`` stays as it is; ``I18N_COMMON_GROUP_BUNCH_TITLE_AND%@3``
        becomes "String 3" (the label carries a ``{0}`` placeholder, the
        suffix after ``%@`` is its argument).
        """
        match = _DIRECT_INDEX.match(name)
        if match is None:
            return self.label(name) if name.startswith("I18N_") else name
        label = self.label(match["key"])
        if "{0}" in label:
            return label.replace("{0}", match["index"])
        return f"{label} {match['index']}"

    def value_key_label(self, key: str) -> str:
        """Name a key of :attr:`DeviceReading.values <..model.DeviceReading>`.

        Data points keep their ``I18N_*`` key; DC inputs are stored as
        ``<direct name>.voltage`` / ``.current`` / ``.power`` (see
        :mod:`.mapping`).
        """
        base, dot, field = key.rpartition(".")
        if dot and field in {"voltage", "current", "power"}:
            return f"{self.direct_name(base)} {field.capitalize()}"
        return self.label(key)

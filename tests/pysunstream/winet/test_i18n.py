"""The translation file parser and display names."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.winet.i18n import (
    I18n,
    looks_like_properties,
    parse_properties,
)
from sunstream_fakes.winet_fake import load_properties


def test_parse_real_file() -> None:
    texts = parse_properties(load_properties())
    assert len(texts) == 252
    assert texts["I18N_COMMON_BATTERY_SOC"] == "Battery Level (SOC)"
    assert texts["I18N_COMMON_GROUP_BUNCH_TITLE_AND"] == "String {0}"
    # Text after a second "=" is kept (JavaScript's split('=', 2) loses it).
    assert all("=" not in key for key in texts)
    assert looks_like_properties(texts)


def test_parser_quirks() -> None:
    text = (
        "\ufeff# comment\r\n! also a comment\r\n"
        'I18N_A="Quoted"\r\n'
        "I18N_B=a=b=c\r\n"
        "   \n"
        "no separator line\n"
        "I18N_C = spaced \\u00b0C\n"
        "I18N_A=Later wins\n"
    )
    texts = parse_properties(text)
    assert texts == {"I18N_A": "Later wins", "I18N_B": "a=b=c", "I18N_C": "spaced °C"}


def test_html_page_is_not_properties() -> None:
    page = "<html><head><title>404 Not Found</title></head></html>"
    assert not looks_like_properties(parse_properties(page))


def test_labels_and_values() -> None:
    i18n = I18n.from_text(load_properties())
    assert len(i18n) == 252
    # Double space in the device's label is collapsed.
    assert i18n.label("I18N_COMMON_FEED_NETWORK_TOTAL_ACTIVE_POWER") == "Total Export Active Power"
    assert i18n.label("I18N_UNKNOWN_KEY") == "I18N_UNKNOWN_KEY"
    assert i18n.value_text("I18N_COMMON_STATUS_RUN") == "Run"
    assert i18n.value_text("I18N_NOT_THERE") == "I18N_NOT_THERE"
    assert i18n.value_text(12.5) == 12.5
    assert i18n.direct_name("MPPT1") == "MPPT1"
    assert i18n.direct_name("I18N_COMMON_GROUP_BUNCH_TITLE_AND%@3") == "String 3"
    assert i18n.value_key_label("I18N_COMMON_GROUP_BUNCH_TITLE_AND%@2.power") == "String 2 Power"
    assert i18n.value_key_label("MPPT1.voltage") == "MPPT1 Voltage"
    assert i18n.value_key_label("I18N_COMMONUA") == "Phase A Voltage"
    # Without a file every name is still the key.
    assert I18n().direct_name("I18N_X%@1") == "I18N_X 1"

"""Typed values shared by the annotation parser and the command line: one definition each.

Each checker takes the text as written and returns the value, or raises ``ValueError`` with a
short reason (``not a port number``) that the caller puts after the key or variable name.
The annotation parser turns the error into a finding; the CLI turns it into a one-line error.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from webhook.core.validation import (
    DNS1123_LABEL_MAX,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
)

__all__ = [
    "image_reference",
    "is_image_reference",
    "namespace_name",
    "object_name",
    "port",
    "positive_int",
    "positive_seconds",
    "quantity",
    "quantity_value",
    "service_name",
]

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    # A first component is a registry host only with a dot, a port, or as localhost.
    r"(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+(?::[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+|localhost)/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
_MAX_IMAGE = 512

# apimachinery's resource.Quantity (``k8s.io/apimachinery/pkg/api/resource``):
#   <quantity> ::= <signedNumber><suffix>
#   <number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
#   <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
#   binarySI: Ki Mi Gi Ti Pi Ei; decimalSI: m "" k M G T P E (its parser also takes n and u);
#   decimalExponent: e or E followed by a signed integer.
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[KMGTPE]i|[eE][+-]?[0-9]+|[numkMGTPE])?"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_MAX_QUANTITY_VALUE = 2**63 - 1
_MAX_EXPONENT = 40  # 10**40 is past the cap; 10**-40 rounds up to a thousandth like 10**-4
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_QUANTITY = 64
_PORT = re.compile(r"[0-9]{1,5}")
_INT = re.compile(r"[0-9]{1,19}")


def is_image_reference(text: str) -> bool:
    """An image reference as the kubelet pulls it: ``[host[:port]/]path[:tag][@digest]``."""
    return len(text) <= _MAX_IMAGE and _IMAGE.fullmatch(text) is not None


def image_reference(text: str) -> str:
    image = text.strip()
    if not is_image_reference(image):
        raise ValueError("not an image reference")
    return image


def quantity(text: str, *, negative: bool = False) -> str:
    """A Kubernetes quantity (``100m``, ``64Mi``, ``1e3``, ``0.5``); resources are not negative."""
    value = text.strip()
    match = _QUANTITY.fullmatch(value) if len(value) <= _MAX_QUANTITY else None
    if match is None:
        raise ValueError("not a Kubernetes quantity (like 100m, 0.5, 64Mi or 1e3)")
    if match["sign"] == "-" and not negative:
        raise ValueError("must not be negative")
    return value


def quantity_value(text: str) -> Fraction:
    """The value of a quantity ``quantity`` accepts, as Kubernetes holds it, for comparing two:
    exact (``64Mi`` is 67108864, ``100m`` is 1/10), then rounded up to a thousandth and capped
    at 2^63-1 in magnitude ("larger or more precise will be capped or rounded up")."""
    match = _QUANTITY.fullmatch(quantity(text, negative=True))
    assert match is not None  # quantity() accepted it
    value = Fraction(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
    elif suffix:  # a decimal exponent: clamped before use, past either end the cap decides
        value *= Fraction(10) ** max(-_MAX_EXPONENT, min(_MAX_EXPONENT, int(suffix[1:])))
    value = min(Fraction(math.ceil(value * 1000), 1000), Fraction(_MAX_QUANTITY_VALUE))
    return -value if match["sign"] == "-" else value


def port(text: str, *, low: int = 1, high: int = 65535) -> int:
    value = text.strip()
    if not _PORT.fullmatch(value):
        raise ValueError("not a port number")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"not a port in {low}-{high}")
    return number


def positive_int(text: str) -> int:
    value = text.strip()
    if not _INT.fullmatch(value) or int(value) == 0:
        raise ValueError("not a positive whole number")
    return int(value)


def positive_seconds(text: str, *, most: float = 3600) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= most):
        raise ValueError(f"must be more than 0 and at most {most:g} seconds")
    return value


def _label_rule(first: str) -> str:
    return (
        f"lower-case letters, digits and '-', at most {DNS1123_LABEL_MAX} characters, "
        f"starting with a {first} and ending with a letter or digit"
    )


def service_name(text: str) -> str:
    """A Service name: a DNS-1035 label (``IsDNS1035Label``: a letter first)."""
    if not is_dns1035_label(text):
        raise ValueError(f"not a Service name (a DNS-1035 label: {_label_rule('letter')})")
    return text


def object_name(text: str) -> str:
    """The name of a Secret or a webhook configuration: a DNS-1123 subdomain
    (``IsDNS1123Subdomain``)."""
    if not is_dns1123_subdomain(text):
        raise ValueError(
            "not an object name (a DNS-1123 subdomain: lower-case letters, digits, '-' and "
            "'.', at most 253 characters, starting and ending with a letter or digit)"
        )
    return text


def namespace_name(text: str) -> str:
    """A namespace name: a DNS-1123 label (``IsDNS1123Label``)."""
    if not is_dns1123_label(text):
        rule = _label_rule("letter or digit")
        raise ValueError(f"not a namespace name (a DNS-1123 label: {rule})")
    return text

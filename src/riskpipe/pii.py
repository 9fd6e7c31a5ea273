"""PII tokenisation: raw identifiers become keyed hashes (HMAC-SHA256) at ingest.

The key comes from the settings (``RISKPIPE_PII_KEY``; production refuses to start without it).
Values are normalised first so the same person tokenises the same in every source: phone numbers keep
digits and a leading ``+``, national ids are upper-cased without spaces, names are lower-cased with
single spaces, card numbers keep digits only.

HMAC is computed with Spark built-ins (``sha2`` over the key pads, ``unhex``, ``sha2`` again), so it
runs natively on the executors with no Python UDF; :func:`token` is the reference implementation in
Python and the tests check both agree.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

BLOCK = 64  # SHA-256 block size in bytes

#: how each kind of PII is normalised before hashing (Python reference and Spark expression)
KINDS = ("national_id", "phone", "full_name", "card_number")


def normalise(kind: str, value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    if kind == "phone":
        v = ("+" if v.startswith("+") else "") + re.sub(r"\D", "", v)
    elif kind == "national_id":
        v = re.sub(r"\s", "", v).upper()
    elif kind == "full_name":
        v = re.sub(r"\s+", " ", v).lower()
    elif kind == "card_number":
        v = re.sub(r"\D", "", v)
    return v or None


def token(kind: str, value: str | None, key: bytes) -> str | None:
    """Reference HMAC-SHA256 token (hex) of a normalised value."""
    v = normalise(kind, value)
    if v is None:
        return None
    return hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def normalise_col(kind: str, col: Column) -> Column:
    from pyspark.sql import functions as F

    v = F.trim(col)
    if kind == "phone":
        v = F.concat(F.when(v.startswith("+"), F.lit("+")).otherwise(F.lit("")), F.regexp_replace(v, r"\D", ""))
    elif kind == "national_id":
        v = F.upper(F.regexp_replace(v, r"\s", ""))
    elif kind == "full_name":
        v = F.lower(F.regexp_replace(v, r"\s+", " "))
    elif kind == "card_number":
        v = F.regexp_replace(v, r"\D", "")
    return F.when(v == "", F.lit(None)).otherwise(v)


def token_col(kind: str, col: Column, key: bytes) -> Column:
    """Spark expression computing :func:`token` natively: H((K^opad) || H((K^ipad) || m))."""
    from pyspark.sql import functions as F

    ipad, opad = _pads(key)
    msg = F.encode(normalise_col(kind, col), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), msg), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)

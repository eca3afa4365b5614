"""JWKS documents: parsing, ``data:`` URIs, and picking the keys that may verify a token."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from jwt import PyJWK
from jwt.exceptions import PyJWTError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "KeySet",
    "decode_data_uri",
    "parse_jwks",
]

# Only public-key algorithms: a JWKS provider's keys are public, so an HMAC
# ("HS256") token "signed" with the public key as secret would be a forgery,
# and "none" is unsigned. These are the algorithms an OIDC provider may use.
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


@dataclass(frozen=True)
class _Key:
    data: Mapping[str, Any]
    jwk: PyJWK


@dataclass(frozen=True)
class KeySet:
    """The usable keys of one JWKS document."""

    keys: tuple[_Key, ...]

    def has_kid(self, kid: str) -> bool:
        return any(k.data.get("kid") == kid for k in self.keys)

    def candidates(self, kid: str | None, algorithm: str) -> list[Any]:
        """The key objects that may verify a token with this ``kid`` and ``alg``.

        Without a ``kid`` every fitting key is a candidate (some issuers with a
        single key omit it). The key type is checked here, not left to PyJWT,
        because a ``PyJWK`` binds one algorithm at construction (RS256 for any
        RSA key without ``alg``), which would refuse a PS256 token signed by
        that same key.
        """
        return [
            k.jwk.key
            for k in self.keys
            if (kid is None or k.data.get("kid") == kid) and _fits(k.data, algorithm)
        ]


def parse_jwks(document: Any) -> KeySet:
    """The usable keys of a decoded JWKS document; ``ValueError`` if it has none."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS must be a JSON object with a "keys" list')
    keys: list[_Key] = []
    problems: list[str] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        try:
            keys.append(_Key(entry, PyJWK.from_dict(entry)))
        except PyJWTError as exc:
            # Like PyJWKSet: skip keys of types we cannot use, keep the rest.
            problems.append(str(exc))
    if not keys:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise ValueError(f"the JWKS holds no usable key{detail}")
    return KeySet(tuple(keys))


def decode_data_uri(uri: str) -> Any:
    """The JSON document held by a ``data:`` URI (base64 or percent-encoded)."""
    header, sep, payload = uri.partition(",")
    if not header.lower().startswith("data:") or not sep:
        raise ValueError("a data: URI looks like data:application/json;base64,<data>")
    params = [p.strip().lower() for p in header[5:].split(";")]
    raw: bytes
    if "base64" in params[1:]:
        text = payload.strip()
        try:
            # Tolerate missing padding and the URL-safe alphabet: both are
            # common in hand-written config.
            text = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"the data: URI is not valid base64 ({exc})") from exc
    else:
        raw = unquote_to_bytes(payload)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the data: URI does not hold JSON ({exc})") from exc


def _fits(data: Mapping[str, Any], algorithm: str) -> bool:
    if data.get("use") not in (None, "sig"):
        return False  # an encryption key must not verify signatures
    declared = data.get("alg")
    if declared is not None and declared != algorithm:
        return False
    kty = data.get("kty")
    if algorithm[:2] in ("RS", "PS"):
        return bool(kty == "RSA")
    if algorithm in _EC_CURVES:
        return bool(kty == "EC" and data.get("crv") == _EC_CURVES[algorithm])
    if algorithm == "EdDSA":
        return bool(kty == "OKP")
    return False

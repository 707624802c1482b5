"""Names as the user sees them: a source's secrets hidden, and every name escaped so that it prints.

One rule for every place a name appears (messages, file names, ``--results``, ``--report``, ``-r``):

- ``redact`` hides a URL's credentials: the user information before ``@``; the value of every
  ``KEY=VALUE`` pair whose key looks like a secret, in the query, the fragment or a path segment
  (``/user=admin&password=S&channel=1.sdp``, as XMEye cameras take them); and the path segment after
  one whose name looks like a secret (``/password/S/``).
- ``shown`` is the name fit to print: redacted, its control characters and other characters that do
  not print escaped (``\\x1b``, ``\\u202e``), and bytes that are not UTF-8 shown as ``\\xNN``.
"""
from __future__ import annotations

import os
import re
from urllib.parse import unquote

HIDDEN = "***"
# Keys cameras, clouds and signed URLs carry secrets in: pwd, passwd, password, usr, username,
# token, access_token, apikey, X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, sig,
# auth, session... User names are hidden too: half a login helps whoever guesses the rest.
_SECRET_KEY = re.compile(r"pass|pwd|psw|(?<![a-z])pw(?![a-z])|user|usr|login|token|key|secret|auth|sig|"
                         r"credential|session|cookie", re.IGNORECASE)
_PAIR_SEPARATORS = re.compile(r"([&;])")


def _secret_key(name: str) -> bool:
    """Whether a parameter named ``name`` (percent-escapes and all) takes a secret."""
    return bool(_SECRET_KEY.search(unquote(name)))


def redact(spec: str) -> str:
    """``spec`` with a URL's secrets hidden (see the module's rule); a name without ``://`` as it is."""
    scheme, separator, rest = spec.partition("://")
    if not separator:
        return spec
    # The user information ends at the last @ before the query: a password with / or # in it is hidden whole.
    address, question_mark, query = rest.partition("?")
    _, at, host_and_path = address.rpartition("@")
    host_and_path, hash_mark, fragment = (host_and_path + question_mark + query).partition("#")
    host_and_path, question_mark, query = host_and_path.partition("?")
    host, slash, path = host_and_path.partition("/")
    return (f"{scheme}://{HIDDEN + at if at else ''}{host}{slash}{_hide_in_path(path)}"
            f"{question_mark}{_hide_pairs(query)}{hash_mark}{_hide_pairs(fragment)}")


def _hide_pairs(text: str) -> str:
    """``KEY=VALUE`` pairs apart by & or ;, the values of secret keys hidden."""
    parts = _PAIR_SEPARATORS.split(text)
    return "".join(_hide_value(part) for part in parts)


def _hide_value(pair: str) -> str:
    key, equals, _ = pair.partition("=")
    return f"{key}={HIDDEN}" if equals and _secret_key(key) else pair


def _hide_in_path(path: str) -> str:
    segments = path.split("/")
    after_secret = [False] + [_secret_key(segment) and "=" not in segment for segment in segments[:-1]]
    return "/".join(HIDDEN if hide and segment else _hide_pairs(segment)
                    for segment, hide in zip(segments, after_secret))


def shown(name: str | os.PathLike[str]) -> str:
    """``name`` fit to print on any terminal and in any encoding's stream: a URL redacted, characters that
    do not print (escape sequences, line breaks, direction overrides) escaped as ``\\xNN`` or ``\\uNNNN``,
    bytes that are not UTF-8 as ``\\xNN``."""
    text = redact(os.fsencode(name).decode("utf-8", "backslashreplace"))
    return "".join(character if character.isprintable() else _escaped(character) for character in text)


def _escaped(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

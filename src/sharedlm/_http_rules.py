"""What an HTTP head sharedlm sends may hold, and how large an answer it accepts may be.

Both ways to a provider (:mod:`sharedlm._http11` direct, aiohttp through a proxy) bound an answer by one
:class:`ResponseLimits`, built from the settings ``max_response_header_bytes``, ``max_response_body_bytes`` and
``max_response_decompressed_bytes``; :func:`too_large` is the error for going over one, naming the setting and its
``SHAREDLM_`` variable. :func:`text_problem` says what keeps a text (a header value, a URL) out of an HTTP head,
and :func:`key_problem` what keeps an API key out (stricter: no invisible character pasted with it), by class of
character and never by showing the text, so settings can refuse a bad key when they are built and the client can
refuse a bad header before it is sent.

Two helpers keep credentials out of what is shown or saved: :func:`shown_url` masks the secret parts of a URL, and
:func:`is_secret_name` tells a setting, header or field that holds a credential by its name.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

from sharedlm._errors import ResponseTooLargeError

# Answer bounds. An LLM answer's head is a few hundred bytes to a few KiB (common servers cap a head at 8-16 KiB);
# its body is at most a few MiB even with base64 images. The defaults are 4x-16x above any real answer, so they
# never refuse one, yet stop a runaway head or body (or a 1000:1 gzip bomb) long before memory runs out.
DEFAULT_MAX_RESPONSE_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_RESPONSE_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_RESPONSE_DECOMPRESSED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """How large one answer may be; each bound is the setting of the same name without the ``max_response_``.

    Args:
        header_bytes: The status line and headers, interim ``1xx`` answers included
            (setting ``max_response_header_bytes``).
        body_bytes: The body as it arrives, before decompression (setting ``max_response_body_bytes``).
        decompressed_bytes: The body once gzip or deflate is undone (setting ``max_response_decompressed_bytes``).
    """

    header_bytes: int = DEFAULT_MAX_RESPONSE_HEADER_BYTES
    body_bytes: int = DEFAULT_MAX_RESPONSE_BODY_BYTES
    decompressed_bytes: int = DEFAULT_MAX_RESPONSE_DECOMPRESSED_BYTES


DEFAULT_LIMITS = ResponseLimits()


def too_large(where: str, what: str, setting: str, limit: int) -> ResponseTooLargeError:
    """The error for an answer over one of its limits, naming the setting and variable that raise it.

    Args:
        where: ``host:port`` or the provider, for the message.
        what: What was too large, such as ``"a head"``.
        setting: The setting's name, such as ``"max_response_header_bytes"``.
        limit: The limit in bytes.
    """
    return ResponseTooLargeError(
        f"{where} sent {what} larger than {setting}={limit} bytes; the answer was refused. If such answers are "
        f"expected from this server, raise the limit with sharedlm.configure({setting}=...) or "
        f"SHAREDLM_{setting.upper()}")


def text_problem(text: str, *, allow_tab: bool = True) -> str | None:
    """What makes ``text`` unfit for an HTTP head, as a class of character (never the text itself), or None.

    Args:
        text: A header value, a URL or a credential.
        allow_tab: Whether a horizontal tab is allowed (in header values, not in URLs).
    """
    for char in text:
        code = ord(char)
        if char in "\r\n":
            return "a line break (CR or LF)"
        if char == "\0":
            return "a NUL character"
        if code > 0xFF:
            return ("a character outside Latin-1 (such as a typographic quote, a dash or a letter pasted from a "
                    "document), which HTTP headers cannot carry")
        if (code < 0x20 and not (allow_tab and char == "\t")) or code == 0x7F:
            return "a control character"
    return None


def key_problem(key: str) -> str | None:
    """What makes ``key`` unfit to be an API key, as a class of character (never the key itself), or None.

    Stricter than :func:`text_problem`: a header may carry any Latin-1 text, but a non-breaking space or an invisible
    character in a key was pasted with it by accident, and the provider would refuse the key without saying why.

    Args:
        key: The credential.
    """
    for char in key:
        if char.isspace() and not char.isascii():
            return "a non-ASCII space (such as a non-breaking space)"
        category = unicodedata.category(char)
        if category == "Cf":
            return "an invisible character (such as a zero-width space or a byte order mark)"
        if category == "Cc" and not char.isascii():
            return "a control character"
    return text_problem(key)


_MASK = "***"


def shown_url(url: str) -> str:
    """``url`` as it may be shown or saved: a userinfo password (or a lone userinfo, often a token), every query
    value and any fragment masked as ``***``; scheme, host, port and path kept.

    Args:
        url: A base URL, such as the ``api_base`` setting.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc
        userinfo, at, hostport = host.rpartition("@")
        if at:
            user, colon, _ = userinfo.partition(":")
            host = f"{user}:{_MASK}@{hostport}" if colon else f"{_MASK}@{hostport}"
        query = "&".join(f"{name}={_MASK}" if sep else _MASK
                         for name, sep, _ in (item.partition("=") for item in parts.query.split("&")) if name or sep) \
            if parts.query else ""
        return urllib.parse.urlunsplit((parts.scheme, host, parts.path, query, _MASK if parts.fragment else ""))
    except ValueError:  # not a URL urllib can take apart: show none of it
        return _MASK


# A credential's name: a header (Authorization, x-api-key, x-amz-security-token, ...) or a keyword (api_key,
# aws_secret_access_key, aws_session_token, vertex_credentials, client_secret, ...). "max_tokens" is not one.
_SECRET_NAME = re.compile(r"(?:^|_)(?:key|secret|token|password|passwd|credentials?|authorization|signature|cookie)$")


def is_secret_name(name: str) -> bool:
    """Whether a setting, header or field called ``name`` holds a credential.

    Args:
        name: The name, in any case, with ``-`` or ``_`` between words.
    """
    return bool(_SECRET_NAME.search(name.lower().replace("-", "_")))


__all__ = ["DEFAULT_LIMITS", "DEFAULT_MAX_RESPONSE_BODY_BYTES", "DEFAULT_MAX_RESPONSE_DECOMPRESSED_BYTES",
           "DEFAULT_MAX_RESPONSE_HEADER_BYTES", "ResponseLimits", "is_secret_name", "key_problem", "shown_url",
           "text_problem", "too_large"]

"""What an HTTP head sharedlm sends may hold, and how large an answer it accepts may be.

Both ways to a provider (:mod:`sharedlm._http11` direct, aiohttp through a proxy) bound an answer by one
:class:`ResponseLimits`, built from the settings ``max_response_header_bytes``, ``max_response_body_bytes`` and
``max_response_decompressed_bytes``; :func:`too_large` is the error for going over one, naming the setting and its
``SHAREDLM_`` variable. :func:`text_problem` says what keeps a text (a header value, a URL, an API key) out of an
HTTP head, by class of character and never by showing the text, so settings can refuse a bad key when they are
built and the client can refuse a bad header before it is sent.
"""

from __future__ import annotations

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


__all__ = ["DEFAULT_LIMITS", "DEFAULT_MAX_RESPONSE_BODY_BYTES", "DEFAULT_MAX_RESPONSE_DECOMPRESSED_BYTES",
           "DEFAULT_MAX_RESPONSE_HEADER_BYTES", "ResponseLimits", "text_problem", "too_large"]

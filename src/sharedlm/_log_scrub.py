"""Keeping credentials out of what the libraries sharedlm drives log themselves.

On the LiteLLM route sharedlm hands its calls to libraries that log at DEBUG on their own loggers: botocore prints
the AWS canonical request with the session token (``x-amz-security-token:...``) and the request signature
(``botocore.auth``), the headers dict of every request its clients send (``botocore.endpoint``) and the body of
every answer, credentials from STS included (``botocore.parsers``); LiteLLM prints each request as a curl command
with its credential headers shortened but not removed. None of that goes through sharedlm's own code, so the
redaction of errors (:func:`sharedlm._classify.scrub`) cannot reach it.

This module owns the redaction of those records. :class:`SecretLogFilter` is a :class:`logging.Filter` that takes a
record's message apart once: it formats it, replaces every secret it knows (the keys sharedlm was configured with,
the AWS credentials in the environment and in the AWS credential files) and every value written in a credential's
shape (``Authorization: Bearer ...``, ``x-api-key=...``, ``'X-Amz-Security-Token': b'...'``,
``<SessionToken>...</SessionToken>``), and, only when something changed, stores the redacted text as the message
and clears the arguments. :func:`install_log_scrub` puts it in front of every record those libraries create.

Where it is installed: a filter on a logger applies only to records created at that very logger, not to records its
children pass up, and these libraries log from dozens of child loggers (``botocore.auth``, ``botocore.parsers``,
``google.auth.transport.requests``, ...), many created only when a module is first imported mid-call. So the filter
runs inside a wrapper of the process's log record factory (:class:`ScrubbingRecordFactory`), and only for records
whose logger belongs to one of :data:`WATCHED_LOGGERS` (or a child of one): every record of theirs is redacted
before any filter, handler or formatter sees it, whatever logger or handler configuration the application has; a
record of any other library is the one the previous factory made, untouched, at the cost of one name check. The
wrapper chains to the factory it replaced, and is installed once per process, when the first LiteLLM-route engine
is built (never at import).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sharedlm._classify import redact
from sharedlm._env import cloud_secrets
from sharedlm._http_rules import is_secret_name

# Loggers of the libraries the LiteLLM route drives, and their children: the only records this module reads.
WATCHED_LOGGERS = frozenset({
    "LiteLLM", "LiteLLM Proxy", "LiteLLM Router", "litellm",  # LiteLLM
    "botocore", "boto3",  # the AWS SDK LiteLLM signs Bedrock requests and assumes roles with
    "google.auth", "google.oauth2",  # google-auth: Vertex AI service accounts and application default credentials
    "urllib3",  # google-auth's and botocore's HTTP client (it logs URLs, whose query may hold a key)
    "httpx", "httpcore", "httpx2", "httpcore2", "h2", "hpack",  # LiteLLM's and the OpenAI SDK's HTTP clients
    "aiohttp.client",  # the shared pool's sessions, which LiteLLM sends on (not aiohttp's server loggers)
    "openai",  # the OpenAI SDK LiteLLM drives for some providers
})
# AWS variables whose values are redacted besides sharedlm's cloud secrets: the access key id is not a secret to
# AWS, but it names the account's key and is worth nothing in a log.
_AWS_KEY_ID_VARIABLES = ("AWS_ACCESS_KEY_ID",)

_REDACTED = "***"
# Authorization schemes kept readable before the redacted credential ("Bearer ***"), as sharedlm's errors keep them.
_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "key", "apikey", "aws4-hmac-sha256"})
# A credential's name ends so (checked whole by is_secret_name).
_TAIL = r"(?:key|secret|token|password|passwd|credentials?|authorization|signature|cookie)"
_SCHEME = "(?:" + "|".join(re.escape(scheme) for scheme in sorted(_SCHEMES)) + ")"
# Where in a message's lower-cased text a credential field may be: a name's end, then a separator. Searched without
# IGNORECASE, whose every-position scan costs ten times more; _FIELD is then matched at those places only, so a
# message costs a few microseconds per KiB ("prompt_tokens" is followed by no separator) and a few more per field.
_FIELD_HINT = re.compile(_TAIL + r"""\\?['"]?[ \t]*[:=]""")
# name, separator, value: "Authorization: Bearer x", "x-amz-security-token:x", "api_key=x", "'api_key': 'x'",
# "'X-Amz-Security-Token': b'x'", "\"SessionToken\": \"x\"", botocore's "Signature:\nx". An unquoted value is one
# word, an Authorization scheme before it, and an AWS signature's ", Name=value" parts after it.
_FIELD = re.compile(
    r"""(?<![\w-])(?P<name>[\w-]*?""" + _TAIL + r""")
        (?P<sep>\\?['"]?[ \t]*[:=][ \t]*(?:\r?\n)?[ \t]*)
        (?P<value>
            b?'[^'\r\n]*'
          | b?"[^"\r\n]*"
          | \\"[^"\r\n]*?\\"
          | (?!(?:None|null|True|true|False|false)\b)
            (?:""" + _SCHEME + r"""[ \t]+(?=[^\s'"]))?
            [^\s'"<>&,;{}()\[\]\\]+
            (?:,[ \t]*[A-Za-z]+=[^\s'"<>&,{}()\[\]\\]+)*
        )""",
    re.IGNORECASE | re.VERBOSE,
)
# An XML element named as a credential: STS's and IMDS's answers (<SecretAccessKey>, <SessionToken>).
_ELEMENT = re.compile(r"<(?P<name>[\w-]*?" + _TAIL + r")>(?P<value>[^<]+)</(?P=name)>", re.IGNORECASE)
# A (name, value) header pair, as HTTP/2's header encoder logs them: (b'authorization', b'Bearer x').
_PAIR = re.compile(r"""\(\s*b?(?P<q>['"])(?P<name>[\w-]+)(?P=q),\s*(?P<value>b?'[^'\r\n]*'|b?"[^"\r\n]*")\s*\)""")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_EXCEPTIONS = logging.Formatter()


def _is_credential(name: str) -> bool:
    """Whether ``name`` (snake, kebab or camel case: ``SecretAccessKey``) names a credential."""
    return is_secret_name(_CAMEL.sub("_", name))


def _hidden(value: str) -> str:
    """``value`` (quoted or not) with its credential replaced by ``***``; its quotes and a known scheme kept."""
    prefix = "b" if value[:1] == "b" and value[1:2] in ("'", '"') else ""
    body = value[len(prefix):]
    quote = ""
    for mark in ('\\"', "'", '"'):
        if len(body) >= 2 * len(mark) and body.startswith(mark) and body.endswith(mark):
            quote = mark
            break
    inner = value[len(prefix) + len(quote):len(value) - len(quote)]
    scheme, space, _ = inner.partition(" ")
    shown = f"{scheme} {_REDACTED}" if space and scheme.lower() in _SCHEMES else _REDACTED
    return f"{prefix}{quote}{shown}{quote}"


def _field(match: re.Match[str]) -> str:
    if not _is_credential(match["name"]):
        return match[0]
    return f"{match['name']}{match['sep']}{_hidden(match['value'])}"


def _fields(text: str) -> str:
    """``text`` with every credential field's value redacted (:data:`_FIELD`, tried where :data:`_FIELD_HINT` is)."""
    low = text.lower()
    if len(low) != len(text):  # a character whose lower case is longer: the places found are not the text's
        return _FIELD.sub(_field, text) if _FIELD_HINT.search(low) else text
    pieces: list[str] = []
    done = 0
    for hint in _FIELD_HINT.finditer(low):
        start = hint.start()
        if start < done:
            continue  # within a value already redacted
        while start > done and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            start -= 1  # back to the name's first character
        match = _FIELD.match(text, start)
        if match is None:
            continue
        pieces += [text[done:start], _field(match)]
        done = match.end()
    return "".join([*pieces, text[done:]]) if pieces else text


def _element(match: re.Match[str]) -> str:
    if not _is_credential(match["name"]):
        return match[0]
    return f"<{match['name']}>{_REDACTED}</{match['name']}>"


def _pair(match: re.Match[str]) -> str:
    if not _is_credential(match["name"]):
        return match[0]
    start, end = match.start("value") - match.start(), match.end("value") - match.start()
    return f"{match[0][:start]}{_hidden(match['value'])}{match[0][end:]}"


def _aws_file_secrets() -> list[str]:
    """The AWS credentials the credential chain reads from the environment and the shared credential and config
    files (the profile in ``AWS_PROFILE``): never the links that ask the network (instance metadata, SSO, STS)."""
    try:
        import botocore.session
    except ImportError:  # no AWS SDK: LiteLLM cannot sign a Bedrock call either
        return []
    found: list[str] = []
    # A broken profile file is LiteLLM's error to report when it signs; here it only means nothing is known.
    with contextlib.suppress(Exception):
        resolver = botocore.session.Session().get_component("credential_provider")
        for provider in resolver.providers:
            if getattr(provider, "METHOD", None) in ("env", "shared-credentials-file", "config-file"):
                credentials = provider.load()
                if credentials is not None:
                    found += [credentials.access_key, credentials.secret_key, credentials.token]
    return [secret for secret in found if isinstance(secret, str)]


class SecretLogFilter(logging.Filter):
    """Redacts credentials from a log record's message and arguments, in place; never drops a record or raises.

    A record that holds no credential keeps its message and arguments as they were (the same objects). One that
    does gets its message formatted once, redacted and stored as ``msg``, its ``args`` cleared; an exception it
    carries is formatted once too, and its redacted text stored as ``exc_text`` when the text held a credential.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._known: frozenset[str] = frozenset()
        # (environment values, known set, every secret longest first) of the last record: rebuilt when either
        # changes. Read and replaced whole, so records on several threads need no lock.
        self._secrets: tuple[tuple[str, ...], frozenset[str], tuple[str, ...]] = ((), self._known, ())
        self.redacted = 0  # records changed so far, for the repr (a count, never a value)

    def __repr__(self) -> str:
        return f"SecretLogFilter(known={len(self._known)}, redacted={self.redacted})"

    def remember(self, secrets: Iterable[str | None]) -> None:
        """Add secrets to redact wherever they appear (values shorter than 4 characters are ignored).

        Args:
            secrets: API keys, tokens or cloud credentials; None entries are skipped.
        """
        new = {secret for secret in secrets if isinstance(secret, str) and len(secret) >= 4}
        with self._lock:
            if not new <= self._known:
                self._known = self._known | new

    def secrets(self) -> tuple[str, ...]:
        """Every secret known now, longest first (so a secret containing another is replaced whole)."""
        env = tuple(value for value in (*cloud_secrets(), *(os.environ.get(name, "").strip()
                                                              for name in _AWS_KEY_ID_VARIABLES)) if value)
        known = self._known
        cached_env, cached_known, cached = self._secrets
        if cached_known is known and env == cached_env:
            return cached
        every = tuple(sorted(known | {value for value in env if len(value) >= 4}, key=len, reverse=True))
        self._secrets = (env, known, every)
        return every

    def redact_text(self, text: str, secrets: Iterable[str] | None = None) -> str:
        """``text`` with every known secret and every credential-shaped value replaced by ``***``.

        Args:
            text: A formatted log message, or any text.
            secrets: The secrets to replace; None for :meth:`secrets`.
        """
        for secret in self.secrets() if secrets is None else secrets:
            text = redact(text, secret)
        text = _fields(text)
        if "</" in text:
            text = _ELEMENT.sub(_element, text)
        if "(" in text:
            text = _PAIR.sub(_pair, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it (True).

        Args:
            record: Any log record.
        """
        # A filter that raised would break the library's logging call (and the caller's request with it); a
        # redaction that fails leaves the record as it was.
        with contextlib.suppress(Exception):
            self._redact(record)
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        secrets = self.secrets()
        try:
            text = record.getMessage()
        except Exception:
            # A record whose message cannot be formatted: logging's handleError prints its msg and args on stderr.
            shown = f"{record.msg} {record.args!r}"
            clean = self.redact_text(shown, secrets)
            if clean != shown:
                record.msg, record.args = clean, ()
                self.redacted += 1
            return
        clean = self.redact_text(text, secrets)
        if clean != text:
            record.msg, record.args = clean, ()
            self.redacted += 1
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            shown = _EXCEPTIONS.formatException(record.exc_info)
            clean = self.redact_text(shown, secrets)
            if clean != shown:
                record.exc_text = clean  # what formatters print for the exception once it is set


def watched(name: str) -> bool:
    """Whether the logger called ``name`` is one of :data:`WATCHED_LOGGERS` or a child of one."""
    while name not in WATCHED_LOGGERS:
        name, dot, _ = name.rpartition(".")
        if not dot:
            return False
    return True


class ScrubbingRecordFactory:
    """A log record factory that runs :class:`SecretLogFilter` on the records of :data:`WATCHED_LOGGERS`.

    Args:
        previous: The factory it replaces, which still makes every record.
        log_filter: The filter the watched records go through.
    """

    def __init__(self, previous: Callable[..., logging.LogRecord], log_filter: SecretLogFilter) -> None:
        self.previous = previous
        self.log_filter = log_filter

    def __repr__(self) -> str:
        return f"ScrubbingRecordFactory(previous={self.previous!r}, filter={self.log_filter!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        with contextlib.suppress(Exception):  # a record without a usable name is no library's of ours
            if watched(record.name):
                self.log_filter.filter(record)
        return record


LOG_FILTER = SecretLogFilter()
_INSTALL = threading.Lock()


def install_log_scrub(secrets: Iterable[str | None] = (), *, aws: bool = False) -> SecretLogFilter:
    """Redact credentials from the records of :data:`WATCHED_LOGGERS` from now on; idempotent.

    The process's log record factory is wrapped once (again only if something replaced the wrapper since).

    Args:
        secrets: Secrets to redact besides the AWS variables read at each record (the configured key).
        aws: Also learn the AWS credentials of the environment and the shared credential and config files (for a
            route LiteLLM signs with the AWS credential chain); nothing is asked of the network.

    Returns:
        The process's filter.
    """
    LOG_FILTER.remember(secrets)
    if aws:
        LOG_FILTER.remember(_aws_file_secrets())
    with _INSTALL:
        current = logging.getLogRecordFactory()
        if not isinstance(current, ScrubbingRecordFactory):
            logging.setLogRecordFactory(ScrubbingRecordFactory(current, LOG_FILTER))
    return LOG_FILTER


__all__ = ["LOG_FILTER", "WATCHED_LOGGERS", "ScrubbingRecordFactory", "SecretLogFilter", "install_log_scrub",
           "watched"]

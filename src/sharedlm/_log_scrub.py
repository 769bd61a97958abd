"""Keeping credentials out of what the libraries sharedlm drives log themselves.

On the LiteLLM route sharedlm hands its calls to libraries that log at DEBUG on their own loggers: botocore prints
the AWS canonical request with the session token (``x-amz-security-token:...``) and the request signature
(``botocore.auth``), the headers dict of every request its clients send (``botocore.endpoint``) and the body of
every answer, credentials from STS included (``botocore.parsers``); LiteLLM prints each request as a curl command
with its credential headers shortened but not removed. None of that goes through sharedlm's own code, so the
redaction of errors (:func:`sharedlm._classify.scrub`) cannot reach it.

This module owns the redaction of those records. :class:`SecretLogFilter` is a :class:`logging.Filter` that takes a
record's message apart once: it formats it, replaces every secret it knows (the keys sharedlm was configured with,
the credentials LiteLLM is handed per call, the AWS credentials in the environment and in the AWS credential files,
the Google credential files' keys and tokens, the tokens the route's requests carried) and every value written in a
credential's shape (``Authorization: Bearer ...``, ``x-api-key=...``, ``'X-Amz-Security-Token': b'...'``,
``<SessionToken>...</SessionToken>``), and, only when something changed, stores the redacted text as the message
and clears the arguments. A logged exception is replaced by its redacted traceback text (no frames, so no
formatter can print a local variable of the library's), and what ``extra=`` adds to a record (google-auth's request
headers and body) is redacted as it is added. :func:`install_log_scrub` puts it in front of every record those
libraries create.

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
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
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
# What a record becomes when its redaction failed unexpectedly: nothing unchecked reaches a handler.
_WITHHELD = "(log record withheld: sharedlm could not check it for credentials)"
# Credentials learned from the route's requests (tokens LiteLLM fetched): the newest so many are kept, so that a
# token refreshed every hour for months costs no memory or time per record beyond this bound.
_MAX_LEARNED = 256
# Bounds on what is read for secrets: a credential file, a nested credential object, an ``extra=`` value.
_MAX_FILE_BYTES = 1 << 20
_MAX_DEPTH = 6
_MAX_ITEMS = 1000
# A PEM key's lines are remembered one by one (a log may show the key with its newlines escaped or re-wrapped).
_MIN_PEM_LINE = 16
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
# Headers whose value changes with every request (a signature, a cookie the server set): never worth remembering.
_PER_REQUEST = re.compile(r"(?i)(?:signature|cookie)$")


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


def secrets_in(value: Any) -> list[str]:
    """The secrets a credential setting holds, to be redacted by value.

    Text is a secret itself, except a path to a JSON file, which is read instead (LiteLLM's ``vertex_credentials``
    may be one); a JSON object, given as text or as a mapping, is searched for every field named as a credential
    (a service account's ``private_key``, an authorized user's ``refresh_token`` and ``client_secret``), and a PEM
    key is remembered whole and line by line.

    Args:
        value: What a keyword named as a credential (``api_key``, ``aws_session_token``, ``vertex_credentials``, ...)
            was given.
    """
    found: list[str] = []
    _collect(value, found, 0)
    return found


def _collect(value: Any, found: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                _collect_fields(json.loads(text), found, depth + 1)
        elif "\n" not in text and "\x00" not in text and len(text) < 4096 and _is_file(text):
            _collect_fields(_json_file(text), found, depth + 1)
            return  # a path names the credentials, it is not one
        found.append(value)
        if text.startswith("-----BEGIN"):  # a PEM key: its base64 lines, each a secret wherever it is printed
            found += [line.strip() for line in value.splitlines()
                      if len(line.strip()) >= _MIN_PEM_LINE and not line.lstrip().startswith("-----")]
    elif isinstance(value, Mapping | list | tuple):
        _collect_fields(value, found, depth + 1)


def _collect_fields(value: Any, found: list[str], depth: int) -> None:
    """The credential-named fields of a JSON object, and of the objects and lists within it."""
    if depth > _MAX_DEPTH:
        return
    items = list(value.items())[:_MAX_ITEMS] if isinstance(value, Mapping) else \
        [("", item) for item in value[:_MAX_ITEMS]] if isinstance(value, list | tuple) else []
    for name, item in items:
        if isinstance(item, Mapping | list | tuple):
            _collect_fields(item, found, depth + 1)
        elif isinstance(item, str) and item and _is_credential(str(name)):
            _collect(item, found, depth + 1)


def _is_file(path: str) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return os.path.isfile(path)
    return False


def _json_file(path: str) -> Any:
    """The JSON a credential file holds, or None when it cannot be read (LiteLLM or google-auth says why)."""
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        if os.path.getsize(path) <= _MAX_FILE_BYTES:
            with open(path, encoding="utf-8") as file:
                return json.load(file)
    return None


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The reusable credentials among a request's headers: a bearer token, an API key, a session token.

    Never a value that changes with every request (an AWS SigV4 ``Authorization``, a signature, a cookie), which
    would only fill the remembered set; those are redacted by their shape.

    Args:
        headers: The request's (name, value) pairs.
    """
    found: list[str] = []
    for name, value in headers:
        if not _is_credential(name) or _PER_REQUEST.search(name):
            continue
        scheme, space, rest = value.strip().partition(" ")
        if space and scheme.lower() in _SCHEMES:
            if scheme.lower() != "aws4-hmac-sha256":
                found.append(rest.strip())
        else:
            found.append(value.strip())
    return found


def _google_file_secrets() -> list[str]:
    """The secrets of the Google credential files application default credentials read (the file named by
    ``GOOGLE_APPLICATION_CREDENTIALS``, then gcloud's): a service account's private key, a user's refresh token and
    client secret. Never the metadata server or any other link that asks the network."""
    config = os.environ.get("CLOUDSDK_CONFIG") or (
        os.path.join(os.environ.get("APPDATA", ""), "gcloud") if os.name == "nt"
        else os.path.join(os.path.expanduser("~"), ".config", "gcloud"))
    found: list[str] = []
    for path in (os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip(),
                 os.path.join(config, "application_default_credentials.json")):
        if path and _is_file(path):
            _collect_fields(_json_file(path), found, 0)
    return found


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


class RedactedTraceback(Exception):
    """What a watched record's ``exc_info`` holds instead of the exception a library logged: its traceback as text,
    redacted, and no frames.

    A formatter that prints ``exc_text`` (``logging.Formatter`` does) prints that text; one that renders
    ``exc_info`` itself (a JSON formatter, a handler showing each frame's local variables, an error tracker reading
    the frames) finds only this exception, whose message is the same text: never a frame whose locals hold the key
    LiteLLM was called with.
    """


class SecretLogFilter(logging.Filter):
    """Redacts credentials from a log record's message, arguments, exception and stack, in place; never drops a
    record or raises.

    A record that holds no credential keeps its message and arguments as they were (the same objects). One that
    does gets its message formatted once, redacted and stored as ``msg``, its ``args`` cleared. An exception it
    carries is formatted once, its redacted text stored as ``exc_text`` and its ``exc_info`` replaced by a
    :class:`RedactedTraceback` of that text, whatever the text held (a formatter may show more than the text: the
    frames' local variables). A record whose redaction fails unexpectedly keeps no message, arguments or exception.

    Thread safety: the remembered secrets are one frozenset, replaced whole under a lock by :meth:`remember` and
    :meth:`learn` and read without one, so records made on any thread or event loop see either the old set or the
    new one, never a set being changed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._configured: set[str] = set()
        # Learned from requests, oldest first (a dict keeps insertion order): at most _MAX_LEARNED.
        self._learned: dict[str, None] = {}
        self._known: frozenset[str] = frozenset()
        # (environment values, known set, every secret longest first) of the last record: rebuilt when either
        # changes. Read and replaced whole, so records on several threads need no lock.
        self._secrets: tuple[tuple[str, ...], frozenset[str], tuple[str, ...]] = ((), self._known, ())
        self.redacted = 0  # records changed so far, for the repr (a count, never a value)

    def __repr__(self) -> str:
        return f"SecretLogFilter(known={len(self._known)}, redacted={self.redacted})"

    @staticmethod
    def _usable(secrets: Iterable[str | None]) -> list[str]:
        return [secret for secret in secrets if isinstance(secret, str) and len(secret) >= 4]

    def remember(self, secrets: Iterable[str | None]) -> None:
        """Add secrets to redact wherever they appear, for as long as the process runs (values shorter than 4
        characters are ignored).

        Args:
            secrets: API keys, tokens or cloud credentials; None entries are skipped.
        """
        new = set(self._usable(secrets))
        if new <= self._known:  # the usual case, every call: no lock taken
            return
        with self._lock:
            self._configured |= new
            self._known = frozenset(self._configured) | self._learned.keys()

    def learn(self, secrets: Iterable[str | None]) -> None:
        """Add secrets seen in use (tokens a library fetched and sent): redacted like remembered ones, but only the
        newest :data:`_MAX_LEARNED` are kept.

        Args:
            secrets: Tokens or keys; None entries and values shorter than 4 characters are skipped.
        """
        new = [secret for secret in self._usable(secrets) if secret not in self._known]
        if not new:
            return
        with self._lock:
            for secret in new:
                self._learned.pop(secret, None)
                self._learned[secret] = None
            for old in list(self._learned)[:max(0, len(self._learned) - _MAX_LEARNED)]:
                del self._learned[old]
            self._known = frozenset(self._configured) | self._learned.keys()

    def knows(self, secret: str) -> bool:
        """Whether ``secret`` is redacted by value now (remembered or learned; the environment's are read per record).

        Args:
            secret: A value.
        """
        return secret in self._known

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

    def redact_value(self, value: Any, secrets: Iterable[str] | None = None) -> Any:
        """``value`` (text, bytes, a mapping or sequence of them, or any object) with its credentials redacted: the
        same object when it holds none, else a redacted copy (an object of another type: its redacted repr).

        Args:
            value: What ``extra=`` put on a record (google-auth's ``{"headers": {...}, "body": ...}``), or any value.
            secrets: The secrets to replace; None for :meth:`secrets`.
        """
        every = tuple(self.secrets() if secrets is None else secrets)
        with contextlib.suppress(Exception):
            return self._value(value, every, 0)
        return _REDACTED  # a value that cannot be read cannot be shown

    def _value(self, value: Any, secrets: tuple[str, ...], depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.redact_text(value, secrets)
        if isinstance(value, bytes):
            text = value.decode("utf-8", "surrogateescape")
            clean = self.redact_text(text, secrets)
            return value if clean == text else clean.encode("utf-8", "surrogateescape")
        if depth < _MAX_DEPTH and isinstance(value, Mapping):
            items = list(value.items())
            if len(items) <= _MAX_ITEMS:
                copied = {name: self._hidden_item(name, item, secrets, depth) for name, item in items}
                return copied if any(copied[name] is not item for name, item in items) else value
        if depth < _MAX_DEPTH and isinstance(value, list | tuple) and len(value) <= _MAX_ITEMS:
            cleaned = [self._value(item, secrets, depth + 1) for item in value]
            if all(new is old for new, old in zip(cleaned, value, strict=True)):
                return value
            return cleaned if isinstance(value, list) else tuple(cleaned)
        shown = repr(value)
        clean = self.redact_text(shown, secrets)
        return value if clean == shown else clean

    def _hidden_item(self, name: Any, item: Any, secrets: tuple[str, ...], depth: int) -> Any:
        if isinstance(name, str) and isinstance(item, str | bytes) and item and _is_credential(name):
            text = item.decode("utf-8", "surrogateescape") if isinstance(item, bytes) else item
            hidden = _hidden(text)
            return hidden.encode("utf-8", "surrogateescape") if isinstance(item, bytes) else hidden
        return self._value(item, secrets, depth + 1)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it (True).

        Args:
            record: Any log record.
        """
        # A filter that raised would break the library's logging call (and the caller's request with it). A
        # redaction that fails is not left half done: the record keeps no text that was not checked.
        try:
            self._redact(record)
        except Exception:
            with contextlib.suppress(Exception):
                record.msg, record.args, record.exc_info, record.exc_text, record.stack_info = \
                    _WITHHELD, (), None, None, None
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
        else:
            clean = self.redact_text(text, secrets)
            if clean != text:
                record.msg, record.args = clean, ()
                self.redacted += 1
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted now, with logging's own formatter: what any formatter later prints is this text, and the
            # frames (whose locals hold the call's api_key) are dropped from the record.
            shown = record.exc_text or _EXCEPTIONS.formatException(record.exc_info)
            clean = self.redact_text(shown, secrets)
            record.exc_text = clean
            record.exc_info = (RedactedTraceback, RedactedTraceback(clean), None)
            if clean != shown:
                self.redacted += 1
        if isinstance(record.stack_info, str):
            record.stack_info = self.redact_text(record.stack_info, secrets)


@functools.lru_cache(maxsize=4096)
def watched(name: str) -> bool:
    """Whether the logger called ``name`` is one of :data:`WATCHED_LOGGERS` or a child of one (remembered per name:
    one dictionary look-up for a record of any library)."""
    while name not in WATCHED_LOGGERS:
        name, dot, _ = name.rpartition(".")
        if not dot:
            return False
    return True


class _RecordDict(dict[str, Any]):
    """A watched record's ``__dict__``: what ``logging.Logger.makeRecord`` stores in it after the factory returned
    (the ``extra=`` of the logging call) goes through :meth:`SecretLogFilter.redact_value` as it is stored.

    Pickled and copied as a plain dict (``QueueHandler``, ``SocketHandler``), so a record sent elsewhere needs no
    sharedlm to be read.
    """

    __slots__ = ("log_filter",)

    def __init__(self, values: dict[str, Any], log_filter: SecretLogFilter) -> None:
        super().__init__(values)
        self.log_filter = log_filter

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, self.log_filter.redact_value(value))

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self),)


# The filters whose factory is making a record on this thread: a second wrapper of the same filter further down the
# chain (an application's factory installed over sharedlm's, then sharedlm's again) leaves that record to the first.
_MAKING = threading.local()


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
        name = args[0] if args else kwargs.get("name")
        try:
            mine = isinstance(name, str) and watched(name)
        except Exception:  # a name no logger has: no library's of ours
            mine = False
        if not mine:
            return self.previous(*args, **kwargs)
        making: set[int] | None = getattr(_MAKING, "filters", None)
        if making is None:
            making = _MAKING.filters = set()
        key = id(self.log_filter)
        if key in making:  # an outer wrapper of this filter redacts the record once it is made
            return self.previous(*args, **kwargs)
        making.add(key)
        try:
            record = self.previous(*args, **kwargs)
        finally:
            making.discard(key)
        self.log_filter.filter(record)
        # A record class without a __dict__ of its own cannot take extra= either.
        with contextlib.suppress(Exception):
            record.__dict__ = _RecordDict(record.__dict__, self.log_filter)
        return record


LOG_FILTER = SecretLogFilter()
_INSTALL = threading.Lock()


def remember_secrets(secrets: Iterable[str | None]) -> None:
    """Redact these secrets by value from the records of :data:`WATCHED_LOGGERS` from now on (cheap when known).

    Args:
        secrets: Keys, tokens or credentials a route was configured with or passes on a call; None entries skipped.
    """
    LOG_FILTER.remember(secrets)


def learn_secrets(secrets: Iterable[str | None]) -> None:
    """Redact these secrets, seen in use (a token a library fetched and sent), by value; the newest are kept.

    Args:
        secrets: Tokens or keys; None entries skipped.
    """
    LOG_FILTER.learn(secrets)


def install_log_scrub(secrets: Iterable[str | None] = (), *, aws: bool = False,
                      google: bool = False) -> SecretLogFilter:
    """Redact credentials from the records of :data:`WATCHED_LOGGERS` from now on; idempotent.

    The process's log record factory is wrapped once (again only if something replaced the wrapper since: an
    application's factory installed over it; a record then made through both wrappers is redacted once).

    Args:
        secrets: Secrets to redact besides the AWS variables read at each record (the configured key).
        aws: Also learn the AWS credentials of the environment and the shared credential and config files (for a
            route LiteLLM signs with the AWS credential chain); nothing is asked of the network.
        google: Also learn the secrets of the Google credential files application default credentials read (for a
            Vertex AI route); nothing is asked of the network.

    Returns:
        The process's filter.
    """
    LOG_FILTER.remember(secrets)
    if aws:
        LOG_FILTER.remember(_aws_file_secrets())
    if google:
        LOG_FILTER.remember(_google_file_secrets())
    with _INSTALL:
        current = logging.getLogRecordFactory()
        if not isinstance(current, ScrubbingRecordFactory):
            logging.setLogRecordFactory(ScrubbingRecordFactory(current, LOG_FILTER))
    return LOG_FILTER


__all__ = ["LOG_FILTER", "WATCHED_LOGGERS", "RedactedTraceback", "ScrubbingRecordFactory", "SecretLogFilter",
           "header_secrets", "install_log_scrub", "learn_secrets", "remember_secrets", "secrets_in", "watched"]

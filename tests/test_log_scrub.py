"""The redaction of what third-party libraries log: credentials out, other records untouched, installed once.

The end-to-end checks (a call on each LiteLLM route logs no credential at DEBUG) are with the routes' tests, in
``tests/test_litellm_clouds.py`` (bedrock/, vertex_ai/) and ``tests/test_litellm_route.py`` (together_ai/, mistral/).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import pickle
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from _http_servers import ScriptedServer, ServerRequest
from sharedlm._log_scrub import (
    LOG_FILTER,
    ScrubbingRecordFactory,
    SecretLogFilter,
    header_secrets,
    install_log_scrub,
    secrets_in,
)

KEY = "sk-log-scrub-0123456789-secret"
SESSION_TOKEN = "FwoGZXIvYXdzEfakeSessionToken0123456789"
AWS_SECRET = "fake-aws-secret-access-key-0123456789"
# What a fake STS hands out: credentials no one in this process knew before the answer arrived.
NEW_SECRET = "fresh-sts-secret-access-key-0123456789"
NEW_TOKEN = "fresh-sts-session-token-0123456789"
CANONICAL_REQUEST = (
    "POST\n/model/sim-model/converse\n\ncontent-type:application/json\nhost:127.0.0.1:44813\n"
    f"x-amz-date:20261130T190832Z\nx-amz-security-token:{SESSION_TOKEN}\n\n"
    "content-type;host;x-amz-date;x-amz-security-token\n"
    "f220be4d38efda8e6aa204c02592b73b47c6a8e498193043fb9fb685726f07ca"
)


def record(name: str, msg: object, *args: object, exc_info: logging._SysExcInfoType | None = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, exc_info)


@pytest.fixture
def installed() -> Iterator[SecretLogFilter]:
    """The record factory wrapped for the test, and put back as it was after it."""
    before = logging.getLogRecordFactory()
    try:
        yield install_log_scrub([KEY])
    finally:
        logging.setLogRecordFactory(before)


def test_a_botocore_canonical_request_loses_its_session_token() -> None:
    logged = record("botocore.auth", "CanonicalRequest:\n%s", CANONICAL_REQUEST)
    assert SecretLogFilter().filter(logged)
    assert SESSION_TOKEN not in logged.getMessage()
    assert "x-amz-security-token:***\n" in logged.getMessage()
    assert logged.args == ()


def test_a_record_without_a_credential_is_left_untouched() -> None:
    msg, args = "model %s used %d prompt_tokens", ("sim-model", 156)
    logged = logging.LogRecord("LiteLLM", logging.DEBUG, __file__, 1, msg, args, None)
    assert SecretLogFilter().filter(logged)
    assert logged.msg is msg
    assert logged.args is args


def test_a_known_key_in_a_records_arguments_is_redacted_and_the_arguments_cleared() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    logged = record("LiteLLM", "error body: %s", {"message": f"Incorrect API key provided: {KEY}"})
    scrubber.filter(logged)
    assert logged.getMessage() == "error body: {'message': 'Incorrect API key provided: ***'}"
    assert logged.args == ()


def test_credential_headers_keep_their_scheme_and_lose_their_value() -> None:
    logged = record("botocore.endpoint", "Sending http request: %s", {
        "Authorization": b"AWS4-HMAC-SHA256 Credential=AKIAFAKE/20261130/us-east-1/bedrock/aws4_request, "
                         b"SignedHeaders=host;x-amz-date, Signature=0a1b2c3d", "X-Amz-Security-Token": b"tok-9999"})
    SecretLogFilter().filter(logged)
    assert logged.getMessage() == ("Sending http request: {'Authorization': b'AWS4-HMAC-SHA256 ***', "
                                   "'X-Amz-Security-Token': b'***'}")


def test_credentials_in_an_aws_xml_answer_are_redacted() -> None:
    body = (f"<Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>{NEW_SECRET}</SecretAccessKey>"
            f"<SessionToken>{NEW_TOKEN}</SessionToken></Credentials>")
    logged = record("botocore.parsers", "Response body:\n%r", body.encode())
    SecretLogFilter().filter(logged)
    assert NEW_SECRET not in logged.getMessage()
    assert NEW_TOKEN not in logged.getMessage()
    assert "<SessionToken>***</SessionToken>" in logged.getMessage()


def test_a_key_remembered_after_records_were_redacted_is_redacted_too() -> None:
    scrubber = SecretLogFilter()
    scrubber.filter(record("LiteLLM", "first record"))
    scrubber.remember(["sk-remembered-later-0123"])
    logged = record("LiteLLM", "body %s", "sk-remembered-later-0123")
    scrubber.filter(logged)
    assert logged.getMessage() == "body ***"


def test_aws_credentials_in_the_environment_are_redacted_wherever_they_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    logged = record("LiteLLM", "credentials resolved: %s", [AWS_SECRET])
    SecretLogFilter().filter(logged)
    assert logged.getMessage() == "credentials resolved: ['***']"


def test_an_aws_route_learns_the_credentials_of_the_shared_credentials_file(
        installed: SecretLogFilter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[default]\naws_access_key_id = AKIAFILEFILEFILEFILE\n"
                           f"aws_secret_access_key = {NEW_SECRET}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    caplog.set_level(logging.DEBUG)
    install_log_scrub(aws=True)
    logging.getLogger("LiteLLM").debug("signing with %s", NEW_SECRET)
    assert caplog.records[-1].getMessage() == "signing with ***"


def test_a_record_that_cannot_be_formatted_loses_its_secret() -> None:
    # logging's handleError prints such a record's msg and args on stderr: they must hold no secret either.
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    logged = record("LiteLLM", "%s and %s", KEY)
    assert scrubber.filter(logged)
    assert KEY not in f"{logged.msg} {logged.args}"


def test_the_filter_never_raises() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    assert SecretLogFilter().filter(record("LiteLLM", Unprintable()))


def test_an_exception_logged_with_a_record_loses_its_secret() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    try:
        raise ValueError(f"the provider said: invalid key {KEY}")
    except ValueError:
        logged = record("LiteLLM", "call failed", exc_info=sys.exc_info())
    scrubber.filter(logged)
    assert logged.exc_text is not None
    assert "invalid key ***" in logged.exc_text
    assert KEY not in logging.Formatter().format(logged)


def test_the_repr_shows_counts_and_never_a_secret() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    scrubber.filter(record("LiteLLM", "key %s", KEY))
    assert repr(scrubber) == "SecretLogFilter(known=1, redacted=1)"


def test_installing_twice_wraps_the_record_factory_once(installed: SecretLogFilter) -> None:
    factory = logging.getLogRecordFactory()
    assert isinstance(factory, ScrubbingRecordFactory)
    assert install_log_scrub() is installed is LOG_FILTER
    assert logging.getLogRecordFactory() is factory
    assert not isinstance(factory.previous, ScrubbingRecordFactory)


def test_records_of_other_libraries_are_not_touched(installed: SecretLogFilter,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("myapp.http").debug("sent Authorization: Bearer %s", "app-own-token-0123")
    assert caplog.records[-1].args == ("app-own-token-0123",)


def test_botocore_signing_logs_reach_the_root_without_the_session_token(
        installed: SecretLogFilter, caplog: pytest.LogCaptureFixture) -> None:
    # The record is made at botocore.auth, a child no filter of a parent logger would see: the factory does.
    caplog.set_level(logging.DEBUG)
    request = AWSRequest(method="POST", url="http://127.0.0.1:9/model/sim-model/converse", data=b"{}",
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKIAFAKEFAKEFAKEFAKE", AWS_SECRET, SESSION_TOKEN), "bedrock", "us-east-1").add_auth(request)
    signature = request.headers["Authorization"].rpartition("Signature=")[2]
    assert request.headers["X-Amz-Security-Token"] == SESSION_TOKEN
    assert any(logged.name == "botocore.auth" for logged in caplog.records)
    assert SESSION_TOKEN not in caplog.text
    assert signature not in caplog.text


async def answer_assume_role(request: ServerRequest) -> None:
    body = (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>'
        f"<AccessKeyId>ASIAFAKEFAKEFAKEFAKE</AccessKeyId><SecretAccessKey>{NEW_SECRET}</SecretAccessKey>"
        f"<SessionToken>{NEW_TOKEN}</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"
        "<AssumedRoleUser><AssumedRoleId>AROAFAKE:s</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"
        "</AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"
    ).encode()
    await request.connection.answer(body, headers=(("Content-Type", "text/xml"),))


async def test_credentials_an_sts_answer_hands_out_stay_out_of_botocore_logs(
        installed: SecretLogFilter, caplog: pytest.LogCaptureFixture) -> None:
    # LiteLLM assumes a role (aws_role_name) with a botocore STS client: botocore.endpoint logs the signed request's
    # headers, botocore.parsers the answer's body with the new credentials.
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer(answer_assume_role) as sts:
        client = botocore.session.get_session().create_client(
            "sts", region_name="us-east-1", endpoint_url=sts.url("").rstrip("/"),
            aws_access_key_id="AKIAFAKEFAKEFAKEFAKE", aws_secret_access_key=AWS_SECRET,
            aws_session_token=SESSION_TOKEN,
            config=Config(connect_timeout=5, read_timeout=5, retries={"total_max_attempts": 1}))
        answer = await asyncio.to_thread(client.assume_role, RoleArn="arn:aws:iam::1:role/r",
                                         RoleSessionName="sharedlm")
    assert answer["Credentials"]["SessionToken"] == NEW_TOKEN
    assert sts.requests[0].header("x-amz-security-token") == SESSION_TOKEN
    assert {"botocore.endpoint", "botocore.parsers"} <= {logged.name for logged in caplog.records}
    for secret in (SESSION_TOKEN, NEW_SECRET, NEW_TOKEN):
        assert secret not in caplog.text


# --- what the review of the first version found ---

def counting_factory(made: list[str], previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """A record factory of an application's: it makes records with ``previous``, and notes each one's logger."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made.append(args[0])
        return previous(*args, **kwargs)

    return factory


class CountingFilter(SecretLogFilter):
    def __init__(self) -> None:
        super().__init__()
        self.passes = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.passes += 1
        return super().filter(record)


def make(factory: Callable[..., logging.LogRecord], name: str, msg: object, *args: object,
         exc_info: Any = None) -> logging.LogRecord:
    return factory(name, logging.DEBUG, __file__, 1, msg, args, exc_info)


def test_no_record_is_made_for_a_debug_call_when_debug_is_off(installed: SecretLogFilter,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    scrubbing = logging.getLogRecordFactory()
    assert isinstance(scrubbing, ScrubbingRecordFactory)
    monkeypatch.setattr(scrubbing, "previous", counting_factory(made, scrubbing.previous))
    logger = logging.getLogger("botocore.auth")
    monkeypatch.setattr(logger, "level", logging.WARNING)
    monkeypatch.setattr(logger, "_cache", {})
    logger.debug("CanonicalRequest:\n%s", CANONICAL_REQUEST)
    logger.warning("made")
    assert made == ["botocore.auth"]  # the warning only


def test_an_application_factory_installed_before_keeps_making_the_records(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    monkeypatch.setattr(logging, "_logRecordFactory", counting_factory(made, logging.LogRecord))
    install_log_scrub([KEY])
    logged = make(logging.getLogRecordFactory(), "LiteLLM", "key %s", KEY)
    assert made == ["LiteLLM"]
    assert logged.getMessage() == "key ***"


def test_a_record_made_through_two_wrappers_of_one_filter_is_redacted_once() -> None:
    # An application's factory installed over sharedlm's, then sharedlm's installed again over it.
    scrubber = CountingFilter()
    scrubber.remember([KEY])
    inner = ScrubbingRecordFactory(logging.LogRecord, scrubber)

    def application(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        record.__dict__["tenant"] = "t1"  # what such factories add
        return record

    logged = make(ScrubbingRecordFactory(application, scrubber), "LiteLLM", "key %s", KEY)
    assert scrubber.passes == 1
    assert (logged.getMessage(), logged.__dict__["tenant"]) == ("key ***", "t1")


def test_secrets_remembered_on_many_threads_are_all_known_and_redacted() -> None:
    scrubber = SecretLogFilter()
    shown: list[str] = []

    def work(thread: int) -> None:
        for i in range(50):
            secret = f"thread-{thread}-secret-{i:04d}"
            (scrubber.remember if i % 2 else scrubber.learn)([secret])
            logged = record("LiteLLM", "using %s", secret)
            scrubber.filter(logged)
            shown.append(logged.getMessage())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(shown) == 400
    assert set(shown) == {"using ***"}
    assert repr(scrubber) == "SecretLogFilter(known=400, redacted=400)"


def test_a_secret_split_across_a_records_arguments_is_redacted_once_they_are_joined() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    logged = record("httpx", "sent %s%s to the provider", KEY[:10], KEY[10:])
    scrubber.filter(logged)
    assert logged.getMessage() == "sent *** to the provider"


def test_a_message_that_is_a_dict_loses_its_credentials() -> None:
    logged = record("LiteLLM", {"model": "m", "api_key": KEY})
    SecretLogFilter().filter(logged)
    assert logged.getMessage() == "{'model': 'm', 'api_key': '***'}"


def test_a_message_that_is_an_exception_loses_its_secret() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    logged = record("openai", ValueError(f"Incorrect API key provided: {KEY}"))
    scrubber.filter(logged)
    assert logged.getMessage() == "Incorrect API key provided: ***"


def test_a_logger_adapters_records_are_redacted(installed: SecretLogFilter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = logging.LoggerAdapter(logging.getLogger("LiteLLM.router"), {"deployment": "d1"})
    adapter.debug("calling with %s", KEY)
    assert caplog.records[-1].getMessage() == "calling with ***"


def raise_with_the_key_in_a_local(api_key: str) -> None:
    raise ValueError("the provider refused the call")


def test_a_formatter_showing_local_variables_finds_no_frame_holding_the_key() -> None:
    class LocalsFormatter(logging.Formatter):
        def formatException(self, ei: Any) -> str:
            return "".join(traceback.TracebackException(*ei, capture_locals=True).format())

    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    try:
        raise_with_the_key_in_a_local(KEY)
    except ValueError:
        logged = record("LiteLLM", "call failed", exc_info=sys.exc_info())
    scrubber.filter(logged)
    rendered = LocalsFormatter().formatException(logged.exc_info)  # as a JSON formatter does, ignoring exc_text
    assert KEY not in rendered
    assert "ValueError: the provider refused the call" in rendered
    assert KEY not in LocalsFormatter().format(logged)


def test_a_formatter_rendering_exc_info_itself_shows_the_redacted_traceback() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    try:
        raise ValueError(f"invalid key {KEY}")
    except ValueError:
        logged = record("LiteLLM", "call failed", exc_info=sys.exc_info())
    scrubber.filter(logged)
    assert logged.exc_info is not None
    rendered = logging.Formatter().formatException(logged.exc_info)
    assert KEY not in rendered
    assert "ValueError: invalid key ***" in rendered


def test_values_given_as_extra_are_redacted_as_they_are_added(installed: SecretLogFilter,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    # google-auth logs each request's headers and body as extra= (a JSON formatter prints them).
    caplog.set_level(logging.DEBUG)
    logging.getLogger("LiteLLM").debug("Making request...", extra={"httpRequest": {
        "method": "POST", "headers": {"Authorization": f"Bearer {KEY}"}, "body": {"assertion": KEY}}})
    assert caplog.records[-1].__dict__["httpRequest"] == {"method": "POST", "headers": {"Authorization": "Bearer ***"},
                                              "body": {"assertion": "***"}}


def test_a_watched_record_still_pickles_and_copies_as_a_plain_record(installed: SecretLogFilter) -> None:
    logged = logging.getLogger("LiteLLM").makeRecord("LiteLLM", logging.DEBUG, __file__, 1, "key %s", (KEY,), None,
                                                     extra={"tenant": "t1"})
    for copied in (pickle.loads(pickle.dumps(logged)), copy.copy(logged)):
        assert type(copied.__dict__) is dict
        assert (copied.getMessage(), copied.__dict__["tenant"]) == ("key ***", "t1")


def test_a_stack_logged_with_a_record_loses_its_secret() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    logged = logging.LogRecord("LiteLLM", logging.DEBUG, __file__, 1, "here", (), None,
                               sinfo=f'Stack (most recent call last):\n  call(api_key="{KEY}")')
    scrubber.filter(logged)
    assert logged.stack_info == 'Stack (most recent call last):\n  call(api_key="***")'


def test_a_record_whose_redaction_fails_keeps_nothing_unchecked() -> None:
    class Broken(SecretLogFilter):
        def redact_text(self, text: str, secrets: Iterable[str] | None = None) -> str:
            raise RuntimeError("regex engine failure")

    logged = record("LiteLLM", "key %s", KEY)
    assert Broken().filter(logged)
    assert KEY not in logged.getMessage()
    assert logged.args == ()


def test_only_the_newest_learned_secrets_are_kept() -> None:
    scrubber = SecretLogFilter()
    scrubber.remember([KEY])
    scrubber.learn(f"rotated-token-{i:05d}" for i in range(300))
    assert not scrubber.knows("rotated-token-00000")
    assert scrubber.knows("rotated-token-00299")
    assert scrubber.knows(KEY)  # a configured secret is never forgotten


def test_a_service_accounts_json_yields_its_private_key_whole_and_line_by_line() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASC\nBKYwggSiAgEAAoIBAQCA+ockaOvmY3kP\n" \
          "-----END PRIVATE KEY-----\n"
    account = {"type": "service_account", "private_key_id": "k1", "private_key": pem, "client_email": "a@b.c"}
    expected = [pem, "MIIEvAIBADANBgkqhkiG9w0BAQEFAASC", "BKYwggSiAgEAAoIBAQCA+ockaOvmY3kP"]
    assert secrets_in(account) == expected
    text = json.dumps(account)
    assert secrets_in(text) == [*expected, text]


def test_a_credentials_file_path_yields_the_files_secrets_not_the_path(tmp_path: Path) -> None:
    path = tmp_path / "user.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "cs-0123456789",
                                "refresh_token": "1//refresh-0123456789"}))
    assert secrets_in(str(path)) == ["cs-0123456789", "1//refresh-0123456789"]


def test_only_reusable_credentials_are_taken_from_request_headers() -> None:
    headers = [("Authorization", "Bearer ya29.token-0123456789"), ("x-goog-api-key", "AIzaKey0123456789"),
               ("content-type", "application/json"), ("Cookie", "session=abc0123456789"),
               ("X-Amz-Security-Token", "FwoSessionToken0123")]
    assert header_secrets(headers) == ["ya29.token-0123456789", "AIzaKey0123456789", "FwoSessionToken0123"]
    signed = [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=0a1b2c3d")]
    assert header_secrets(signed) == []


def test_a_google_route_learns_the_application_default_credentials_file(
        installed: SecretLogFilter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    (tmp_path / "application_default_credentials.json").write_text(json.dumps(
        {"type": "authorized_user", "client_secret": "adc-client-secret-0123", "refresh_token": "1//adc-refresh-0123"}))
    caplog.set_level(logging.DEBUG)
    install_log_scrub(google=True)
    logging.getLogger("urllib3.connectionpool").debug("refreshing with %s", "1//adc-refresh-0123")
    assert caplog.records[-1].getMessage() == "refreshing with ***"

"""The redaction of what third-party libraries log: credentials out, other records untouched, installed once.

The end-to-end checks (a call on each LiteLLM route logs no credential at DEBUG) are with the routes' tests, in
``tests/test_litellm_clouds.py`` (bedrock/, vertex_ai/) and ``tests/test_litellm_route.py`` (together_ai/, mistral/).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from _http_servers import ScriptedServer, ServerRequest
from sharedlm._log_scrub import LOG_FILTER, ScrubbingRecordFactory, SecretLogFilter, install_log_scrub

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

"""Refused cloud storage requests become one clear message; credentials are looked for offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from raytuner.errors import StorageAccessError
from raytuner.results.cloud_access import access, has_credentials, is_denied

# what pyarrow's S3 filesystem raises (texts as pyarrow 2x prints them)
DENIED = [
    "When getting information for key 'exp/summary.json' in bucket 'b': AWS Error ACCESS_DENIED during "
    "HeadObject operation: No response body.",
    "When listing objects under key 'exp' in bucket 'b': AWS Error INVALID_ACCESS_KEY_ID during ListObjectsV2 "
    "operation: The AWS Access Key Id you provided does not exist in our records.",
    "When reading information for key 'x.csv' in bucket 'b': AWS Error UNKNOWN (HTTP status 403) during "
    "HeadObject operation: No response body.",
    "AWS Error SIGNATURE_DOES_NOT_MATCH during PutObject operation",
]


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


@pytest.mark.parametrize("text", DENIED)
def test_a_refusal_is_one_message_naming_the_uri_and_what_to_set(text: str, no_aws: None) -> None:
    assert is_denied(OSError(text))
    with pytest.raises(StorageAccessError) as err, access("s3://b/exp", "read"):
        raise OSError(text)
    message = str(err.value)
    assert message.startswith("cannot read s3://b/exp: access denied")
    assert "no credentials were found" in message and "AWS_ACCESS_KEY_ID" in message
    assert "\n" not in message and err.value.exit_code == 2


def test_found_but_refused_credentials_are_said_so(monkeypatch: pytest.MonkeyPatch, no_aws: None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    with pytest.raises(StorageAccessError, match="credentials were found but were refused"), access("s3://b", "write"):
        raise OSError(DENIED[0])


def test_other_errors_pass_unchanged() -> None:
    with pytest.raises(FileNotFoundError), access("s3://b/x", "read"):
        raise FileNotFoundError("Path does not exist 'b/x'")
    with pytest.raises(OSError, match="NETWORK_CONNECTION"), access("s3://b/x", "read"):
        raise OSError("AWS Error NETWORK_CONNECTION during HeadObject operation: curlCode: 7")


def test_credentials_found_offline(monkeypatch: pytest.MonkeyPatch, no_aws: None, tmp_path: Path) -> None:
    assert not has_credentials("s3")
    assert has_credentials("gs")  # other clouds' libraries look for their own
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert has_credentials("s3")
    monkeypatch.delenv("AWS_PROFILE")
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = x\naws_secret_access_key = y\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    assert has_credentials("s3")

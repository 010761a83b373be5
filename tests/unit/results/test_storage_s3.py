"""Storage on S3 without Ray: a real S3-compatible server (moto's server mode on loopback)."""

from __future__ import annotations

import pytest

from raytuner.cli.main import main
from raytuner.errors import SpecError
from raytuner.spec.loader import validate_spec
from tests.integration.test_storage_s3 import SPEC, _bucket


def test_results_on_an_empty_bucket_is_a_clear_error(s3_endpoint: str, aws_env: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _bucket(s3_endpoint, "rt-empty")
    assert main(["results", "s3://rt-empty/exp", "--endpoint", s3_endpoint]) == 2
    assert "no finished experiment under s3://rt-empty/exp" in capsys.readouterr().err
    assert main(["results", "s4://rt-empty/exp"]) == 2
    assert "cannot open s4://rt-empty/exp" in capsys.readouterr().err


@pytest.mark.parametrize("storage, expected", [
    ({"path": "results", "endpoint": "http://127.0.0.1:9000"}, "not an s3:// or gs:// URI"),
    ({"path": "s3://b/x", "endpoint": "127.0.0.1:9000"}, "expected http(s)://host[:port]"),
])
def test_bad_storage_is_a_spec_error(storage: dict, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_spec({**SPEC, "storage": storage})
    assert expected in str(info.value) and "storage" in str(info.value)

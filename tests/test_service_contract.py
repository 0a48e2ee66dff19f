"""Edge report contract: JCS canonical form, HMAC signing, the JSON Schema and the server's parser agree."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from service import canonical
from service.errors import ApiError
from service.report import SCHEMA_PATH, parse_report, report_schema

EXAMPLES = Path(__file__).resolve().parent.parent / "conformance" / "schemas" / "examples"


def _example() -> dict:
    return json.loads((EXAMPLES / "edge_report.example.json").read_text())


def _example_key() -> bytes:
    return base64.b64decode((EXAMPLES / "edge_report.example.key").read_text().strip())


@pytest.mark.parametrize(
    ("value", "text"),
    [  # RFC 8785 appendix B / ECMAScript Number.prototype.toString
        (0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (1e-7, "1e-7"),
        (0.00001, "0.00001"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (333333333.3333333, "333333333.3333333"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (4.5, "4.5"),
        (2e-3, "0.002"),
    ],
)
def test_jcs_numbers(value: float, text: str) -> None:
    assert canonical.jcs(value) == text


def test_jcs_sorts_members_by_utf16_and_escapes_minimally() -> None:
    doc = {"b": [1, None, True], "a": 'é"\n', "\u20ac": 1, "\U0001f600": 2, "\ufb01": 3}
    assert canonical.jcs(doc) == '{"a":"é\\"\\n","b":[1,null,true],"€":1,"😀":2,"ﬁ":3}'
    with pytest.raises(ValueError, match="finite"):
        canonical.jcs(float("nan"))


def test_signature_covers_hashes_not_frame_bytes() -> None:
    doc, key = _example(), _example_key()
    value = doc["signature"]["value"]
    assert canonical.verify(doc, key, value)
    without_bytes = copy.deepcopy(doc)
    del without_bytes["frames"][0]["jpeg_b64"]
    assert canonical.verify(without_bytes, key, value)  # same signature: bytes are covered by sha256
    for mutate in (
        lambda d: d["frames"][0].__setitem__("attack_score", 0.0625001),
        lambda d: d["frames"][0].__setitem__("sha256", "0" * 64),
        lambda d: d.__setitem__("nonce", "EXAMPLEnonce00000000000000000002"),
        lambda d: d["model"].__setitem__("precision", "fp32"),
    ):
        tampered = copy.deepcopy(doc)
        mutate(tampered)
        assert not canonical.verify(tampered, key, value)  # negative control: any signed field counts
    assert not canonical.verify(doc, b"another key of 32 bytes........", value)


def test_example_validates_against_the_schema_file_and_the_server_parser() -> None:
    doc = _example()
    Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(doc)
    report = parse_report(json.dumps(doc).encode())
    assert report.model_version == "1.0.0"
    assert report.runtime == "litert"
    assert report.frames[0].jpeg is not None
    assert report_schema() == json.loads(SCHEMA_PATH.read_text())  # the server reads exactly this file


@pytest.mark.parametrize(
    ("mutate", "status", "where"),
    [
        (lambda d: d.pop("nonce"), 422, "/"),
        (lambda d: d.__setitem__("extra", 1), 422, "/"),
        (lambda d: d["frames"][0].__setitem__("attack_score", "0.5"), 422, "/frames/0/attack_score"),
        (lambda d: d["frames"][0].__setitem__("attack_score", 1.5), 422, "/frames/0/attack_score"),
        (lambda d: d["frames"][0]["quad"].pop(), 422, "/frames/0/quad"),
        (lambda d: d["model"].__setitem__("runtime", "tensorrt"), 422, "/model/runtime"),
        (lambda d: d["frames"][0].__setitem__("jpeg_b64", "not base64!"), 422, "frame 0"),
        (lambda d: d.__setitem__("frames", []), 422, "/frames"),
    ],
)
def test_parser_refuses_what_the_schema_refuses(mutate, status: int, where: str) -> None:  # type: ignore[no-untyped-def]
    doc = _example()
    mutate(doc)
    with pytest.raises(ApiError) as info:
        parse_report(json.dumps(doc).encode())
    assert info.value.status == status
    assert where in info.value.message


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"{", "not JSON"), (b'{"a": NaN}', "NaN"), (b'{"a": 1, "a": 2}', "repeats"), (b"\xff\xfe", "UTF-8")],
)
def test_strict_json(body: bytes, needle: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_report(body)
    assert info.value.status == 400
    assert needle in info.value.message

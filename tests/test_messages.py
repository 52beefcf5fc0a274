"""The messages between runner, worker and children, and the one framing all three pipes use."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

from refkit.engine.messages import (
    FRAME_HEADER,
    Finished,
    MessageDecoder,
    PreloadRequest,
    ProtocolError,
    Ready,
    RunRequest,
    Started,
    encode,
)
from refkit.engine.results import (
    CRASHED,
    ERROR,
    OK,
    TIMEOUT,
    ErrorInfo,
    OutputEvent,
    RunEnvironment,
    SnippetResult,
)

RESULT = SnippetResult(
    "topic.demo",
    OK,
    (OutputEvent("stdout", "caf\u00e9 \u20ac\n"), OutputEvent("log", "WARNING:x:y\n")),
    return_text="42",
    duration=0.25,
    environment=RunEnvironment("3.11.7", "2.13.0", "5.0.0", "0.22.0", "cpu"),
    finished_at="2025-01-01T00:00:00Z",
    truncated=True,
)

MESSAGES = [
    RunRequest("1", "topic.demo", "topic", "demo", 2.5, 1000, ("import torch", "import numpy")),
    RunRequest("2", "topic.demo", "topic", "demo", 3, 0),
    PreloadRequest(("import transformers",)),
    PreloadRequest(),
    Ready(),
    Started("1"),
    Finished("1", RESULT),
    *(
        Finished("2", SnippetResult("t.d", status, error=ErrorInfo("E", "m", "tb")))
        for status in (ERROR, TIMEOUT, CRASHED)
    ),
]


def frame(payload: object) -> bytes:
    """A well-framed payload: JSON of ``payload``, or ``payload`` itself when it is bytes."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return len(data).to_bytes(FRAME_HEADER, "big") + data


def test_every_message_survives_the_trip_in_pieces_of_any_size():
    stream = b"".join(encode(message) for message in MESSAGES)
    for size in (1, 2, 3, 5, 64, len(stream)):
        decoder = MessageDecoder()
        got = [
            message
            for start in range(0, len(stream), size)
            for message in decoder.feed(stream[start : start + size])
        ]
        assert got == MESSAGES, size
        assert decoder.buffered == 0


def test_a_message_is_yielded_only_once_its_frame_is_complete():
    data = encode(Finished("1", RESULT))
    decoder = MessageDecoder()
    assert list(decoder.feed(data[:-1])) == []
    assert decoder.buffered == len(data) - 1
    assert list(decoder.feed(data[-1:])) == [Finished("1", RESULT)]


def test_a_message_not_iterated_to_comes_out_of_the_next_feed():
    decoder = MessageDecoder()
    first = decoder.feed(encode(Started("1")) + encode(Started("2")))
    assert next(first) == Started("1")
    assert list(decoder.feed(b"")) == [Started("2")]


@pytest.mark.parametrize("timeout", [3, 2.0, 0.5])
def test_a_run_request_timeout_arrives_as_it_was_given(timeout):
    # The timeout panel quotes it: "more than 3 s" for 3, "more than 2.0 s" for 2.0.
    (request,) = MessageDecoder().feed(encode(RunRequest("1", "t.d", "t", "d", timeout, 10)))
    assert isinstance(request, RunRequest)
    assert (type(request.timeout), str(request.timeout)) == (type(timeout), str(timeout))


def test_text_utf8_cannot_hold_still_gets_across():
    # os.fsdecode of a non-UTF-8 file name gives lone surrogates; an exception message may hold one.
    result = SnippetResult("t.d", ERROR, error=ErrorInfo("OSError", "name-\udcff"))
    data = encode(Finished("1", result))
    assert data.isascii()
    assert list(MessageDecoder().feed(data)) == [Finished("1", result)]


RUN = {
    "type": "run",
    "request_id": "1",
    "snippet_id": "t.d",
    "module": "t",
    "function": "d",
    "timeout": 1.0,
    "max_output": 10,
    "preload": [],
}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"print('hello')", "not UTF-8 JSON"),
        (b'{"type": "ready"', "not UTF-8 JSON"),
        (b'{"type": "r\xe9ady"}', "not UTF-8 JSON"),
        (b"", "not UTF-8 JSON"),
        ([1, 2], "not a JSON object"),
        ({"request_id": "1"}, "unknown message type None"),
        ({"type": "result", "request_id": "1"}, "unknown message type 'result'"),
        ({"type": 3}, "unknown message type 3"),
        ({"type": "started"}, "without 'request_id'"),
        ({"type": "started", "request_id": 1}, "'request_id' must be str, not int"),
        ({**RUN, "timeout": "3"}, "'timeout' must be float, not str"),
        ({**RUN, "timeout": True}, "'timeout' must be float, not bool"),
        ({**RUN, "max_output": 1.5}, "'max_output' must be int, not float"),
        ({**RUN, "max_output": False}, "'max_output' must be int, not bool"),
        ({k: v for k, v in RUN.items() if k != "max_output"}, "without 'max_output'"),
        ({**RUN, "preload": "import torch"}, "'preload' must be list, not str"),
        ({**RUN, "preload": [1]}, "'preload' must be a list of strings"),
        ({"type": "preload"}, "without 'preload'"),
        ({"type": "finished", "request_id": "1"}, "without 'result'"),
        ({"type": "finished", "request_id": "1", "result": []}, "'result' must be dict"),
        (
            {"type": "finished", "request_id": "1", "result": {**RESULT.to_json(), "status": "?"}},
            "not a snippet result (unknown status '?'",
        ),
        (
            {"type": "finished", "request_id": "1", "result": {"status": OK}},
            "not a snippet result (a result without 'snippet_id')",
        ),
        (
            {"type": "finished", "request_id": "1", "result": {**RESULT.to_json(), "events": [1]}},
            "not a snippet result (event 0 must be an object, not int)",
        ),
        (
            {"type": "finished", "request_id": "1", "result": {**RESULT.to_json(), "error": [1]}},
            "not a snippet result (a result: 'error' must be an object or null, not list)",
        ),
    ],
)
def test_a_malformed_frame_raises_protocol_error_after_the_good_ones_before_it(payload, reason):
    decoder = MessageDecoder()
    messages = decoder.feed(encode(Ready()) + frame(payload) + encode(Started("9")))
    assert next(messages) == Ready()
    with pytest.raises(ProtocolError) as caught:
        next(messages)
    assert reason in str(caught.value)
    # The stream cannot be followed past it: every later feed raises the same error.
    with pytest.raises(ProtocolError) as again:
        list(decoder.feed(encode(Ready())))
    assert again.value is caught.value


def test_a_frame_announcing_more_than_the_limit_is_refused_before_its_body_arrives():
    decoder = MessageDecoder(max_size=100)
    assert list(decoder.feed(encode(Started("1")))) == [Started("1")]
    with pytest.raises(ProtocolError, match="announcing 101 bytes"):
        list(decoder.feed((101).to_bytes(FRAME_HEADER, "big")))


def test_text_printed_into_a_pipe_is_not_taken_for_a_frame():
    with pytest.raises(ProtocolError, match="announcing"):
        list(MessageDecoder().feed(b"Downloading model...\n"))


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        ([RunRequest, PreloadRequest], Ready()),  # the worker's stdin
        ([Ready, Started, Finished], PreloadRequest()),  # the runner's end
        ([Finished], Started("1")),  # a child's pipe
    ],
)
def test_each_end_accepts_only_the_messages_meant_for_it(accept, message):
    with pytest.raises(ProtocolError, match=f"unexpected '{message.TYPE}' message"):
        list(MessageDecoder(accept=accept).feed(encode(message)))


def test_the_worker_imports_nothing_of_refkit_but_the_messages_results_and_display():
    # The worker starts once per build; what it imports before it is ready, every build waits
    # for. Nothing heavy (torch, mkdocs, the cache, discovery, matplotlib) may come along; the
    # display module (standard library only) is where show() finds the worker's capture.
    code = (
        "import sys, refkit.engine.worker; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('refkit', 'torch', 'transformers', 'tokenizers', 'numpy', 'mkdocs', 'markdown', 'yaml',"
        " 'matplotlib')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(
        [
            "refkit",
            "refkit.engine",
            "refkit.engine.display",
            "refkit.engine.messages",
            "refkit.engine.results",
            "refkit.engine.worker",
        ]
    )

"""Starting a server: weak tokens, shared tokens and exposure beyond loopback are refused
before anything slow starts (one line, exit code 2)."""

from __future__ import annotations

import pytest

from vhuman.cli import run_main

GOOD = "0123456789abcdef-good"
CHAT = "fedcba9876543210-chat"


@pytest.mark.parametrize("argv, says", [
    (["--token", "a"], "too short"),
    (["--token", GOOD, "--chat-token", "short"], "too short"),
    (["--token", GOOD, "--chat-token", GOOD], "must differ"),
    (["--host", "0.0.0.0"], "set --token and --chat-token"),
    (["--host", "0.0.0.0", "--token", GOOD], "set --chat-token"),
    (["--host", "0.0.0.0", "--token", GOOD, "--chat-open"], "loopback only"),
    (["--host", "192.168.1.20", "--token", GOOD, "--chat-token", "x" * 15], "too short"),
])
def test_refused_before_start(argv, says, capsys, monkeypatch) -> None:
    monkeypatch.delenv("VHUMAN_TOKEN", raising=False)
    monkeypatch.delenv("VHUMAN_CHAT_TOKEN", raising=False)
    assert run_main([*argv, "--no-show", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1, err


def test_non_loopback_with_both_tokens_is_allowed_with_a_warning(capsys) -> None:
    import argparse

    from vhuman.app import check_access

    check_access(argparse.Namespace(host="0.0.0.0", token=GOOD, chat_token=CHAT,
                                    chat_open=False))
    assert "beyond this machine" in capsys.readouterr().err
    check_access(argparse.Namespace(host="127.0.0.1", token=None, chat_token=None,
                                    chat_open=True))
    assert capsys.readouterr().err == ""

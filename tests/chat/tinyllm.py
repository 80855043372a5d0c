"""Tiny GGUF models made on the spot, served by llama-cpp-python's OpenAI-compatible server.

A real server process on loopback, real llama.cpp inference, no download. Two kinds of
model, both one-layer llamas written with the ``gguf`` package:

- **scripted** (:func:`write_scripted`): attention and FFN weights are zero, embeddings are
  one-hot, and the output matrix maps each token to its successor, so greedy-ish sampling
  walks a fixed chain of tokens: the model "says" exactly the pieces given, then EOS. The
  chain starts after the prompt's last byte, whatever chat template the server uses.
- **random** (:func:`write_random`): random weights over byte tokens and a few Chinese
  pieces: it streams nonsense, which is what the moderation/grounding invariants are
  tested against.

:class:`LlamaServer` runs ``python -m llama_cpp.server --config_file`` with several such
models (``model`` in a request picks one by alias) and waits until it answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Self

import numpy as np

SPECIAL = ["<unk>", "<s>", "</s>"]
BYTES = [f"<0x{b:02X}>" for b in range(256)]
# bytes a chat template's generation prompt may end with: the chain starts after each
START_AFTER = b"\n ]>:"


def _write(path: Path, pieces: list[str], weights: dict[str, np.ndarray], n_embd: int,
           n_ff: int, n_head: int) -> Path:
    import gguf

    tokens = SPECIAL + BYTES + pieces
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list([t.encode() for t in tokens])
    w.add_token_scores([0.0] * len(tokens))
    types = ([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
             + [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * len(pieces))
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    for name, arr in weights.items():
        w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _shapes(n_vocab: int, n_embd: int, n_ff: int) -> dict[str, tuple[int, ...]]:
    return {"token_embd.weight": (n_vocab, n_embd), "output_norm.weight": (n_embd,),
            "output.weight": (n_vocab, n_embd), "blk.0.attn_norm.weight": (n_embd,),
            "blk.0.attn_q.weight": (n_embd, n_embd), "blk.0.attn_k.weight": (n_embd, n_embd),
            "blk.0.attn_v.weight": (n_embd, n_embd),
            "blk.0.attn_output.weight": (n_embd, n_embd),
            "blk.0.ffn_norm.weight": (n_embd,), "blk.0.ffn_gate.weight": (n_ff, n_embd),
            "blk.0.ffn_up.weight": (n_ff, n_embd), "blk.0.ffn_down.weight": (n_embd, n_ff)}


def write_scripted(path: Path, chain: list[str]) -> Path:
    """A model whose every answer is ``"".join(chain)`` (pieces must be distinct)."""
    if len(set(chain)) != len(chain):
        raise ValueError("chain pieces must be distinct: a piece has one successor")
    n_vocab = len(SPECIAL) + 256 + len(chain)
    n_embd = -(-n_vocab // 64) * 64
    n_ff, n_head = 64, 4
    weights = {k: np.zeros(s, np.float32) for k, s in _shapes(n_vocab, n_embd, n_ff).items()}
    weights["token_embd.weight"][np.arange(n_vocab), np.arange(n_vocab)] = 1.0
    weights["output_norm.weight"][:] = 1.0
    weights["blk.0.attn_norm.weight"][:] = 1.0
    weights["blk.0.ffn_norm.weight"][:] = 1.0
    first = len(SPECIAL) + 256
    out = weights["output.weight"]
    for b in START_AFTER:
        out[first, len(SPECIAL) + b] = 1.0       # prompt's last byte → chain start
    out[first, 1] = 1.0                          # (or BOS, for an empty prompt)
    for i in range(len(chain) - 1):
        out[first + i + 1, first + i] = 1.0      # piece i → piece i + 1
    out[2, first + len(chain) - 1] = 1.0         # last piece → EOS
    return _write(path, chain, weights, n_embd, n_ff, n_head)


def write_random(path: Path, pieces: list[str], seed: int = 0) -> Path:
    """A model with random weights over bytes and ``pieces``: it says nonsense."""
    rng = np.random.default_rng(seed)
    n_vocab = len(SPECIAL) + 256 + len(pieces)
    n_embd, n_ff, n_head = 64, 128, 4
    weights = {k: rng.normal(0, 0.3, s).astype(np.float32) if len(s) == 2
               else np.ones(s, np.float32) for k, s in _shapes(n_vocab, n_embd, n_ff).items()}
    # favour the named pieces over raw bytes, so the nonsense is mostly readable
    weights["output.weight"][len(SPECIAL) + 256:] += rng.normal(0, 1.0, (len(pieces), n_embd))
    return _write(path, pieces, weights, n_embd, n_ff, n_head)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 serving ``models`` (alias → GGUF path)."""

    def __init__(self, models: dict[str, Path], workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        cfg = {"host": "127.0.0.1", "port": self.port,
               "models": [{"model": str(p), "model_alias": alias, "n_ctx": 4096,
                           "n_threads": 1, "n_batch": 512, "chat_format": "chatml",
                           "verbose": False} for alias, p in models.items()]}
        self.config = workdir / "llama_server.json"
        self.config.write_text(json.dumps(cfg))
        self.log = workdir / "llama_server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--config_file", str(self.config)],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + 90
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("llama_cpp.server did not answer within 90 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def llama_server_available() -> bool:
    try:
        import llama_cpp.server  # noqa: F401
    except Exception:  # noqa: BLE001 - ImportError or a broken native library
        return False
    return True

"""Unit tests of the worker's parts: FedAvg, configuration, keys, encodings, the server."""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest
import torch
from substrateinterface import Keypair
from zkpot import aggregation, config, keys, protocol
from zkpot.metrics import WorkerMetrics
from zkpot.server import ModelServer, signed_headers

# -- FedAvg -----------------------------------------------------------------------------


def test_fedavg_weights_by_sample_count():
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.0])}
    b = {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor([4.0])}
    out = aggregation.fedavg([(a, 1), (b, 3)])
    assert torch.allclose(out["w"], torch.tensor([2.5, 5.0]))
    assert torch.allclose(out["b"], torch.tensor([3.0]))
    assert out["w"].dtype == torch.float32


def test_fedavg_of_one_model_is_that_model():
    a = {"w": torch.randn(3, 4)}
    assert torch.equal(aggregation.fedavg([(a, 17)])["w"], a["w"])


@pytest.mark.parametrize(
    "models, message",
    [
        ([], "nothing to aggregate"),
        ([({"w": torch.ones(2)}, 0)], "positive"),
        ([({"w": torch.ones(2)}, 1), ({"v": torch.ones(2)}, 1)], "differ"),
        ([({"w": torch.ones(2)}, 1), ({"w": torch.ones(3)}, 1)], "shape"),
        ([({"w": torch.tensor([float("nan"), 1.0])}, 1)], "non-finite"),
    ],
)
def test_fedavg_refuses_models_that_do_not_belong_together(models, message):
    with pytest.raises(aggregation.AggregationError, match=message):
        aggregation.fedavg(models)


# -- configuration ----------------------------------------------------------------------


@pytest.fixture
def task_dir(tmp_path) -> Path:
    d = tmp_path / "task"
    d.mkdir()
    (d / "task.json").write_text("{}")
    return d


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "worker.toml"
    p.write_text(text)
    return p


def test_a_valid_configuration_loads(tmp_path, task_dir):
    cfg = config.load_config(write(tmp_path, f"""
chain_url = "ws://127.0.0.1:9944"
task_id = 0
task_dir = "{task_dir}"
state_dir = "{tmp_path / 'state'}"
[key]
env = "ZKPOT_TEST_KEY"
[data]
client = 1
clients = 4
"""), env=False)
    assert cfg.data.client == 1 and cfg.base_url == "http://127.0.0.1:8700"


def test_every_problem_is_reported_on_its_own_line(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        config.load_config(write(tmp_path, """
chain_url = "http://not-a-ws-url"
task_id = -1
listen_port = 70000
device = "tpu"
[key]
[data]
client = 4
clients = 4
"""), env=False)
    problems = err.value.problems
    text = "\n".join(problems)
    for field in ("chain_url", "task_id", "listen_port", "device", "task_dir", "state_dir", "key", "data"):
        assert any(p.startswith(field) for p in problems), (field, text)
    assert all("\n" not in p for p in problems)


def test_environment_overrides_the_file(tmp_path, task_dir, monkeypatch):
    path = write(tmp_path, f"""
chain_url = "ws://127.0.0.1:9944"
task_id = 0
task_dir = "{task_dir}"
state_dir = "{tmp_path}"
[key]
env = "K"
""")
    monkeypatch.setenv("ZKPOT_WORKER_LISTEN_PORT", "9000")
    monkeypatch.setenv("ZKPOT_WORKER_TRAINING__EPOCHS", "3")
    cfg = config.load_config(path)
    assert cfg.listen_port == 9000 and cfg.training.epochs == 3
    monkeypatch.setenv("ZKPOT_WORKER_TRAINING__EPOCHS", "zero")
    with pytest.raises(config.ConfigError, match="training.epochs"):
        config.load_config(path)


def test_missing_or_broken_config_files(tmp_path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load_config(tmp_path / "nope.toml")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load_config(write(tmp_path, "chain_url = "))


# -- keys -------------------------------------------------------------------------------

MNEMONIC = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"


def test_key_from_a_private_file(tmp_path, caplog):
    p = tmp_path / "key"
    p.write_text(MNEMONIC + "\n")
    p.chmod(0o600)
    with caplog.at_level(logging.DEBUG):
        loaded = keys.from_file(p)
    assert loaded.keypair.ss58_address == Keypair.create_from_mnemonic(MNEMONIC).ss58_address
    assert MNEMONIC not in repr(loaded) and "bottom" not in caplog.text


def test_key_files_readable_by_others_are_refused(tmp_path):
    p = tmp_path / "key"
    p.write_text(MNEMONIC)
    p.chmod(0o644)
    with pytest.raises(keys.KeyLoadError, match="chmod 600") as err:
        keys.from_file(p)
    assert "bottom" not in str(err.value)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644  # nothing changed


def test_key_errors_never_contain_the_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKPOT_TEST_KEY", "not a valid mnemonic at all secretword")
    with pytest.raises(keys.KeyLoadError) as err:
        keys.from_env("ZKPOT_TEST_KEY")
    assert "secretword" not in str(err.value) and err.value.__cause__ is None
    with pytest.raises(keys.KeyLoadError, match="not set"):
        keys.from_env("ZKPOT_UNSET_KEY_VARIABLE")
    with pytest.raises(keys.KeyLoadError, match="not found"):
        keys.from_file(tmp_path / "none")


def test_key_from_env_with_a_dev_uri(monkeypatch):
    monkeypatch.setenv("ZKPOT_TEST_KEY", "//Alice")
    assert keys.from_env("ZKPOT_TEST_KEY").keypair.ss58_address == Keypair.create_from_uri("//Alice").ss58_address


def test_session_keys_proof_signs_the_owner():
    kp = Keypair.create_from_uri("//Bob")
    keys_, proof = keys.session_keys_proof(kp)
    assert keys_["aura"] == "0x" + kp.public_key.hex()
    assert kp.verify(b"POP_" + kp.public_key, proof)


# -- encodings and the server -----------------------------------------------------------


def test_compact_encoding_matches_scale():
    from scalecodec.base import RuntimeConfiguration, ScaleBytes

    rc = RuntimeConfiguration()
    for n in (0, 1, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**64):
        obj = rc.create_scale_object("Compact<u128>")
        assert protocol.compact(n) == bytes(obj.encode(n).data), n
    assert ScaleBytes  # imported for the encoder above


def test_model_server_gives_contributions_to_aggregators_only(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    model = tmp_path / "m.pt"
    model.write_bytes(b"weights")
    leader, other = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Eve")

    async def aggregators(task: int, round: int) -> set[str]:
        return {leader.ss58_address}

    server = ModelServer(WorkerMetrics(), lambda: {"round": 1}, aggregators)
    server.serve_contribution(0, 1, model, 42)

    async def run() -> None:
        async with TestClient(TestServer(server.app())) as client:
            path = "/models/contribution/0/1"
            assert (await client.get(path)).status == 401
            assert (await client.get(path, headers=signed_headers(other, path))).status == 403
            r = await client.get(path, headers=signed_headers(leader, path))
            assert r.status == 200 and await r.read() == b"weights"
            assert r.headers["X-Zkpot-Samples"] == "42"
            # A signature for another path is refused.
            assert (await client.get(path, headers=signed_headers(leader, "/x"))).status == 401
            assert (await client.get("/models/contribution/0/2", headers=signed_headers(leader, "/models/contribution/0/2"))).status == 404
            assert (await client.get("/health")).status == 200
            metrics = await (await client.get("/metrics")).text()
            assert "zkpot_proofs_total" in metrics

    asyncio.run(run())

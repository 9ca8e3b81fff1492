"""Unit tests of the worker's parts: the exact weighted sum and its file format,
commitment arithmetic, configuration, keys, encodings, the server."""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest
import torch
from substrateinterface import Keypair
from zkpot.chain import protocol
from zkpot.fl import aggregation
from zkpot.proof import commitment
from zkpot.proof.ezkl_ops import FIELD_MODULUS
from zkpot.worker import config, keys
from zkpot.worker.metrics import WorkerMetrics
from zkpot.worker.server import ModelServer

# -- the exact weighted sum and its file format -------------------------------------------

P = FIELD_MODULUS


def test_weighted_sum_is_exact_over_the_field():
    gm = aggregation.weighted_sum([[1, -2, 3], [4, 5, -6]], [2, 3])
    assert gm.total_weight == 5
    assert [commitment.signed(v) for v in gm.values] == [14, 11, -12]
    template = {"w": torch.zeros(2), "b": torch.zeros(1)}
    state = gm.to_state(template, param_scale=1)
    assert torch.allclose(state["w"], torch.tensor([14 / 10, 11 / 10]))
    assert torch.allclose(state["b"], torch.tensor([-12 / 10]))
    assert state["w"].dtype == torch.float32


@pytest.mark.parametrize(
    "vectors, weights, message",
    [
        ([], [], "at least one"),
        ([[1, 2]], [0], "positive"),
        ([[1, 2], [1]], [1, 1], "parameters"),
    ],
)
def test_weighted_sum_refuses_inputs_that_do_not_belong_together(vectors, weights, message):
    with pytest.raises(aggregation.AggregationError, match=message):
        aggregation.weighted_sum(vectors, weights)


def test_served_global_models_are_checked_before_use():
    gm = aggregation.weighted_sum([[1, -1, 7]], [3])
    data = gm.encode()
    assert aggregation.GlobalModel.decode(data, 3) == gm
    with pytest.raises(aggregation.AggregationError, match="the task 4"):
        aggregation.GlobalModel.decode(data, 4)
    with pytest.raises(aggregation.AggregationError, match="bytes"):
        aggregation.GlobalModel.decode(data[:-1], 3)
    with pytest.raises(aggregation.AggregationError, match="truncated"):
        aggregation.GlobalModel.decode(data[:5], 3)
    with pytest.raises(aggregation.AggregationError, match="magic"):
        aggregation.GlobalModel.decode(b"XXXX" + data[4:], 3)
    outside = data[:-32] + P.to_bytes(32, "big")
    with pytest.raises(aggregation.AggregationError, match="not a field element"):
        aggregation.GlobalModel.decode(outside, 3)
    zero_weight = data[:5] + (0).to_bytes(8, "big") + data[13:]
    with pytest.raises(aggregation.AggregationError, match="total weight"):
        aggregation.GlobalModel.decode(zero_weight, 3)


def test_quantization_rounds_halves_away_from_zero_like_ezkl():
    state = {"w": torch.tensor([0.5 / 64, -0.5 / 64, 1.49 / 64, -2.51 / 64])}
    assert commitment.quantize_state(state, 6) == [1, -1, 1, -3]
    with pytest.raises(commitment.CommitmentError, match="non-finite"):
        commitment.quantize_state({"w": torch.tensor([float("inf")])}, 6)


def test_aggregate_arithmetic_matches_the_sum_of_multiples():
    g = (1, 2)  # the BN254 G1 generator
    c = [commitment.encode(commitment.mul(g, k)) for k in (5, 9)]
    zero = commitment.encode(commitment.mul(g, 11))
    # 2*5 + 3*9 - (5 - 1)*11 = -7
    assert commitment.aggregate(c, [2, 3], zero) == commitment.encode(commitment.mul(g, -7))


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


def test_model_server_has_no_route_to_a_plain_contribution(tmp_path):
    """The server serves global models (public: checked against the chain's aggregate) and
    answers secure-aggregation requests; nothing serves a contribution in the clear."""
    from aiohttp.test_utils import TestClient, TestServer

    server = ModelServer(WorkerMetrics(), lambda: {"round": 1})
    server.serve_global(0, 1, tmp_path / "missing.zkps")
    routes = {r.resource.canonical for r in server.app().router.routes()}
    assert routes == {"/health", "/metrics", "/models/global/{task}/{round}", "/secagg/{task}/{round}"}

    async def run() -> None:
        async with TestClient(TestServer(server.app())) as client:
            assert (await client.get("/models/contribution/0/1")).status == 404
            assert (await client.get("/models/global/0/1")).status == 404
            # Without a participant host the worker takes no part in secure aggregation.
            assert (await client.post("/secagg/0/1", data=b"")).status == 404
            assert (await client.get("/health")).status == 200
            metrics = await (await client.get("/metrics")).text()
            assert "zkpot_proofs_total" in metrics

    asyncio.run(run())


def test_the_demos_live_view_shows_each_workers_state():
    """A terminal gets the workers' lines redrawn in place, the proof's progress included;
    a log gets one line per change of status."""
    import io

    from zkpot.devnet.demo import LiveView

    proving = {"status": "round 2: proving", "proving": {"elapsed": 12.0, "expected": 30.0}}
    later = {"status": "round 2: proving", "proving": {"elapsed": 24.0, "expected": 30.0}}
    done = {"status": "round 2: proved", "proving": None}
    log = io.StringIO()
    view = LiveView(["worker1", "worker2"], log, tty=False)
    for healths in ([proving, {}], [later, {}], [done, {}]):
        view.update(healths)
    assert log.getvalue().splitlines() == [
        "  [worker1] round 2: proving", "  [worker2] unreachable", "  [worker1] round 2: proved"]
    term = io.StringIO()
    view = LiveView(["worker1", "worker2"], term, tty=True)
    view.update([proving, {}])
    view.update([later, {}])
    view.clear()
    out = term.getvalue()
    assert "worker1        round 2: proving 40 % (12 of ~30 s)" in out
    assert "round 2: proving 80 % (24 of ~30 s)" in out
    assert out.count("\x1b[2F\x1b[J") == 2  # the second draw and the clear replace the block

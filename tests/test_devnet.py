"""The dev chain end to end: the real runtime on Chopsticks, reached through the real
substrate-interface and polkadot.js clients, and the CLI's handling of bad input."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest
from substrateinterface import Keypair
from zkpot import paths
from zkpot.chain.client import ChainClient, ExtrinsicFailed

from .conftest import REPO, ZKPOT, DevnetProcess, free_port, require_built_chain, wait_until

pytestmark = pytest.mark.chain


def read_with_polkadot_js(url: str) -> dict:
    out = subprocess.run(
        [str(paths.node_binary()), "read-chain.mjs", url],
        cwd=paths.devnet_dir(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_substrate_interface_finds_zkpot(devnet):
    client = ChainClient(devnet.url)
    assert client.chain_name() == "zkpot_dev"
    assert "Zkpot" in client.pallets()


def test_signed_transfer_is_included(devnet):
    client = ChainClient(devnet.url)
    alice = Keypair.create_from_uri("//Alice")
    dest = Keypair.create_from_uri("//zkpot-test-transfer")
    before = client.best_number()
    receipt = client.submit(
        alice, "Balances", "transfer_keep_alive", {"dest": dest.ss58_address, "value": 5 * 10**12}
    )
    assert receipt.block_number > before
    [transfer] = receipt.events_of("Balances", "Transfer")
    assert transfer["to"] == dest.ss58_address and transfer["amount"] == 5 * 10**12
    assert client.free_balance(dest.ss58_address) == 5 * 10**12
    assert receipt.fee > 0


def test_pallet_call_and_its_error(devnet):
    client = ChainClient(devnet.url)
    ferdie = Keypair.create_from_uri("//Ferdie")
    receipt = client.submit(ferdie, "Zkpot", "register_worker", {})
    [event] = receipt.events_of("Zkpot", "WorkerRegistered")
    assert event["who"] == ferdie.ss58_address
    deposit = client.constant("Zkpot", "WorkerDeposit")
    assert event["deposit"] == deposit
    with pytest.raises(ExtrinsicFailed) as err:
        client.submit(ferdie, "Zkpot", "register_worker", {})
    assert err.value.pallet == "Zkpot" and err.value.error == "AlreadyRegistered"
    assert client.query("Zkpot", "Workers", [ferdie.ss58_address])["deposit"] == deposit


def test_polkadot_js_reads_what_substrate_interface_wrote(devnet):
    client = ChainClient(devnet.url)
    charlie = Keypair.create_from_uri("//Charlie")
    client.submit(charlie, "Zkpot", "register_worker", {})
    seen = read_with_polkadot_js(devnet.url)
    assert seen["specName"] == "zkpot"
    assert seen["metadataVersion"] >= 15
    assert "Zkpot" in seen["pallets"]
    workers = {w["key"][0] for w in seen["zkpot"]["storage"]["workers"]}
    assert charlie.ss58_address in workers
    assert workers == {k for k, _ in client.query_map("Zkpot", "Workers")}
    registered = [e for e in seen["events"] if e["method"] == "WorkerRegistered"]
    assert any(e["fields"]["who"] == charlie.ss58_address for e in registered)
    assert all(e["docs"] for e in registered)
    assert seen["session"]["validators"] == client.query("Session", "Validators")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*ZKPOT, "devnet", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def no_process_on(port: int) -> bool:
    out = subprocess.run(["pgrep", "-f", f"chopsticks.cjs.*--port {port}"], capture_output=True)
    return out.returncode == 1


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("zkpot devnet:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_rejects_invalid_port():
    require_built_chain()
    assert "invalid port 70000" in one_error_line(run_cli("--port", "70000"))


def test_cli_rejects_busy_port():
    require_built_chain()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert f"port {port} on 127.0.0.1 is already in use" in one_error_line(run_cli("--port", str(port)))


def test_cli_rejects_missing_spec(tmp_path):
    line = one_error_line(run_cli("--spec", str(tmp_path / "nope.json"), "--port", str(free_port())))
    assert "chain spec not found" in line


def test_cli_reports_a_chain_that_does_not_answer_and_leaves_nothing_behind():
    require_built_chain()
    port = free_port()
    line = one_error_line(run_cli("--port", str(port), "--timeout", "0.5"))
    assert f"did not answer on ws://127.0.0.1:{port}" in line
    assert wait_until(lambda: no_process_on(port), timeout=15)


def test_ctrl_c_stops_cleanly(tmp_path):
    require_built_chain()
    port = free_port()
    chain = DevnetProcess(port, log=tmp_path / "devnet.log")
    assert chain.url == f"ws://127.0.0.1:{port}"
    assert chain.stop(signal.SIGINT) == 0
    assert wait_until(lambda: no_process_on(port), timeout=15)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is free again

"""zkpot: Zero-Knowledge Proof of Training consensus — the off-chain side.

Subpackages, one layer each:

- ``proof``: the proof-of-training statement and its ezkl pipeline — ``task`` (bundles),
  ``circuit``, ``quantize``, ``srs``, ``commitment`` (KZG model commitments),
  ``ezkl_ops``, ``prover`` and ``prove_step`` (the child process).
- ``fl``: the federated-learning strategy — ``aggregation`` (the exact weighted sum) and
  ``secagg`` (secure aggregation, transport-free).
- ``chain``: ``client`` (substrate-interface: queries, signed extrinsics, events),
  ``protocol`` (what workers submit, encoded), ``registration`` (tasks).
- ``worker``: the daemon (``daemon``) and its parts — ``config``, ``keys``, ``state``,
  ``metrics``, ``server`` (aiohttp) and ``secagg_http`` (secure aggregation between the
  workers' servers).
- ``devnet``: ``chopsticks`` (the dev chain) and ``demo`` (the one-command end-to-end run).
- ``experiments``: ``zkpot experiment``, consensus rules compared in simulation.

``cli`` is the ``zkpot`` command; ``paths`` says where the repository, build outputs and
caches are.
"""

__version__ = "0.1.0"

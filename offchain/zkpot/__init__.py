"""zkpot: Zero-Knowledge Proof of Training consensus — the off-chain side.

Modules, one capability each:

- ``paths``: where the repository, build outputs and caches are.
- ``devnet``: starts and stops the dev chain (Chopsticks on the wasm runtime).
- ``chain``: the chain client (substrate-interface): queries, signed extrinsics, events.
- ``circuit``, ``quantize``, ``task``, ``prover``: the proof-of-training statement and its
  ezkl pipeline.
- ``aggregation``: the federated-learning strategy (FedAvg).
- ``config``, ``keys``, ``state``, ``server``, ``metrics``, ``worker``: the worker daemon.
- ``demo``: the one-command end-to-end run.
"""

__version__ = "0.1.0"

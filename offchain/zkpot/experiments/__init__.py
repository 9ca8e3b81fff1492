"""``zkpot experiment``: federated-learning simulations that compare consensus rules on the
same clients, data and seeds, with pluggable attacks and a membership-inference attack.

- ``config``: the experiment's TOML configuration (an embedded default and ``--quick``).
- ``attacks``: what Byzantine clients do; a registry users extend with ``plugins``.
- ``rules``: the consensus rules (ZKPoT, FedAvg, PoS-, PoW- and learning-based), each a
  leader choice, a selection and an aggregation; also a registry.
- ``engine``: one run (rule, attack, Byzantine fraction, split, seed), the grid of runs
  in parallel, and the ``prove_every`` cross-check with real proofs.
- ``privacy``: the loss-threshold membership-inference attack (Yeom et al. 2018).
- ``report``: CSV and JSON, PNG plots and the markdown summary.
"""

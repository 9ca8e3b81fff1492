"""Proving: task bundles (circuit, keys, SRS, the statement), quantization, model
commitments (KZG ``polycommit``) and the ezkl prover run in child processes."""

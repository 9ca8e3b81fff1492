"""The worker daemon (``daemon``) and what it runs on: configuration, account keys, its
durable round state, metrics, its HTTP server and secure aggregation between servers."""

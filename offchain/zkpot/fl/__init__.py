"""The federated-learning strategy, free of transport and chain: the exact weighted sum of
quantized models (``aggregation``) and the secure-aggregation protocol (``secagg``)."""

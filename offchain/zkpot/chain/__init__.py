"""The chain side: the substrate-interface client of the zkpot runtime (``client``), the
encodings workers submit (``protocol``: commit digests, SCALE) and task registration."""

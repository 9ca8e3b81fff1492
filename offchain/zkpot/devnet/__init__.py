"""The development network: the runtime in Chopsticks (``chopsticks``) and ``zkpot demo``."""

"""The election dashboard: a live web page of the chain's ZKPoT state (``zkpot dashboard``)."""

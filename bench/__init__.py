"""Benchmarks of the whole stack (`make bench`): turn latency through the gateway and straight
to Rasa, exactly-once counts, cold start, training time and memory. See bench/run.py."""

"""Reliability tests (#12): faults injected on a real local Ray; bad input refused before Ray starts."""

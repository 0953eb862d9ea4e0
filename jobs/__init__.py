"""Scheduled jobs: price scans per region and news polls, producing typed alerts."""

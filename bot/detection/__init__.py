"""Detection (pure): returns, snapshots, baselines, the detector, regions, calendars, backtests."""

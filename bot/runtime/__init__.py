"""Runtime: the one wiring of sources, store, pipeline, jobs and sinks for every mode."""

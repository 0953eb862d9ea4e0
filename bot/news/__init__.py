"""News watch: feeds fetched and parsed, headlines matched to the AI supply chain."""

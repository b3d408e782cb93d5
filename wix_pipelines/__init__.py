"""wix-pipelines: Wix contacts, reviews, ratings and review requests in DuckDB, with two-way sync."""

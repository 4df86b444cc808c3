"""Engagement metrics: snapshots of published posts, followers, competitors and site
traffic, kept in git under data/metrics/ (see `store`), collected on an age schedule
(see `schedule`) by one reader per platform (see `registry`)."""

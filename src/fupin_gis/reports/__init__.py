"""Reports from coverage snapshots: villages lacking infrastructure, summaries, plan versus actual, households, changes."""

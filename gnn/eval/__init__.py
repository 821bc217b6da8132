"""Evaluation on the cold-start protocol of DESIGN.md §4: split, metrics, baselines, runner."""

"""Figures: timelines, attention maps, MM-CSE interpretability."""

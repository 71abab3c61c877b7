"""Optimizers, parameter groups and learning-rate control (schedules, Newbob, the learning-rate file)."""

"""Example configurations and builders for sources shaped differently from ours."""

"""widget package."""

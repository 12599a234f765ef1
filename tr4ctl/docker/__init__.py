"""The one door to Docker: pure argv builders, one runner, the engine facade, one wait."""

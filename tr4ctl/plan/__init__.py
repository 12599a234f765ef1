"""The pure layer: decides what to do (names, files, configs, verdicts); touches nothing."""

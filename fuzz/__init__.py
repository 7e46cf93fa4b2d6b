"""Coverage-guided fuzzing of every parser that reads bytes from the network or a file.

``targets.py`` names each target and the exceptions it may raise (the parser's own error
type); anything else is a finding. ``python -m fuzz`` runs each target under atheris
(libFuzzer) for a set time, starting from the committed seeds in ``fuzz/seeds/<target>/``,
and prints the executions and findings per target. ``tests/test_fuzz_seeds.py`` replays the
seeds (and every crash reproducer committed there) in the ordinary test run.
"""

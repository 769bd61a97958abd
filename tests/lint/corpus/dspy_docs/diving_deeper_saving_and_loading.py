# mypy: ignore-errors
# Source: github.com/stanfordnlp/dspy, docs/docs/diving-deeper/saving-and-loading.md at commit 4ed377ee9110e912d4f5e1be43b317b87455053c
# Licence: MIT, Copyright (c) 2023 Stanford Future Data Systems (see LICENSE-dspy).
# The page's Python code blocks, in order; 0 block(s) that are not valid Python on their own were left out.
# Data for the linter's corpus test: never imported or run.

program = HaikuEnsemble(n=5)        # same construction as when saved
program.load("haiku_ensemble.json") # state slots in

program = dspy.load("haiku_ensemble/", allow_pickle=True)

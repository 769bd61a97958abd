# mypy: ignore-errors
# Source: github.com/stanfordnlp/dspy, docs/docs/getting-started/saving-and-loading.md at commit 4ed377ee9110e912d4f5e1be43b317b87455053c
# Licence: MIT, Copyright (c) 2023 Stanford Future Data Systems (see LICENSE-dspy).
# The page's Python code blocks, in order; 0 block(s) that are not valid Python on their own were left out.
# Data for the linter's corpus test: never imported or run.

# state-only — small file, requires re-instantiating the program before loading
optimized_haiku_bot.save("haiku_bot.json")

# whole program — directory, rehydrates without you re-defining the class
optimized_haiku_bot.save("haiku_bot/", save_program=True)

# whole program
loaded = dspy.load("haiku_bot/")

# state-only
fresh = dspy.ReAct(HaikuBot, tools=[wikipedia_search, get_wikipedia_page])
fresh.load("haiku_bot.json")

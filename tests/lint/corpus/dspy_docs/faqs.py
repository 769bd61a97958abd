# mypy: ignore-errors
# Source: github.com/stanfordnlp/dspy, docs/docs/faqs.md at commit 4ed377ee9110e912d4f5e1be43b317b87455053c
# Licence: MIT, Copyright (c) 2023 Stanford Future Data Systems (see LICENSE-dspy).
# The page's Python code blocks, in order; 0 block(s) that are not valid Python on their own were left out.
# Data for the linter's corpus test: never imported or run.

cot_compiled = teleprompter.compile(CoT(), trainset=trainset, valset=devset)

#Saving
cot_compiled.save('compiled_cot_gsm8k.json')

#Loading:
cot = CoT()
cot.load('compiled_cot_gsm8k.json')

dspy.LM('openai/gpt-4o-mini',  cache=False)

os.environ["DSP_NOTEBOOK_CACHEDIR"] = os.path.join(os.getcwd(), 'cache')

import logging
logging.getLogger("dspy").setLevel(logging.DEBUG)

import logging
logging.getLogger("dspy").setLevel(logging.WARNING)

# mypy: ignore-errors
# Source: github.com/stanfordnlp/dspy, docs/docs/diving-deeper/tools.md at commit 4ed377ee9110e912d4f5e1be43b317b87455053c
# Licence: MIT, Copyright (c) 2023 Stanford Future Data Systems (see LICENSE-dspy).
# The page's Python code blocks, in order; 0 block(s) that are not valid Python on their own were left out.
# Data for the linter's corpus test: never imported or run.

def search(query: str, limit: int = 5) -> list[str]:
    """Search the knowledge base for relevant passages."""
    return index.search(query, limit=limit)

agent = dspy.ReAct("question -> answer", tools=[search])

search_tool = dspy.Tool(
    search,
    name="search_docs",
    desc="Search the product documentation.",
)

async_search_tool = dspy.Tool(async_search)

with dspy.context(allow_tool_async_sync_conversion=True):
    result = async_search_tool(query="DSPy")

adapter = dspy.ChatAdapter(use_native_function_calling=True)

with dspy.context(adapter=adapter):
    result = agent(question="What changed in DSPy 3.3?")

calls = dspy.ToolCalls.from_dict_list([
    {"name": "search", "args": {"query": "DSPy tools"}},
])

dspy_tool = dspy.Tool.from_mcp_tool(session, mcp_tool)

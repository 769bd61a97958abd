"""estimate_tokens: a quarter of the text's characters plus the largest answer, on real lm15 requests."""

from __future__ import annotations

import math

from dspy.lm15 import Config, FunctionTool, ImagePart, Message, Request, TextPart, ToolCallPart

from sharedlm._flow import estimate_tokens
from sharedlm._flow._estimate import DEFAULT_OUTPUT_TOKENS, MEDIA_PART_TOKENS


def test_text_counts_a_token_per_four_characters_plus_max_tokens():
    request = Request(model="m", messages=(Message.user("x" * 40),), system="s" * 20, config=Config(max_tokens=100))
    assert estimate_tokens(request) == 15 + 100


def test_characters_are_rounded_up_to_whole_tokens():
    request = Request(model="m", messages=(Message.user("abcde"),), config=Config(max_tokens=1))
    assert estimate_tokens(request) == 2 + 1


def test_without_max_tokens_the_default_answer_is_booked():
    request = Request(model="m", messages=(Message.user("abcd"),))
    assert estimate_tokens(request) == 1 + DEFAULT_OUTPUT_TOKENS


def test_every_message_of_the_conversation_counts():
    messages = (Message.user("a" * 8), Message.assistant("b" * 8), Message.user("c" * 8))
    request = Request(model="m", messages=messages, config=Config(max_tokens=10))
    assert estimate_tokens(request) == 6 + 10


def test_a_system_prompt_given_as_parts_counts():
    request = Request(model="m", messages=(Message.user("a" * 4),), system=(TextPart(text="s" * 12),),
                      config=Config(max_tokens=1))
    assert estimate_tokens(request) == 4 + 1


def test_tool_definitions_and_tool_calls_count():
    tool = FunctionTool(name="lookup", description="d" * 40, parameters={"type": "object", "properties": {}})
    call = Message.assistant([ToolCallPart(id="1", name="lookup", input={"q": "x"})])
    plain = Request(model="m", messages=(Message.user("hi"),), config=Config(max_tokens=1))
    with_tools = Request(model="m", messages=(Message.user("hi"), call, Message.tool("1", "r" * 40)),
                         tools=(tool,), config=Config(max_tokens=1))
    chars_added = len("lookup") + 40 + len(str(tool.parameters)) + len("lookup") + len(str({"q": "x"})) + 40
    assert estimate_tokens(with_tools) == math.ceil((2 + chars_added) / 4) + 1
    assert estimate_tokens(with_tools) > estimate_tokens(plain)


def test_each_image_books_a_fixed_allowance():
    message = Message.user([TextPart(text="abcd"), ImagePart(url="https://example.com/a.png")])
    request = Request(model="m", messages=(message,), config=Config(max_tokens=1))
    assert estimate_tokens(request) == 1 + MEDIA_PART_TOKENS + 1

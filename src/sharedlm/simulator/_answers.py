"""Deterministic answers that the DSPy program which asked can parse.

DSPy's adapters describe the answer they expect in the prompt: ChatAdapter lists the output fields and asks for
``[[ ## field ## ]]`` sections ending with ``[[ ## completed ## ]]``; JSONAdapter asks for a JSON object with the
same fields, often with a JSON schema in ``response_format``. The type of each field shows in a note of the
prompt's structure section ("must be a single int value", "must adhere to the JSON schema: {...}", ...).
:class:`AnswerBook` reads that once per distinct prompt template, caches it, and renders one of a few variants
per request, so that repeated prompts cost two dictionary look-ups.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sharedlm.simulator._schema import schema_instance, word

# Distinct answers per prompt template; a request's fingerprint picks one.
VARIANTS = 16
# Templates (and their rendered variants) kept before the cache starts over.
_MAX_TEMPLATES = 1024
CHARS_PER_TOKEN = 4

_OUTPUTS_HEADER = "Your output fields are:"
_STRUCTURE_HEADER = "All interactions will be structured in the following way"
_JSON_STRUCTURE_HEADER = "Outputs will be a JSON object with the following fields."
_COMPLETED = "[[ ## completed ## ]]"
_OUTPUT_LINE = re.compile(r"^\d+\. `(\w+)` \((.*?)\):(?: |$)", re.MULTILINE)
_NOTE = re.compile(r"^\{(\w+)\}[ \t]+# note: the value you produce (.*)$", re.MULTILINE)
_CHAT_REQUIREMENT = re.compile(r"`\[\[ ## (\w+) ## \]\]`")
_JSON_REQUIREMENT = re.compile(r"(?:: |, then )`(\w+)`")


def count_tokens(chars: int) -> int:
    """Tokens of a text of ``chars`` characters, at about four characters per token (at least 1)."""
    return max(1, -(-chars // CHARS_PER_TOKEN))


@dataclass(frozen=True, slots=True)
class Prompt:
    """What an answer depends on, extracted from any of the supported wire formats.

    Args:
        system: The system instruction ("" when there is none).
        user: The text of the last user message.
        json_mode: The client asked for a JSON answer.
        schema: The JSON schema the answer must follow, when the client sent one.
        schema_key: A hashable stand-in for ``schema`` (its canonical JSON), for the template cache.
        prompt_tokens: Tokens of the whole prompt (see :func:`count_tokens`).
    """

    system: str
    user: str
    json_mode: bool = False
    schema: Mapping[str, Any] | None = None
    schema_key: str | None = None
    prompt_tokens: int = 1


@dataclass(frozen=True, slots=True)
class Answer:
    """One rendered answer: the assistant text and its token count."""

    content: str
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One output field the prompt asks for, and the kind of value it takes."""

    name: str
    kind: str  # "text", "bool", "int", "float", "choice", "schema"
    choices: tuple[Any, ...] = ()
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """How to answer one prompt template: as ``chat`` sections, a ``json`` object, a ``schema`` value or ``text``."""

    mode: str
    fields: tuple[FieldSpec, ...] = ()
    schema: Mapping[str, Any] | None = None


class AnswerBook:
    """The answer template cache: prompt template -> rendered variants."""

    __slots__ = ("_templates",)

    def __init__(self) -> None:
        self._templates: dict[tuple[Any, ...], list[Answer | None]] = {}

    def __repr__(self) -> str:
        return f"AnswerBook(templates={len(self._templates)})"

    def __len__(self) -> int:
        return len(self._templates)

    def answer(self, prompt: Prompt, fingerprint: int) -> Answer:
        """The answer to ``prompt``; ``fingerprint`` (stable for a given request and seed) picks the variant.

        Args:
            prompt: The request's prompt.
            fingerprint: A number derived from the request body and the seed.
        """
        system = prompt.system
        if _OUTPUTS_HEADER in system or not prompt.user:
            key: tuple[Any, ...] = (system, prompt.json_mode, prompt.schema_key)
        else:
            key = (system, prompt.json_mode, prompt.schema_key, _requirements_line(prompt.user))
        variants = self._templates.get(key)
        if variants is None:
            if len(self._templates) >= _MAX_TEMPLATES:
                self._templates.clear()
            variants = self._templates[key] = [None] * VARIANTS
        variant = fingerprint % VARIANTS
        answer = variants[variant]
        if answer is None:
            content = render(read_spec(prompt), variant)
            answer = variants[variant] = Answer(content, count_tokens(len(content)))
        return answer


def _requirements_line(user: str) -> str:
    start = user.rfind("Respond with ")
    return user[start:] if start >= 0 else ""


# --- Reading what the prompt asks for ----------------------------------------------------------------------------


def read_spec(prompt: Prompt) -> AnswerSpec:
    """Work out from a prompt which answer format and which output fields it expects.

    Args:
        prompt: The request's prompt.
    """
    system = prompt.system
    json_asked = prompt.json_mode or _JSON_STRUCTURE_HEADER in system
    if prompt.schema is not None and not _is_free_object(prompt.schema):
        return AnswerSpec("schema", schema=prompt.schema)
    fields = _fields_from_system(system)
    if not fields:
        fields = _fields_from_user(prompt.user, json_asked)
    if json_asked:
        return AnswerSpec("json", fields or (FieldSpec("answer", "text"),))
    if fields and (_COMPLETED in system or _COMPLETED in prompt.user):
        return AnswerSpec("chat", fields)
    return AnswerSpec("text")


def _is_free_object(schema: Mapping[str, Any]) -> bool:
    """A schema that constrains nothing (``{}`` or a bare object), which DSPy's field list describes better."""
    return not schema or (set(schema) <= {"type", "title", "additionalProperties"} and schema.get("type") == "object"
                          and not isinstance(schema.get("additionalProperties"), Mapping))


def _fields_from_system(system: str) -> tuple[FieldSpec, ...]:
    start = system.find(_OUTPUTS_HEADER)
    if start < 0:
        return ()
    end = system.find(_STRUCTURE_HEADER, start)
    listing = system[start:end if end >= 0 else len(system)]
    annotations = {m.group(1): m.group(2) for m in _OUTPUT_LINE.finditer(listing)}
    if not annotations:
        return ()
    notes = _notes(system[end:] if end >= 0 else "")
    return tuple(_field(name, annotation, notes.get(name, "")) for name, annotation in annotations.items())


def _notes(structure: str) -> dict[str, str]:
    notes = {m.group(1): m.group(2) for m in _NOTE.finditer(structure)}
    at = structure.find(_JSON_STRUCTURE_HEADER)
    brace = structure.find("{", at) if at >= 0 else -1
    if brace >= 0:
        try:
            block, _ = json.JSONDecoder().raw_decode(structure, brace)
        except ValueError:
            block = None
        if isinstance(block, dict):
            for value in block.values():
                match = _NOTE.match(value) if isinstance(value, str) else None
                if match:
                    notes[match.group(1)] = match.group(2)
    return notes


def _fields_from_user(user: str, json_asked: bool) -> tuple[FieldSpec, ...]:
    line = _requirements_line(user)
    pattern = _JSON_REQUIREMENT if json_asked and "JSON object" in line else _CHAT_REQUIREMENT
    names = dict.fromkeys(m.group(1) for m in pattern.finditer(line) if m.group(1) != "completed")
    return tuple(FieldSpec(name, "text") for name in names)


def _field(name: str, annotation: str, note: str) -> FieldSpec:
    if note.startswith("must be True or False"):
        return FieldSpec(name, "bool")
    if note.startswith("must be a single int value"):
        return FieldSpec(name, "int")
    if note.startswith("must be a single float value"):
        return FieldSpec(name, "float")
    for lead in ("must exactly match (no extra characters) one of: ", "must be one of: "):
        if note.startswith(lead):
            choices = _literal_choices(annotation) or tuple(note[len(lead):].split("; "))
            return FieldSpec(name, "choice", choices=choices)
    lead = "must adhere to the JSON schema: "
    if note.startswith(lead):
        try:
            schema = json.loads(note[len(lead):])
        except ValueError:
            schema = None
        if isinstance(schema, Mapping):
            return FieldSpec(name, "schema", schema=schema)
    return FieldSpec(name, "text")


def _literal_choices(annotation: str) -> tuple[Any, ...]:
    """The members of ``Literal[...]`` with their Python types, so 1 stays an int and 'a; b' stays one string."""
    if not (annotation.startswith("Literal[") and annotation.endswith("]")):
        return ()
    try:
        members = ast.literal_eval(f"[{annotation[len('Literal['):-1]}]")
    except (ValueError, SyntaxError):
        return ()
    return tuple(members)


# --- Rendering -----------------------------------------------------------------------------------------------------


def render(spec: AnswerSpec, variant: int) -> str:
    """The assistant text for ``spec``, variant ``variant``.

    Args:
        spec: What the prompt asks for.
        variant: Which of the deterministic variants to render.
    """
    if spec.mode == "schema" and spec.schema is not None:
        return _dumps(schema_instance(spec.schema, variant))
    if spec.mode == "json":
        return _dumps({f.name: _value(f, variant + i) for i, f in enumerate(spec.fields)})
    if spec.mode == "chat":
        sections = [f"[[ ## {f.name} ## ]]\n{_chat_text(f, _value(f, variant + i))}" for i, f in enumerate(spec.fields)]
        return "\n\n".join(sections) + "\n\n" + _COMPLETED
    return _sentence("answer", variant)


def _sentence(name: str, variant: int) -> str:
    return f"Simulated {name} {variant}: {word(variant)} {word(variant, 1)} {word(variant, 2)} {word(variant, 4)}."


_PLAIN: dict[str, Callable[[str, int], Any]] = {
    "text": _sentence,
    "bool": lambda _name, v: v % 2 == 0,
    "int": lambda _name, v: v % 7 + 1,
    "float": lambda _name, v: 0.25 + (v % 8) * 0.125,
}


def _value(field: FieldSpec, variant: int) -> Any:
    if field.kind == "choice":
        return field.choices[variant % len(field.choices)] if field.choices else ""
    if field.kind == "schema" and field.schema is not None:
        return schema_instance(field.schema, variant)
    return _PLAIN.get(field.kind, _sentence)(field.name, variant)


def _chat_text(field: FieldSpec, value: Any) -> str:
    if isinstance(value, str):
        if field.kind != "schema" or _is_optional_plain_string(field.schema or {}):
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool | int | float) and field.kind != "schema":
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _is_optional_plain_string(schema: Mapping[str, Any]) -> bool:
    """``str | None``: DSPy keeps such a value verbatim, so it must not be JSON-quoted."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema.get("type") == "string" and "format" not in schema and "enum" not in schema
    return any(isinstance(o, Mapping) and o.get("type") == "string" and "format" not in o and "enum" not in o
               for o in options)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


__all__ = ["VARIANTS", "Answer", "AnswerBook", "AnswerSpec", "FieldSpec", "Prompt", "count_tokens", "read_spec",
           "render"]

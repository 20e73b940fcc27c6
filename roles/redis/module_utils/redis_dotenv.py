# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Env files as python-dotenv reads them: quoting and in-place edits of single keys.

Used by the redis_env_file module (the atomic write is in redis_files). Runs on the managed hosts:
keep it compatible with Python 3.9 (RHEL 9).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import quote as url_quote

MASK = "********"

# python-dotenv expands ${NAME} and ${NAME:-default} even inside single quotes and has no
# escape for it. ${:-$} expands to a literal "$" (no variable can have an empty name), so
# writing it for every "$" that starts "${" keeps the value literal.
_LITERAL_DOLLAR = "${:-$}"

# Characters no value may hold: python-dotenv reads files with universal newlines (a CR becomes
# LF), a line break would make the value span lines for other readers, and NUL ends C strings.
_FORBIDDEN = re.compile(r"[\r\n\x00]")
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def dotenv_quote(value: str) -> str:
    """Quote value so that python-dotenv reads it back byte-for-byte.

    The same function as the role's redis_dotenv_quote filter (filter_plugins/redis_filters.py).
    Single quotes: python-dotenv then only decodes \\\\ and \\' (and still expands ${...}).
    Plain values without a quote, backslash or "${" stay as they are inside the quotes, so
    other .env readers such as docker compose read the same value.
    """
    if not isinstance(value, str):
        raise TypeError(f"dotenv_quote expects a string, got {type(value).__name__}")
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("${", _LITERAL_DOLLAR + "{")
    return f"'{escaped}'"


def reads_back_bare(value: str) -> bool:
    """Whether KEY=value, unquoted, reads back as exactly value through python-dotenv."""
    return not (
        value.startswith(("'", '"', "#"))
        or re.search(r"^\s|\s$", value)
        or value != value.strip()
        or re.search(r"\s#", value)
        or "${" in value
        or _FORBIDDEN.search(value)
    )


def render_value(value: str, quote: bool) -> str:
    """The text after KEY=: quoted when asked to, or when the bare value would not read back."""
    return dotenv_quote(value) if quote or not reads_back_bare(value) else value


def value_problem(value: object) -> str | None:
    """Why value cannot be written to an env file (the value itself is never part of the answer)."""
    if not isinstance(value, str):
        return f"must be a string or null, not {type(value).__name__} (quote true, false and numbers in YAML)"
    if _FORBIDDEN.search(value):
        return "must be on one line (it holds a line break, a carriage return or a NUL character)"
    return None


# The grammar of python-dotenv's parser (dotenv/parser.py of python-dotenv 1.x), so that a key is
# found where python-dotenv finds it: a quoted value that spans lines is one binding, and a line
# inside it that looks like KEY=... is no binding.
_MULTILINE_WHITESPACE = re.compile(r"\s*", re.MULTILINE)
_EXPORT = re.compile(r"(?:export[^\S\r\n]+)?")
_SINGLE_QUOTED_KEY = re.compile(r"'([^']+)'")
_UNQUOTED_KEY = re.compile(r"([^=\#\s]+)")
_WHITESPACE = re.compile(r"[^\S\r\n]*")
_EQUAL_SIGN = re.compile(r"(=[^\S\r\n]*)")
_SINGLE_QUOTED_VALUE = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_DOUBLE_QUOTED_VALUE = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_UNQUOTED_VALUE = re.compile(r"([^\r\n]*)")
_COMMENT = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?")
_END_OF_LINE = re.compile(r"[^\S\r\n]*(\r\n|\n|\r|$)")
_REST_OF_LINE = re.compile(r"[^\r\n]*(\r|\n|\r\n)?")
_DOUBLE_QUOTE_ESCAPES = re.compile(r"\\[\\'\"abfnrtv]")
_SINGLE_QUOTE_ESCAPES = re.compile(r"\\[\\']")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")


class _ParseError(Exception):
    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos  # where the parse failed: python-dotenv skips the rest of the line from there


@dataclass
class Segment:
    """A piece of an env file; joined in order, the segments are the file's text, byte for byte.

    kind: "space" (blank lines, a BOM), "comment", "error" (a line python-dotenv cannot parse)
    or "binding" (a key, with or without a value; text includes its indentation and line break).
    """

    kind: str
    text: str
    indent: str = ""
    export: str = ""
    key: str | None = None
    value: str | None = None  # as python-dotenv decodes it (before ${...} expansion); None: no "="
    line_break: str = ""
    modified: bool = False


def _match(regex: re.Pattern[str], text: str, pos: int) -> re.Match[str]:
    found = regex.match(text, pos)
    if found is None:
        raise _ParseError(pos)
    return found


def _decode(regex: re.Pattern[str], value: str) -> str:
    return regex.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"), value)


def _value(text: str, pos: int) -> tuple[str, int]:
    char = text[pos : pos + 1]
    if char == "'":
        found = _match(_SINGLE_QUOTED_VALUE, text, pos)
        return _decode(_SINGLE_QUOTE_ESCAPES, found.group(1)), found.end()
    if char == '"':
        found = _match(_DOUBLE_QUOTED_VALUE, text, pos)
        return _decode(_DOUBLE_QUOTE_ESCAPES, found.group(1)), found.end()
    if char in ("", "\n", "\r"):
        return "", pos
    found = _match(_UNQUOTED_VALUE, text, pos)
    return re.sub(r"\s+#.*", "", found.group(1)).rstrip(), found.end()


def _binding(text: str, start: int, pos: int) -> tuple[Segment, int]:
    """The binding (or comment) that starts at pos; start is where its indentation begins."""
    indent = text[start:pos]
    export_match = _match(_EXPORT, text, pos)
    pos = export_match.end()
    key: str | None = None
    char = text[pos : pos + 1]
    if char != "#":
        found = _match(_SINGLE_QUOTED_KEY if char == "'" else _UNQUOTED_KEY, text, pos)
        key, pos = found.group(1), found.end()
    pos = _match(_WHITESPACE, text, pos).end()
    value: str | None = None
    if text[pos : pos + 1] == "=":
        equal_sign = _match(_EQUAL_SIGN, text, pos)
        pos = equal_sign.end()
        if len(equal_sign.group(1)) > 1 and text[pos : pos + 1] == "#":
            value = ""
        else:
            value, pos = _value(text, pos)
    pos = _match(_COMMENT, text, pos).end()
    end_of_line = _match(_END_OF_LINE, text, pos)
    segment = Segment(
        kind="comment" if key is None else "binding",
        text=text[start : end_of_line.end()],
        indent=indent,
        export=export_match.group(0),
        key=key,
        value=value,
        line_break=end_of_line.group(1),
    )
    return segment, end_of_line.end()


def parse(text: str) -> list[Segment]:
    """The segments of an env file, found like python-dotenv's parse_stream finds its bindings."""
    segments: list[Segment] = []
    pos = 0
    if text.startswith("\ufeff"):
        segments.append(Segment("space", "\ufeff"))
        pos = 1
    while pos < len(text):
        blank = _MULTILINE_WHITESPACE.match(text, pos)
        assert blank is not None  # \s* always matches
        # Whole blank lines stay a segment of their own; the rest is the binding's indentation.
        last_break = max(blank.group(0).rfind("\n"), blank.group(0).rfind("\r")) + 1
        if last_break:
            segments.append(Segment("space", text[pos : pos + last_break]))
        start, pos = pos + last_break, blank.end()
        if pos >= len(text):
            if start < pos:
                segments.append(Segment("space", text[start:pos]))
            break
        try:
            segment, pos = _binding(text, start, pos)
        except _ParseError as exc:
            rest = _REST_OF_LINE.match(text, exc.pos)
            assert rest is not None  # matches the empty string at worst
            segment = Segment("error", text[start : rest.end()], line_break=rest.group(1) or "")
            pos = rest.end()
        segments.append(segment)
    return segments


@dataclass
class Edit:
    """The result of setting keys in an env file's text."""

    before: list[Segment]
    after: list[Segment]
    changed_keys: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.after)


def newline_of(text: str) -> str:
    """The file's own line break (that of its first line), LF for a file without one."""
    found = _LINE_BREAK.search(text)
    return found.group(0) if found else "\n"


def set_keys(text: str, wanted: Mapping[str, str | None], quoted: Iterable[str] = ()) -> Edit:
    """Set every key of wanted in the env file text; a None value removes the key.

    The first binding of a key is replaced in place (its indentation and "export " stay); later
    bindings of the same key are removed, since python-dotenv would let them win. Keys the file
    does not have yet are appended in the order of wanted. Every other byte stays as it is.
    Values of keys in quoted are always quoted; others only when they would not read back bare.
    """
    quoted = set(quoted)
    before = parse(text)
    after: list[Segment] = []
    seen: set[str] = set()
    changed: set[str] = set()
    for segment in before:
        key = segment.key
        if segment.kind != "binding" or key is None or key not in wanted:
            after.append(segment)
            continue
        value = wanted[key]
        if value is None or key in seen:
            changed.add(key)
            continue
        seen.add(key)
        line = f"{segment.indent}{segment.export}{key}={render_value(value, key in quoted)}{segment.line_break}"
        if line == segment.text:
            after.append(segment)
        else:
            changed.add(key)
            after.append(
                Segment(
                    "binding", line, segment.indent, segment.export, key, _read(line), segment.line_break, modified=True
                )
            )
    newline = newline_of(text)
    for key, value in wanted.items():
        if value is None or key in seen:
            continue
        if after and not after[-1].text.endswith(("\n", "\r")):
            # The last line gets the line break it lacks (python-dotenv counts it to that line).
            last = after[-1]
            after[-1] = replace(last, text=last.text + newline, line_break=last.line_break or newline)
        line = f"{key}={render_value(value, key in quoted)}{newline}"
        after.append(Segment("binding", line, key=key, value=_read(line), line_break=newline, modified=True))
        changed.add(key)
    edit = Edit(before, after, [key for key in wanted if key in changed])
    _verify(edit)
    return edit


class EditError(ValueError):
    """The edited file would not read back as intended (the message holds no value)."""


def _read(line: str) -> str | None:
    """The value of a KEY=... line as python-dotenv decodes it (before ${...} expansion)."""
    return next(s.value for s in parse(line) if s.kind == "binding")


def _structure(segments: Iterable[Segment]) -> list[tuple[str, str | None, str | None]]:
    """What python-dotenv makes of the segments: each binding's key and value, and the unparsable lines."""
    return [(s.kind, s.key, s.value) for s in segments if s.kind in ("binding", "error")]


def _verify(edit: Edit) -> None:
    """Parse the new text again: it must consist of exactly the intended bindings. A quote the
    file leaves open, for instance, could otherwise swallow an appended line."""
    if _structure(parse(edit.text)) == _structure(edit.after):
        return
    text = "".join(segment.text for segment in edit.before)
    where = ""
    offset = 0
    for segment in edit.before:
        if segment.kind == "error":
            where = f" (see line {len(_LINE_BREAK.findall(text[:offset])) + 1})"
            break
        offset += len(segment.text)
    raise EditError(
        f"python-dotenv would not read the changed file as intended: a quote in it is probably not closed{where}, "
        "so that changed lines would become part of another value. Fix the file first."
    )


def sensitive_strings(values: Iterable[str]) -> list[str]:
    """Every form a secret can take in an env file: as is, quoted for python-dotenv, URL-encoded."""
    forms: set[str] = set()
    for value in values:
        if value:
            # A value read from the file may still hold the quoting's ${:-$}{ for "${".
            for plain in {value, value.replace(_LITERAL_DOLLAR + "{", "${")}:
                forms.update({plain, dotenv_quote(plain)[1:-1], url_quote(plain, safe="")})
    return sorted((form for form in forms if form), key=len, reverse=True)


def masked_text(segments: Iterable[Segment], shown_keys: Iterable[str], hidden: Iterable[str]) -> str:
    """The file's text for a diff: only the values of shown_keys are visible.

    Every other binding's value (secret keys, and the file's own keys, which may be database
    URLs or API keys) is replaced by MASK, lines python-dotenv cannot parse are hidden entirely,
    and each string of hidden is masked wherever else it appears (a comment, a URL).
    """
    shown = set(shown_keys)
    strings = sensitive_strings(hidden)

    def mask(text: str) -> str:
        for string in strings:
            text = text.replace(string, MASK)
        return text

    parts: list[str] = []
    for segment in segments:
        if segment.kind == "space":
            parts.append(segment.text)
        elif segment.kind == "comment":
            parts.append(mask(segment.text))
        elif segment.kind == "error":
            parts.append(MASK + segment.line_break)
        elif segment.key in shown:
            parts.append(mask(segment.text))
        else:
            line = f"{segment.indent}{segment.export}{segment.key}"
            if segment.value is not None:
                line += "=" + MASK
                if segment.modified:
                    line += "  # new value (not shown)"
            parts.append(line + segment.line_break)
    return "".join(parts)

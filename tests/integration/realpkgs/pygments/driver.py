"""A legacy "code snippets to HTML" script: lexers and a formatter built by pygments' factories.

It uses pygments as its documentation says and knows nothing about capturing.
"""

from pygments import highlight
from pygments.formatters import get_formatter_by_name
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

SNIPPETS = [
    ("python", "def add(a, b):\n    return a + b\n"),
    ("sql", "SELECT id, name FROM users WHERE id = 1;"),
    ("json", '{"retries": 3, "verbose": true}'),
    ("legacy-basic", '10 PRINT "HELLO"'),  # no such lexer: shown as plain text
]


def main() -> None:
    formatter = get_formatter_by_name("html", style="friendly", cssclass="snippet", linenos=False)
    print(formatter.get_style_defs(".snippet"))
    for language, code in SNIPPETS:
        try:
            lexer = get_lexer_by_name(language, stripall=True, tabsize=4)
        except ClassNotFound:
            lexer = TextLexer()
        tokens = list(lexer.get_tokens(code))
        print(f"{language}: {len(tokens)} tokens")
        print(highlight(code, lexer, formatter), end="")


if __name__ == "__main__":
    main()

"""A legacy "release notes to HTML" script: one configured Markdown converter, several notes.

It uses mistune as its documentation says and knows nothing about capturing.
"""

import mistune

NOTES = [
    "# Release 2.4\n\nThe *importer* now reads **CSV** and `TSV` files.\n",
    "## Fixed\n\n- ~~crash~~ on empty input\n- slow [search](https://example.org/search)\n",
    "| key | value |\n| --- | --- |\n| retries | 3 |\n",
    "Line one\nline two, with <b>inline html</b>\n",
    '```python\nprint("hi")\n```\n',
]


def main() -> None:
    # Configured once, as real programs do: raw HTML passes through, newlines are <br>.
    convert = mistune.create_markdown(
        escape=False, hard_wrap=True, plugins=["strikethrough", "table"]
    )
    for note in NOTES:
        print(convert(note), end="")
        print("----")


if __name__ == "__main__":
    main()

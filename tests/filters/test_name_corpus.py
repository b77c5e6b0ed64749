"""Name matching measured on names from real code (``data/name_corpus.txt``).

Each name is labelled ``secret`` (must be redacted by name), ``innocent`` (must not be), or
``miss`` (a secret deliberately left to the other nets: value shapes, attribute names).
Precision and recall over the corpus are asserted, so a change to the rules that trades one
for the other shows up here with the names it moved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snapy_capture import ArgumentFilter

CORPUS = Path(__file__).parent / "data" / "name_corpus.txt"
FLT = ArgumentFilter()


def _corpus() -> list[tuple[str, str]]:
    entries = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        text = line.split("  #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        label, name = text.split()
        assert label in {"secret", "innocent", "miss"}, line
        entries.append((label, name))
    return entries


ENTRIES = _corpus()


def test_the_corpus_is_big_enough_and_has_no_duplicates() -> None:
    """At least 50 secret and 50 innocent names, each listed once."""
    labels = [label for label, _ in ENTRIES]
    assert labels.count("secret") + labels.count("miss") >= 50
    assert labels.count("innocent") >= 50
    names = [name for _, name in ENTRIES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("label", "name"), ENTRIES, ids=[name for _, name in ENTRIES])
def test_each_corpus_name_is_judged_as_labelled(label: str, name: str) -> None:
    """Secrets are redacted by name; innocent names and the listed misses are not."""
    assert (FLT.sensitive_pattern(name) is not None) == (label == "secret")


def test_precision_and_recall_on_the_corpus() -> None:
    """Precision 100 %; recall 100 % but for the listed deliberate misses."""
    caught = {name for _, name in ENTRIES if FLT.sensitive_pattern(name) is not None}
    secrets = {name for label, name in ENTRIES if label in {"secret", "miss"}}
    true_positives = len(caught & secrets)
    precision = true_positives / len(caught)
    recall = true_positives / len(secrets)
    misses = sorted(secrets - caught)
    assert precision == 1.0
    assert misses == sorted(name for label, name in ENTRIES if label == "miss")
    assert recall >= 0.98, (recall, misses)


def test_the_old_substring_matches_on_the_corpus_were_mostly_false() -> None:
    """What substring matching did to the same corpus (the seed's list, 4+ letters anywhere,
    shorter ones at word edges): it flags innocent names this matching keeps."""
    innocent = [name for label, name in ENTRIES if label == "innocent"]
    seed = ["password", "token", "secret", "key", "auth", "api_key", "session_id"]

    def substring(name: str) -> bool:
        flat = "".join(ch for ch in name.lower() if ch.isalnum())
        return any(pattern.replace("_", "") in flat for pattern in seed)

    flagged = [name for name in innocent if substring(name)]
    assert len(flagged) >= 30  # keyword_case, keys, tokens, author, monkey, sort_key...
    assert not [name for name in flagged if FLT.sensitive_pattern(name) is not None]


def test_the_reason_names_the_word_or_compound_that_matched() -> None:
    """name:password for a word, name:api_key for a compound in any spelling, name:<word>_key
    for a key after a credential word."""
    result = FLT.filter_call(
        ["db_password", "X-API-KEY", "signingKey", "Authorization"], ("a", "b", "c", "d"), {}
    )
    assert [entry["reason"] for entry in result.redactions] == [
        "name:password",
        "name:api_key",
        "name:signing_key",
        "name:authorization",
    ]


def test_the_users_own_names_match_whole_words_without_exceptions() -> None:
    """ignore_args: whole words or their plural, even where a default word has an exception."""
    flt = ArgumentFilter(ignore_args=["iban", "key"])
    assert flt.sensitive_pattern("user_iban") == "iban"
    assert flt.sensitive_pattern("IBANs") == "iban"
    assert flt.sensitive_pattern("ibanez") is None
    assert flt.sensitive_pattern("sort_key") == "key"  # the default list would keep it
    assert FLT.sensitive_pattern("sort_key") is None


def test_a_users_name_that_is_also_a_default_keeps_the_default_reach() -> None:
    """ignore_args=["password"] still catches PGPASSWORD (run-together) as the default does."""
    flt = ArgumentFilter(ignore_args=["password"])
    assert flt.sensitive_pattern("PGPASSWORD") == "password"
    assert flt.sensitive_pattern("password_length") == "password"  # no exception for it

"""Measure an essay for the fitted scorer: the numbers it weighs and the evidence it quotes.

Everything here is plain Python over word lists that ship inside installed packages
(pyspellchecker's English dictionary and its frequency counts), so measuring an essay needs no
network and takes a few milliseconds. The same function serves the scorer at run time and the
training script, so the fitted parameters always see the features they were fitted on.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bandwise.assessment.grammar import GrammarFinding, grammar_findings, sentence_has_verb
from bandwise.assessment.text_stats import paragraphs, sentences, words
from bandwise.assessment.wordlists import (
    AUXILIARIES,
    DETERMINERS,
    INSTRUCTION_WORDS,
    LINKERS,
    MODALS,
    OVERVIEW_MARKERS,
    POSITION_MARKERS,
    PREPOSITIONS,
    STOPWORDS,
    SUBORDINATORS,
)
from bandwise.models import TaskType

MINIMUM_WORDS = {TaskType.TASK_1: 150, TaskType.TASK_2: 250}
RARE_WORD_COUNT = 5000  # fewer occurrences than this in the dictionary's corpus: less common
TTR_WINDOW = 50
COMMON_WORD_COUNT = 200_000  # more occurrences than this: among the ~2,000 commonest words
# "...in 2007.Overall, ..." : a paragraph break lost when the text was copied (the training
# essays show it, mostly in well-organised answers); read as the break it was.
GLUED_BREAK = re.compile(r"(?<=[a-z)%][.!?])(?=[A-Z][a-z])")
CONTRACTION = re.compile(r"\b\w+(?:n't|'re|'ll|'ve|'m|'d)\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def speller() -> Any:
    """Return the English spell checker (its dictionary and frequencies ship in the package)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


LINKER_PATTERN = re.compile(rf"\b(?=({'|'.join(LINKERS)})\b)")
SUBORDINATOR_PATTERN = re.compile(rf"\b(?:{'|'.join(SUBORDINATORS)})\b")
SENTENCE_LINKER = re.compile(rf"^\W*({'|'.join(LINKERS)})\b", re.IGNORECASE)


def linkers_in(lowered: str) -> list[str]:
    """Return every linking device in ``lowered`` (lower-case text), in order, with repeats."""
    return LINKER_PATTERN.findall(lowered)


@dataclass(frozen=True)
class Evidence:
    """What the justifications quote from this essay."""

    misspelt: list[str] = field(default_factory=list)
    most_repeated: tuple[str, int] | None = None
    verbless_sentence: str | None = None
    grammar: list[GrammarFinding] = field(default_factory=list)
    linkers: list[str] = field(default_factory=list)
    has_overview: bool = False
    has_position: bool = False
    prompt_words_missed: list[str] = field(default_factory=list)
    copied_from_prompt: str | None = None
    rare_words: list[str] = field(default_factory=list)
    longest_sentence: str | None = None


@dataclass(frozen=True)
class EssayFeatures:
    """The measured features (by name) and the evidence behind them."""

    values: dict[str, float]
    evidence: Evidence
    word_count: int
    sentence_count: int
    paragraph_count: int

    def vector(self, names: list[str]) -> list[float]:
        """Return the features in the order ``names`` gives."""
        return [self.values[name] for name in names]


def _content_words(tokens: list[str]) -> list[str]:
    return [token for token in tokens if token.isalpha() and token not in STOPWORDS]


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    # Crude suffix stripping: enough to match "cars" with "car" and "rented" with "rent".
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def _moving_ttr(tokens: list[str]) -> float:
    if len(tokens) <= TTR_WINDOW:
        return len(set(tokens)) / max(1, len(tokens))
    step = max(1, (len(tokens) - TTR_WINDOW) // 20)
    windows = range(0, len(tokens) - TTR_WINDOW + 1, step)
    return sum(len(set(tokens[start : start + TTR_WINDOW])) for start in windows) / (
        TTR_WINDOW * len(windows)
    )


def _implausible_bigrams(tokens: list[str]) -> int:
    """Count word pairs English almost never has (a determiner before a preposition, ...)."""
    count = 0
    for left, right in itertools.pairwise(tokens):
        if (
            (
                left in DETERMINERS
                and (
                    right in DETERMINERS
                    or right in PREPOSITIONS
                    or right in AUXILIARIES
                    or right in MODALS
                )
            )
            or (left in PREPOSITIONS and (right in AUXILIARIES or right in MODALS))
            or (left in MODALS and right in DETERMINERS)
            or (left == right and left.isalpha() and left not in {"had", "that"})
        ):
            count += 1
    return count


def _misplaced_capitals(text: str) -> int:
    """Count function words capitalised mid-sentence ("growth The of"): a shuffled text's mark."""
    count = 0
    previous = ""
    for match in re.finditer(r"\S+", text):
        token = match.group(0)
        bare = token.strip("\"'“”‘’()[],;:")
        if (
            bare[:1].isupper()
            and bare.lower() in STOPWORDS
            and bare != "I"
            and previous
            and previous[-1] not in '.!?:"”'
        ):
            count += 1
        previous = token
    return count


def _ngrams(tokens: list[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


def _adjacent_overlap(sentence_tokens: list[set[str]]) -> float:
    """Return the share of sentences that share a content word with the one before or after."""
    if len(sentence_tokens) < 2:
        return 1.0
    linked = 0
    for index, current in enumerate(sentence_tokens):
        neighbours = set()
        if index:
            neighbours |= sentence_tokens[index - 1]
        if index + 1 < len(sentence_tokens):
            neighbours |= sentence_tokens[index + 1]
        if current & neighbours:
            linked += 1
    return linked / len(sentence_tokens)


def measure(text: str, task_type: TaskType, prompt: str | None = None) -> EssayFeatures:
    """Measure ``text`` as a ``task_type`` essay answering ``prompt`` (when known)."""
    glued_breaks = len(GLUED_BREAK.findall(text))
    line_breaks = text.strip().count("\n")
    text = GLUED_BREAK.sub("\n\n", text)
    tokens = [word.lower() for word in words(text)]
    count = len(tokens)
    alpha = [token for token in tokens if token.isalpha()]
    content = _content_words(tokens)
    sentence_list = sentences(text)
    paragraph_list = paragraphs(text)
    minimum = MINIMUM_WORDS[task_type]
    lowered = text.lower()

    checker = speller()
    vocabulary = set(alpha)
    # The spell checker's own lookups re-normalise every word; these tokens are already
    # lower-case letters, so its dictionary (a Counter) is read directly: same answer, faster.
    dictionary = checker.word_frequency.dictionary
    longest = checker.word_frequency.longest_word_length + 3
    known = {word for word in vocabulary if word in dictionary and len(word) <= longest}
    # Capitalised words mid-sentence are mostly names (Japan, Facebook): not spelling errors.
    proper = {word.lower() for word in re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+", text)}
    misspelt = sorted(
        token for token in vocabulary - known if len(token) > 2 and token not in proper
    )
    misspelt_set = set(misspelt)
    misspelt_tokens = sum(1 for token in alpha if token in misspelt_set)
    frequency = dictionary
    content_known = [token for token in content if token in known]
    counts = [frequency[token] for token in content_known]
    rare = sorted({token for token in content_known if frequency[token] < RARE_WORD_COUNT})
    log_freqs = [math.log10(1 + value) for value in counts]

    sentence_words = [[w.lower() for w in words(sentence)] for sentence in sentence_list]
    lengths = [len(tokens_) for tokens_ in sentence_words if tokens_] or [0]
    mean_length = sum(lengths) / len(lengths)
    spread = (sum((n - mean_length) ** 2 for n in lengths) / len(lengths)) ** 0.5
    complex_sentences = sum(1 for s in sentence_list if SUBORDINATOR_PATTERN.search(s.lower()))
    verbless = [
        sentence
        for sentence, tokens_ in zip(sentence_list, sentence_words, strict=False)
        if len(tokens_) >= 2 and not sentence_has_verb(tokens_)
    ]
    starters = [tokens_[0] for tokens_ in sentence_words if tokens_]
    linker_uses = linkers_in(lowered)
    sentence_initial_linkers = sum(1 for s in sentence_list if SENTENCE_LINKER.match(s))
    findings = grammar_findings(text)

    content_counts = Counter(content or alpha)
    top_word, top_count = content_counts.most_common(1)[0] if content_counts else ("", 0)
    trigrams = _ngrams(alpha, 3)
    repeated_trigrams = sum(n - 1 for n in Counter(trigrams).values() if n > 1)

    prompt_tokens = [word.lower() for word in words(prompt or "")]
    prompt_topic = [t for t in _content_words(prompt_tokens) if t not in INSTRUCTION_WORDS]
    prompt_content = {_stem(token) for token in prompt_topic}
    essay_stems = {_stem(token) for token in content}
    has_prompt = 1.0 if prompt_content else 0.0
    coverage = len(prompt_content & essay_stems) / len(prompt_content) if prompt_content else 0.0
    on_topic = (
        sum(1 for token in content if _stem(token) in prompt_content) / max(1, len(content))
        if prompt_content
        else 0.0
    )
    prompt_fivegrams = set(_ngrams(prompt_tokens, 5))
    essay_fivegrams = _ngrams(tokens, 5)
    copied = [gram for gram in essay_fivegrams if gram in prompt_fivegrams]
    copied_share = len(copied) / max(1, len(essay_fivegrams))

    sentence_sets = [{_stem(t) for t in _content_words(ts)} for ts in sentence_words]
    capital_starts = sum(1 for s in sentence_list if s[:1].isupper() or s[:1].isdigit())
    numbers = sum(1 for token in tokens if token[:1].isdigit())

    values = {
        "task_2": 1.0 if task_type is TaskType.TASK_2 else 0.0,
        "log_length_ratio": math.log(max(1, count) / minimum),
        "under_minimum": max(0.0, 1 - count / minimum),
        "paragraphs": float(min(len(paragraph_list), 8)),
        "one_block": 1.0 if len(paragraph_list) <= 1 else 0.0,
        "sentences": float(len(sentence_list)),
        "mean_sentence_length": mean_length,
        "sentence_length_spread": spread,
        "long_sentence_share": sum(1 for n in lengths if n > 40) / len(lengths),
        "short_sentence_share": sum(1 for n in lengths if n < 8) / len(lengths),
        "complex_share": complex_sentences / max(1, len(sentence_list)),
        "verbless_share": len(verbless) / max(1, len(sentence_list)),
        "starter_variety": len(set(starters)) / max(1, len(starters)),
        "spelling_rate": misspelt_tokens / max(1, len(alpha)),
        "moving_ttr": _moving_ttr(alpha),
        "rare_share": len(rare) / max(1, len(set(content_known))),
        "mean_log_frequency": sum(log_freqs) / max(1, len(log_freqs)),
        "mean_word_length": sum(len(t) for t in alpha) / max(1, len(alpha)),
        "long_word_share": sum(1 for t in alpha if len(t) >= 8) / max(1, len(alpha)),
        "content_share": len(content) / max(1, count),
        "linker_rate": len(linker_uses) / max(1, len(sentence_list)),
        "distinct_linkers": float(len(set(linker_uses))),
        "initial_linker_share": sentence_initial_linkers / max(1, len(sentence_list)),
        "grammar_rate": 100 * len(findings) / max(1, count),
        "implausible_rate": 100 * _implausible_bigrams(tokens) / max(1, count),
        "misplaced_capitals": 100 * _misplaced_capitals(text) / max(1, count),
        "lowercase_starts": 1 - capital_starts / max(1, len(sentence_list)),
        "top_word_share": top_count / max(1, len(content)),
        "repeated_trigram_share": repeated_trigrams / max(1, len(trigrams)),
        "adjacent_overlap": _adjacent_overlap(sentence_sets),
        "has_prompt": has_prompt,
        "prompt_coverage": coverage,
        "on_topic_share": on_topic,
        "copied_share": copied_share,
        "overview": 1.0 if OVERVIEW_MARKERS.search(lowered) else 0.0,
        "position": 1.0 if POSITION_MARKERS.search(lowered) else 0.0,
        "number_rate": 100 * numbers / max(1, count),
        "glued_breaks": float(min(glued_breaks, 6)),
        "line_breaks": float(min(line_breaks, 12)),
        "comma_rate": text.count(",") / max(1, len(sentence_list)),
        "rich_punctuation": 100
        * sum(text.count(mark) for mark in (";", ":", "(", "\u2013", " - "))
        / max(1, count),
        "contraction_rate": 100 * len(CONTRACTION.findall(text)) / max(1, count),
        "common_share": sum(1 for t in alpha if frequency[t] > COMMON_WORD_COUNT)
        / max(1, len(alpha)),
        "misspelt_words": float(min(len(misspelt), 15)),
    }
    copied_text = " ".join(copied[0]) if copied else None
    evidence = Evidence(
        misspelt=misspelt,
        most_repeated=(top_word, top_count) if top_count else None,
        verbless_sentence=verbless[0] if verbless else None,
        grammar=findings,
        linkers=sorted(set(linker_uses)),
        has_overview=bool(values["overview"]),
        has_position=bool(values["position"]),
        prompt_words_missed=sorted(
            {token for token in prompt_topic if _stem(token) not in essay_stems and len(token) > 3}
        ),
        copied_from_prompt=copied_text,
        rare_words=[word for word in rare if word not in proper],
        longest_sentence=max(sentence_list, key=len) if sentence_list else None,
    )
    return EssayFeatures(values, evidence, count, len(sentence_list), len(paragraph_list))

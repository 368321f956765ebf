"""Grammar error patterns that a rule finds reliably, and a verb check for fragments.

No tagger model ships in a package from its own maintainers that installs here, so these are
hand-written rules, each narrow enough that a correct sentence rarely trips it (the tests show
one example of each rule firing and its correct twin passing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GrammarFinding:
    """One likely error: the rule's description and the words it matched."""

    rule: str
    quote: str


_MODALS = r"(?:can|could|should|would|will|must|may|might)"
_PAST_ONLY = (
    r"(?:went|was|were|did|made|had|came|gave|took|began|wrote|grew|rose|fell|saw|ran|thought)"
)
_UNCOUNTABLE_PLURALS = (
    r"(?:informations|advices|knowledges|equipments|furnitures|homeworks|childrens|"
    r"evidences|luggages|baggages|feedbacks|vocabularies|sceneries|machineries)"
)
_TREND_VERBS = r"(?:increase|decrease|rise|grow|decline|drop|fall|reach|raise|fluctuate)"
_A_BEFORE_VOWEL_OK = r"(?:u[bnst]|uni|use|usu|uti|eu|one|once|ur)"
_AN_BEFORE_CONSONANT_OK = r"(?:hour|honest|honou?r|heir)"

# Case matters only where the rule is about case or must skip acronyms ("a USB stick").
CASE_SENSITIVE = frozenset(
    {"article before the wrong sound", "lower-case 'i' as a pronoun", "no space after a comma"}
)
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (description, re.compile(pattern, 0 if description in CASE_SENSITIVE else re.IGNORECASE))
    for description, pattern in (
        (
            "subject–verb agreement",
            r"\b(?:he|she|it) (?:have|are|were|do|don't)\b"
            r"|\b(?:we|they|you) (?:is|was|has|does|doesn't)\b"
            r"|\b[Ii] (?:is|are|has|does)\b"
            r"|\b(?:people|children|students|they) (?:is|was|has|does|doesn't)\b"
            r"|\b(?:everyone|everybody|somebody|nobody|someone) (?:are|have|were|do)\b"
            r"|\bthere (?:is|was) (?:many|several|lots|two|three|four|five|a lot of \w+s)\b",
        ),
        (
            "article before the wrong sound",
            rf"\b[Aa] (?!{_A_BEFORE_VOWEL_OK})[aeiou][a-z]+"
            rf"|\b[Aa]n (?!{_AN_BEFORE_CONSONANT_OK})[bcdfgjklmnpqrstvwxyz][a-z]+",
        ),
        ("uncountable noun made plural", rf"\b{_UNCOUNTABLE_PLURALS}\b"),
        (
            "verb form after a modal",
            rf"\b{_MODALS} to\b|\b{_MODALS} {_PAST_ONLY}\b"
            rf"|\b{_MODALS} (?:not )?[a-z]+ed\b(?<!need)(?<!eed)",
        ),
        (
            "verb form after do/does/did",
            r"\b(?:didn't|did not|doesn't|does not) (?:[a-z]+(?<!e)ed|went|was|had|made|came)\b",
        ),
        (
            "tense of a trend verb",
            rf"\b(?:is|are|was|were) {_TREND_VERBS}\b"
            rf"|\b(?:has|have|had) (?:been )?{_TREND_VERBS}\b",
        ),
        (
            "double comparative",
            r"\bmore (?:better|worse|bigger|higher|lower|easier|cheaper|larger|smaller|faster)\b"
            r"|\bmost (?:best|biggest|highest|lowest|easiest|largest|smallest)\b",
        ),
        ("quantifier with the wrong noun", r"\bmuch (?:people|students|children|cars|things)\b"),
        ("'most of' without 'the'", r"\bmost of (?:people|students|children|countries)\b"),
        ("lower-case 'i' as a pronoun", r"(?:^|[\s,])i (?!\.)(?:[a-z]+)"),
        ("word written twice", r"\b(?!had\b|that\b)([a-z]+) \1\b"),
        ("no space after a comma", r"[a-z]{2},[a-z]{2}"),
        ("space before punctuation", r"[a-z] [,.;:](?!\d)"),
    )
)


def grammar_findings(text: str) -> list[GrammarFinding]:
    """Return every likely grammar error in ``text``, in the order they occur."""
    found: list[tuple[int, GrammarFinding]] = []
    for description, pattern in RULES:
        for match in pattern.finditer(text):
            found.append((match.start(), GrammarFinding(description, match.group(0).strip(" ,"))))
    return [finding for _, finding in sorted(found, key=lambda pair: pair[0])]


_BASE_VERBS = """be have do say go get make know think take see come want look use find give
tell work call try ask need feel become leave put mean keep let begin seem help talk turn start
show hear play run move like live believe hold bring happen write provide sit stand lose pay
meet include continue set learn change lead understand watch follow stop create speak read allow
add spend grow open walk win offer remember love consider appear buy wait serve die send expect
build stay fall cut reach kill remain suggest raise pass sell require report decide pull
increase decrease rise decline drop fluctuate remain account compare illustrate depict describe
represent indicate reveal demonstrate contain affect improve reduce cause encourage prevent
protect support develop benefit argue agree disagree prefer enjoy face solve spend earn cost
travel study teach choose produce consume reach peak double triple halve overtake exceed
stabilise stabilize level plummet soar surge dip rank compose consist involve seem tend
promote ensure lack depend rely result contribute lead lie fly drive eat drink sleep wear
afford achieve gain obtain attract avoid waste save share worry matter mention note state
claim assume suppose realise realize recognise recognize accept deny refuse fail manage
attend visit own rent hire employ pollute damage harm destroy replace remove recycle
"""
_IRREGULAR = """is am are was were been being has had does did done went gone got gotten made
knew known thought took taken saw seen came gave given told found felt became left meant kept
began begun brought held heard led met paid ran read said sat sold sent set spent stood
understood won wrote written grew grown rose risen fell fallen cut built bought caught chose
chosen drew drawn drove driven ate eaten flew flown forgot forgotten lay lain lost shown spoke
spoken taught thrown wore worn can could may might must shall should will would cannot can't
won't don't doesn't didn't isn't aren't wasn't weren't hasn't haven't hadn't shouldn't wouldn't
couldn't it's there's that's what's he's she's i'm we're they're you're let's
"""


def _inflections(base: str) -> set[str]:
    forms = {base, base + "s", base + "es", base + "ed", base + "d"}
    if base.endswith("y"):
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    if base.endswith("e"):
        forms.add(base + "d")
    return forms


VERB_FORMS = frozenset(_IRREGULAR.split()).union(
    *(_inflections(base) for base in _BASE_VERBS.split())
)
_SINGULAR_SUBJECTS = frozenset(["he", "she", "it", "this", "that", "which", "who", "what", "there"])


def sentence_has_verb(tokens: list[str]) -> bool:
    """Tell whether a sentence's lower-case ``tokens`` contain a finite verb, as best rules can."""
    for index, token in enumerate(tokens):
        if token in VERB_FORMS:
            return True
        if len(token) > 4 and token.endswith("ed"):
            return True
        if index and tokens[index - 1] in _SINGULAR_SUBJECTS and token.endswith("s"):
            return True
    return False

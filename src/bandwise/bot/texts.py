"""Every user-facing text of the bot, in Telegram HTML, and splitting to Telegram's limit."""

from __future__ import annotations

from datetime import datetime
from html import escape

from bandwise.assessment.bands import band, likely_band
from bandwise.assessment.types import CRITERIA, CRITERION_TITLES, AssessmentResult
from bandwise.models import TaskType
from bandwise.services.history import History
from bandwise.services.precheck import MAX_REASONABLE_WORDS, TASK_MINIMUM_WORDS
from bandwise.services.stats import UsageStats
from bandwise.services.submissions import MIN_WORDS
from bandwise.wording import plural

TELEGRAM_MESSAGE_LIMIT = 4096
TASK_NAMES = {TaskType.TASK_1: "Task 1", TaskType.TASK_2: "Task 2"}

GREETING = (
    "👋 <b>Welcome to bandwise, {name}!</b>\n\n"
    "I score IELTS Writing essays against the four official criteria and give you the band, "
    "the reasons and concrete suggestions.\n\n"
    "Choose what you want to do, or simply paste your essay."
)
HELP = (
    "<b>How to use bandwise</b>\n\n"
    "1. Tap <b>Submit Writing Task 1</b> or <b>Task 2</b> (or just paste your essay).\n"
    "2. Send the whole essay as one text message (at least {min_words} words).\n"
    "3. You get four criterion bands with reasons, the overall band and 3–5 suggestions.\n\n"
    "/start — main menu\n/history — your band score history\n"
    "/upgrade — get Pro\n/help — this message"
)
ASK_FOR_ESSAY = (
    "✍️ Send your <b>Writing {task}</b> essay as one text message.\n"
    "<i>{task} asks for at least {minimum} words.</i>"
)
ASK_FOR_QUESTION = (
    "❓ First send the <b>task question</b> your {task} essay answers (paste it as text): "
    "the score then checks your answer against it. Or tap <b>Skip</b>."
)
TOO_SHORT = (
    "Your message has {words}. Please send the complete essay — at least {min_words} words "
    "are needed for an assessment."
)
NOT_ENGLISH = (
    "This does not look like English. IELTS essays must be written in English — please send "
    "your essay in English."
)
NON_TEXT = (
    "I can only read essays sent as <b>text</b>. Please paste your essay into a message "
    "(photos, files, voice and stickers cannot be assessed)."
)
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."
ASK_TASK_TYPE = (
    "Is this a <b>Task 1</b> (describing a chart, process or map) or a <b>Task 2</b> "
    "(opinion essay)?"
)
TASK_CHOICE_EXPIRED = "That essay is no longer waiting. Please send it again."
TOO_LONG_WARNING = (
    "⚠️ Your essay has {count} words. IELTS essays are usually 150–400 words; writing over "
    "{max_words} words costs time in the exam and rarely raises the band."
)
UNDER_MINIMUM_NOTE = (
    "ℹ️ Your essay has {count} words, under the {minimum}-word minimum for {task}. "
    "This lowers the Task Achievement score."
)
PROCESSING = "⏳ Processing your essay… this can take up to a minute."
NOT_SAVED = (
    "⚠️ Your history could not be saved this time (database unavailable). "
    "The assessment above is still valid."
)
NO_HISTORY = (
    "You have no assessed essays yet. Send your first essay — every essay you write is a step "
    "towards your target band! 💪"
)
LIMIT_REACHED = (
    "You have used all {checks} for today. Your limit resets at <b>{resets}</b> "
    "({remaining} from now).\n\nGet <b>Pro</b> for {price} ⭐ for {days} of unlimited checks: "
    "tap the button below or send /upgrade."
)
BUSY = "The service is busy right now. Please try again in a minute."
MAINTENANCE = (
    "bandwise is being upgraded and will be back shortly. Please try again in a few minutes."
)
SCORING_FAILED = (
    "Sorry, your essay could not be scored right now. Your check was not used — "
    "please try again later."
)
UNEXPECTED = "Sorry, something went wrong. Please try again."
INTERRUPTED = (
    "Sorry, bandwise restarted before your essay was scored. Your check was not used — "
    "please send the essay again."
)
PAYMENT_THANKS = "🎉 Thank you! <b>Pro</b> is active until <b>{until}</b>."
PAYMENT_ALREADY = "This payment is already recorded. Pro is active until <b>{until}</b>."
PRE_CHECKOUT_REFUSED = (
    "This invoice can no longer be paid: {reason}. Please send /upgrade for a new one."
)
ADMIN_PRO_SET = "Pro for {telegram_id}: <b>{state}</b>."
ADMIN_PRO_USAGE = "Usage: /pro &lt;telegram_id&gt; on|off"
ADMIN_REFUND_USAGE = "Usage: /refund &lt;telegram_payment_charge_id&gt;"
ADMIN_REFUNDED = "Refunded {amount} ⭐ for payment {charge_id}."
ADMIN_ERROR = "Not done: {reason}"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def utc(moment: datetime) -> str:
    """Render a moment in its own time zone, e.g. 2026-11-25 00:00 UTC."""
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or 'UTC'}"


def greeting(first_name: str | None) -> str:
    """Return the /start greeting."""
    return GREETING.format(name=escape(first_name or "there"))


def help_text() -> str:
    """Return the /help text."""
    return HELP.format(min_words=MIN_WORDS)


def ask_for_question(task_type: TaskType) -> str:
    """Return the request for the task question before the essay."""
    return ASK_FOR_QUESTION.format(task=TASK_NAMES[task_type])


def ask_for_essay(task_type: TaskType) -> str:
    """Return the prompt after a Submit button."""
    return ASK_FOR_ESSAY.format(task=TASK_NAMES[task_type], minimum=TASK_MINIMUM_WORDS[task_type])


def too_short(count: int) -> str:
    """Return the request for a longer text."""
    return TOO_SHORT.format(words=plural(count, "word"), min_words=MIN_WORDS)


def too_long_warning(count: int) -> str:
    """Return the warning for an essay far over IELTS lengths."""
    return TOO_LONG_WARNING.format(count=count, max_words=MAX_REASONABLE_WORDS)


def under_minimum_note(count: int, task_type: TaskType) -> str:
    """Return the note that a short essay lowers Task Achievement."""
    return UNDER_MINIMUM_NOTE.format(
        count=count, minimum=TASK_MINIMUM_WORDS[task_type], task=TASK_NAMES[task_type]
    )


def duration(seconds: float) -> str:
    """Render a duration as "3 h 12 min"."""
    minutes = max(1, int(seconds // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def limit_reached(limit: int, resets_at: datetime, now: datetime, price: int, days: int) -> str:
    """Return the daily-limit message: when it resets and how to get Pro."""
    return LIMIT_REACHED.format(
        checks=plural(limit, "free check"),
        resets=utc(resets_at),
        remaining=duration((resets_at - now).total_seconds()),
        price=price,
        days=plural(days, "day"),
    )


def assessment_result(result: AssessmentResult, task_type: TaskType, word_count: int) -> str:
    """Return the full assessment: criteria with reasons, overall band, suggestions."""
    lines = [
        f"<b>IELTS Writing {TASK_NAMES[task_type]} — assessment</b>",
        f"<i>{word_count} words</i>",
        "",
    ]
    for name in CRITERIA:
        score = result.criteria[name]
        lines.append(f"<b>{CRITERION_TITLES[name]}: {band(score.band)}</b>")
        lines.append(escape(score.justification))
        lines.append("")
    overall = likely_band(result.overall, result.band_low, result.band_high)
    lines.append(f"🎯 <b>Overall band: {overall}</b>")
    if result.flagged:
        lines.append(
            "⚠️ The AI examiner and the offline model disagree by more than 1.5 bands: "
            "treat this band with caution."
        )
    if result.feedback:
        lines += ["", escape(result.feedback)]
    lines += ["", "<b>Suggestions</b>"]
    lines += [f"{number}. {escape(item)}" for number, item in enumerate(result.suggestions, 1)]
    assessor = (
        "the offline model (fitted on bands given by human examiners)"
        if result.assessor == "offline"
        else f"the AI examiner ({escape(result.assessor.removeprefix('llm:'))})"
    )
    lines += ["", f"<i>Scored by {assessor}.</i>"]
    return "\n".join(lines)


def history(history: History) -> str:
    """Return the history: latest submissions with dates and bands, and the trend."""
    lines = ["<b>📊 Your band score history</b>", ""]
    for item in history.items:
        submission = item.submission
        assessment = item.assessment
        status = (
            likely_band(assessment.overall_band_score, assessment.band_low, assessment.band_high)
            if assessment
            else submission.processing_status.value
        )
        lines.append(
            f"{submission.submitted_at:%Y-%m-%d} · {TASK_NAMES[submission.task_type]} · "
            f"{submission.word_count} words · <b>{status}</b>"
        )
        if submission.prompt:
            lines.append(f"   <i>{escape(_shorten(submission.prompt, 80))}</i>")
    trend = history.trend
    lines += [
        "",
        f"<b>Trend</b> over {plural(trend.count, 'assessment')}",
        f"Best: {band(trend.best)} · Average: "
        f"{'—' if trend.average is None else f'{trend.average:.2f}'}",
    ]
    if trend.change is not None and trend.count >= 2:
        sign = "+" if trend.change > 0 else ""
        lines.append(f"Change since first: {sign}{trend.change:.1f}")
    return "\n".join(lines)


def stats(usage: UsageStats, engine: str, health: str) -> str:
    """Return the admins' /stats text."""
    return (
        f"<b>bandwise stats</b>\nUsers: {usage.users}\nSubmissions today: "
        f"{usage.submissions_today}\nAssessments: {usage.assessments}\n"
        f"Pro users: {usage.pro_users}\nPayments: {usage.payments}\n"
        f"Database: {escape(engine)} ({escape(health)})"
    )


def split_message(text: str, limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` characters, at line breaks if possible.

    Lines are never cut inside an HTML tag: the texts above open and close tags on one line,
    so splitting between lines keeps every part valid HTML. A single over-long line is cut hard.
    """
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return parts


def escape_text(value: str) -> str:
    """Escape ``value`` for Telegram HTML."""
    return escape(value)

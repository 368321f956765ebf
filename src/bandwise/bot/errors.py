"""The one place that turns domain errors into messages for candidates."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from aiogram.types import InlineKeyboardMarkup

from bandwise import errors
from bandwise.bot import keyboards, texts
from bandwise.config import Settings
from bandwise.models import utcnow


@dataclass(frozen=True)
class ErrorReply:
    """What to send the candidate instead of a result."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def reply_for_error(error: errors.BandwiseError, settings: Settings) -> ErrorReply:
    """Return the candidate's message for ``error``."""
    if isinstance(error, errors.DailyLimitReached):
        return ErrorReply(
            texts.limit_reached(
                error.limit,
                error.resets_at,
                utcnow(),
                settings.pro_price_stars,
                settings.pro_period_days,
            ),
            keyboards.get_pro(),
        )
    if isinstance(error, errors.MaintenanceMode):
        return ErrorReply(texts.MAINTENANCE)
    if isinstance(error, errors.DatabaseUnavailable | errors.DatabaseBusy):
        return ErrorReply(texts.BUSY)
    if isinstance(error, errors.AssessmentFailed):
        return ErrorReply(texts.SCORING_FAILED)
    if isinstance(error, errors.InvalidInput):
        return ErrorReply(escape(error.message[:1].upper() + error.message[1:] + "."))
    return ErrorReply(texts.UNEXPECTED)

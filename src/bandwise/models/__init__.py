"""SQLAlchemy models: one module per table, all registered on ``Base.metadata``."""

from bandwise.models.alert_outbox import AlertDelivery
from bandwise.models.assessment import Assessment
from bandwise.models.base import Base, UTCDateTime, utcnow
from bandwise.models.enums import ProcessingStatus, TaskType
from bandwise.models.import_quarantine import ImportQuarantine
from bandwise.models.payment import Payment
from bandwise.models.rate_limit import RateLimit
from bandwise.models.submission import Submission
from bandwise.models.user import User

__all__ = [
    "AlertDelivery",
    "Assessment",
    "Base",
    "ImportQuarantine",
    "Payment",
    "ProcessingStatus",
    "RateLimit",
    "Submission",
    "TaskType",
    "UTCDateTime",
    "User",
    "utcnow",
]

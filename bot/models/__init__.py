"""SQLAlchemy models. Import from here: ``from bot.models import Account``."""

from bot.db import Base
from bot.models import chained  # noqa: F401  (links every new message and event)
from bot.models.accounts import Account, Charge, Payment
from bot.models.append_only import AppendOnlyError
from bot.models.arrangements import Installment, PaymentPlan, Promise
from bot.models.cases import Dispute, HardshipRecord, Hold, ValidationRequest
from bot.models.contact import ConsentEvent, ContactPreference
from bot.models.conversations import Conversation, ConversationEvent, Handoff, Message
from bot.models.outreach import Outreach, SurveyResponse
from bot.models.review import ConversationReview, TranscriptLink
from bot.models.staff import ApiToken, AuditLog, StaffUser

__all__ = [
    "Account",
    "ApiToken",
    "AppendOnlyError",
    "AuditLog",
    "Base",
    "Charge",
    "ConsentEvent",
    "ContactPreference",
    "Conversation",
    "ConversationEvent",
    "ConversationReview",
    "Dispute",
    "Handoff",
    "HardshipRecord",
    "Hold",
    "Installment",
    "Message",
    "Outreach",
    "Payment",
    "PaymentPlan",
    "Promise",
    "StaffUser",
    "SurveyResponse",
    "TranscriptLink",
    "ValidationRequest",
]

"""SQLAlchemy models. Import from here: ``from bot.models import Account``."""

from bot.db import Base
from bot.models.accounts import Account, Charge, Payment
from bot.models.arrangements import Installment, PaymentPlan, Promise
from bot.models.cases import Dispute, HardshipRecord, Hold, ValidationRequest
from bot.models.contact import ConsentEvent, ContactPreference
from bot.models.conversations import Conversation, ConversationEvent, Handoff, Message
from bot.models.staff import ApiToken, AuditLog, StaffUser
from bot.models.append_only import AppendOnlyError

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
    "Dispute",
    "Handoff",
    "HardshipRecord",
    "Hold",
    "Installment",
    "Message",
    "Payment",
    "PaymentPlan",
    "Promise",
    "StaffUser",
    "ValidationRequest",
]

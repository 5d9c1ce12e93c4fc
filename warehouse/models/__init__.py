"""SQLAlchemy 2 typed tables, one module per domain; all share ``Base.metadata``."""

from warehouse.models.activities import Activity, ActivityComment, Mention
from warehouse.models.base import Base
from warehouse.models.crm import Account, CallLog, Contact, Lead
from warehouse.models.custom import (
    CustomCounter,
    CustomField,
    CustomObject,
    CustomRecord,
    CustomValidationRule,
    Layout,
    ListView,
)
from warehouse.models.deals import Deal, DealContact, DealStageHistory, Pipeline  # noqa: F401
from warehouse.models.imports import CallLogImportRow, Import, ImportReject, LeadImportRow
from warehouse.models.notifications import (  # noqa: F401
    Notification,
    NotificationDelivery,
    NotificationPreference,
    NotificationSettings,
    PushSubscription,
    RealtimeTicket,
    Watch,
)
from warehouse.models.oauth import ApiRequest, OAuthClient, OAuthCode, OAuthToken  # noqa: F401
from warehouse.models.platform import (
    ConsumerCursor,
    DispatchFailure,
    Event,
    IdempotencyKey,
)
from warehouse.models.reports import Dashboard, Report, ShareLink  # noqa: F401
from warehouse.models.tasks import (  # noqa: F401
    CalendarFeed,
    MemberTaskSettings,
    Task,
    TaskAssignee,
    TaskDependency,
    TaskReminder,
    TimeLog,
)
from warehouse.models.tenancy import (
    ApiKey,
    EmailVerification,
    Invitation,
    Role,
    Session,
    Team,
    TeamMember,
)
from warehouse.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

metadata = Base.metadata

__all__ = [
    "Account",
    "Activity",
    "ActivityComment",
    "ApiKey",
    "Base",
    "CallLog",
    "CallLogImportRow",
    "ConsumerCursor",
    "Contact",
    "CustomCounter",
    "CustomField",
    "CustomObject",
    "CustomRecord",
    "CustomValidationRule",
    "DispatchFailure",
    "EmailVerification",
    "Event",
    "IdempotencyKey",
    "Import",
    "ImportReject",
    "Invitation",
    "Layout",
    "Lead",
    "LeadImportRow",
    "ListView",
    "Mention",
    "Role",
    "Session",
    "Team",
    "TeamMember",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]

"""Stored documents (MongoDB collections) and their public rendering, one module per area. Times are UTC; ids
are strings. ``from schemas.documents import Message`` is the way to name one."""
from schemas.documents.base import (Timestamp, GroupRole, SystemRole, MessageType, Language, Document)
from schemas.documents.people import (User, SenderInfo, GroupSettings, Group, GroupMember, Conversation,
                                      ConversationMember)
from schemas.documents.messages import (Quote, quote_excerpt, QUOTE_CHARS, SystemAction, system_text, MessageMetadata,
                                        Reaction, ReadMark, Message, Edit, ActivityLog)
from schemas.documents.moderation import (FilterKind, FilterAction, ReviewKind, ReviewStatus, ReviewTarget,
                                          FilterRule, AutoMute, GroupModeration, ReviewReason, ReviewMessage,
                                          ReviewItem, Sanction)
from schemas.documents.notifications import (NotificationStatus, NOTIFICATION_TRANSITIONS, UNREAD, Notification,
                                             ConversationLevel, NotificationSettings, EmailWindow, DigestStatus,
                                             Digest, ScheduledStatus, SCHEDULED_OPEN, ScheduledMessage,
                                             RetentionPolicy)
from schemas.documents.media import (FileType, MediaStatus, STEP_NAMES, Step, Variant, MediaLike, MediaComment, Media,
                                     MediaSource, MediaGif, deleted_file, Upload, Album)
from schemas.documents.exports import (ExportFormat, ExportStatus, EXPORT_TERMINAL, ExportRange, ExportLease, Export)
from schemas.documents.analytics import AnalyticsDay, AnalyticsMark
from schemas.documents.gifs import GifMime, GifOffer, GifProvider

__all__ = ["GifMime", "GifOffer", "GifProvider", "Timestamp", "GroupRole", "SystemRole", "MessageType", "Language", "Document", "User", "SenderInfo",
           "GroupSettings", "Group", "GroupMember", "Conversation", "ConversationMember", "Quote", "quote_excerpt",
           "QUOTE_CHARS", "SystemAction", "system_text", "MessageMetadata", "Reaction", "ReadMark", "Message",
           "Edit", "ActivityLog", "FilterKind", "FilterAction", "ReviewKind", "ReviewStatus", "ReviewTarget",
           "FilterRule", "AutoMute", "GroupModeration", "ReviewReason", "ReviewMessage", "ReviewItem", "Sanction",
           "NotificationStatus", "NOTIFICATION_TRANSITIONS", "UNREAD", "Notification", "ConversationLevel",
           "NotificationSettings", "EmailWindow", "DigestStatus", "Digest", "ScheduledStatus", "SCHEDULED_OPEN",
           "ScheduledMessage", "RetentionPolicy", "FileType", "MediaStatus", "STEP_NAMES", "Step", "Variant",
           "MediaLike", "MediaComment", "Media", "MediaSource", "MediaGif", "deleted_file", "Upload", "Album", "ExportFormat", "ExportStatus",
           "EXPORT_TERMINAL", "ExportRange", "ExportLease", "Export", "AnalyticsDay", "AnalyticsMark"]

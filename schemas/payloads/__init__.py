"""What clients send (socket events, REST bodies, query strings), validated, one module per area.
``from schemas.payloads import MessageSend`` is the way to name one."""
from schemas.payloads.base import (Email, Payload, CONTENT_LIMIT, content_limit, check_content, check_params,
                                   seq_param, limit_param, IdPage, parse_id_page, is_id)
from schemas.payloads.messages import (MAX_ATTACHMENTS, ConvRef, ReadUpTo, Emoji, ReactionChange, ReactionRemove, MessageSend,
                                       MessageEdit, MessageDelete, RestMessageSend, HISTORY_VIEWS,
                                       parse_history_query, HistoryWindow, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT,
                                       SEARCH_MAX_QUERY_CHARS, parse_search_query, SearchQuery,
                                       parse_global_search_query, GlobalSearchQuery)
from schemas.payloads.people import (DevTokenRequest, GroupCreate, GroupMemberAdd, ConversationCreate,
                                     ConversationMemberAdd, ProfileUpdate, GroupSettingsUpdate,
                                     DirectConversationCreate, MemberQuery, parse_member_query)
from schemas.payloads.moderation import (Reason, Note, AllowWord, MINUTES_MAX, FilterCreate, FilterUpdate,
                                         FilterCandidate, FilterTest, ModerationSettingsUpdate, ReportCreate,
                                         ReviewDecision, MuteCreate, BanCreate, RoleChange, REVIEW_STATUSES,
                                         REVIEW_KINDS, ReviewQuery, parse_review_query)
from schemas.payloads.notifications import (EMAIL_DELAY_MAX, NotificationSettingsUpdate, NotificationsRead,
                                            NotificationsDelivered, ScheduledMessageCreate, ScheduledMessageUpdate,
                                            ReminderCreate, RetentionUpdate, parse_time, NOTIFICATION_LIST_STATUSES,
                                            NotificationQuery, parse_notification_query)
from schemas.payloads.media import (Filename, MimeType, UploadCreate, PartUrls, AlbumCreate, AlbumAdd, CommentCreate,
                                    CaptionUpdate, parse_gallery_query)
from schemas.payloads.exports import (EXPORT_FORMATS, EXPORT_LANGUAGES, ExportCreate, ExportableQuery,
                                      parse_exportable_query)
from schemas.payloads.analytics import (ANALYTICS_MAX_DAYS, AnalyticsQuery, check_time_zone,
                                        parse_analytics_query)
from schemas.payloads.gifs import (GIF_DEFAULT_LIMIT, GIF_MAX_LIMIT, GIF_QUERY_MAX_CHARS, GifQuery, check_preview_token,
                                   parse_gif_search, parse_gif_trending)

__all__ = ["Email", "Payload", "CONTENT_LIMIT", "content_limit", "check_content", "check_params", "seq_param",
           "limit_param", "IdPage", "parse_id_page", "is_id", "MAX_ATTACHMENTS", "ConvRef", "ReadUpTo", "Emoji",
           "ReactionChange", "ReactionRemove", "MessageSend", "MessageEdit", "MessageDelete", "RestMessageSend", "HISTORY_VIEWS",
           "parse_history_query", "HistoryWindow", "SEARCH_DEFAULT_LIMIT", "SEARCH_MAX_LIMIT",
           "SEARCH_MAX_QUERY_CHARS", "parse_search_query", "SearchQuery", "parse_global_search_query",
           "GlobalSearchQuery", "DevTokenRequest", "GroupCreate",
           "GroupMemberAdd", "ConversationCreate", "ConversationMemberAdd", "ProfileUpdate", "GroupSettingsUpdate",
           "MemberQuery", "parse_member_query",
           "Reason", "Note", "AllowWord", "MINUTES_MAX", "FilterCreate", "FilterUpdate", "FilterCandidate",
           "FilterTest", "ModerationSettingsUpdate", "ReportCreate", "ReviewDecision", "MuteCreate", "BanCreate",
           "RoleChange", "REVIEW_STATUSES", "REVIEW_KINDS", "ReviewQuery", "parse_review_query", "EMAIL_DELAY_MAX",
           "NotificationSettingsUpdate", "NotificationsRead", "NotificationsDelivered", "ScheduledMessageCreate",
           "ScheduledMessageUpdate", "ReminderCreate", "RetentionUpdate", "parse_time",
           "NOTIFICATION_LIST_STATUSES", "NotificationQuery", "parse_notification_query", "Filename", "MimeType",
           "UploadCreate", "PartUrls", "AlbumCreate", "AlbumAdd", "CommentCreate", "CaptionUpdate",
           "parse_gallery_query", "EXPORT_FORMATS", "EXPORT_LANGUAGES", "ExportCreate",
           "DirectConversationCreate", "ExportableQuery", "parse_exportable_query", "ANALYTICS_MAX_DAYS",
           "AnalyticsQuery", "check_time_zone", "parse_analytics_query", "GIF_DEFAULT_LIMIT", "GIF_MAX_LIMIT",
           "GIF_QUERY_MAX_CHARS", "GifQuery", "check_preview_token", "parse_gif_search", "parse_gif_trending"]

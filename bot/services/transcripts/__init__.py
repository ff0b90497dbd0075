"""Transcripts for compliance review: search, the whole conversation in order, flags and
exports. Reads only; the audit entry for each view, search and export is the caller's (it
knows who asked and from where). `company_name` is the name rule 1 allows before
verification: the app's setting (default: the environment's).

Flags come from what happened (events and handoffs: the list in interfaces.md); the automatic
checks of :mod:`bot.services.compliance_checks` are reported beside them and can be searched
by their code like a flag.

- `filters`: the flags, the search filters and their SQL;
- `summaries`: search, one page of summaries, counts by check;
- `view`: one transcript; `export`: CSV.
"""

from bot.services.transcripts.export import (
    SEARCH_CSV_COLUMNS,
    TRANSCRIPT_CSV_COLUMNS,
    search_csv,
    transcript_csv,
)
from bot.services.transcripts.filters import (
    EVENT_FLAGS,
    FLAGS,
    HANDOFF_FLAGS,
    BadFilter,
    ReviewFilter,
    SearchFilters,
    flag_condition,
)
from bot.services.transcripts.summaries import (
    EXPORT_LIMIT,
    Page,
    ReviewInfo,
    Summary,
    check_counts,
    finding_dict,
    flags_of,
    latest_reviews,
    search,
    search_all,
    summarize,
)
from bot.services.transcripts.view import (
    Entry,
    Transcript,
    debtor_zone,
    event_dict,
    handled_by,
    load_transcript,
    message_dict,
    sender_label,
)

__all__ = [
    "EVENT_FLAGS",
    "EXPORT_LIMIT",
    "FLAGS",
    "HANDOFF_FLAGS",
    "SEARCH_CSV_COLUMNS",
    "TRANSCRIPT_CSV_COLUMNS",
    "BadFilter",
    "Entry",
    "Page",
    "ReviewFilter",
    "ReviewInfo",
    "SearchFilters",
    "Summary",
    "Transcript",
    "check_counts",
    "debtor_zone",
    "event_dict",
    "finding_dict",
    "flag_condition",
    "flags_of",
    "handled_by",
    "latest_reviews",
    "load_transcript",
    "message_dict",
    "search",
    "search_all",
    "search_csv",
    "sender_label",
    "summarize",
    "transcript_csv",
]

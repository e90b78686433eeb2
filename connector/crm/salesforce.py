"""The Salesforce Service Cloud connector: Contacts matched, Cases upserted, comments appended.

Everything is batched for the API budget (a burst of 1,000 interactions costs about 20
requests): one SOQL query per strategy per chunk of authors, Case upserts by an External
ID field through sObject Collections (≤ 200 records a call, ``allOrNone: false``), and
follow-ups as CaseComments posted in collections too. Lifecycle decisions stay in the
pipeline; this module only runs idempotent operations keyed by what the pipeline chose.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connector.config import ConfigError
from connector.crm.base import (
    FollowUp,
    IdentifyRequest,
    PermanentConnectorError,
    RecordFailure,
    TicketDraft,
)
from connector.crm.batching import chunked
from connector.crm.matching import marker_for
from connector.crm.salesforce_client import SalesforceClient, record_failure
from connector.crm.salesforce_customers import PROVIDERS, CustomerFinder
from connector.crm.salesforce_records import NewRecord, RecordWriter, comment_finder, social_post_finder
from connector.crm.salesforce_settings import SalesforceSettings
from connector.crm.salesforce_soql import SoqlNameError, by_ids, changed_since, soql_name
from connector.model import Customer, Interaction, StatusChange, TicketRef, parse_datetime
from connector.store import Store
from mappings import Mapping
from mappings.loader import TargetSpec

log = logging.getLogger("ventanilla.salesforce")
SYSTEM = "salesforce"
COMMENT_LIMIT = 4000  # CaseComment.CommentBody holds at most 4,000 characters
# Lookups written from the matched customer (or the previous ticket), when the mapping allows them.
RELATION_FIELDS = ("ContactId", "AccountId", "ParentId")


def comment_body(followup: FollowUp) -> str:
    """Who said what, where, ending with the marker; cut to fit CommentBody."""
    item = followup.interaction
    author = item.author
    who = f"@{author.handle.lstrip('@')}" if author.handle else author.display_name or author.platform_user_id
    lines = [
        f"{who} on {item.platform} ({item.kind}, {item.created_at:%Y-%m-%d %H:%M} UTC):",
        followup.text or f"({item.kind} without text)",
    ]
    if item.permalink:
        lines.append(item.permalink)
    text, marker = "\n".join(lines), marker_for(item)
    room = COMMENT_LIMIT - len(marker) - 1
    if len(text) > room:
        text = text[: room - 1] + "…"
    return f"{text}\n{marker}"


def message_type(item: Interaction) -> str:
    """SocialPost.MessageType for an interaction (Salesforce's picklist values)."""
    if item.kind == "direct_message":
        return "Direct" if item.platform == "x" else "PrivateMessage"
    if item.kind == "comment":
        return "Comment"
    if item.platform == "x":
        return "Reply" if item.parent_external_id else "Tweet"
    return "Post"


class SalesforceConnector:
    """One desk on one Salesforce org; implements :class:`connector.crm.base.Connector`."""

    system = SYSTEM
    cacheable = True

    def __init__(self, store: Store, desk: str, mapping: Mapping, settings: SalesforceSettings) -> None:
        target = mapping.target
        if target is None or not target.key_field:
            raise ConfigError(f"desks.{desk}.mapping: {mapping.source} needs target.key_field for salesforce")
        value = mapping.customer_value
        names = [
            target.key_field,
            target.status_field,
            target.number_field,
            *(s.field for s in mapping.customer_match if s.field),
            *((value.field, value.tier_field or "Id") if value else ()),
        ]
        try:  # names are placed in SOQL as they are: check them before any request
            self.object = soql_name(mapping.object)
            for name in names:
                soql_name(name)
        except SoqlNameError as exc:
            raise ConfigError(f"desks.{desk}.mapping: {exc}") from None
        self.store = store
        self.desk = desk
        self.mapping = mapping
        self.target: TargetSpec = target
        self.key_field: str = target.key_field
        self.settings = settings
        self.identity_cache_ttl_s = settings.identity_cache_ttl_s
        self.client = SalesforceClient(settings, store, f"salesforce:{desk}")
        self.customers = CustomerFinder(self.client, mapping, store, desk, settings.query_chunk)
        followup = target.followup
        self.records = RecordWriter(
            self.client,
            store,
            f"salesforce:{desk}",
            {
                "comment": comment_finder(
                    self.client,
                    followup.object,
                    followup.parent_field,
                    followup.body_field,
                    settings.query_chunk,
                ),
                "socialpost": social_post_finder(self.client, settings.query_chunk),
            },
        )

    # --- identify ------------------------------------------------------------------------

    def find_customers(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        """Match authors strategy by strategy, one query per strategy per chunk of values."""
        with self.client.batch():
            return self.customers.find(requests)

    # --- tickets -------------------------------------------------------------------------

    def upsert_tickets(self, drafts: Sequence[TicketDraft]) -> list[TicketRef | RecordFailure]:
        """Upsert Cases on the key field, ≤ 200 a call.

        The answers carry no CaseNumber; it is read when a reply needs it (one call per
        resolution, see :meth:`ticket_number`), not here (one call per batch).
        """
        if not drafts:
            return []
        with self.client.batch():
            path = f"composite/sobjects/{self.object}/{self.key_field}"
            answers: list[dict[str, Any]] = []
            for chunk in chunked(drafts, self.settings.batch_size):
                answers += self.client.collection("PATCH", path, [self._case(d) for d in chunk])
            refs: list[TicketRef | RecordFailure] = []
            for answer in answers:
                failure = record_failure(answer)
                if failure is not None:
                    refs.append(failure)
                    continue
                case_id = str(answer["id"])
                refs.append(TicketRef(SYSTEM, case_id, None, "open", f"{self.client.instance_url}/{case_id}"))
            if self.target.social_posts:
                refs = self._post_first_interactions(drafts, refs)
            return refs

    def ticket_number(self, ticket_id: str) -> str | None:
        """The Case's number (e.g. 00001026), quoted to the customer in the reply."""
        field = self.target.number_field
        with self.client.batch():
            rows = self.client.query_all(by_ids(self.object, [field], [ticket_id]))
        return str(rows[0][field]) if rows and rows[0].get(field) else None

    def _case(self, draft: TicketDraft) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": self.object}, **draft.fields}
        customer = draft.customer if draft.customer and draft.customer.system == SYSTEM else None
        relations = {
            "ContactId": customer.customer_id if customer else None,
            "AccountId": customer.account_id if customer else None,
            "ParentId": draft.linked_ticket_id,
        }
        for name in RELATION_FIELDS:
            if relations[name] and name in self.mapping.writable_fields and name not in record:
                record[name] = relations[name]
        # Collections upserts carry the external id in each record (unlike single upserts).
        record[self.key_field] = draft.external_key
        return record

    def _post_first_interactions(
        self, drafts: Sequence[TicketDraft], refs: list[TicketRef | RecordFailure]
    ) -> list[TicketRef | RecordFailure]:
        """One SocialPost per new Case; see :meth:`_social_post_outcome` for failures."""
        pending = [
            (index, self._social_post(d.first_interaction, ref.ticket_id, d.customer))
            for index, (d, ref) in enumerate(zip(drafts, refs, strict=True))
            if isinstance(ref, TicketRef)
        ]
        answers = self.records.create_once([post for _, post in pending])
        for (index, post), failure in zip(pending, answers, strict=True):
            kept = self._social_post_outcome(post, failure)
            if kept is not None:
                refs[index] = kept
        return refs

    def _social_post_outcome(self, post: NewRecord, failure: RecordFailure | None) -> RecordFailure | None:
        """SocialPosts are a courtesy copy: a refused one is logged, a transient one retried."""
        if failure is not None and failure.permanent:
            log.warning("%s: SocialPost %s refused: %s", self.desk, post.marker, failure)
            return None
        return failure

    def _social_post(self, item: Interaction, case_id: str, customer: Customer | None) -> NewRecord:
        author = item.author
        provider = PROVIDERS.get(item.platform, "Other")
        record: dict[str, Any] = {
            "attributes": {"type": "SocialPost"},
            "Name": f"{item.kind} from {author.handle or author.display_name or author.platform_user_id}"[
                :255
            ],
            "Content": item.text,
            "Provider": provider,
            "ExternalPostId": item.external_id,
            "Posted": item.created_at.isoformat(),
            "PostUrl": item.permalink,
            "Handle": author.handle,
            "MessageType": message_type(item),
            "ParentId": case_id,
        }
        if customer is not None and customer.system == SYSTEM and customer.customer_id:
            record["WhoId"] = customer.customer_id
        key = str(item.id) if item.id is not None else f"{item.platform}:{item.external_id}"
        return NewRecord("socialpost", key, case_id, record, f"{provider}:{item.external_id}")

    def append_followups(self, followups: Sequence[FollowUp]) -> list[RecordFailure | None]:
        """Post one unpublished comment per follow-up (and its SocialPost), never twice."""
        if not followups:
            return []
        spec = self.target.followup
        items: list[list[NewRecord]] = []
        for followup in followups:
            item = followup.interaction
            key = str(item.id) if item.id is not None else f"{item.platform}:{item.external_id}"
            record = {
                "attributes": {"type": spec.object},
                **spec.fields,
                spec.parent_field: followup.ticket_id,
                spec.body_field: comment_body(followup),
            }
            own = [NewRecord("comment", key, followup.ticket_id, record, marker_for(item))]
            if self.target.social_posts:
                own.append(self._social_post(item, followup.ticket_id, None))
            items.append(own)
        with self.client.batch():
            answers = self.records.create_once([record for own in items for record in own])
        results: list[RecordFailure | None] = []
        position = 0
        for own in items:
            comment, *posts = zip(own, answers[position : position + len(own)], strict=True)
            position += len(own)
            failures = [comment[1], *(self._social_post_outcome(post, failure) for post, failure in posts)]
            results.append(next((f for f in failures if f is not None), None))
        return results

    def reopen_tickets(self, ticket_ids: Sequence[str]) -> list[RecordFailure | None]:
        """Set the mapping's first open status on each Case (an update, so idempotent)."""
        if not ticket_ids:
            return []
        status = self.mapping.desk_status_for("open")
        results: list[RecordFailure | None] = []
        with self.client.batch():
            for chunk in chunked(ticket_ids, self.settings.batch_size):
                records = [
                    {"attributes": {"type": self.object}, "id": ticket_id, self.target.status_field: status}
                    for ticket_id in chunk
                ]
                results += [
                    record_failure(r) for r in self.client.collection("PATCH", "composite/sobjects", records)
                ]
        return results

    def link_to_incident(self, parent_ticket_id: str, child_ticket_ids: Sequence[str]) -> None:
        """Set ``target.parent_field`` (ParentId) on each child Case; an update, so idempotent."""
        field = self.target.parent_field
        if not field or not child_ticket_ids:
            if child_ticket_ids:
                log.info(
                    "%s: no target.parent_field; %d child Case(s) not linked",
                    self.desk,
                    len(child_ticket_ids),
                )
            return
        with self.client.batch():
            for chunk in chunked(child_ticket_ids, self.settings.batch_size):
                records = [
                    {"attributes": {"type": self.object}, "id": child, field: parent_ticket_id}
                    for child in chunk
                ]
                for child, result in zip(
                    chunk, self.client.collection("PATCH", "composite/sobjects", records), strict=False
                ):
                    failure = record_failure(result)
                    if failure is not None:  # a Case deleted meanwhile must not block the others
                        log.warning(
                            "%s: cannot link Case %s to %s: %s", self.desk, child, parent_ticket_id, failure
                        )

    # --- status back -----------------------------------------------------------------------

    def read_status_changes(self, since: datetime | None) -> list[StatusChange]:
        """Cases we created, changed after ``since`` (the polling fallback to outbound messages)."""
        number, status = self.target.number_field, self.target.status_field
        fields = ["Id", number, status, "LastModifiedDate", self.key_field]
        with self.client.batch():
            rows = self.client.query_all(changed_since(self.object, fields, self.key_field, since))
        changes = []
        for row in rows:
            ours = self.mapping.status_for(str(row.get(status)))
            if ours is None:
                continue  # a desk status the mapping does not translate: not ours to act on
            modified = str(row["LastModifiedDate"])
            changes.append(
                StatusChange(
                    SYSTEM,
                    str(row["Id"]),
                    None,
                    ours,
                    None,
                    parse_datetime(modified),
                    f"poll:{row['Id']}:{modified}",
                )
            )
        return changes

    def ticket_fields(self, ticket_id: str) -> dict[str, Any]:
        """The Case's reply field, for the agent-written reply (empty when the org lacks it)."""
        field = self.mapping.reply_field
        if not field:
            return {}
        try:
            with self.client.batch():
                rows = self.client.query_all(by_ids(self.object, [soql_name(field)], [ticket_id]))
        except (PermanentConnectorError, SoqlNameError) as exc:
            log.warning(
                "%s: cannot read %s.%s (%s); replying with the template", self.desk, self.object, field, exc
            )
            return {}
        return {field: rows[0].get(field)} if rows else {}

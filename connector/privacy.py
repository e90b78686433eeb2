"""Erase one person (right to erasure), keeping only the audit record that it happened.

The person is an author key ``platform:user_id``. In ONE transaction:

* their interactions: text ``[erased]``, author reduced to the platform and a pseudonym
  (``erased:`` + 16 hex digits of sha256 of the author key), ``author_key`` the
  pseudonymous key, ``raw`` emptied, permalink removed, triage kept with the terms it
  quoted from the text replaced; a direct-message thread keyed by their id is re-keyed by
  the pseudonym everywhere (interactions, thread links, replies, local tickets);
* the brand's messages and replies addressed to them (a reply to one of their
  interactions, or anything in their DM thread): text ``[erased]``; a reply not posted
  yet is rejected, so ``[erased]`` is never published; their unprocessed jobs are cancelled;
* raw events, other people's ``raw`` payloads, local ticket fields, resolution notes,
  reply details, audit details, job errors and connector state: every mention of their id,
  handle, name, links and texts (also JSON-escaped, and shortened copies such as X's
  140-character text or a ticket subject) becomes ``[erased]``; JSON stays JSON. Other
  people's texts only lose ``@handle`` mentions of them. Texts shorter than
  ``MIN_FRAGMENT`` are erased only inside their own payload objects, where they are known
  to be theirs, and user ids shorter than ``MIN_ID_IN_TEXT`` only where they are a whole value;
* their identity-cache rows are deleted; on the local desk, their ticket entries are
  anonymised and the social-id / handle links of a customer to them are deleted. The
  customer record itself belongs to the CRM (it came from the CRM import) and is not
  changed; outside desks (Salesforce, HubSpot) keep their own copies: erase them there.

A second run finds nothing and says so; one ``privacy.erased`` audit entry (counts only,
the pseudonym as subject) records each run that changed something.

Pieces: ``privacy_find`` (what is theirs), ``privacy_scrub`` (replacing it in text, JSON and
SQL filters), ``privacy_steps`` (table by table), ``privacy_report`` (the person and the report).
"""

from __future__ import annotations

from sqlalchemy import select

from connector.privacy_report import ERASED, LABELS, ErasureReport, Person, pseudonym
from connector.privacy_scrub import MIN_FRAGMENT, MIN_ID_IN_TEXT, MIN_PREFIX
from connector.privacy_steps import Erasure
from connector.schema import audit_log
from connector.store import Store

__all__ = [
    "ERASED",
    "LABELS",
    "MIN_FRAGMENT",
    "MIN_ID_IN_TEXT",
    "MIN_PREFIX",
    "ErasureReport",
    "erase_person",
    "pseudonym",
]


def erase_person(store: Store, platform: str, user_id: str, actor: str = "cli") -> ErasureReport:
    """Anonymise everything stored about ``platform:user_id`` in one transaction; see the module doc."""
    if not platform.strip() or not user_id.strip():
        raise ValueError(
            "erasing needs a platform and a user id (an empty id would match every unknown author)"
        )
    person = Person(platform.strip(), user_id.strip())
    report = ErasureReport(person.platform, person.user_id, person.pseudonym)
    with store.write() as conn:
        Erasure(conn, person, report).run()
        if report.touched:
            store.audit(conn, actor, "privacy.erased", person.pseudonym, report.counts())
        else:
            report.erased_before = conn.execute(
                select(audit_log.c.at)
                .where(audit_log.c.action == "privacy.erased", audit_log.c.subject == person.pseudonym)
                .order_by(audit_log.c.id)
                .limit(1)
            ).scalar()
    return report

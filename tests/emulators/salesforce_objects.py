"""Salesforce emulator: the default org schema (D.6 objects plus Ventanilla's custom fields)."""

from __future__ import annotations

from typing import Any

from tests.emulators.salesforce_schema import FieldDef, SObjectDef


def _text(name: str, label: str, length: int = 255, **props: Any) -> FieldDef:
    return FieldDef(name=name, type="string", label=label, length=length, **props)


def _long_text(name: str, label: str, length: int = 32000) -> FieldDef:
    # Long text areas can be selected but never used in WHERE or ORDER BY.
    return FieldDef(name=name, type="textarea", label=label, length=length, filterable=False, sortable=False)


def _picklist(name: str, label: str, values: tuple[str, ...], **props: Any) -> FieldDef:
    return FieldDef(name=name, type="picklist", label=label, length=255, picklist=values, **props)


def _lookup(name: str, label: str, targets: tuple[str, ...], relationship: str, **props: Any) -> FieldDef:
    return FieldDef(
        name=name,
        type="reference",
        label=label,
        length=18,
        reference_to=targets,
        relationship_name=relationship,
        **props,
    )


def _read_only(name: str, type_: str, label: str, **props: Any) -> FieldDef:
    return FieldDef(
        name=name,
        type=type_,
        label=label,
        createable=False,
        updateable=False,
        nillable=False,
        defaulted_on_create=True,
        **props,
    )


def _sobject(name: str, label: str, plural: str, prefix: str, *own: FieldDef) -> SObjectDef:
    system = [
        _read_only("Id", "id", f"{label} ID", length=18),
        _read_only("IsDeleted", "boolean", "Deleted"),
    ]
    stamps = [
        _read_only("CreatedDate", "datetime", "Created Date"),
        _read_only("LastModifiedDate", "datetime", "Last Modified Date"),
        _read_only("SystemModstamp", "datetime", "System Modstamp"),
    ]
    return SObjectDef(name, label, plural, prefix, {f.name: f for f in [*system, *own, *stamps]})


SOCIAL_PROVIDERS = ("Twitter", "Facebook", "Instagram", "YouTube", "LinkedIn", "Pinterest", "Other")


def default_schema() -> dict[str, SObjectDef]:
    """The objects and fields of D.6 plus the org's Ventanilla custom fields."""
    case = _sobject(
        "Case",
        "Case",
        "Cases",
        "500",
        _read_only("CaseNumber", "string", "Case Number", length=30, auto_number=True, id_lookup=True),
        _text("Subject", "Subject"),
        _long_text("Description", "Description"),
        _picklist(
            "Origin",
            "Case Origin",
            ("Phone", "Email", "Web", "Twitter", "Facebook", "Instagram", "Social"),
            restricted=True,
        ),
        _picklist("Priority", "Priority", ("High", "Medium", "Low"), default="Medium"),
        _picklist("Status", "Status", ("New", "Working", "Escalated", "Closed"), default="New"),
        _read_only("IsClosed", "boolean", "Closed", calculated=True),
        _lookup("ContactId", "Contact ID", ("Contact",), "Contact"),
        _lookup("AccountId", "Account ID", ("Account",), "Account"),
        _lookup("ParentId", "Parent Case ID", ("Case",), "Parent"),
        FieldDef("SuppliedEmail", "email", "Web Email", length=80),
        _text("SuppliedName", "Web Name", 80),
        _text("Language__c", "Language"),
        FieldDef("Permalink__c", "url", "Permalink", length=255),
        _text("Social_Post_Id__c", "Ventanilla Thread Key", external_id=True, unique=True),
        _text("Channel__c", "Channel"),
        _long_text("Triage__c", "Triage", 32768),
    )
    contact = _sobject(
        "Contact",
        "Contact",
        "Contacts",
        "003",
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80, nillable=False),
        _read_only("Name", "string", "Full Name", length=121, calculated=True),
        FieldDef("Email", "email", "Email", length=80),
        FieldDef("Phone", "phone", "Business Phone", length=40),
        FieldDef("MobilePhone", "phone", "Mobile Phone", length=40),
        _lookup("AccountId", "Account ID", ("Account",), "Account"),
        _text("Twitter_Handle__c", "Twitter Handle"),
        _text("Facebook_Id__c", "Facebook Id"),
        _text("Instagram_Handle__c", "Instagram Handle"),
        _text("Social_Id__c", "Social Id"),
        FieldDef("Lifetime_Value__c", "currency", "Lifetime Value", precision=18, scale=2),
        _text("Tier__c", "Tier"),
    )
    account = _sobject(
        "Account",
        "Account",
        "Accounts",
        "001",
        _text("Name", "Account Name", nillable=False),
        FieldDef("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
        _text("Tier__c", "Tier"),
    )
    comment = _sobject(
        "CaseComment",
        "Case Comment",
        "Case Comments",
        "00a",
        _lookup("ParentId", "Parent ID", ("Case",), "Parent", nillable=False, updateable=False),
        FieldDef("CommentBody", "textarea", "Body", length=4000, filterable=False, sortable=False),
        FieldDef("IsPublished", "boolean", "Published", nillable=False, defaulted_on_create=True),
    )
    persona = _sobject(
        "SocialPersona",
        "Social Persona",
        "Social Personas",
        "0SP",
        _text("Name", "Social Handle", nillable=False),
        _lookup("ParentId", "Parent ID", ("Contact", "Account", "SocialPost"), "Parent", nillable=False),
        _picklist("Provider", "Social Network", SOCIAL_PROVIDERS, restricted=True, nillable=False),
        _text("ExternalId", "External ID"),
        _text("RealName", "Real Name"),
        FieldDef("ProfileUrl", "url", "Profile URL", length=1000),
        FieldDef("Followers", "int", "Followers", precision=9),
    )
    post = _sobject(
        "SocialPost",
        "Social Post",
        "Social Posts",
        "0ST",
        _text("Name", "Social Post Name", nillable=False),
        _long_text("Content", "Message"),
        _picklist("Provider", "Social Network", SOCIAL_PROVIDERS, restricted=True),
        _text("ExternalPostId", "External Post ID"),
        FieldDef("Posted", "datetime", "Posted Date"),
        FieldDef("PostUrl", "url", "Post URL", length=1000),
        _text("Handle", "Social Handle"),
        _picklist(
            "MessageType",
            "Message Type",
            ("Comment", "Direct", "Post", "PrivateMessage", "Reply", "Retweet", "Tweet"),
        ),
        _lookup("PersonaId", "Persona ID", ("SocialPersona",), "Persona"),
        _lookup("WhoId", "Who ID", ("Contact",), "Who"),
        _lookup("ParentId", "Parent ID", ("Case", "Account", "Contact"), "Parent"),
    )
    return {s.name: s for s in (case, contact, account, comment, persona, post)}

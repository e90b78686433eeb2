"""Everything a running Ventanilla needs, built once and checked before any work starts."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from connector.config import Config, ConfigError
from connector.crm.base import Connector
from connector.crm.local import LocalDesk
from connector.pii_rules import configure as configure_pii
from connector.publish.base import Publisher
from connector.publish.dryrun import DryRunPublisher
from connector.store import Store
from mappings import Mapping, MappingError, load_mapping, resolve_mapping_path


class Runtime:
    """Config, store, one connector and one validated mapping per desk, and the publisher."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(config.database_url)
        try:
            configure_pii(config.triage.phone_regions, config.triage.national_id_countries)
        except ValueError as exc:
            raise ConfigError(f"triage.national_id_countries: {exc}") from None
        self._check_triage_extensions()
        self.mappings: dict[str, Mapping] = {}
        self.connectors: dict[str, Connector] = {}
        for desk in config.desks:
            self.mappings[desk.name] = self._load_mapping(desk.name, desk.mapping)
            self.connectors[desk.name] = self._connector(desk.name, desk.connector)

    def _check_triage_extensions(self) -> None:
        """Load the brand's terms, nature model and classifier plug-in now, so a typo stops start-up."""
        from connector.classifier_plugin import ClassifierError, load_classifier
        from connector.lexicon import LexiconError, load_lexicon
        from connector.nature_model import NatureModelError, load_model
        from connector.triage import brand_terms

        settings = self.config.triage
        try:
            terms = brand_terms(settings)
            if terms is not None:
                load_lexicon(settings.default_language, (), terms)
        except LexiconError as exc:
            raise ConfigError(f"triage.terms_file: {exc}") from None
        if settings.nature_model:
            try:
                load_model(settings.nature_model)
            except NatureModelError as exc:
                raise ConfigError(f"triage.nature_model: {exc}") from None
        if settings.classifier:
            try:
                load_classifier(settings.classifier)
            except ClassifierError as exc:
                raise ConfigError(f"triage.classifier: {exc}") from None

    def _load_mapping(self, desk: str, name: str) -> Mapping:
        try:
            mapping = load_mapping(resolve_mapping_path(name, self.config.base_dir))
        except MappingError as exc:
            raise ConfigError(f"desks.{desk}.mapping: {exc}") from None
        return mapping

    def _connector(self, desk: str, kind: str) -> Connector:
        mapping = self.mappings[desk]
        if mapping.connector != kind:
            raise ConfigError(
                f"desks.{desk}: the mapping is for connector {mapping.connector!r}, the desk uses {kind!r}"
            )
        if kind == "local":
            return LocalDesk(self.store, desk)
        if kind == "salesforce":
            from connector.crm.salesforce import SalesforceConnector
            from connector.crm.salesforce_settings import load_settings

            connection = self.config.desk(desk).connection or "salesforce"
            settings = load_settings(self.config.connections, connection, Path(self.config.base_dir))
            return SalesforceConnector(self.store, desk, mapping, settings)
        if kind == "hubspot":
            from connector.crm.hubspot import HubSpotConnector
            from connector.crm.hubspot_settings import load_settings as load_hubspot_settings

            connection = self.config.desk(desk).connection or "hubspot"
            hubspot = load_hubspot_settings(self.config.connections, connection, Path(self.config.base_dir))
            return HubSpotConnector(self.store, desk, mapping, hubspot)
        if kind == "soap":
            from connector.crm.soap import SoapConnector
            from connector.crm.soap_settings import load_settings as load_soap_settings

            connection = self.config.desk(desk).connection or "soap"
            soap = load_soap_settings(self.config.connections, connection, Path(self.config.base_dir))
            return SoapConnector(self.store, desk, mapping, soap, connection)
        raise ConfigError(f"desks.{desk}.connector: {kind!r} is not available in this release yet")

    @cached_property
    def publisher(self) -> Publisher:
        """Dry-run records only; live and approve (after approval) post on the platforms."""
        if self.config.publish.mode == "dry-run":
            return DryRunPublisher()
        from connector.publish.live import PlatformPublisher

        return PlatformPublisher(self.config)

    def connector(self, desk: str) -> Connector:
        return self.connectors[desk]

    def mapping(self, desk: str) -> Mapping:
        return self.mappings[desk]

"""Compliance: rules as pure predicates, versioned profiles, start-up safety checks.

Imports only `dialer.domain` (DESIGN §2). The CLI sub-app lives in `dialer.cli.compliance`
and is not imported here, so the core does not pull in typer.
"""

from dialer.compliance.callbacks import (
    NO_DIALABLE_NUMBER,
    callback_decision,
    debtor_zones,
    dialable,
    number_to_dial,
)
from dialer.compliance.evaluate import (
    Decision,
    evaluate,
    evaluate_case,
    evaluate_target,
    format_instant,
)
from dialer.compliance.explain import explain
from dialer.compliance.profiles import (
    DEFAULT_PROFILE_DIR,
    Abandonment,
    Profile,
    ProfileError,
    UnknownProfileError,
    available_profiles,
    load_profile,
    load_profile_file,
    parse_profile,
)
from dialer.compliance.rules import (
    PERMANENT_REASONS,
    RULES,
    Reason,
    Rule,
    RuleResult,
)
from dialer.compliance.safety import (
    UnsafeConfigError,
    check_campaign_config,
    require_safe_campaign_config,
)
from dialer.compliance.timezones import InvalidTimeZoneError, resolve_zones

__all__ = [
    "DEFAULT_PROFILE_DIR",
    "NO_DIALABLE_NUMBER",
    "PERMANENT_REASONS",
    "RULES",
    "Abandonment",
    "Decision",
    "InvalidTimeZoneError",
    "Profile",
    "ProfileError",
    "Reason",
    "Rule",
    "RuleResult",
    "UnknownProfileError",
    "UnsafeConfigError",
    "available_profiles",
    "callback_decision",
    "check_campaign_config",
    "debtor_zones",
    "dialable",
    "evaluate",
    "evaluate_case",
    "evaluate_target",
    "explain",
    "format_instant",
    "load_profile",
    "load_profile_file",
    "number_to_dial",
    "parse_profile",
    "require_safe_campaign_config",
    "resolve_zones",
]
